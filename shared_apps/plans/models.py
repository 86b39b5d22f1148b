"""A plan names the prices, limits and features an institution's subscription
grants; an institution's usage is counted here, in the public schema, so that
limits are checked without reading any institution's own schema."""

from django.core.exceptions import ValidationError
from django.db import models


class Feature(models.TextChoices):
    SSO = "sso", "Single sign-on"
    ANALYTICS = "analytics", "Analytics"
    CUSTOM_DOMAIN = "custom_domain", "Custom domain"
    API_ACCESS = "api_access", "API access"


class Interval(models.TextChoices):
    MONTH = "month", "Monthly"
    YEAR = "year", "Yearly"


class Plan(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    # Money in minor units (cents), as Stripe counts it; 0 is a free plan.
    currency = models.CharField(max_length=3, default="usd")
    price_monthly_cents = models.PositiveIntegerField(default=0)
    price_yearly_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: not sold by the year."
    )
    stripe_price_monthly = models.CharField(max_length=255, blank=True)
    stripe_price_yearly = models.CharField(max_length=255, blank=True)
    trial_days = models.PositiveSmallIntegerField(
        default=0, help_text="More than 0: a sign-up starts a trial without a card."
    )
    # None means unlimited.
    max_users = models.PositiveIntegerField(null=True, blank=True)
    max_courses = models.PositiveIntegerField(null=True, blank=True)
    max_storage_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    features = models.JSONField(
        default=dict, blank=True, help_text="Feature name -> true/false; missing is false."
    )
    is_default = models.BooleanField(
        default=False, help_text="Assigned to institutions created without a plan."
    )
    is_public = models.BooleanField(default=True, help_text="Shown on the pricing page.")
    sort_order = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="plans_single_default",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        unknown = set(self.features or {}) - set(Feature.values)
        if unknown or not all(isinstance(v, bool) for v in (self.features or {}).values()):
            allowed = ", ".join(Feature.values)
            raise ValidationError(
                {"features": f"Use true/false for these features only: {allowed}."}
            )

    def has_feature(self, feature: str) -> bool:
        return bool((self.features or {}).get(feature, False))

    @property
    def is_free(self) -> bool:
        return self.price_monthly_cents == 0 and not self.price_yearly_cents

    @property
    def needs_payment_at_signup(self) -> bool:
        """Free and trial plans start at once; the others go through Checkout."""
        return not self.is_free and self.trial_days == 0

    def price_cents(self, interval: str) -> int | None:
        return self.price_yearly_cents if interval == Interval.YEAR else self.price_monthly_cents

    def price_text(self, interval: str = Interval.MONTH) -> str:
        """ "Free", "Free for 30 days", or "499.00 USD per month"."""
        if self.is_free:
            return f"Free for {self.trial_days} days" if self.trial_days else "Free"
        cents = self.price_cents(interval) or 0
        per = "year" if interval == Interval.YEAR else "month"
        return f"{cents // 100:,}.{cents % 100:02d} {self.currency.upper()} per {per}"

    def stripe_price(self, interval: str) -> str:
        return self.stripe_price_yearly if interval == Interval.YEAR else self.stripe_price_monthly


class InstitutionUsage(models.Model):
    """What an institution uses, against its plan's limits.

    The counters move in the same transaction as the creation or deletion they
    count (shared_apps.plans.limits), so a limit is checked with one row of
    the public schema. The nightly metering recounts them from the
    institution's schema (`measured_at`) and corrects any drift.
    """

    institution = models.OneToOneField(
        "institutions.Institution",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="usage",
    )
    users = models.PositiveIntegerField(default=0)
    courses = models.PositiveIntegerField(default=0)
    storage_bytes = models.PositiveBigIntegerField(default=0)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Usage of {self.institution_id}"
