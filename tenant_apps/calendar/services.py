"""Every write to calendars. Who may call them is decided before, by
tenant_apps.calendar.policies; these keep the data's own rules.

Editing a recurring event names one occurrence by its original start and a
scope, as calendar programs do:
- `this`: that occurrence only, an override row (a cancellation on delete);
- `following`: the series is split: the old one ends just before that
  occurrence (UNTIL, or a smaller COUNT), a new event carries the change from
  there, with the overrides of the occurrences it took;
- `all`: the series itself.

When a series' timing changes (start, time zone, rule, all-day), each
override follows its occurrence: it moves by the same wall-clock amount as the
series' start (a cancelled 09:00 lecture on 11 November stays cancelled when
the lectures move to 10:00), and is deleted when no occurrence of the new
series is there any more (the rule no longer produces that date). An
override's own moved start and end are kept as given.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from conceptspro.tenancy import institution_timezone
from tenant_apps.courses.api import Course, course_material_writable

from .models import CalendarEvent, CalendarEventOverride, CalendarFeed
from .recurrence import (
    Series,
    rule_normalize,
    rule_part,
    rule_with,
    until_before,
)
from .timing import (
    event_times,
    occurrence_end,
    on_wall,
    placed,
    times_check,
    wall,
    wall_length,
    zone_named,
)

EDITABLE = (
    "title",
    "description",
    "event_type",
    "start_date",
    "end_date",
    "location",
    "is_all_day",
    "recurrence_rule",
    "timezone",
)
# What one occurrence may change; the rest belongs to the series.
OCCURRENCE_EDITABLE = ("title", "description", "location", "start_date", "end_date")
TIMING = ("start_date", "end_date", "is_all_day", "recurrence_rule", "timezone")


class Scope:
    THIS = "this"
    FOLLOWING = "following"
    ALL = "all"
    CHOICES = (THIS, FOLLOWING, ALL)


def series_of(event: CalendarEvent) -> Series | None:
    if not event.recurrence_rule:
        return None
    return Series(event.start_date, ZoneInfo(event.timezone), event.recurrence_rule)


def _last_ends_at(
    *, start: datetime, end: datetime | None, zone: ZoneInfo, rule: str
) -> datetime | None:
    if not rule:
        return end or start
    last = Series(start, zone, rule).last_start()
    if last is None:
        return None
    return occurrence_end(last, wall_length(start, end, zone), zone) or last


@dataclass(frozen=True)
class _Timing:
    start_date: datetime
    end_date: datetime | None
    recurrence_rule: str
    timezone: str
    last_ends_at: datetime | None


def _timing(*, start, end, zone_name: str, all_day: bool, rule: str) -> _Timing:
    zone = zone_named(zone_name)
    start, end = event_times(start=start, end=end, zone=zone, all_day=all_day)
    rule = rule_normalize(rule, start=start, zone=zone) if rule else ""
    return _Timing(
        start_date=start,
        end_date=end,
        recurrence_rule=rule,
        timezone=zone.key,
        last_ends_at=_last_ends_at(start=start, end=end, zone=zone, rule=rule),
    )


def _course_writable(course: Course | None) -> None:
    """A personal event is always writable; an archived course's are frozen
    (409 `course_archived`)."""
    if course is not None:
        course_material_writable(course)


@transaction.atomic
def event_create(
    *,
    actor,
    course: Course | None,
    title: str,
    event_type: str,
    start_date: datetime,
    end_date: datetime | None = None,
    description: str = "",
    location: str = "",
    is_all_day: bool = False,
    recurrence_rule: str = "",
    timezone: str | None = None,
) -> CalendarEvent:
    """A course event (course given) or a personal one of `actor`. Without a
    time zone, the institution's."""
    _course_writable(course)
    timing = _timing(
        start=start_date,
        end=end_date,
        zone_name=timezone or institution_timezone().key,
        all_day=is_all_day,
        rule=recurrence_rule or "",
    )
    return CalendarEvent.objects.create(
        course=course,
        created_by=actor,
        title=title,
        description=description,
        event_type=event_type,
        location=location,
        is_all_day=is_all_day,
        **timing.__dict__,
    )


def _locked(event: CalendarEvent) -> CalendarEvent:
    locked = (
        CalendarEvent.objects.select_for_update(of=("self",))
        .select_related("course")
        .filter(pk=event.pk, deleted_at__isnull=True)
        .first()
    )
    if locked is None:  # deleted while this change waited on the row
        raise ApplicationError(
            "This event was deleted.", code="not_found", status=status.HTTP_404_NOT_FOUND
        )
    return locked


