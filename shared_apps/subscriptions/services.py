"""Writes to subscriptions: the operator's plan changes, Stripe Checkout and the
customer portal, Stripe's webhook events, and the institution following its
subscription's state (docs/decisions/0007)."""

import uuid
from datetime import UTC, datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status as http

from conceptspro.api import ApplicationError
from shared_apps.institutions.models import Institution, SuspensionCause
from shared_apps.plans.models import Interval, Plan

from . import gateway
from .gateway import WebhookPayloadInvalid
from .models import StripeEvent, Subscription, SubscriptionStatus

log = structlog.get_logger(__name__)

# Stripe still bills (or may bill again) a subscription in these states.
LIVE_STATUSES = {
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.INCOMPLETE,
    SubscriptionStatus.PAUSED,
}
# Final in Stripe: a subscription in these states never lives again.
ENDED_STATUSES = {SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED}
# States an institution can work in without a Stripe subscription (a local
# trial, a free plan, an ended trial in its grace period).
LOCAL_USABLE_STATUSES = {
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
}
# A Stripe subscription in these states has not been paid for yet: its plan
# is not applied.
NOT_PAID_YET = {SubscriptionStatus.INCOMPLETE, SubscriptionStatus.INCOMPLETE_EXPIRED}
# A Checkout session with this payment status has been paid (or had nothing to pay).
PAID_CHECKOUT = ("paid", "no_payment_required")
# A paid sign-up that never paid gives its address back after this long; its
# Checkout session closes an hour earlier (Stripe allows 30 minutes to 24 hours).
AWAITING_PAYMENT_HOLD = timedelta(hours=24)
CHECKOUT_OPEN_FOR = AWAITING_PAYMENT_HOLD - timedelta(hours=1)


def _provisioning():
    # provisioning.services imports this module (subscription_start), so it is
    # imported when first used rather than at import time.
    from provisioning import services

    return services


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


def _stripe_managed(subscription: Subscription) -> bool:
    return bool(subscription.stripe_subscription_id) and subscription.status in LIVE_STATUSES


def _stripe_price_or_refuse(plan: Plan, interval: str) -> str:
    price = plan.stripe_price(interval)
    if not price:
        raise ApplicationError(
            f"The {plan.name} plan cannot be paid {Interval(interval).label.lower()} "
            "through the payment provider.",
            code="price_unavailable",
            fields={"interval": [f"Not sold {Interval(interval).label.lower()}."]},
        )
    return price


def _billing_or_refuse() -> None:
    if not gateway.billing_enabled():
        raise ApplicationError(
            "Online payment is not available; the operator assigns plans.",
            code="billing_disabled",
            status=http.HTTP_409_CONFLICT,
        )


@transaction.atomic
def subscription_change_plan(*, institution, plan: Plan) -> Subscription:
    """The operator (or an admin's upgrade) assigns a plan; the institution's
    limits follow at once, as they are read from its plan.

    A subscription Stripe bills changes its price in Stripe too (otherwise its
    next webhook event would put the old plan back): 409 `price_unavailable`
    if the plan has no Stripe price for its interval. One outside Stripe (billing
    off, a deal made by hand) becomes active on the plan, or stays trialing on a
    plan with a trial."""
    subscription = Subscription.objects.select_for_update().filter(institution=institution).first()
    if subscription is None:
        subscription = Subscription(
            institution=institution, plan=plan, status=SubscriptionStatus.ACTIVE
        )
    elif _stripe_managed(subscription) and gateway.billing_enabled():
        if plan.pk != subscription.plan_id:
            gateway.subscription_price_change(
                subscription_id=subscription.stripe_subscription_id,
                price_id=_stripe_price_or_refuse(plan, subscription.interval),
                metadata={"plan": plan.code, "interval": subscription.interval},
            )
    elif not (plan.trial_days and subscription.status == SubscriptionStatus.TRIALING):
        subscription.status = SubscriptionStatus.ACTIVE
        subscription.trial_end = None
        subscription.past_due_since = None
    subscription.plan = plan
    subscription.save()
    institution.plan = plan
    institution.save(update_fields=["plan", "updated_at"])
    institution_billing_state_apply(subscription)
    return subscription


