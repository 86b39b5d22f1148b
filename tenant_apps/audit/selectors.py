"""Reads of the audit trail."""

from django.db.models import QuerySet

from .models import AuditEvent


def audit_events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor", "target").order_by("-created_at", "-id")