def occurrence_check(event: CalendarEvent, occurrence: datetime | None, scope: str) -> int | None:
    """The occurrence's position in the series (0: the first), or None for
    the whole event. 400 when the scope and occurrence do not fit the event."""
    series = series_of(event)
    if occurrence is None:
        if scope != Scope.ALL and series is not None:
            raise ApplicationError(
                f"scope={scope} needs the occurrence's original start (occurrence=).",
                code="occurrence_required",
                fields={"occurrence": ["Required for this scope."]},
            )
        return None
    if series is None:
        raise ApplicationError(
            "This event does not repeat: change it without an occurrence.",
            code="event_not_recurring",
            fields={"occurrence": ["The event does not repeat."]},
        )
    index = series.index_of(occurrence)
    if index is None:
        raise ApplicationError(
            "The series has no occurrence starting then (give its original start, in UTC "
            "or with an offset).",
            code="unknown_occurrence",
            fields={"occurrence": ["Not an occurrence of this event."]},
        )
    return index


def _fields_check(changes: dict, allowed) -> None:
    extra = sorted(set(changes) - set(allowed))
    if extra:
        raise ApplicationError(
            "Only the title, description, location, start and end of one occurrence change "
            "on their own; change the series (scope=all or following) for the rest.",
            code="field_not_per_occurrence",
            fields={name: ["Belongs to the series."] for name in extra},
        )


def _overrides_follow(
    *,
    overrides: list[CalendarEventOverride],
    to_event: CalendarEvent,
    old_zone: ZoneInfo,
    shift: timedelta,
) -> None:
    """Re-keys `overrides` onto `to_event`'s series: each moves by `shift` on
    the wall clock and is kept only where the new series has an occurrence."""
    ids = [o.pk for o in overrides]
    CalendarEventOverride.objects.filter(pk__in=ids).delete()
    series = series_of(to_event)
    if series is None or not overrides:
        return
    zone = series.zone
    moved = {}
    for override in overrides:
        start = on_wall(wall(override.original_start, old_zone) + shift, zone)
        moved[start] = override
    starts = set(
        series.starts(after=min(moved), before=max(moved) + timedelta(seconds=1), limit=10_000)
    )
    kept = []
    for start, override in moved.items():
        if start in starts:
            override.pk = None
            override.event = to_event
            override.original_start = start
            kept.append(override)
    CalendarEventOverride.objects.bulk_create(kept)


def _apply(event: CalendarEvent, changes: dict) -> tuple[ZoneInfo, datetime, bool]:
    """Sets `changes` on `event` with its timing recomputed; returns the old
    zone, the old start and whether the timing changed."""
    old_zone, old_start = ZoneInfo(event.timezone), event.start_date
    old_length = wall_length(event.start_date, event.end_date, old_zone)
    timing_changed = bool(set(changes) & set(TIMING))
    for field in ("title", "description", "event_type", "location", "is_all_day"):
        if field in changes:
            setattr(event, field, changes[field])
    if timing_changed:
        zone_name = changes.get("timezone") or event.timezone
        zone = zone_named(zone_name)
        start = changes.get("start_date", event.start_date)
        if "end_date" in changes:
            end = changes["end_date"]
        elif old_length is not None:  # a moved start keeps the event's length
            end = occurrence_end(placed(start, zone), old_length, zone)
        else:
            end = None
        timing = _timing(
            start=start,
            end=end,
            zone_name=zone_name,
            all_day=event.is_all_day,
            rule=changes.get("recurrence_rule", event.recurrence_rule) or "",
        )
        for field, value in timing.__dict__.items():
            setattr(event, field, value)
    return old_zone, old_start, timing_changed


def _series_update(event: CalendarEvent, changes: dict) -> CalendarEvent:
    overrides = list(event.overrides.all())
    old_zone, old_start, timing_changed = _apply(event, changes)
    event.save()
    if timing_changed and overrides:
        shift = wall(event.start_date, ZoneInfo(event.timezone)) - wall(old_start, old_zone)
        _overrides_follow(overrides=overrides, to_event=event, old_zone=old_zone, shift=shift)
    return event


def _split_at(event: CalendarEvent, occurrence: datetime, index: int) -> CalendarEvent:
    """Ends `event` just before its occurrence at `occurrence` (the
    `index`th) and returns a new, unsaved series from there, with the rest of
    a COUNT."""
    rule = event.recurrence_rule
    count = rule_part(rule, "COUNT")
    zone = ZoneInfo(event.timezone)
    length = wall_length(event.start_date, event.end_date, zone)
    tail = CalendarEvent(
        course=event.course,
        created_by=event.created_by,
        title=event.title,
        description=event.description,
        event_type=event.event_type,
        location=event.location,
        is_all_day=event.is_all_day,
        timezone=event.timezone,
        start_date=occurrence,
        end_date=occurrence_end(occurrence, length, zone),
        recurrence_rule=rule_with(rule, COUNT=str(int(count) - index)) if count else rule,
    )
    if count:
        event.recurrence_rule = rule_with(rule, COUNT=str(index))
    else:
        event.recurrence_rule = rule_with(rule, UNTIL=until_before(occurrence))
    event.last_ends_at = _last_ends_at(
        start=event.start_date, end=event.end_date, zone=zone, rule=event.recurrence_rule
    )
    return tail