@transaction.atomic
def subscription_extend_trial(*, institution, days: int) -> Subscription:
    """Moves the trial's end `days` later (from now if it already ended); the
    subscription is trialing again and the institution writable.

    Only a trial is extended: a trialing subscription, or a local trial that
    ended and is in its grace period (past due from its trial's end). A
    trial Stripe bills has its `trial_end` moved in Stripe first (nothing is
    charged for the change), so that Stripe's next event agrees. Anything
    else (a free or paid plan, a Stripe subscription past due: Stripe keeps
    collecting its invoice) is 409 `not_trialing`; 502
    `billing_provider_error` when Stripe refuses."""
    subscription = Subscription.objects.select_for_update().get(institution=institution)
    stripe_billed = _stripe_managed(subscription) and gateway.billing_enabled()
    ended_local_trial = (
        subscription.status == SubscriptionStatus.PAST_DUE
        and not stripe_billed
        and subscription.trial_end is not None
    )
    if subscription.status != SubscriptionStatus.TRIALING and not ended_local_trial:
        state = SubscriptionStatus(subscription.status).label.lower()
        raise ApplicationError(
            f"Only a trial can be extended; this subscription is {state}"
            + (
                " and billed by the payment provider, which keeps collecting its payment."
                if stripe_billed
                else "."
            ),
            code="not_trialing",
            status=http.HTTP_409_CONFLICT,
        )
    start = max(subscription.trial_end or timezone.now(), timezone.now())
    trial_end = start + timedelta(days=days)
    if stripe_billed:
        # Stripe's times are whole seconds: the mirror keeps Stripe's own.
        trial_end = datetime.fromtimestamp(int(trial_end.timestamp()), tz=UTC)
        gateway.subscription_trial_end_set(
            subscription_id=subscription.stripe_subscription_id,
            trial_end=int(trial_end.timestamp()),
        )
    subscription.trial_end = trial_end
    subscription.status = SubscriptionStatus.TRIALING
    subscription.past_due_since = None
    subscription.save(update_fields=["trial_end", "status", "past_due_since", "updated_at"])
    institution_billing_state_apply(subscription)
    return subscription


# --- Checkout and the customer portal -----------------------------------------


def _checkout_params(
    *,
    institution,
    plan: Plan,
    interval: str,
    purpose: str,
    success_url: str,
    cancel_url: str,
) -> dict:
    metadata = {
        "institution_id": str(institution.pk),
        "plan": plan.code,
        "interval": interval,
        "purpose": purpose,
    }
    return {
        "mode": "subscription",
        "line_items": [{"price": _stripe_price_or_refuse(plan, interval), "quantity": 1}],
        "client_reference_id": str(institution.pk),
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }


@transaction.atomic
def checkout_start_signup(
    *, institution, plan: Plan, interval: str, success_url: str, cancel_url: str
) -> str:
    """The Checkout page where a paid sign-up pays its first period; its URL.

    The institution holds its address (awaiting_payment) until Stripe tells
    of the payment (a paid `checkout.session.completed`, or for a delayed
    method `checkout.session.async_payment_succeeded` or `invoice.paid`).
    409 `billing_disabled` (billing off), 409 `not_awaiting_payment`, 400
    `price_unavailable`."""
    _billing_or_refuse()
    if institution.status != Institution.Status.AWAITING_PAYMENT:
        raise ApplicationError(
            "This institution is not waiting for a first payment.",
            code="not_awaiting_payment",
            status=http.HTTP_409_CONFLICT,
        )
    params = _checkout_params(
        institution=institution,
        plan=plan,
        interval=interval,
        purpose="signup",
        success_url=success_url,
        cancel_url=cancel_url,
    )
    params["customer_email"] = institution.provisioning_job.admin_email
    # Closed by Stripe before housekeeping releases the address, so a payment
    # can never arrive for an institution that is gone.
    params["expires_at"] = int((timezone.now() + CHECKOUT_OPEN_FOR).timestamp())
    session = gateway.checkout_session_create(params)
    Subscription.objects.update_or_create(
        institution=institution,
        defaults={"plan": plan, "interval": interval, "stripe_checkout_session_id": session["id"]},
        create_defaults={
            "plan": plan,
            "interval": interval,
            "status": SubscriptionStatus.INCOMPLETE,
            "stripe_checkout_session_id": session["id"],
        },
    )
    return session["url"]


