"""Writes to subscriptions."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from shared_apps.plans.models import Interval, Plan

from .models import Subscription, SubscriptionStatus


@transaction.atomic
def subscription_start(*, institution, plan: Plan, interval: str = Interval.MONTH) -> Subscription:
    """The subscription a new institution starts with: incomplete until its
    first payment on a paid plan, trialing on a trial plan, active on a free one."""
    fields = {"plan": plan, "interval": interval}
    if plan.needs_payment_at_signup:
        fields["status"] = SubscriptionStatus.INCOMPLETE
    elif plan.trial_days:
        fields["status"] = SubscriptionStatus.TRIALING
        fields["trial_end"] = timezone.now() + timedelta(days=plan.trial_days)
    else:
        fields["status"] = SubscriptionStatus.ACTIVE
    subscription, _ = Subscription.objects.update_or_create(
        institution=institution, defaults=fields
    )
    return subscription


@transaction.atomic
def subscription_change_plan(*, institution, plan: Plan) -> Subscription:
    """The operator assigns a plan (billing off, or a deal outside Stripe); the
    institution's limits follow at once, as they are read from its plan."""
    institution.plan = plan
    institution.save(update_fields=["plan", "updated_at"])
    subscription, _ = Subscription.objects.update_or_create(
        institution=institution,
        defaults={"plan": plan},
        create_defaults={"plan": plan, "status": SubscriptionStatus.ACTIVE},
    )
    return subscription


@transaction.atomic
def subscription_extend_trial(*, institution, days: int) -> Subscription:
    """Moves the trial's end `days` later (from now if it already ended); the
    subscription is trialing again."""
    subscription = Subscription.objects.select_for_update().get(institution=institution)
    start = max(subscription.trial_end or timezone.now(), timezone.now())
    subscription.trial_end = start + timedelta(days=days)
    subscription.status = SubscriptionStatus.TRIALING
    subscription.past_due_since = None
    subscription.save(update_fields=["trial_end", "status", "past_due_since", "updated_at"])
    return subscription