def _occurrence_update(event: CalendarEvent, occurrence: datetime, changes: dict, *, full: bool):
    _fields_check(changes, OCCURRENCE_EDITABLE)
    zone = ZoneInfo(event.timezone)
    override, _ = CalendarEventOverride.objects.get_or_create(
        event=event, original_start=occurrence
    )
    if override.cancelled:
        raise ApplicationError(
            "This occurrence was cancelled.",
            code="occurrence_cancelled",
            status=status.HTTP_409_CONFLICT,
        )
    if full:  # PUT: what is not given goes back to the series' values
        for field in OCCURRENCE_EDITABLE:
            setattr(override, field, None)
    for field in ("title", "description", "location"):
        if field in changes:
            setattr(override, field, changes[field])
    if "start_date" in changes:
        override.start_date = placed(changes["start_date"], zone)
    if "end_date" in changes:
        override.end_date = placed(changes["end_date"], zone) if changes["end_date"] else None
    start = override.start_date or occurrence
    length = wall_length(event.start_date, event.end_date, zone)
    end = override.end_date or occurrence_end(start, length, zone)
    if event.is_all_day and override.start_date is not None:
        start, end = event_times(start=start, end=override.end_date, zone=zone, all_day=True)
        override.start_date, override.end_date = start, end
    times_check(start=start, end=end)
    if not any(getattr(override, field) is not None for field in OCCURRENCE_EDITABLE):
        override.delete()  # back to the series' values: nothing to override
    else:
        override.save()
    CalendarEvent.objects.filter(pk=event.pk).update(updated_at=timezone.now())
    return event


@transaction.atomic
def event_update(
    *,
    event: CalendarEvent,
    scope: str = Scope.ALL,
    occurrence: datetime | None = None,
    full: bool = False,
    **changes,
) -> CalendarEvent:
    """Changes the event, one occurrence of it (`this`), it from an
    occurrence on (`following`: returns the new series) or all of it. `full`
    (PUT) resets an occurrence's fields not given to the series' values."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"event_update() got unexpected fields: {sorted(unknown)}")
    event = _locked(event)
    _course_writable(event.course)
    index = occurrence_check(event, occurrence, scope)
    if index is None or scope == Scope.ALL or (scope == Scope.FOLLOWING and index == 0):
        return _series_update(event, changes)
    occurrence = occurrence.astimezone(UTC)
    if scope == Scope.THIS:
        return _occurrence_update(event, occurrence, changes, full=full)
    old_zone = ZoneInfo(event.timezone)
    taken = list(event.overrides.filter(original_start__gte=occurrence))
    tail = _split_at(event, occurrence, index)
    event.save()
    _apply(tail, {**changes, "start_date": changes.get("start_date", tail.start_date)})
    tail.save()
    if taken:
        shift = wall(tail.start_date, ZoneInfo(tail.timezone)) - wall(occurrence, old_zone)
        _overrides_follow(overrides=taken, to_event=tail, old_zone=old_zone, shift=shift)
    return tail


@transaction.atomic
def event_delete(
    *, event: CalendarEvent, scope: str = Scope.ALL, occurrence: datetime | None = None
) -> None:
    """Deletes the event (a soft delete), one occurrence (a cancellation) or
    the occurrences from one on (the series ends before it)."""
    event = _locked(event)
    _course_writable(event.course)
    index = occurrence_check(event, occurrence, scope)
    now = timezone.now()
    if index is None or scope == Scope.ALL or (scope == Scope.FOLLOWING and index == 0):
        CalendarEvent.objects.filter(pk=event.pk).update(deleted_at=now, updated_at=now)
        return
    occurrence = occurrence.astimezone(UTC)
    if scope == Scope.THIS:
        CalendarEventOverride.objects.update_or_create(
            event=event,
            original_start=occurrence,
            defaults={
                "cancelled": True,
                **{field: None for field in OCCURRENCE_EDITABLE},
            },
        )
        CalendarEvent.objects.filter(pk=event.pk).update(updated_at=now)
        return
    event.overrides.filter(original_start__gte=occurrence).delete()
    _split_at(event, occurrence, index)  # the tail is dropped
    event.save()


# --- the iCal feed ---------------------------------------------------------


def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def feed_rotate(*, user) -> tuple[CalendarFeed, str]:
    """A new secret token for the user's feed, replacing any earlier one
    (whose URL stops working). Only its hash is kept; the token is returned
    once."""
    token = secrets.token_urlsafe(32)
    feed, _ = CalendarFeed.objects.update_or_create(
        user=user,
        defaults={
            "token_hash": feed_token_hash(token),
            "created_at": timezone.now(),
            "last_fetched_at": None,
        },
    )
    return feed, token


@transaction.atomic
def feed_revoke(*, user) -> bool:
    """Whether there was a feed to revoke."""
    deleted, _ = CalendarFeed.objects.filter(user=user).delete()
    return bool(deleted)


FETCH_RECORD_EVERY = timedelta(minutes=15)


def feed_fetched(*, feed: CalendarFeed) -> None:
    """Notes when a calendar program last read the feed (at most every 15
    minutes, so polling does not write on every request)."""
    now = timezone.now()
    if feed.last_fetched_at is None or now - feed.last_fetched_at >= FETCH_RECORD_EVERY:
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
