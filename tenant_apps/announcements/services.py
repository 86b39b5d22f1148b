"""Every write to announcements. Who may call them is decided before, by
tenant_apps.announcements.policies; these keep the data's own rules.

Scheduled publication needs no job: visibility is decided when read, by time
(see selectors.visible_to_students). Issue 7 will queue the notification to the
course's students for `publish_at` (on commit, from create and update).
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from tenant_apps.courses.api import Course, course_material_writable
from tenant_apps.files.api import files_for_attachment

from .models import Announcement, AnnouncementRead

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
