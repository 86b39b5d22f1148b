"""GET /api/v1/audit-events/: the institution's security audit trail.
Institution admins only; newest first, paginated, filterable."""

import django_filters
from django import forms
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from conceptspro.api import IsoDateTimeFilter
from tenant_apps.accounts.api import IsInstitutionAdmin
from tenant_apps.audit.models import AuditEvent, AuditEventType
from tenant_apps.audit.selectors import audit_events


class IPAddressFilter(django_filters.Filter):
    field_class = forms.GenericIPAddressField


class AuditEventFilter(django_filters.FilterSet):
    event = django_filters.MultipleChoiceFilter(choices=AuditEventType.choices)
    actor = django_filters.UUIDFilter(field_name="actor_id")
    target = django_filters.UUIDFilter(field_name="target_id")
    email = django_filters.CharFilter(lookup_expr="iexact")
    ip_address = IPAddressFilter()
    since = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["event", "actor", "target", "email", "ip_address", "since", "until"]


class _Person(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()


class AuditEventOutput(serializers.ModelSerializer):
    actor = _Person(allow_null=True)
    target = _Person(allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "event",
            "actor",
            "target",
            "email",
            "ip_address",
            "user_agent",
            "metadata",
        ]


class AuditEventListView(ListAPIView):
    """GET /audit-events/: the audit trail, newest first, paginated. Filters:
    event (repeatable), actor, target, email, ip_address, since, until.

    Who may call: an active admin of this institution."""

    permission_classes = [IsInstitutionAdmin]
    serializer_class = AuditEventOutput
    filterset_class = AuditEventFilter
    queryset = audit_events()
