"""What code may know of the institution it runs in, without importing the
public schema's models (django-tenants puts the institution on the
connection when it routes a request or enters a tenant context), and of the
host a request came to."""

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


def request_port(request) -> str:
    """ ":8000" when the request named a port in its Host, else "": links
    between the bare domain and an institution's subdomain keep it (in
    development every host shares one port)."""
    host = request.get_host()
    return ":" + host.rsplit(":", 1)[1] if ":" in host else ""
