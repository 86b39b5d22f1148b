"""What announcements holds of a person, for their data export and erasure:
which announcements they read, and those they wrote."""

from .models import Announcement, AnnouncementRead


def announcements_export(user) -> dict:
    reads = (
        AnnouncementRead.objects.filter(user=user)
        .select_related("announcement__course")
        .order_by("read_at", "id")
    )
    written = (
        Announcement.objects.filter(author=user, deleted_at__isnull=True)
        .select_related("course")
        .order_by("created_at", "id")
    )
    return {
        "read": [
            {
                "announcement_id": r.announcement_id,
                "title": r.announcement.title,
                "course_code": r.announcement.course.code,
                "read_at": r.read_at,
            }
            for r in reads
        ],
        "written": [
            {
                "id": a.pk,
                "course_code": a.course.code,
                "title": a.title,
                "content": a.content,
                "is_published": a.is_published,
                "publish_at": a.publish_at,
                "created_at": a.created_at,
                "updated_at": a.updated_at,
            }
            for a in written
        ],
    }


def announcements_erase(user, *, keep_academic_records: bool) -> None:
    """Their reads go (read receipts are about them); announcements they wrote
    are the course's and stay, under the anonymised name."""
    AnnouncementRead.objects.filter(user=user).delete()
