"""Reads of announcements: what a caller may see of a course's announcements,
with everything a list shows computed in the same query (state, whether the
caller read it, and for staff how many of the course's students did)."""

from datetime import datetime

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenant_apps.courses.api import (
    CourseAccess,
    Enrollment,
    seat_holder,
)
from tenant_apps.files.api import StoredFile

from .models import Announcement, AnnouncementRead, AnnouncementState
from .policies import can_see_drafts


def visible_to_students(now: datetime) -> Q:
    """Published, its publication time come, not expired."""
    return (
        Q(is_published=True)
        & (Q(publish_at__isnull=True) | Q(publish_at__lte=now))
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )


def state_at(now: datetime) -> Case:
    return Case(
        When(is_published=False, then=Value(AnnouncementState.DRAFT)),
        When(publish_at__gt=now, then=Value(AnnouncementState.SCHEDULED)),
        When(expires_at__lte=now, then=Value(AnnouncementState.EXPIRED)),
        default=Value(AnnouncementState.PUBLISHED),
        output_field=CharField(),
    )


def _count(queryset: QuerySet, group_by: str) -> Coalesce:
    """A correlated COUNT(*) of `queryset`, 0 when it has no rows."""
    counted = queryset.order_by().values(group_by).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def live_attachments(now: datetime) -> QuerySet:
    """Attached files not deleted or expired since."""
    return StoredFile.objects.filter(
        Q(deleted_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    ).order_by("created_at", "id")


def student_reads() -> QuerySet:
    """Reads by students who hold a seat in the announcement's course (a
    teacher's or a dropped student's read does not count)."""
    return AnnouncementRead.objects.filter(
        seat_holder("user__enrollments__"), user__enrollments__course=F("announcement__course")
    )


def announcements_for(access: CourseAccess, *, now: datetime | None = None) -> QuerySet:
    """The course's live announcements the caller may see, pinned first, then
    the newest publication (drafts without a time first). Students see only
    what is published and current; staff see everything with its `state`, how
    many students read it (`read_count`) and could (`audience_count`)."""
    now = now or timezone.now()
    user = access.user
    queryset = (
        Announcement.objects.filter(course=access.course, deleted_at__isnull=True)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=live_attachments(now)))
        .annotate(
            state=state_at(now),
            is_read=Exists(AnnouncementRead.objects.filter(announcement=OuterRef("pk"), user=user)),
        )
    )
    if can_see_drafts(access):
        queryset = queryset.annotate(
            read_count=_count(student_reads().filter(announcement=OuterRef("pk")), "announcement"),
            audience_count=_count(
                Enrollment.objects.filter(seat_holder(), course=OuterRef("course")),
                "course",
            ),
        )
    else:
        queryset = queryset.filter(visible_to_students(now))
    return queryset.order_by(
        "-is_pinned", F("publish_at").desc(nulls_first=True), "-created_at", "id"
    )


def announcement_readers(announcement: Announcement) -> QuerySet:
    """Who of the course's students read it, most recent first."""
    return (
        student_reads()
        .filter(announcement=announcement)
        .select_related("user")
        .order_by("-read_at", "user_id")
    )
