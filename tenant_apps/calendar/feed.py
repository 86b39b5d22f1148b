"""A person's calendar as iCalendar (RFC 5545), for calendar programs that
subscribe to their secret feed URL.

A series is exported as one VEVENT with its RRULE (in its zone, with a
VTIMEZONE), its cancelled occurrences as EXDATE and each changed occurrence as
a VEVENT with the same UID and a RECURRENCE-ID, so the program expands it as
we do. Assignment and quiz due dates are events at the due time, not busy
(TRANSP:TRANSPARENT), whose summary says where the person stands ("Essay 1 —
Submitted"). UIDs are stable: the row's id and the institution's schema.

The feed covers events that have not ended more than FEED_PAST ago and due
dates from FEED_PAST ago to FEED_AHEAD on, at most MAX_FEED_EVENTS series.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q
from icalendar import Calendar, Event, vRecur

from .models import CalendarEvent
from .recurrence import rule_part, rule_with
from .selectors import KIND_ASSIGNMENT, calendar_accesses, due_items, events_for
from .timing import occurrence_end, wall_length

FEED_PAST = timedelta(days=90)
FEED_AHEAD = timedelta(days=400)
MAX_FEED_EVENTS = 2000

STATUS_LABELS = {
    "not_submitted": "Not submitted",
    "in_progress": "In progress",
    "submitted": "Submitted",
    "late": "Submitted late",
    "graded": "Graded",
}


def _uid(kind: str, pk) -> str:
    return f"{kind}-{pk}@{connection.schema_name}.conceptspro"


def _when(moment: datetime, zone: ZoneInfo, all_day: bool):
    """A DTSTART-like value: the local date for an all-day event, else the
    time in the event's zone (written with its TZID)."""
    local = moment.astimezone(zone)
    return local.date() if all_day else local


def _rrule(event: CalendarEvent, zone: ZoneInfo) -> vRecur:
    rule = event.recurrence_rule
    until = rule_part(rule, "UNTIL")
    if until and event.is_all_day:
        # With a DATE start, RFC 5545 wants UNTIL as a DATE too.
        moment = datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        rule = rule_with(rule, UNTIL=moment.astimezone(zone).strftime("%Y%m%d"))
    return vRecur.from_ical(rule)


def _summary(event: CalendarEvent, title: str) -> str:
    return f"{event.course.code}: {title}" if event.course_id else title


def _vevents(event: CalendarEvent) -> list[Event]:
    zone = ZoneInfo(event.timezone)
    all_day = event.is_all_day
    master = Event()
    master.add("uid", _uid("event", event.pk))
    master.add("dtstamp", event.updated_at)
    master.add("created", event.created_at)
    master.add("last-modified", event.updated_at)
    master.add("summary", _summary(event, event.title))
    master.add("dtstart", _when(event.start_date, zone, all_day))
    if event.end_date:
        master.add("dtend", _when(event.end_date, zone, all_day))
    if event.description:
        master.add("description", event.description)
    if event.location:
        master.add("location", event.location)
    master.add("categories", [event.event_type])
    changed = []
    if event.is_recurring:
        master.add("rrule", _rrule(event, zone))
        length = wall_length(event.start_date, event.end_date, zone)
        cancelled = []
        for override in event.overrides.all():
            original = _when(override.original_start, zone, all_day)
            if override.cancelled:
                cancelled.append(original)
                continue
            start = override.start_date or override.original_start
            end = override.end_date or occurrence_end(start, length, zone)
            one = Event()
            one.add("uid", _uid("event", event.pk))
            one.add("recurrence-id", original)
            one.add("dtstamp", override.updated_at)
            one.add("last-modified", override.updated_at)
            one.add("summary", _summary(event, override.title or event.title))
            one.add("dtstart", _when(start, zone, all_day))
            if end:
                one.add("dtend", _when(end, zone, all_day))
            description = (
                override.description if override.description is not None else event.description
            )
            location = override.location if override.location is not None else event.location
            if description:
                one.add("description", description)
            if location:
                one.add("location", location)
            one.add("categories", [event.event_type])
            changed.append(one)
        if cancelled:
            master.add("exdate", cancelled)
    return [master, *changed]


def _due_vevent(item, course, stamp: datetime) -> Event:
    due = Event()
    due.add("uid", _uid(item.kind, item.source_id))
    due.add("dtstamp", stamp)
    label = STATUS_LABELS.get(item.submission_status, "Due")
    title = f"{course.code}: {item.title}" if course else item.title
    due.add("summary", f"{title} — {label}")
    due.add("dtstart", item.start.astimezone(UTC))
    due.add("transp", "TRANSPARENT")
    kind = "Assignment" if item.kind == KIND_ASSIGNMENT else "Quiz"
    due.add("description", f"{kind} due. Status: {label}.")
    due.add("categories", [item.kind])
    return due


def feed_calendar(*, user, name: str, now: datetime) -> bytes:
    """The person's calendar as of `now`, as an .ics document."""
    accesses = calendar_accesses(user)
    courses = {access.course.pk: access.course for access in accesses}
    lo, hi = now - FEED_PAST, now + FEED_AHEAD
    events = (
        events_for(user, accesses)
        .filter(Q(last_ends_at__isnull=True) | Q(last_ends_at__gte=lo), start_date__lt=hi)
        .select_related("course")[:MAX_FEED_EVENTS]
    )
    calendar = Calendar()
    calendar.add("prodid", "-//ConceptsPro//Calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    first = now.date()
    for event in events:
        first = min(first, event.start_date.date())
        for component in _vevents(event):
            calendar.add_component(component)
    for item in due_items(accesses, lo=lo, hi=hi, kinds={"assignment", "quiz"}):
        # Stamped with the feed's day: a submission changes the summary, not the item.
        stamp = now.replace(hour=0, minute=0, second=0, microsecond=0)
        calendar.add_component(_due_vevent(item, courses.get(item.course_id), stamp))
    calendar.add_missing_timezones(
        first_date=first - timedelta(days=1), last_date=(now + FEED_AHEAD * 2).date()
    )
    return calendar.to_ical()