def checkout_signup_abandon(*, institution) -> bool:
    """Before a paid sign-up's address is released: closes its Checkout session
    so that nobody pays for an institution that no longer exists. False when it
    cannot be closed (paid already, or Stripe unreachable): the address then
    stays held until the payment's webhook, or housekeeping, decides."""
    session_id = (
        Subscription.objects.filter(institution=institution)
        .values_list("stripe_checkout_session_id", flat=True)
        .first()
    )
    if not session_id:
        return True  # no Checkout was ever opened
    if not gateway.billing_enabled():
        return False
    try:
        gateway.checkout_session_expire(session_id)
    except ApplicationError:
        return False
    return True


@transaction.atomic
def checkout_start_upgrade(
    *,
    institution,
    plan: Plan,
    interval: str,
    success_url: str,
    cancel_url: str,
    customer_email: str = "",
) -> str | None:
    """An institution admin moves to a paid plan.

    Without a subscription Stripe bills (a trial, a free plan, a canceled one):
    the URL of a Checkout page (reusing the Stripe customer if there is one;
    `customer_email` pre-fills a new one). The plan changes when Checkout
    completes. With one: its price changes in Stripe at once (prorated) and so
    does the plan here; the result is None, as there is no page to visit.

    Refused while Stripe's subscription has a payment outstanding (past due,
    unpaid, incomplete, paused): 409 `payment_outstanding`. An earlier Checkout
    session still open is expired first, so that only the newest can be paid.

    409 `billing_disabled`, 409 `already_on_plan`, 400 `price_unavailable`."""
    _billing_or_refuse()
    price = _stripe_price_or_refuse(plan, interval)
    subscription = Subscription.objects.select_for_update().filter(institution=institution).first()
    if subscription is not None and _stripe_managed(subscription):
        if subscription.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
            # Stripe would invoice the new price later: a bigger plan at once,
            # before the payment already owed.
            state = SubscriptionStatus(subscription.status).label.lower()
            raise ApplicationError(
                f"The subscription is {state}: settle its payment in the billing portal "
                "before changing plans.",
                code="payment_outstanding",
                status=http.HTTP_409_CONFLICT,
            )
        if subscription.plan_id == plan.pk and subscription.interval == interval:
            raise ApplicationError(
                f"The institution is already on the {plan.name} plan.",
                code="already_on_plan",
                status=http.HTTP_409_CONFLICT,
            )
        gateway.subscription_price_change(
            subscription_id=subscription.stripe_subscription_id,
            price_id=price,
            metadata={"plan": plan.code, "interval": interval},
        )
        subscription.plan = plan
        subscription.interval = interval
        subscription.save(update_fields=["plan", "interval", "updated_at"])
        institution.plan = plan
        institution.save(update_fields=["plan", "updated_at"])
        return None
    params = _checkout_params(
        institution=institution,
        plan=plan,
        interval=interval,
        purpose="upgrade",
        success_url=success_url,
        cancel_url=cancel_url,
    )
    if subscription is not None and subscription.stripe_customer_id:
        params["customer"] = subscription.stripe_customer_id
    elif customer_email:
        params["customer_email"] = customer_email
    if subscription is not None and subscription.stripe_checkout_session_id:
        # One Checkout open at a time: paying in two tabs would otherwise
        # start two Stripe subscriptions.
        gateway.checkout_session_close(subscription.stripe_checkout_session_id)
    session = gateway.checkout_session_create(params)
    if subscription is None:
        subscription = Subscription(
            institution=institution, plan=institution.plan or plan, status=SubscriptionStatus.ACTIVE
        )
    subscription.stripe_checkout_session_id = session["id"]
    subscription.save()
    return session["url"]


