"""Recurrence rules (RFC 5545 RRULE): checked, normalised, and expanded with
python-dateutil in the event's own time zone.

A series is expanded on its zone's wall clock and each occurrence converted to
UTC, so a weekly lecture at 09:00 in New York is at 13:00 UTC in summer and
14:00 UTC in winter, and stays 09:00 for the people in the room.

What a rule may be, and why:
- One RRULE, DAILY to YEARLY, with INTERVAL, COUNT or UNTIL, BYMONTH,
  BYMONTHDAY, BYDAY, BYSETPOS, WKST: what calendar programs write. HOURLY and
  finer, BYHOUR/BYMINUTE/BYSECOND (many occurrences a day), BYYEARDAY,
  BYWEEKNO and BYEASTER are refused.
- The event's start must be the series' first occurrence. RFC 5545 counts a
  DTSTART that does not match the rule as an extra first occurrence, while
  dateutil leaves it out; requiring a match keeps what we show and what a
  calendar program shows from the exported feed the same.
- UNTIL is stored in UTC, as RFC 5545 requires with a zoned start; one given
  as a local date or time is read on the event's wall clock (a date: the end
  of that day).
- Events lie between EARLIEST and LATEST. dateutil scans a series from its
  start, so these bound the work of any expansion; the check that the start
  is an occurrence runs on a copy moved by a multiple of 400 years (the
  Gregorian calendar repeats exactly) close to year 9999, so a rule that never
  matches is given up on after at most 400 years of scanning, not 8000.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from conceptspro.api import ApplicationError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
TOO_FREQUENT = ("HOURLY", "MINUTELY", "SECONDLY")
# In the order a normalised rule lists them.
PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY", "BYSETPOS", "WKST")
MAX_RULE_LENGTH = 500
MAX_COUNT = 1000
MAX_INTERVAL = 1000

_DAY = r"(MO|TU|WE|TH|FR|SA|SU)"
_BYDAY = re.compile(rf"^([+-]?)(\d{{1,2}})?{_DAY}$")
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z)?)?$")
_INT = re.compile(r"^[+-]?\d{1,4}$")


def _refuse(message: str, code: str = "invalid_recurrence_rule") -> ApplicationError:
    return ApplicationError(message, code=code, fields={"recurrence_rule": [message]})


def _ints(name: str, value: str, low: int, high: int, *, signed: bool) -> list[int]:
    numbers = []
    for item in value.split(","):
        if not _INT.match(item):
            raise _refuse(f"{name} takes whole numbers.")
        number = int(item)
        if not (low <= abs(number) <= high) or (number < 0 and not signed):
            raise _refuse(f"{name} values must lie between {low} and {high}.")
        numbers.append(number)
    return numbers


def _parts(text: str) -> dict[str, str]:
    if len(text) > MAX_RULE_LENGTH:
        raise _refuse(f"A recurrence rule has at most {MAX_RULE_LENGTH} characters.")
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text or any(c in text for c in "\r\n") or not text.isprintable():
        raise _refuse("Give one RRULE, such as FREQ=WEEKLY;BYDAY=MO,WE.")
    parts: dict[str, str] = {}
    for item in text.rstrip(";").split(";"):
        name, sep, value = item.partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise _refuse(f"'{item}' is not NAME=VALUE.")
        if name in parts:
            raise _refuse(f"{name} is given twice.")
        if name not in PARTS:
            raise _refuse(
                f"{name} is not supported; use {', '.join(PARTS)}.", "recurrence_part_not_allowed"
            )
        parts[name] = value
    return parts


def _until_utc(value: str, zone: ZoneInfo) -> datetime:
    match = _UNTIL.match(value)
    if not match:
        raise _refuse("UNTIL is a date (YYYYMMDD) or a time (YYYYMMDDTHHMMSS, Z for UTC).")
    day, time, utc = match.groups()
    try:
        moment = datetime.strptime(day + (time or "235959"), "%Y%m%d%H%M%S")
    except ValueError:
        raise _refuse("UNTIL is not a real date.") from None
    return moment.replace(tzinfo=UTC if utc else zone).astimezone(UTC)


def rule_normalize(text: str, *, start: datetime, zone: ZoneInfo) -> str:
    """The rule, checked against the series' `start` (aware) in `zone`, in its
    normalised form; ApplicationError (400) when it is not acceptable."""
    parts = _parts(text)
    freq = parts.get("FREQ")
    if freq in TOO_FREQUENT:
        raise _refuse(
            "An event may repeat at most daily (DAILY, WEEKLY, MONTHLY or YEARLY).",
            "recurrence_too_frequent",
        )
    if freq not in FREQUENCIES:
        raise _refuse("FREQ is one of DAILY, WEEKLY, MONTHLY, YEARLY.")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _refuse("A rule has COUNT or UNTIL, not both.")
    if "INTERVAL" in parts:
        _ints("INTERVAL", parts["INTERVAL"], 1, MAX_INTERVAL, signed=False)
        if "," in parts["INTERVAL"]:
            raise _refuse("INTERVAL is one number.")
        parts["INTERVAL"] = str(int(parts["INTERVAL"]))
        if parts["INTERVAL"] == "1":
            del parts["INTERVAL"]
    if "COUNT" in parts:
        if "," in parts["COUNT"]:
            raise _refuse("COUNT is one number.")
        _ints("COUNT", parts["COUNT"], 1, MAX_COUNT, signed=False)
        parts["COUNT"] = str(int(parts["COUNT"]))
    if "BYMONTH" in parts:
        _ints("BYMONTH", parts["BYMONTH"], 1, 12, signed=False)
    if "BYMONTHDAY" in parts:
        _ints("BYMONTHDAY", parts["BYMONTHDAY"], 1, 31, signed=True)
    if "BYSETPOS" in parts:
        _ints("BYSETPOS", parts["BYSETPOS"], 1, 366, signed=True)
    if "BYDAY" in parts:
        for item in parts["BYDAY"].split(","):
            match = _BYDAY.match(item)
            if not match:
                raise _refuse("BYDAY lists days such as MO,WE or, monthly, 2TU or -1FR.")
            sign, ordinal, _ = match.groups()
            if (sign or ordinal) and freq not in ("MONTHLY", "YEARLY"):
                raise _refuse("A numbered BYDAY (2TU) needs FREQ=MONTHLY or YEARLY.")
            if ordinal is not None and not 1 <= int(ordinal) <= 53:
                raise _refuse("A BYDAY number lies between 1 and 53.")
    if "WKST" in parts and not re.fullmatch(_DAY, parts["WKST"]):
        raise _refuse("WKST is a day: MO, TU, WE, TH, FR, SA or SU.")
    if "UNTIL" in parts:
        until = _until_utc(parts["UNTIL"], zone)
        if until < start:
            raise _refuse("UNTIL is before the event's start.")
        parts["UNTIL"] = until.strftime("%Y%m%dT%H%M%SZ")
    normalised = ";".join(f"{name}={parts[name]}" for name in PARTS if name in parts)
    try:
        rrulestr(normalised, dtstart=start.astimezone(zone))
    except (ValueError, TypeError, OverflowError) as error:
        raise _refuse(f"The rule cannot be read: {error}.") from None
    if not _starts_series(normalised, start.astimezone(zone).replace(tzinfo=None)):
        raise _refuse(
            "The event's start must be the series' first occurrence (for BYDAY=MO, a Monday).",
            "recurrence_start_mismatch",
        )
    return normalised


def _starts_series(rule: str, local_start: datetime) -> bool:
    """Whether `local_start` (naive, wall clock) is the rule's first
    occurrence, checked on a copy moved by whole 400-year cycles to within
    400 years of dateutil's last year, so the search is short."""
    cycles = (9599 - local_start.year) // 400 + 1
    moved = local_start.replace(year=local_start.year + 400 * cycles)
    without_end = ";".join(
        part for part in rule.split(";") if not part.startswith(("COUNT=", "UNTIL="))
    )
    try:
        first = next(iter(rrulestr(without_end, dtstart=moved)), None)
    except (ValueError, OverflowError):
        return False
    return first == moved


