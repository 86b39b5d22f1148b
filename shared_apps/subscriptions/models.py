"""An institution's subscription, mirroring Stripe's, and the Stripe events
already handled (so that a replayed or late event changes nothing twice)."""

from django.db import models

from shared_apps.plans.models import Interval


class SubscriptionStatus(models.TextChoices):
    # Stripe's own states (https://docs.stripe.com/api/subscriptions/object#subscription_object-status).
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELED = "canceled", "Canceled"
    UNPAID = "unpaid", "Unpaid"
    INCOMPLETE = "incomplete", "Incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired", "Incomplete (expired)"
    PAUSED = "paused", "Paused"


class Subscription(models.Model):
    """One per institution. Without Stripe ids it is managed by the operator
    (billing off, free and trial plans); with them, Stripe's webhooks keep it."""

    institution = models.OneToOneField(
        "institutions.Institution",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="subscription",
    )
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices, db_index=True)
    interval = models.CharField(max_length=5, choices=Interval.choices, default=Interval.MONTH)
    current_period_end = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    past_due_since = models.DateTimeField(null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    stripe_checkout_session_id = models.CharField(max_length=255, blank=True)
    # `created` of the newest Stripe event applied: an older one never overwrites.
    stripe_state_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.institution_id}: {self.plan_id} ({self.status})"


class StripeEvent(models.Model):
    """A Stripe event received by the webhook: its id is the idempotency key."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        STALE = "stale", "Older than the state it would change"
        IGNORED = "ignored", "Not for us (unknown type or object)"

    event_id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=100)
    created = models.DateTimeField(help_text="When Stripe created the event.")
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.SET_NULL, null=True, blank=True
    )
    payload = models.JSONField()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