def portal_session_create(*, institution, return_url: str) -> str:
    """The URL of Stripe's customer portal (card, invoices, cancellation).
    409 `billing_disabled`; 409 `no_billing_account` when the institution has
    never paid through Stripe."""
    _billing_or_refuse()
    customer_id = (
        Subscription.objects.filter(institution=institution)
        .values_list("stripe_customer_id", flat=True)
        .first()
    )
    if not customer_id:
        raise ApplicationError(
            "This institution has no billing account with the payment provider yet.",
            code="no_billing_account",
            status=http.HTTP_409_CONFLICT,
        )
    return gateway.portal_session_create(customer_id=customer_id, return_url=return_url)["url"]


@transaction.atomic
def subscription_cancel_now(*, institution) -> bool:
    """Before an institution's data goes: the subscription Stripe bills for it
    is canceled at once (without proration: there is nobody left to credit),
    so the customer is not charged for an institution that is gone. True if
    one was canceled; with billing off (no Stripe to reach) nothing is done.

    502 `billing_provider_error` when Stripe refuses or cannot be reached: the
    caller must then keep the institution."""
    subscription = Subscription.objects.select_for_update().filter(institution=institution).first()
    if subscription is None or not _stripe_managed(subscription) or not gateway.billing_enabled():
        return False
    try:
        gateway.subscription_cancel(subscription.stripe_subscription_id, prorate=False)
    except ApplicationError as exc:
        raise ApplicationError(
            "Its subscription could not be canceled with the payment provider, so nothing "
            "was deleted; try again in a moment.",
            code=exc.code,
            status=exc.status,
        ) from exc
    subscription.status = SubscriptionStatus.CANCELED
    subscription.cancel_at_period_end = False
    subscription.save(update_fields=["status", "cancel_at_period_end", "updated_at"])
    log.info("subscription.canceled_for_deletion", institution_id=str(institution.pk))
    return True


# --- The institution follows its subscription ------------------------------------


def institution_billing_state_apply(subscription: Subscription) -> Institution | None:
    """What the subscription's state means for its institution (0007):

    trialing, active: writable (read_only_at cleared), a billing suspension
    lifted (never an operator's); past_due: writable until past_due_since +
    BILLING_GRACE_DAYS, read-only after; paused: read-only at once (Stripe
    collects nothing meanwhile); canceled, unpaid, incomplete_expired:
    suspended for billing (an active institution only; an operator's
    suspension stays theirs); any of these before the first payment: the held
    address is released (the institution row goes; it has no schema).

    Returns the institution, or None when it was released."""
    provisioning = _provisioning()
    institution = Institution.objects.select_for_update().get(pk=subscription.institution_id)
    state = subscription.status
    if state in (SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE):
        if subscription.past_due_since is not None:
            subscription.past_due_since = None
            subscription.save(update_fields=["past_due_since", "updated_at"])
        if institution.read_only_at is not None:
            institution.read_only_at = None
            institution.save(update_fields=["read_only_at", "updated_at"])
        if (
            institution.status == Institution.Status.SUSPENDED
            and institution.suspension_cause == SuspensionCause.BILLING
        ):
            provisioning.institution_reactivate(institution=institution)
    elif state == SubscriptionStatus.PAST_DUE:
        if subscription.past_due_since is None:
            subscription.past_due_since = timezone.now()
            subscription.save(update_fields=["past_due_since", "updated_at"])
        read_only_at = subscription.past_due_since + timedelta(days=settings.BILLING_GRACE_DAYS)
        if institution.read_only_at != read_only_at:
            institution.read_only_at = read_only_at
            institution.save(update_fields=["read_only_at", "updated_at"])
    elif state == SubscriptionStatus.PAUSED:
        now = timezone.now()
        if institution.read_only_at is None or institution.read_only_at > now:
            institution.read_only_at = now
            institution.save(update_fields=["read_only_at", "updated_at"])
    elif state in (
        SubscriptionStatus.CANCELED,
        SubscriptionStatus.UNPAID,
        SubscriptionStatus.INCOMPLETE_EXPIRED,
    ):
        if institution.status == Institution.Status.AWAITING_PAYMENT:
            log.info("institution.address_released", slug=institution.slug, cause=state)
            institution.delete()
            return None
        if institution.status == Institution.Status.ACTIVE:
            provisioning.institution_suspend(
                institution=institution,
                reason=f"Subscription {SubscriptionStatus(state).label.lower()}.",
                cause=SuspensionCause.BILLING,
            )
    return institution


