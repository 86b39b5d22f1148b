"""What tenant code may know of the institution it runs in, without importing
the public schema's models (django-tenants puts the institution on the
connection when it routes a request or enters a tenant context)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection

UTC = ZoneInfo("UTC")


def institution_timezone() -> ZoneInfo:
    """The current institution's time zone; UTC outside one, or if its name
    no longer resolves."""
    name = getattr(getattr(connection, "tenant", None), "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
