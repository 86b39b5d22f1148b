"""How late a submission is, counted on the institution's wall clock.

A day late is a calendar day as the institution lives it: due at 23:00 and
submitted at 22:30 the next evening is one day late even when the clocks went
back an hour in between (24.5 hours of real time). So both times are turned
into the institution's local time, without zone, before they are subtracted;
any part of a day started counts as a day.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def days_late(*, due_at: datetime, at: datetime, zone: ZoneInfo) -> int:
    """0 up to the due time; then 1 for any part of the first local day after
    it, 2 for the second, and so on. Whether it is late at all is real time:
    in the hour that repeats when clocks go back, wall-clock times alone
    would call a submission made after the due time early, and one made
    before it late."""
    if at <= due_at:
        return 0
    late_by = _local(at, zone) - _local(due_at, zone)
    days, rest = divmod(late_by, DAY)
    return max(1, days + (1 if rest else 0))


def closes_at(*, due_at: datetime, max_late_days: int, zone: ZoneInfo) -> datetime:
    """When late submissions stop: `max_late_days` local days after the due
    time, at the same wall-clock time."""
    local = _local(due_at, zone) + max_late_days * DAY
    return local.replace(tzinfo=zone)