def subscriptions_housekeeping() -> dict:
    """Hourly: local trials (no Stripe subscription) whose end has passed become
    past due from their end (so read-only BILLING_GRACE_DAYS after it); paid
    sign-ups still awaiting payment after AWAITING_PAYMENT_HOLD give their
    address back. Running it again changes nothing more."""
    now = timezone.now()
    expired = 0
    for institution_id in Subscription.objects.filter(
        status=SubscriptionStatus.TRIALING,
        trial_end__lt=now,
        stripe_subscription_id__isnull=True,
    ).values_list("institution_id", flat=True):
        with transaction.atomic():
            subscription = (
                Subscription.objects.select_for_update()
                .filter(
                    institution_id=institution_id,
                    status=SubscriptionStatus.TRIALING,
                    trial_end__lt=now,
                    stripe_subscription_id__isnull=True,
                )
                .first()
            )
            if subscription is None:  # changed since the list was read
                continue
            subscription.status = SubscriptionStatus.PAST_DUE
            subscription.past_due_since = subscription.trial_end
            subscription.save(update_fields=["status", "past_due_since", "updated_at"])
            institution_billing_state_apply(subscription)
            expired += 1
    released = 0
    cutoff = now - AWAITING_PAYMENT_HOLD
    for institution_id in Institution.objects.filter(
        status=Institution.Status.AWAITING_PAYMENT, created_at__lt=cutoff
    ).values_list("pk", flat=True):
        with transaction.atomic():
            # The subscription first, then the institution: the order the
            # webhook locks them in, so a payment arriving now waits or wins.
            list(Subscription.objects.select_for_update().filter(institution_id=institution_id))
            institution = (
                Institution.objects.select_for_update()
                .filter(
                    pk=institution_id,
                    status=Institution.Status.AWAITING_PAYMENT,
                    created_at__lt=cutoff,
                )
                .first()
            )
            if institution is not None:
                log.info("institution.address_released", slug=institution.slug, cause="unpaid")
                institution.delete()
                released += 1
    return {"trials_expired": expired, "signups_released": released}


# --- Stripe's webhook events ---------------------------------------------------------


