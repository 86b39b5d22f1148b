"""The periods scheduled jobs are claimed for. Days and ISO weeks are UTC's
unless a job says otherwise: beat fires at one UTC time for every
institution, and a period must name the same day for two beats however far
apart their clocks. The weekly digest's week is the institution's own (it
runs Monday morning there, far from either end of the week)."""

from datetime import UTC, datetime, tzinfo


def day_period(moment: datetime) -> str:
    """ "2026-11-25" """
    return moment.astimezone(UTC).date().isoformat()


def week_period(moment: datetime, zone: tzinfo = UTC) -> str:
    """ "2026-W48": the ISO year and week, in `zone`."""
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"
