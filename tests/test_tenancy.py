"""The institution's time zone as tenant code sees it (conceptspro.tenancy)."""

from zoneinfo import ZoneInfo

from django.db import connection
from django_tenants.utils import tenant_context

from conceptspro.tenancy import institution_timezone


def test_institution_timezone_follows_the_institution_in_context(alpha, beta):
    alpha.timezone = "Europe/London"
    alpha.save(update_fields=["timezone"])
    with tenant_context(alpha):
        assert institution_timezone() == ZoneInfo("Europe/London")
    with tenant_context(beta):
        assert institution_timezone() == ZoneInfo("UTC")
    connection.set_schema_to_public()


def test_a_name_that_no_longer_resolves_falls_back_to_utc(alpha):
    alpha.timezone = "Nowhere/Gone"  # written around validation, as an old row could be
    alpha.save(update_fields=["timezone"])
    with tenant_context(alpha):
        assert institution_timezone() == ZoneInfo("UTC")
    connection.set_schema_to_public()
