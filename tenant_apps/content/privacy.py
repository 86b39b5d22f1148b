"""What content holds of a person, for their data export and erasure: their
progress through the course material."""

from .models import ContentProgress


def content_export(user) -> dict:
    progress = (
        ContentProgress.objects.filter(user=user)
        .select_related("content__module__course")
        .order_by("first_accessed_at", "id")
    )
    return {
        "progress": [
            {
                "content_id": p.content_id,
                "title": p.content.title,
                "course_code": p.content.module.course.code,
                "completion_percentage": p.completion_percentage,
                "is_completed": p.is_completed,
                "completed_at": p.completed_at,
                "time_spent_seconds": p.time_spent_seconds,
                "first_accessed_at": p.first_accessed_at,
                "last_accessed_at": p.last_accessed_at,
            }
            for p in progress
        ]
    }


def content_erase(user, *, keep_academic_records: bool) -> None:
    """Progress is a record of how a person studied, not an academic result:
    it goes whatever the retention policy keeps (course analytics then count
    the erased student as not having started)."""
    ContentProgress.objects.filter(user=user).delete()
