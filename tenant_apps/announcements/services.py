"""Every write to announcements. Who may call them is decided before, by
tenant_apps.announcements.policies; these keep the data's own rules.

Scheduled publication needs no job: visibility is decided when read, by time
(see selectors.visible_to_students). Its notification does: it goes out when
the announcement first becomes visible, once to each audience, each claimed
with a conditional UPDATE: the teaching staff (`staff_notified_at`) when it is
published and its time has come; the students (`notified_at`) then too if the
course is published, otherwise when the course is (they may read it only
then). Claims are made from create or update when that is now, otherwise
from the minutely `announcements_due_notify`. Editing it later notifies
nobody.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from tenant_apps.courses.api import (
    Course,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    course_material_writable,
    seat_holder,
)
from tenant_apps.files.api import files_for_attachment
from tenant_apps.notifications.api import NotificationKind, notification_send

from .models import Announcement, AnnouncementRead
from .selectors import visible_to_students

_EDITABLE = ("title", "content", "is_pinned", "is_published", "publish_at", "expires_at")


def _times_check(*, publish_at: datetime | None, expires_at: datetime | None) -> None:
    """An announcement expires after it is published (or, not yet scheduled,
    after now). A publication time in the past is allowed: visible at once."""
    if expires_at is None:
        return
    starts = publish_at or timezone.now()
    if expires_at <= starts:
        raise ApplicationError(
            "An announcement must expire after it is published.",
            code="invalid",
            fields={"expires_at": ["Must be later than publish_at (or now, if not scheduled)."]},
        )


def _attachments_resolve(*, actor, course: Course, attachment_ids) -> list:
    return list(files_for_attachment(user=actor, file_ids=list(attachment_ids), course=course))


@transaction.atomic
def announcement_create(
    *,
    course: Course,
    author,
    title: str,
    content: str,
    is_pinned: bool = False,
    is_published: bool = False,
    publish_at: datetime | None = None,
    expires_at: datetime | None = None,
    attachment_ids=(),
) -> Announcement:
    """Published without a time: published now."""
    course_material_writable(course)
    if is_published and publish_at is None:
        publish_at = timezone.now()
    _times_check(publish_at=publish_at, expires_at=expires_at)
    attachments = (
        _attachments_resolve(actor=author, course=course, attachment_ids=attachment_ids)
        if attachment_ids
        else []
    )
    announcement = Announcement.objects.create(
        course=course,
        author=author,
        title=title,
        content=content,
        is_pinned=is_pinned,
        is_published=is_published,
        publish_at=publish_at,
        expires_at=expires_at,
    )
    if attachments:
        announcement.attachments.set(attachments)
    announcement_notify_if_visible(announcement=announcement)
    return announcement


@transaction.atomic
def announcement_update(*, announcement: Announcement, actor, **changes) -> Announcement:
    """Changes any of the editable fields and, with `attachment_ids`, replaces
    the attachments. Publishing (or clearing `publish_at` of a published one)
    without a time publishes now. Unpublishing keeps `publish_at`."""
    unknown = set(changes) - {*_EDITABLE, "attachment_ids"}
    if unknown:
        raise TypeError(f"announcement_update() got unexpected fields: {sorted(unknown)}")
    announcement = (
        Announcement.objects.select_for_update()
        .filter(pk=announcement.pk, deleted_at__isnull=True)
        .first()
    )
    if announcement is None:  # deleted while this change waited on the row
        raise ApplicationError(
            "This announcement was deleted.", code="not_found", status=status.HTTP_404_NOT_FOUND
        )
    course_material_writable(announcement.course)
    attachment_ids = changes.pop("attachment_ids", None)
    for field, value in changes.items():
        setattr(announcement, field, value)
    if announcement.is_published and announcement.publish_at is None:
        announcement.publish_at = timezone.now()
    if {"is_published", "publish_at", "expires_at"} & set(changes):
        _times_check(publish_at=announcement.publish_at, expires_at=announcement.expires_at)
    announcement.save()
    if attachment_ids is not None:
        announcement.attachments.set(
            _attachments_resolve(
                actor=actor, course=announcement.course, attachment_ids=attachment_ids
            )
            if attachment_ids
            else []
        )
    announcement_notify_if_visible(announcement=announcement)
    return announcement


@transaction.atomic
def announcement_delete(*, announcement: Announcement) -> None:
    """A soft delete: gone for everyone, reads and attachments kept."""
    course_material_writable(announcement.course)
    Announcement.objects.filter(pk=announcement.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )


@transaction.atomic
def announcement_mark_read(*, announcement: Announcement, user) -> AnnouncementRead:
    """Idempotent: the first read's time is kept, a second call changes nothing."""
    read, _ = AnnouncementRead.objects.get_or_create(
        announcement=announcement, user=user, defaults={"read_at": timezone.now()}
    )
    return read


