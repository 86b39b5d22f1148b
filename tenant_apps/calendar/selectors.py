"""Reads of calendars: which events a person sees, their occurrences in a
range (series expanded, overrides applied), and the due dates of the
assignments and quizzes of their courses, read through those apps' api.

Whose courses: those the caller teaches, assists in (TA, grader) or studies
in (holding a seat in the published course), where they may see the course's
content. An institution admin's calendar shows the courses they are in; any
other course's calendar they ask for by `course`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from tenant_apps.assignments.api import assignment_due_dates
from tenant_apps.courses.api import (
    Course,
    CourseAccess,
    Enrollment,
    EnrollmentStatus,
    course_access_or_404,
)
from tenant_apps.quizzes.api import quiz_due_dates

from . import policies
from .models import CalendarEvent, CalendarEventOverride, CalendarFeed
from .recurrence import Series
from .timing import MAX_DURATION, occurrence_end, wall_length

# Generated items' kinds (read-only, from assignments and quizzes).
KIND_EVENT, KIND_ASSIGNMENT, KIND_QUIZ = "event", "assignment", "quiz"
MAX_ITEMS = 5000

_CALLER_ENROLLMENTS = "calendar_caller_enrollments"


def calendar_accesses(user, *, course_id=None) -> list[CourseAccess]:
    """The caller's access to each course whose calendar is theirs; with
    `course_id`, to that course only (404 if they may not see its content)."""
    if course_id is not None:
        access = course_access_or_404(user, course_id)
        if not policies.can_view_course_events(access):
            raise Http404
        return [access]
    enrolled = Enrollment.objects.filter(
        course=OuterRef("pk"), user=user, status=EnrollmentStatus.ENROLLED
    )
    courses = (
        Course.objects.filter(Q(instructor=user) | Exists(enrolled), deleted_at__isnull=True)
        .select_related("instructor")
        .prefetch_related(
            Prefetch(
                "enrollments",
                queryset=Enrollment.objects.filter(user=user),
                to_attr=_CALLER_ENROLLMENTS,
            )
        )
        .order_by("code", "id")
    )
    accesses = []
    for course in courses:
        mine = getattr(course, _CALLER_ENROLLMENTS)
        access = CourseAccess(user=user, course=course, enrollment=mine[0] if mine else None)
        if policies.can_view_course_events(access):
            accesses.append(access)
    return accesses


def events_for(user, accesses: list[CourseAccess], *, personal: bool = True) -> QuerySet:
    """The live events of the courses of `accesses` and, with `personal`, the
    caller's own, with their overrides."""
    seen = Q(course_id__in=[access.course.pk for access in accesses])
    if personal:
        seen |= Q(course__isnull=True, created_by=user)
    return (
        CalendarEvent.objects.filter(seen, deleted_at__isnull=True)
        .prefetch_related(
            Prefetch("overrides", queryset=CalendarEventOverride.objects.order_by("original_start"))
        )
        .order_by("start_date", "id")
    )


def event_visible_or_404(user, pk) -> tuple[CourseAccess | None, CalendarEvent]:
    """The live event with the caller's access to its course (None for a
    personal event), or 404 when they may not see it."""
    event = (
        CalendarEvent.objects.filter(pk=pk, deleted_at__isnull=True)
        .select_related("created_by", "course")
        .prefetch_related(
            Prefetch("overrides", queryset=CalendarEventOverride.objects.order_by("original_start"))
        )
        .first()
    )
    if event is None:
        raise Http404
    access = None
    if event.course_id is not None:
        if event.course.deleted_at is not None:
            raise Http404
        access = course_access_or_404(user, event.course_id)
    if not policies.can_view_event(user, event, access):
        raise Http404
    return access, event


def in_range(start: datetime, end: datetime) -> Q:
    """Events that may have an occurrence overlapping [start, end): a filter
    to narrow the rows, the exact test is `_overlaps`."""
    moved_in = CalendarEventOverride.objects.filter(
        event=OuterRef("pk"),
        cancelled=False,
        start_date__lt=end,
        start_date__gte=start - MAX_DURATION,
    )
    return (
        Q(start_date__lt=end) & (Q(last_ends_at__isnull=True) | Q(last_ends_at__gte=start))
    ) | Exists(moved_in)


@dataclass
class CalendarItem:
    """One entry of a calendar: an event's occurrence, or an assignment's or
    quiz's due date."""

    id: str
    kind: str
    event_id: UUID | None
    source_id: UUID | None
    course_id: UUID | None
    title: str
    description: str
    event_type: str
    start: datetime
    end: datetime | None
    is_all_day: bool
    location: str
    timezone: str
    original_start: datetime | None
    is_recurring: bool
    is_override: bool
    can_edit: bool
    submission_status: str | None = None


def _overlaps(start: datetime, end: datetime | None, lo: datetime, hi: datetime) -> bool:
    if start >= hi:
        return False
    return end > lo if end is not None else start >= lo