@dataclass(frozen=True)
class Series:
    """A recurring event's timing: its first start (UTC), zone and rule."""

    start: datetime
    zone: ZoneInfo
    rule: str

    def _rrule(self) -> rrule:
        return rrulestr(self.rule, dtstart=self.start.astimezone(self.zone))

    def starts(self, *, before: datetime, after: datetime | None = None, limit: int) -> list:
        """Occurrence starts (UTC) in [after, before), at most `limit`."""
        found = []
        for local in self._rrule():
            moment = local.astimezone(UTC)
            if moment >= before:
                break
            if after is None or moment >= after:
                found.append(moment)
                if len(found) >= limit:
                    break
        return found

    def index_of(self, moment: datetime) -> int | None:
        """0 for the first occurrence, …; None when `moment` is not one."""
        moment = moment.astimezone(UTC)
        for index, local in enumerate(self._rrule()):
            start = local.astimezone(UTC)
            if start == moment:
                return index
            if start > moment:
                return None
        return None

    def last_start(self) -> datetime | None:
        """The last occurrence's start for a COUNT rule; for an UNTIL rule,
        UNTIL (a bound, enough for filtering); None when endless."""
        parts = dict(part.split("=", 1) for part in self.rule.split(";"))
        if "COUNT" in parts:
            starts = self.starts(before=LATEST, limit=MAX_COUNT)
            return starts[-1] if starts else self.start
        if "UNTIL" in parts:
            return datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return None


def rule_part(rule: str, name: str) -> str | None:
    for part in rule.split(";"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return None


def rule_with(rule: str, **changes: str | None) -> str:
    """The rule with parts set or (None) removed, in normalised order."""
    parts = dict(part.split("=", 1) for part in rule.split(";"))
    for name, value in changes.items():
        if value is None:
            parts.pop(name, None)
        else:
            parts[name] = value
    return ";".join(f"{name}={parts[name]}" for name in PARTS if name in parts)


def until_before(moment: datetime) -> str:
    """An UNTIL that ends a series just before the occurrence at `moment`."""
    return (moment.astimezone(UTC) - timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