# --- notification ----------------------------------------------------------------


def announcement_audience(
    announcement: Announcement, *, staff: bool = True, students: bool = True
) -> list:
    """Who is told of an announcement: with `students`, the course's students
    holding a seat (while the course is published, as only then may they read
    it); with `staff`, its teaching staff (the instructor, TAs, graders); never
    its author."""
    course = announcement.course
    audience = Q(pk__in=[])
    if staff:
        audience |= Q(role__in=(CourseRole.TA, CourseRole.GRADER))
    if students and course.status == CourseStatus.PUBLISHED:
        audience |= seat_holder()
    user_ids = set(
        Enrollment.objects.filter(
            audience,
            course=course,
            status=EnrollmentStatus.ENROLLED,
            user__is_active=True,
            user__is_suspended=False,
            user__deleted_at__isnull=True,
        ).values_list("user_id", flat=True)
    )
    if staff and course.instructor_id is not None:
        user_ids.add(course.instructor_id)
    user_ids.discard(announcement.author_id)
    return sorted(user_ids, key=str)


def announcement_notify_if_visible(*, announcement: Announcement, now=None) -> bool:
    """Notifies the course of the announcement if it is visible to students
    now, in the caller's transaction (True if this call did): its staff if
    they were not told yet, its students if they were not and the course is
    published. Each claim is one conditional UPDATE on the announcement's own
    columns (a filter on the course would make Django compare through a
    subquery, which a concurrent claim does not re-check), so two requests or
    the job racing a request notify each audience once."""
    now = now or timezone.now()
    announcement = Announcement.objects.select_related("course").filter(pk=announcement.pk).first()
    if announcement is None or announcement.course.deleted_at is not None:
        return False
    course = announcement.course
    visible = Announcement.objects.filter(
        visible_to_students(now), pk=announcement.pk, deleted_at__isnull=True
    )
    staff = visible.filter(staff_notified_at__isnull=True).update(staff_notified_at=now) == 1
    students = (
        course.status == CourseStatus.PUBLISHED
        and visible.filter(notified_at__isnull=True).update(notified_at=now) == 1
    )
    if not (staff or students):
        return False
    notification_send(
        user_ids=announcement_audience(announcement, staff=staff, students=students),
        kind=NotificationKind.ANNOUNCEMENT,
        title=f"{course.code}: {announcement.title}",
        message=announcement.content[:500],
        link_url=f"/courses/{course.pk}/announcements/{announcement.pk}",
        metadata={"course_id": str(course.pk), "announcement_id": str(announcement.pk)},
    )
    return True


def announcements_due_notify(*, now=None) -> int:
    """The minutely job: announcements whose publication time has come and
    whose staff were not told yet, or whose students were not and whose course
    is now published (an announcement written while the course was a draft),
    each in its own transaction. Returns how many were notified."""
    now = now or timezone.now()
    due = list(
        Announcement.objects.filter(
            visible_to_students(now),
            Q(staff_notified_at__isnull=True)
            | Q(notified_at__isnull=True, course__status=CourseStatus.PUBLISHED),
            deleted_at__isnull=True,
            course__deleted_at__isnull=True,
        )
        .order_by("publish_at")
        .values_list("pk", flat=True)[:500]
    )
    notified = 0
    for pk in due:
        with transaction.atomic():
            notified += announcement_notify_if_visible(announcement=Announcement(pk=pk), now=now)
    return notified