def _item(event: CalendarEvent, *, can_edit: bool, start, end, original=None, override=None):
    return CalendarItem(
        id=str(event.pk),
        kind=KIND_EVENT,
        event_id=event.pk,
        source_id=None,
        course_id=event.course_id,
        title=override.title if override and override.title is not None else event.title,
        description=(
            override.description
            if override and override.description is not None
            else event.description
        ),
        event_type=event.event_type,
        start=start,
        end=end,
        is_all_day=event.is_all_day,
        location=(
            override.location if override and override.location is not None else event.location
        ),
        timezone=event.timezone,
        original_start=original,
        is_recurring=event.is_recurring,
        is_override=override is not None,
        can_edit=can_edit,
    )


def occurrences_of(
    event: CalendarEvent, *, lo: datetime, hi: datetime, can_edit: bool, limit: int
) -> list[CalendarItem]:
    """The event's occurrences overlapping [lo, hi): a single event once; a
    series expanded on its zone's wall clock, each changed occurrence as
    changed (where it now lies), cancelled ones left out."""
    zone = ZoneInfo(event.timezone)
    length = wall_length(event.start_date, event.end_date, zone)
    if not event.is_recurring:
        if not _overlaps(event.start_date, event.end_date, lo, hi):
            return []
        return [_item(event, can_edit=can_edit, start=event.start_date, end=event.end_date)]
    overrides = {o.original_start: o for o in event.overrides.all()}
    items = []
    series = Series(event.start_date, zone, event.recurrence_rule)
    reach = (event.end_date - event.start_date) if event.end_date else timedelta(0)
    for start in series.starts(after=lo - reach - timedelta(days=1), before=hi, limit=limit):
        if start in overrides:
            continue
        end = occurrence_end(start, length, zone)
        if _overlaps(start, end, lo, hi):
            items.append(_item(event, can_edit=can_edit, start=start, end=end, original=start))
    for original, override in overrides.items():
        if override.cancelled:
            continue
        start = override.start_date or original
        end = override.end_date or occurrence_end(start, length, zone)
        if _overlaps(start, end, lo, hi):
            items.append(
                _item(
                    event,
                    can_edit=can_edit,
                    start=start,
                    end=end,
                    original=original,
                    override=override,
                )
            )
    return items


def _due_item(kind: str, source, *, due_at: datetime) -> CalendarItem:
    """An assignment's or quiz's due date as a read-only calendar entry."""
    return CalendarItem(
        id=f"{kind}:{source.pk}",
        kind=kind,
        event_id=None,
        source_id=source.pk,
        course_id=source.course_id,
        title=source.title,
        description="",
        event_type=kind,
        start=due_at,
        end=None,
        is_all_day=False,
        location="",
        timezone="UTC",
        original_start=None,
        is_recurring=False,
        is_override=False,
        can_edit=False,
        submission_status=source.submission_status,
    )


def due_items(accesses: list[CourseAccess], *, lo, hi, kinds: set[str]) -> list[CalendarItem]:
    items = []
    if KIND_ASSIGNMENT in kinds:
        for assignment in assignment_due_dates(accesses, due_from=lo, due_before=hi):
            items.append(_due_item(KIND_ASSIGNMENT, assignment, due_at=assignment.due_at))
    if KIND_QUIZ in kinds:
        for quiz in quiz_due_dates(accesses, due_from=lo, due_before=hi):
            items.append(_due_item(KIND_QUIZ, quiz, due_at=quiz.end_date))
    return items


def calendar_items(
    user,
    accesses: list[CourseAccess],
    *,
    lo: datetime,
    hi: datetime,
    personal: bool = True,
    event_type: str | None = None,
    limit: int = MAX_ITEMS,
) -> list[CalendarItem]:
    """Everything on the caller's calendar overlapping [lo, hi), soonest
    first: event occurrences, then (without `event_type`, or with
    'assignment' or 'quiz') due dates. At most `limit`."""
    by_course = {access.course.pk: access for access in accesses}
    items: list[CalendarItem] = []
    if event_type not in (KIND_ASSIGNMENT, KIND_QUIZ):
        events = events_for(user, accesses, personal=personal).filter(in_range(lo, hi))
        if event_type:
            events = events.filter(event_type=event_type)
        for event in events:
            access = by_course.get(event.course_id)
            can_edit = policies.can_change_event(user, event, access)
            items += occurrences_of(event, lo=lo, hi=hi, can_edit=can_edit, limit=limit)
    kinds = {KIND_ASSIGNMENT, KIND_QUIZ} if event_type is None else {event_type}
    items += due_items(accesses, lo=lo, hi=hi, kinds=kinds)
    items.sort(key=lambda item: (item.start, item.title, item.id))
    return items[:limit]


def feed_owner(token_hash: str):
    """The feed with this token hash whose owner may still sign in, or None:
    one indexed query, whatever the reason it is not there."""
    return (
        CalendarFeed.objects.select_related("user")
        .filter(
            token_hash=token_hash,
            user__is_active=True,
            user__is_suspended=False,
            user__deleted_at__isnull=True,
        )
        .first()
    )


def feed_of(user) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user).first()