def _epoch(value, *, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebhookPayloadInvalid(f"`{field}` is not a Unix time.")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise WebhookPayloadInvalid(f"`{field}` is out of range.") from exc


def _text(obj: dict, key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]  # an expanded object instead of its id
    if not isinstance(value, str):
        raise WebhookPayloadInvalid(f"`{key}` is not a string.")
    return value


def _dict(obj: dict, key: str) -> dict:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebhookPayloadInvalid(f"`{key}` is not an object.")
    return value


def _institution_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _locked(**lookup) -> Subscription | None:
    return Subscription.objects.select_for_update().filter(**lookup).first()


def _subscription_item(obj: dict) -> dict:
    items = _dict(obj, "items").get("data")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise WebhookPayloadInvalid("The subscription has no items.")
    return items[0]


def _invoice_subscription_id(invoice: dict) -> tuple[str, dict]:
    """The invoice's subscription and its metadata (the subscription is at the
    top level in Stripe's older API versions, under `parent` in newer ones)."""
    details = _dict(_dict(invoice, "parent"), "subscription_details")
    return _text(invoice, "subscription") or _text(details, "subscription"), _dict(
        details, "metadata"
    )


def _event_subscription(event_type: str, obj: dict) -> Subscription | None:
    """The subscription the event is about, locked; None if it is not ours."""
    if event_type.startswith("checkout.session."):
        metadata = _dict(obj, "metadata")
        institution_id = _institution_uuid(
            metadata.get("institution_id") or _text(obj, "client_reference_id")
        )
        found = _locked(institution_id=institution_id) if institution_id else None
        return found or (
            _locked(stripe_checkout_session_id=_text(obj, "id")) if obj.get("id") else None
        )
    if event_type.startswith("customer.subscription."):
        found = _locked(stripe_subscription_id=_text(obj, "id")) if obj.get("id") else None
        institution_id = _institution_uuid(_dict(obj, "metadata").get("institution_id"))
        if found is None and institution_id:
            found = _locked(institution_id=institution_id)
        if found is None and obj.get("customer"):
            found = _locked(stripe_customer_id=_text(obj, "customer"))
        return found
    if event_type.startswith("invoice."):
        subscription_id, metadata = _invoice_subscription_id(obj)
        found = _locked(stripe_subscription_id=subscription_id) if subscription_id else None
        institution_id = _institution_uuid(metadata.get("institution_id"))
        if found is None and institution_id:
            found = _locked(institution_id=institution_id)
        return found
    return None


def _on_checkout_completed(
    subscription: Subscription, session: dict, created, *, paid: bool | None = None
) -> bool:
    """`checkout.session.completed`, and `checkout.session.async_payment_*`
    (`paid` given: the payment of a delayed method arrived, or failed).

    The session's word on status and plan applies only if it is newer than
    the row's state (not older than `stripe_state_at`, and its subscription
    not ended since), or the row still waits for its first payment; a late
    one links only the ids the row lacks. A signup is provisioned, and an
    upgrade's plan applied, only once paid. A Stripe subscription other than
    the row's is adopted when the session is newer and paid (or the row still
    incomplete); of two live ones, the one the row does not keep is canceled
    in Stripe, prorated (the customer is credited its unused time)."""
    if _text(session, "mode") not in ("", "subscription"):
        return False
    metadata = _dict(session, "metadata")
    purpose = metadata.get("purpose")
    if paid is None:
        paid = _text(session, "payment_status") in PAID_CHECKOUT
    session_subscription = _text(session, "subscription")
    current = subscription.stripe_subscription_id or ""
    stale = subscription.stripe_state_at is not None and created < subscription.stripe_state_at
    ended_since = session_subscription == current and subscription.status in (
        ENDED_STATUSES | {SubscriptionStatus.UNPAID}
    )
    awaiting_first_payment = subscription.status == SubscriptionStatus.INCOMPLETE
    newer = awaiting_first_payment or not (stale or ended_since)

    if newer or not subscription.stripe_checkout_session_id:
        subscription.stripe_checkout_session_id = _text(session, "id")
    customer = _text(session, "customer")
    if customer and (newer or not subscription.stripe_customer_id):
        subscription.stripe_customer_id = customer
    to_cancel = ""
    if session_subscription and session_subscription != current:
        if newer and (paid or awaiting_first_payment):
            if current and subscription.status in LIVE_STATUSES:
                to_cancel = current
            subscription.stripe_subscription_id = current = session_subscription
        elif current and subscription.status in LIVE_STATUSES and not newer:
            to_cancel = session_subscription  # an older one, paid for alongside
    if to_cancel:
        log.warning("stripe.double_subscription_canceled", subscription_id=to_cancel)
        gateway.subscription_cancel(to_cancel, prorate=True)

    if newer and paid and session_subscription in ("", current):
        if purpose == "upgrade":
            plan = Plan.objects.filter(code=str(metadata.get("plan", ""))).first()
            if plan is not None:
                subscription.plan = plan
                Institution.objects.filter(pk=subscription.institution_id).update(plan=plan)
            if metadata.get("interval") in Interval.values:
                subscription.interval = metadata["interval"]
            subscription.status = SubscriptionStatus.ACTIVE
            subscription.trial_end = None
        elif subscription.status == SubscriptionStatus.INCOMPLETE:
            subscription.status = SubscriptionStatus.ACTIVE
    subscription.save()
    if purpose == "signup" and paid and not ended_since:
        # A payment never goes back: however late, it starts provisioning
        # (a no-op once the institution is past awaiting payment).
        institution = Institution.objects.get(pk=subscription.institution_id)
        _provisioning().institution_payment_received(institution=institution)
    return True


def _plan_for_price(price_id: str) -> tuple[Plan | None, str | None]:
    if not price_id:
        return None, None
    plan = Plan.objects.filter(
        Q(stripe_price_monthly=price_id) | Q(stripe_price_yearly=price_id)
    ).first()
    if plan is None:
        return None, None
    return plan, Interval.MONTH if plan.stripe_price_monthly == price_id else Interval.YEAR


def _on_subscription_event(subscription: Subscription, obj: dict, created, *, deleted=False):
    stripe_id = _text(obj, "id")
    state = SubscriptionStatus.CANCELED if deleted else _text(obj, "status")
    if state not in SubscriptionStatus.values:
        raise WebhookPayloadInvalid(f"Unknown subscription status {state!r}.")
    item = _subscription_item(obj)
    current = subscription.stripe_subscription_id
    if current and current != stripe_id:
        # Another Stripe subscription of this institution: an earlier one,
        # already replaced; unless the row's has ended and this one lives (a
        # re-subscription, whose events may come before its Checkout's).
        if subscription.status not in ENDED_STATUSES or state in ENDED_STATUSES:
            return False
    elif current and subscription.status in ENDED_STATUSES and state not in ENDED_STATUSES:
        return False  # ended is final in Stripe: this is older news, arriving late
    elif (
        not current
        and subscription.status in LOCAL_USABLE_STATUSES
        and state not in LOCAL_USABLE_STATUSES
    ):
        # Not paid yet (an upgrade's Checkout waiting for a delayed payment),
        # or ended before it was ever ours: the local trial or plan stays.
        return False
    price = _dict(item, "price")
    plan, interval = _plan_for_price(_text(price, "id"))
    if plan is not None and state not in NOT_PAID_YET:
        subscription.plan = plan
        subscription.interval = interval
        Institution.objects.filter(pk=subscription.institution_id).update(plan=plan)
    subscription.stripe_subscription_id = stripe_id
    subscription.stripe_customer_id = _text(obj, "customer") or subscription.stripe_customer_id
    subscription.status = state
    subscription.current_period_end = _epoch(
        obj.get("current_period_end", item.get("current_period_end")), field="current_period_end"
    )
    subscription.trial_end = _epoch(obj.get("trial_end"), field="trial_end")
    subscription.cancel_at_period_end = bool(obj.get("cancel_at_period_end"))
    if state == SubscriptionStatus.PAST_DUE and subscription.past_due_since is None:
        subscription.past_due_since = created
    subscription.save()
    return True


def _invoice_elsewhere(subscription: Subscription, invoice: dict) -> bool:
    """Whether the invoice is another Stripe subscription's than the row's (an
    earlier one, or a newer one not linked yet): it changes nothing. With none
    linked, only a first payment racing its Checkout's event counts."""
    invoice_subscription, _ = _invoice_subscription_id(invoice)
    if subscription.stripe_subscription_id:
        return bool(invoice_subscription) and (
            invoice_subscription != subscription.stripe_subscription_id
        )
    return subscription.status != SubscriptionStatus.INCOMPLETE


def _on_invoice_paid(subscription: Subscription, invoice: dict, created) -> bool:
    if _invoice_elsewhere(subscription, invoice):
        return False
    if subscription.status in (
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.UNPAID,
        SubscriptionStatus.INCOMPLETE,
    ):
        subscription.status = SubscriptionStatus.ACTIVE
    subscription.past_due_since = None
    subscription.save()
    # A paid sign-up whose Checkout completed before the payment (a delayed
    # method) is provisioned by this first payment.
    institution = Institution.objects.get(pk=subscription.institution_id)
    if institution.status == Institution.Status.AWAITING_PAYMENT:
        _provisioning().institution_payment_received(institution=institution)
    return True


def _on_invoice_payment_failed(subscription: Subscription, invoice: dict, created) -> bool:
    if _invoice_elsewhere(subscription, invoice):
        return False
    if subscription.status in (
        SubscriptionStatus.TRIALING,
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.PAST_DUE,
    ):
        subscription.status = SubscriptionStatus.PAST_DUE
        subscription.past_due_since = subscription.past_due_since or created
        subscription.save()
    return True


EVENT_HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "checkout.session.async_payment_succeeded": lambda s, o, c: _on_checkout_completed(
        s, o, c, paid=True
    ),
    "checkout.session.async_payment_failed": lambda s, o, c: _on_checkout_completed(
        s, o, c, paid=False
    ),
    "customer.subscription.created": _on_subscription_event,
    "customer.subscription.updated": _on_subscription_event,
    "customer.subscription.deleted": lambda s, o, c: _on_subscription_event(s, o, c, deleted=True),
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_failed": _on_invoice_payment_failed,
}
# What these bring (the customer, the subscription, the first payment) never
# goes back, so they are handled however late they arrive; the handler
# decides what a late one may still change.
NEVER_STALE = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
}


