"""Reads of subscriptions: what an institution admin sees of their plan,
billing state, limits and usage."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from shared_apps.institutions.models import Institution
from shared_apps.plans.api import plan_limits_and_usage
from shared_apps.plans.models import Interval, Plan

from . import gateway
from .models import Subscription, SubscriptionStatus


@dataclass(frozen=True)
class SubscriptionOverview:
    plan: Plan | None
    status: str
    interval: str
    current_period_end: datetime | None
    trial_end: datetime | None
    cancel_at_period_end: bool
    past_due_since: datetime | None
    read_only_at: datetime | None
    read_only: bool
    billing_enabled: bool
    has_billing_account: bool
    limits: dict
    usage: dict
    features: dict


def institution_current() -> Institution:
    """The institution the request was routed to, fresh from the database: the
    router's row is cached, and billing state must not be."""
    return Institution.objects.select_related("plan").get(pk=connection.tenant.pk)


def subscription_overview(*, institution_id) -> SubscriptionOverview:
    """The institution's subscription as its admin sees it, with the limits
    (None: unlimited), usage and features that shared_apps.plans reads."""
    institution = Institution.objects.select_related("plan").get(pk=institution_id)
    subscription = (
        Subscription.objects.select_related("plan").filter(institution=institution).first()
    )
    measured = plan_limits_and_usage(institution)
    return SubscriptionOverview(
        plan=institution.plan,
        # An institution the operator set up without a subscription is simply active.
        status=subscription.status if subscription else SubscriptionStatus.ACTIVE,
        interval=subscription.interval if subscription else Interval.MONTH,
        current_period_end=subscription.current_period_end if subscription else None,
        trial_end=subscription.trial_end if subscription else None,
        cancel_at_period_end=subscription.cancel_at_period_end if subscription else False,
        past_due_since=subscription.past_due_since if subscription else None,
        read_only_at=institution.read_only_at,
        read_only=institution.is_read_only(),
        billing_enabled=gateway.billing_enabled(),
        has_billing_account=bool(subscription and subscription.stripe_customer_id),
        limits=measured["limits"],
        usage=measured["usage"],
        features=measured["features"],
    )


def plans_for_sale():
    """The public plans, in the pricing page's order."""
    return Plan.objects.filter(is_public=True).order_by("sort_order", "code")


def plan_for_sale(code: str) -> Plan | None:
    return plans_for_sale().filter(code=code).first()
