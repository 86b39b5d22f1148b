"""When an event and its occurrences happen: times read on the event's wall
clock, all-day events made whole local days, and each occurrence's end.

A time given without an offset is wall-clock time in the event's zone. An
occurrence lasts as long on the wall clock as the first one (a 09:00-10:30
lecture is 09:00-10:30 on every date, and an all-day event covers whole
local days, also in the week the clocks change).
"""

from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from conceptspro.api import ApplicationError

from .recurrence import EARLIEST, LATEST

MAX_DURATION = timedelta(days=366)


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`; 400 `unknown_timezone` otherwise."""
    if name not in _zone_names():
        raise ApplicationError(
            f"'{name[:64]}' is not a time zone name (such as Europe/Berlin).",
            code="unknown_timezone",
            fields={"timezone": ["Unknown time zone."]},
        )
    return ZoneInfo(name)


def wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time of `moment` in `zone`."""
    return moment.astimezone(zone).replace(tzinfo=None)


def on_wall(naive: datetime, zone: ZoneInfo) -> datetime:
    """The instant (UTC) a wall-clock time in `zone` names."""
    return naive.replace(tzinfo=zone).astimezone(UTC)


def placed(moment: datetime, zone: ZoneInfo) -> datetime:
    """An input time as an instant: a naive one is wall clock in `zone`.
    Whole seconds: an occurrence is named by its start."""
    moment = moment.replace(microsecond=0)
    if moment.tzinfo is None or moment.utcoffset() is None:
        return on_wall(moment, zone)
    return moment.astimezone(UTC)


def _midnight(day, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def event_times(
    *, start: datetime, end: datetime | None, zone: ZoneInfo, all_day: bool
) -> tuple[datetime, datetime | None]:
    """The event's start and end as instants, checked: an all-day event runs
    from the local midnight of its first day to the one after its last (one
    day when no end is given). 400 `end_before_start`, `event_too_long` or
    `date_out_of_range`."""
    start = placed(start, zone)
    end = placed(end, zone) if end is not None else None
    if all_day:
        first = start.astimezone(zone).date()
        if end is None:
            last = first + timedelta(days=1)
        else:
            local_end = end.astimezone(zone)
            last = local_end.date() + timedelta(days=0 if local_end.time() == time(0) else 1)
        start = _midnight(first, zone)
        end = _midnight(max(last, first + timedelta(days=1)), zone)
    times_check(start=start, end=end)
    return start, end


def times_check(*, start: datetime, end: datetime | None, field: str = "end_date") -> None:
    if not EARLIEST <= start < LATEST:
        raise ApplicationError(
            f"Events lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.",
            code="date_out_of_range",
            fields={"start_date": ["Out of range."]},
        )
    if end is None:
        return
    if end <= start:
        raise ApplicationError(
            "An event must end after it starts.",
            code="end_before_start",
            fields={field: ["Must be later than the start."]},
        )
    if end - start > MAX_DURATION:
        raise ApplicationError(
            "An event lasts at most 366 days.",
            code="event_too_long",
            fields={field: ["At most 366 days after the start."]},
        )


def wall_length(start: datetime, end: datetime | None, zone: ZoneInfo) -> timedelta | None:
    if end is None:
        return None
    length = wall(end, zone) - wall(start, zone)
    # Ending in the repeated hour of a clock change can look earlier on the wall.
    return length if length > timedelta(0) else end - start


def occurrence_end(start: datetime, length: timedelta | None, zone: ZoneInfo) -> datetime | None:
    """The end of an occurrence starting at `start`, as long on the wall clock
    as the first."""
    if length is None:
        return None
    return on_wall(wall(start, zone) + length, zone)