def _event_parts(event: dict) -> tuple[str, str, datetime, dict]:
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise WebhookPayloadInvalid("The event has no id.")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise WebhookPayloadInvalid("The event has no type.")
    created = _epoch(event.get("created"), field="created")
    if created is None:
        raise WebhookPayloadInvalid("The event has no `created` time.")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise WebhookPayloadInvalid("The event has no data.object.")
    return event_id, event_type, created, obj


def stripe_event_handle(*, event: dict) -> tuple[StripeEvent, bool]:
    """Applies one verified Stripe event; returns its record and whether it was
    a replay (an event id already recorded: nothing changes).

    The record is inserted in the transaction that applies the change, after
    the subscription row is locked, so of two deliveries of one event at once
    the second waits and then finds the first's record. An event older than
    the newest one applied (`created` < `stripe_state_at`) is recorded STALE
    and changes nothing; one of the same second applies (Stripe's times are
    whole seconds, and the events of one action share them). Events of other
    types, or about no subscription of ours, are recorded IGNORED.

    Raises WebhookPayloadInvalid for a payload we cannot read (nothing stored)."""
    event_id, event_type, created, obj = _event_parts(event)
    recorded = StripeEvent.objects.filter(pk=event_id).first()
    if recorded is not None:
        return recorded, True
    with transaction.atomic():
        handler = EVENT_HANDLERS.get(event_type)
        subscription = _event_subscription(event_type, obj) if handler else None
        if subscription is None:
            outcome = StripeEvent.Outcome.IGNORED
        elif (
            event_type not in NEVER_STALE
            and subscription.stripe_state_at is not None
            and created < subscription.stripe_state_at
        ):
            outcome = StripeEvent.Outcome.STALE
        else:
            outcome = StripeEvent.Outcome.APPLIED
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(
                    event_id=event_id,
                    type=event_type,
                    created=created,
                    outcome=outcome,
                    institution_id=subscription.institution_id if subscription else None,
                    payload=event,
                )
        except IntegrityError:
            # The same event, delivered twice at once: the other delivery has it.
            return StripeEvent.objects.get(pk=event_id), True
        if outcome == StripeEvent.Outcome.APPLIED:
            if handler(subscription, obj, created):
                if subscription.stripe_state_at is None or created > subscription.stripe_state_at:
                    subscription.stripe_state_at = created
                    subscription.save(update_fields=["stripe_state_at", "updated_at"])
                institution_billing_state_apply(subscription)
            else:
                record.outcome = StripeEvent.Outcome.IGNORED
                record.save(update_fields=["outcome"])
    log.info("stripe.event", event_id=event_id, type=event_type, outcome=record.outcome)
    return record, False
