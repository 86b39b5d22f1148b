"""The periods scheduled jobs are claimed for. Days and ISO weeks are UTC's:
beat fires at one UTC time for every institution, and a period must name the
same day for two beats however far apart their clocks or the institutions'
time zones."""

from datetime import UTC, datetime


def day_period(moment: datetime) -> str:
    """ "2026-11-25" """
    return moment.astimezone(UTC).date().isoformat()


def week_period(moment: datetime) -> str:
    """ "2026-W48": the ISO year and week."""
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"
