"""An institution is a tenant: one PostgreSQL schema, reached on its own subdomain."""

import re
import uuid
import zoneinfo
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

# Subdomains the platform keeps for itself or that would confuse people.
RESERVED_SLUGS = frozenset(
    {
        "www",
        "api",
        "admin",
        "public",
        "app",
        "apps",
        "static",
        "media",
        "assets",
        "cdn",
        "mail",
        "email",
        "smtp",
        "imap",
        "ftp",
        "ssh",
        "vpn",
        "ns1",
        "ns2",
        "status",
        "health",
        "help",
        "support",
        "docs",
        "blog",
        "console",
        "operator",
        "billing",
        "signup",
        "login",
        "auth",
        "sso",
        "oauth",
        "account",
        "accounts",
        "dashboard",
        "internal",
        "system",
        "root",
        "test",
        "staging",
        "dev",
        "template",
        "pool",
        "ws",
        "websocket",
    }
)
SLUG_MAX_LENGTH = 40
_SLUG_RE = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")


def validate_institution_slug(slug: str) -> None:
    """A slug is the institution's subdomain and, with '-' as '_', its schema name."""
    if len(slug) < 2:
        raise ValidationError("Use at least 2 characters.", code="too_short")
    if len(slug) > SLUG_MAX_LENGTH:
        raise ValidationError(f"Use at most {SLUG_MAX_LENGTH} characters.", code="too_long")
    if not _SLUG_RE.match(slug) or "--" in slug:
        raise ValidationError(
            "Use lowercase letters, digits and single hyphens; start with a letter and "
            "end with a letter or digit.",
            code="invalid",
        )
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        raise ValidationError("This address is reserved.", code="reserved")


def validate_timezone_name(name: str) -> None:
    if name not in zoneinfo.available_timezones():
        raise ValidationError("Not an IANA time zone name.", code="invalid")


def schema_name_for_slug(slug: str) -> str:
    return slug.replace("-", "_")


class SuspensionCause(models.TextChoices):
    OPERATOR = "operator", "Operator"
    BILLING = "billing", "Billing"


class Institution(TenantMixin):
    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
        PENDING = "pending", "Pending"
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    slug = models.CharField(
        max_length=SLUG_MAX_LENGTH, unique=True, validators=[validate_institution_slug]
    )
    email_domain = models.CharField(
        max_length=255, blank=True, help_text="Email domain of the institution's own accounts."
    )
    logo_url = models.URLField(blank=True)
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone_name],
        help_text="IANA name (e.g. America/New_York): the institution's calendar, "
        "against which due dates are shown and days late are counted.",
    )
    settings = models.JSONField(default=dict, blank=True)
    plan = models.ForeignKey(
        "plans.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="institutions"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    status_reason = models.TextField(blank=True)
    # Overrides of the plan's limits; None means "as the plan says".
    max_users = models.PositiveIntegerField(null=True, blank=True)
    max_courses = models.PositiveIntegerField(null=True, blank=True)
    max_storage_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_cause = models.CharField(
        max_length=10,
        choices=SuspensionCause.choices,
        blank=True,
        help_text="Who suspended it: a payment that resumes lifts only a billing suspension.",
    )
    # Billing: a past-due subscription leaves the institution writable until
    # this moment (a banner says so), read-only from it on. Empty: writable.
    read_only_at = models.DateTimeField(null=True, blank=True)

    # Schemas are made and dropped by provisioning tasks only, never as a side
    # effect of saving or deleting a row.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        _forget_routes_on_commit(list(self.domains.values_list("domain", flat=True)))
        if self.status != self.Status.ACTIVE:
            # Its open sockets close now, not at their tokens' expiry.
            from .websocket import institution_sockets_revalidate

            schema = self.schema_name
            transaction.on_commit(lambda: institution_sockets_revalidate(schema))

    def is_read_only(self, now: datetime | None = None) -> bool:
        return self.read_only_at is not None and (now or timezone.now()) >= self.read_only_at

    def delete(self, *args, **kwargs):
        # The domains go by cascade, which does not call Domain.delete().
        hostnames = list(self.domains.values_list("domain", flat=True))
        result = super().delete(*args, **kwargs)
        _forget_routes_on_commit(hostnames)
        return result


class Domain(DomainMixin):
    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        _forget_routes_on_commit([self.domain])

    def delete(self, *args, **kwargs):
        hostname = self.domain
        result = super().delete(*args, **kwargs)
        _forget_routes_on_commit([hostname])
        return result


def _forget_routes_on_commit(hostnames: list[str]) -> None:
    # After commit: forgetting earlier would let a concurrent request cache the
    # old row again before this transaction becomes visible.
    from .routing import route_cache_forget

    if hostnames:
        transaction.on_commit(lambda: route_cache_forget(hostnames))
