"""Stripe's webhook, through the bare domain's router with correctly signed
payloads from the Stripe stub: every event type, replays (also at once),
out-of-order deliveries, bad signatures, billing off, and what the institution
becomes (grace, read-only, suspended, reactivated)."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from provisioning.services import institution_reactivate, institution_suspend
from shared_apps.institutions.models import Institution, SuspensionCause
from shared_apps.plans.models import Plan
from shared_apps.subscriptions.models import StripeEvent, Subscription

from .api_helpers import admin_of, api_client, at_once, error_code
from .conftest import make_institution, pending_institution

pytest_plugins = ["tests.peers.stripe_stub"]  # the `stripe_stub` fixture

WEBHOOK = "/billing/stripe/webhook/"


def state(institution) -> dict:
    """Everything an event may change, to compare before and after."""
    subscription = Subscription.objects.filter(institution=institution).first()
    row = Institution.objects.filter(pk=institution.pk).first()
    fields = [
        "plan_id",
        "status",
        "interval",
        "current_period_end",
        "trial_end",
        "cancel_at_period_end",
        "past_due_since",
        "stripe_customer_id",
        "stripe_subscription_id",
        "stripe_state_at",
    ]
    return {
        "subscription": {f: getattr(subscription, f) for f in fields} if subscription else None,
        "institution": (row.status, row.suspension_cause, row.read_only_at, row.plan_id)
        if row
        else None,
        "events": StripeEvent.objects.count(),
    }


def on_stripe(stub, institution, *, price="price_standard_month", created=None, **changes) -> dict:
    """`institution` as a paid Checkout leaves it: a Stripe customer and
    subscription, linked by the events Stripe sends. Returns the subscription."""
    customer = stub.new_id("cus")
    stub.customers[customer] = {"id": customer, "object": "customer", "email": "a@b.test"}
    metadata = {"institution_id": str(institution.pk), "plan": "standard", "purpose": "upgrade"}
    subscription = stub.subscription_create(
        customer=customer, price_id=price, params={"metadata": metadata}
    )
    subscription.update(changes)
    response = stub.send_event("customer.subscription.created", subscription, created=created)
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "applied"
    return subscription


def invoice(stub, subscription: dict) -> dict:
    return stub.invoice_paid_object(subscription)


@pytest.fixture
def standard(db):
    return Plan.objects.get(code="standard")


# --- the door -------------------------------------------------------------------------


def test_billing_off_answers_404(alpha, stripe_stub, public_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    payload = json.dumps(stripe_stub.event("invoice.paid", {"id": "in_1"})).encode()
    response = public_client.post(
        WEBHOOK,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=_signature(stripe_stub, payload),
    )
    assert response.status_code == 404
    assert error_code(response) == "not_found"
    assert StripeEvent.objects.count() == 0


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "garbage",
        "t=notanumber,v1=abc",
        "t={t},v1=0000",
        "wrong-secret",
        "stale",
        "tampered",
    ],
)
def test_bad_signature_is_refused_and_changes_nothing(alpha, stripe_stub, public_client, signature):
    event = stripe_stub.event("invoice.payment_failed", invoice(stripe_stub, _fake_sub(alpha)))
    payload = json.dumps(event).encode()
    now = int(time.time())
    if signature == "wrong-secret":
        header = stripe_stub.signed_headers(payload, secret="whsec_other")["Stripe-Signature"]
    elif signature == "stale":  # older than the library's five minutes
        header = stripe_stub.signed_headers(payload, timestamp=now - 600)["Stripe-Signature"]
    elif signature == "tampered":
        header = stripe_stub.signed_headers(payload)["Stripe-Signature"]
        payload = payload.replace(b"invoice.payment_failed", b"invoice.paid")
    else:
        header = signature.format(t=now) if signature else signature
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header is not None else {}
    before = state(alpha)
    response = public_client.post(WEBHOOK, payload, content_type="application/json", **extra)
    assert response.status_code == 400
    assert error_code(response) == "invalid_signature"
    assert state(alpha) == before


def _fake_sub(institution) -> dict:
    return {
        "id": "sub_unknown",
        "customer": "cus_unknown",
        "metadata": {"institution_id": str(institution.pk)},
        "items": {"data": [{"price": {"id": "price_standard_month"}}]},
    }


def test_get_is_not_allowed(stripe_stub, public_client):
    assert public_client.get(WEBHOOK).status_code == 405


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"{}",
        b'{"id": "evt_1", "type": "invoice.paid", "created": "yesterday", "data": {"object": {}}}',
        b'{"id": "evt_1", "type": "invoice.paid", "created": 1, "data": []}',
        b'{"id": 5, "type": "invoice.paid", "created": 1, "data": {"object": {}}}',
        b'{"id": "evt_1", "type": "invoice.paid", "created": 99999999999999, '
        b'"data": {"object": {}}}',
        b"\xff\xfe",
    ],
)
def test_signed_but_malformed_payload_is_a_400(alpha, stripe_stub, public_client, payload):
    response = public_client.post(
        WEBHOOK,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=_signature(stripe_stub, payload),
    )
    assert response.status_code == 400
    assert error_code(response) in ("invalid_payload", "invalid_signature")
    assert StripeEvent.objects.count() == 0


def _signature(stub, payload: bytes) -> str:
    return stub.signed_headers(payload)["Stripe-Signature"]


def test_a_subscription_event_with_a_bad_shape_is_a_400_and_stores_nothing(
    alpha, stripe_stub, standard
):
    subscription = on_stripe(stripe_stub, alpha)
    before = state(alpha)
    for broken in (
        {**subscription, "status": "on_fire"},
        {**subscription, "items": {"data": []}},
        {**subscription, "current_period_end": "soon"},
        {**subscription, "metadata": ["not", "an", "object"]},
    ):
        response = stripe_stub.send_event("customer.subscription.updated", broken)
        assert response.status_code == 400, broken
        assert error_code(response) == "invalid_payload"
    assert state(alpha) == before


def test_unknown_types_and_strangers_are_recorded_ignored(alpha, stripe_stub):
    before = state(alpha)
    response = stripe_stub.send_event("charge.refunded", {"id": "ch_1", "object": "charge"})
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    stranger = {**_fake_sub(alpha), "metadata": {}, "status": "active"}
    response = stripe_stub.send_event("customer.subscription.updated", stranger)
    assert response.json()["outcome"] == "ignored"
    assert StripeEvent.objects.filter(outcome=StripeEvent.Outcome.IGNORED).count() == 2
    after = state(alpha)
    assert after["subscription"] == before["subscription"]
    assert after["institution"] == before["institution"]


# --- each event ----------------------------------------------------------------------


def test_subscription_created_links_and_mirrors_stripe(alpha, stripe_stub, standard):
    subscription = on_stripe(stripe_stub, alpha)
    row = Subscription.objects.get(institution=alpha)
    assert row.stripe_subscription_id == subscription["id"]
    assert row.stripe_customer_id == subscription["customer"]
    assert (row.status, row.plan, row.interval) == ("active", standard, "month")
    assert row.current_period_end == datetime.fromtimestamp(
        subscription["items"]["data"][0]["current_period_end"], tz=UTC
    )
    assert row.trial_end is None
    alpha.refresh_from_db()
    assert alpha.plan == standard  # the limits follow at once


def test_subscription_updated_changes_price_interval_period_and_cancellation(
    alpha, stripe_stub, standard
):
    subscription = on_stripe(stripe_stub, alpha)
    subscription["items"]["data"][0]["price"] = stripe_stub.price_object("price_standard_year")
    subscription.pop("current_period_end")  # newer API versions have it on the item only
    subscription["items"]["data"][0]["current_period_end"] = 1_900_000_000
    subscription["cancel_at_period_end"] = True
    response = stripe_stub.send_event("customer.subscription.updated", subscription)
    assert response.json() == {
        "event_id": response.json()["event_id"],
        "outcome": "applied",
        "replay": False,
    }
    row = Subscription.objects.get(institution=alpha)
    assert (row.plan, row.interval, row.cancel_at_period_end) == (standard, "year", True)
    assert row.current_period_end == datetime.fromtimestamp(1_900_000_000, tz=UTC)


def test_subscription_deleted_suspends_the_institution_for_billing(
    alpha, stripe_stub, alpha_client, django_capture_on_commit_callbacks
):
    subscription = on_stripe(stripe_stub, alpha)
    with django_capture_on_commit_callbacks(execute=True):  # the router forgets the old row
        response = stripe_stub.send_event(
            "customer.subscription.deleted", {**subscription, "status": "canceled"}
        )
    assert response.json()["outcome"] == "applied"
    alpha.refresh_from_db()
    assert (alpha.status, alpha.suspension_cause) == ("suspended", SuspensionCause.BILLING)
    assert Subscription.objects.get(institution=alpha).status == "canceled"
    # The subdomain is closed; nothing was deleted.
    refused = alpha_client.get("/api/v1/institution/subscription/")
    assert refused.status_code == 403
    assert error_code(refused) == "institution_suspended"
    assert Institution.objects.filter(pk=alpha.pk).exists()


def test_payment_failed_gives_grace_then_read_only(alpha, stripe_stub):
    subscription = on_stripe(stripe_stub, alpha)
    failed_at = int(time.time())
    response = stripe_stub.send_event(
        "invoice.payment_failed", invoice(stripe_stub, subscription), created=failed_at
    )
    assert response.json()["outcome"] == "applied"
    row = Subscription.objects.get(institution=alpha)
    alpha.refresh_from_db()
    assert row.status == "past_due"
    assert row.past_due_since == datetime.fromtimestamp(failed_at, tz=UTC)
    assert alpha.read_only_at == row.past_due_since + timedelta(days=7)
    assert alpha.status == "active" and not alpha.is_read_only()
    # Time passes beyond the grace period: read-only, by time alone.
    assert alpha.is_read_only(now=alpha.read_only_at + timedelta(seconds=1))
    # A second failure does not move the first one's date.
    stripe_stub.send_event("invoice.payment_failed", invoice(stripe_stub, subscription))
    assert Subscription.objects.get(institution=alpha).past_due_since == row.past_due_since


def test_past_due_longer_than_grace_is_read_only_through_http(alpha, stripe_stub):
    eight_days_ago = int(time.time()) - 8 * 86400
    subscription = on_stripe(stripe_stub, alpha, created=eight_days_ago - 60)
    stripe_stub.send_event(
        "customer.subscription.updated",
        {**subscription, "status": "past_due"},
        created=eight_days_ago,
    )
    admin = api_client(alpha, admin_of(alpha))
    body = admin.get("/api/v1/institution/subscription/").json()
    assert body["status"] == "past_due"
    assert body["read_only"] is True
    assert body["read_only_at"] is not None


def test_invoice_paid_ends_past_due_and_read_only(alpha, stripe_stub):
    subscription = on_stripe(stripe_stub, alpha)
    stripe_stub.send_event("invoice.payment_failed", invoice(stripe_stub, subscription))
    response = stripe_stub.send_event("invoice.paid", invoice(stripe_stub, subscription))
    assert response.json()["outcome"] == "applied"
    row = Subscription.objects.get(institution=alpha)
    alpha.refresh_from_db()
    assert (row.status, row.past_due_since, alpha.read_only_at) == ("active", None, None)


def test_unpaid_suspends_and_invoice_paid_lifts_it(
    alpha, stripe_stub, alpha_client, django_capture_on_commit_callbacks
):
    subscription = on_stripe(stripe_stub, alpha)
    admin = api_client(alpha, admin_of(alpha))
    with django_capture_on_commit_callbacks(execute=True):
        stripe_stub.send_event(
            "customer.subscription.updated", {**subscription, "status": "unpaid"}
        )
    alpha.refresh_from_db()
    assert (alpha.status, alpha.suspension_cause) == ("suspended", "billing")
    assert error_code(admin.get("/api/v1/institution/subscription/")) == "institution_suspended"
    with django_capture_on_commit_callbacks(execute=True):
        stripe_stub.send_event("invoice.paid", invoice(stripe_stub, subscription))
    alpha.refresh_from_db()
    assert (alpha.status, alpha.suspension_cause) == ("active", "")
    assert admin.get("/api/v1/institution/subscription/").status_code == 200


def test_invoice_paid_never_lifts_an_operators_suspension(
    alpha, stripe_stub, django_capture_on_commit_callbacks
):
    subscription = on_stripe(stripe_stub, alpha)
    institution_suspend(institution=alpha, reason="Terms breached", cause=SuspensionCause.OPERATOR)
    admin = api_client(alpha, admin_of(alpha))
    with django_capture_on_commit_callbacks(execute=True):
        # Canceled meanwhile: the operator's suspension stays the operator's...
        stripe_stub.send_event(
            "customer.subscription.updated", {**subscription, "status": "unpaid"}
        )
        stripe_stub.send_event("invoice.paid", invoice(stripe_stub, subscription))
    alpha.refresh_from_db()
    assert Subscription.objects.get(institution=alpha).status == "active"
    assert (alpha.status, alpha.suspension_cause) == ("suspended", "operator")
    assert error_code(admin.get("/api/v1/institution/subscription/")) == "institution_suspended"


def test_incomplete_expired_signup_releases_its_address(stripe_stub, standard):
    held = pending_institution("paid-later", plan=standard, awaiting_payment=True)
    subscription = on_stripe(stripe_stub, held, status="incomplete")
    response = stripe_stub.send_event(
        "customer.subscription.updated", {**subscription, "status": "incomplete_expired"}
    )
    assert response.json()["outcome"] == "applied"
    assert not Institution.objects.filter(slug="paid-later").exists()
    assert StripeEvent.objects.get(event_id=response.json()["event_id"]).institution is None
    # The address is free again.
    pending_institution("paid-later", plan=standard, awaiting_payment=True)


# --- replays and order -----------------------------------------------------------------


def _checkout_session(stub, institution, subscription, *, plan="premium") -> dict:
    return {
        "id": stub.new_id("cs_test"),
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "client_reference_id": str(institution.pk),
        "customer": subscription["customer"],
        "subscription": subscription["id"],
        "metadata": {
            "institution_id": str(institution.pk),
            "plan": plan,
            "interval": "month",
            "purpose": "upgrade",
        },
    }


def _premium(stub) -> Plan:
    stub.prices["price_premium_month"] = {"unit_amount": 99900, "interval": "month"}
    return Plan.objects.create(
        code="premium",
        name="Premium",
        price_monthly_cents=99900,
        stripe_price_monthly="price_premium_month",
        sort_order=40,
    )


# Each event type, then another event that changes what the first one set: a
# replay of the first (same id, same second) must not change it back.
REPLAYS = {
    "checkout.session.completed": lambda stub, alpha, sub: (
        _checkout_session(stub, alpha, sub),
        ("customer.subscription.updated", _with_price(stub, sub, "price_standard_month")),
    ),
    "customer.subscription.created": lambda stub, alpha, sub: (
        sub,
        ("customer.subscription.updated", {**sub, "cancel_at_period_end": True}),
    ),
    "customer.subscription.updated": lambda stub, alpha, sub: (
        {**sub, "status": "past_due"},
        ("invoice.paid", invoice(stub, sub)),
    ),
    "invoice.paid": lambda stub, alpha, sub: (
        invoice(stub, sub),
        ("invoice.payment_failed", invoice(stub, sub)),
    ),
    "invoice.payment_failed": lambda stub, alpha, sub: (
        invoice(stub, sub),
        ("invoice.paid", invoice(stub, sub)),
    ),
}


def _with_price(stub, subscription, price) -> dict:
    changed = json.loads(json.dumps(subscription))
    changed["items"]["data"][0]["price"] = stub.price_object(price)
    return changed


@pytest.mark.parametrize("event_type", sorted(REPLAYS))
def test_a_replayed_event_changes_nothing(alpha, stripe_stub, event_type):
    _premium(stripe_stub)
    subscription = on_stripe(stripe_stub, alpha)
    first, (other_type, other) = REPLAYS[event_type](stripe_stub, alpha, subscription)
    now = int(time.time())
    response = stripe_stub.send_event(event_type, first, created=now, event_id="evt_first")
    assert response.json() == {"event_id": "evt_first", "outcome": "applied", "replay": False}
    after_first = state(alpha)
    assert stripe_stub.send_event(other_type, other, created=now).json()["outcome"] == "applied"
    after_other = state(alpha)
    assert after_other["subscription"] != after_first["subscription"]  # the test can fail

    replay = stripe_stub.send_event(event_type, first, created=now, event_id="evt_first")
    assert replay.status_code == 200
    assert replay.json() == {"event_id": "evt_first", "outcome": "applied", "replay": True}
    assert state(alpha) == after_other


def test_a_replayed_deletion_does_not_suspend_again(
    alpha, stripe_stub, django_capture_on_commit_callbacks
):
    subscription = on_stripe(stripe_stub, alpha)
    deleted = {**subscription, "status": "canceled"}
    stripe_stub.send_event("customer.subscription.deleted", deleted, event_id="evt_deleted")
    alpha.refresh_from_db()
    institution_reactivate(institution=alpha)  # the operator lets them back in
    replay = stripe_stub.send_event(
        "customer.subscription.deleted", deleted, event_id="evt_deleted"
    )
    assert replay.json()["replay"] is True
    alpha.refresh_from_db()
    assert alpha.status == "active"


def test_an_older_event_never_overwrites_newer_state(alpha, stripe_stub):
    subscription = on_stripe(stripe_stub, alpha)
    now = int(time.time())
    newer = stripe_stub.send_event(
        "customer.subscription.updated", {**subscription, "cancel_at_period_end": True}, created=now
    )
    assert newer.json()["outcome"] == "applied"
    before = state(alpha)
    older = stripe_stub.send_event(
        "customer.subscription.updated",
        {**subscription, "status": "past_due", "cancel_at_period_end": False},
        created=now - 100,
    )
    assert older.status_code == 200
    assert older.json()["outcome"] == "stale"
    after = state(alpha)
    assert after["subscription"] == before["subscription"]
    assert after["institution"] == before["institution"]
    assert StripeEvent.objects.get(event_id=older.json()["event_id"]).outcome == "stale"
    # Older invoice events are stale too: a failure from before the newest state is history.
    stale = stripe_stub.send_event(
        "invoice.payment_failed", invoice(stripe_stub, subscription), created=now - 50
    )
    assert stale.json()["outcome"] == "stale"
    assert Subscription.objects.get(institution=alpha).status == "active"


def test_events_of_the_same_second_apply_in_arrival_order(alpha, stripe_stub):
    subscription = on_stripe(stripe_stub, alpha)
    now = int(time.time()) + 5
    stripe_stub.send_event(
        "invoice.payment_failed", invoice(stripe_stub, subscription), created=now
    )
    assert Subscription.objects.get(institution=alpha).status == "past_due"
    tie = stripe_stub.send_event("invoice.paid", invoice(stripe_stub, subscription), created=now)
    assert tie.json()["outcome"] == "applied"
    assert Subscription.objects.get(institution=alpha).status == "active"


def test_a_late_checkout_links_its_ids_but_does_not_override_newer_state(alpha, stripe_stub):
    """Stripe retries for days and does not order: an upgrade's checkout
    older than the newest state applied links what the row lacks (its
    session), but its plan and `active` are older news than the past due."""
    _premium(stripe_stub)
    subscription = on_stripe(stripe_stub, alpha)
    stripe_stub.send_event("customer.subscription.updated", {**subscription, "status": "past_due"})
    before = state(alpha)
    session = _checkout_session(stripe_stub, alpha, subscription)
    late = stripe_stub.send_event(
        "checkout.session.completed", session, created=int(time.time()) - 3600
    )
    assert late.json()["outcome"] == "applied"
    row = Subscription.objects.get(institution=alpha)
    assert row.stripe_checkout_session_id == session["id"]
    assert state(alpha)["subscription"] == before["subscription"]  # standard, past due
    assert row.plan.code == "standard" and row.status == "past_due"


def test_a_late_signup_checkout_still_starts_provisioning(stripe_stub, standard):
    """The row still waits for its first payment: however late, the paid
    checkout applies (ids, active) and provisioning starts."""
    held = pending_institution("paid-late", plan=standard, awaiting_payment=True)
    subscription = on_stripe(stripe_stub, held, status="incomplete")
    session = {
        "id": stripe_stub.new_id("cs_test"),
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "paid",
        "client_reference_id": str(held.pk),
        "customer": subscription["customer"],
        "subscription": subscription["id"],
        "metadata": {"institution_id": str(held.pk), "plan": "standard", "purpose": "signup"},
    }
    late = stripe_stub.send_event(
        "checkout.session.completed", session, created=int(time.time()) - 3600
    )
    assert late.json()["outcome"] == "applied"
    row = Subscription.objects.get(institution=held)
    assert (row.status, row.stripe_checkout_session_id) == ("active", session["id"])
    held.refresh_from_db()
    assert held.status == "pending"  # provisioning is queued


@pytest.fixture
def gamma(committed_db):
    """A provisioned institution whose rows are committed (for threads)."""
    return make_institution("gamma-billing")


@pytest.mark.parametrize("kind", ["applied", "ignored"])
def test_concurrent_deliveries_of_one_event_apply_once(gamma, stripe_stub, kind):
    subscription = on_stripe(stripe_stub, gamma)
    if kind == "applied":
        event = stripe_stub.event("invoice.payment_failed", invoice(stripe_stub, subscription))
    else:
        event = stripe_stub.event("charge.refunded", {"id": "ch_1"})
    payload = json.dumps(event).encode()

    def deliver():
        response = Client(HTTP_HOST="localhost").post(
            WEBHOOK,
            payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=_signature(stripe_stub, payload),
        )
        return response.status_code, response.json()

    results = at_once([deliver] * 6)
    assert [status for status, _ in results] == [200] * 6
    assert sorted(body["replay"] for _, body in results) == [False] + [True] * 5
    assert {body["outcome"] for _, body in results} == {kind}
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    if kind == "applied":
        row = Subscription.objects.get(institution=gamma)
        assert row.status == "past_due"
        assert row.past_due_since == datetime.fromtimestamp(event["created"], tz=UTC)
    StripeEvent.objects.filter(institution=gamma).delete()
    StripeEvent.objects.filter(event_id=event["id"]).delete()


def test_signup_events_for_a_held_address_start_provisioning(stripe_stub, standard):
    held = pending_institution("paid-signup", plan=standard, awaiting_payment=True)
    assert Subscription.objects.get(institution=held).status == "incomplete"
    session = {
        "id": "cs_test_signup",
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "paid",
        "client_reference_id": str(held.pk),
        "customer": "cus_signup",
        "subscription": "sub_signup",
        "metadata": {"institution_id": str(held.pk), "plan": "standard", "purpose": "signup"},
    }
    response = stripe_stub.send_event("checkout.session.completed", session)
    assert response.json()["outcome"] == "applied"
    held.refresh_from_db()
    assert held.status == "pending"  # provisioning is queued
    row = Subscription.objects.get(institution=held)
    assert (row.status, row.stripe_customer_id, row.stripe_subscription_id) == (
        "active",
        "cus_signup",
        "sub_signup",
    )
    replay = stripe_stub.send_event(
        "checkout.session.completed", session, event_id=response.json()["event_id"]
    )
    assert replay.json()["replay"] is True
    held.refresh_from_db()
    assert held.status == "pending"


# --- paid only once paid -----------------------------------------------------------------


def _signup_session(stub, held, subscription_id: str, *, payment_status: str) -> dict:
    return {
        "id": stub.new_id("cs_test"),
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": payment_status,
        "client_reference_id": str(held.pk),
        "customer": "cus_delayed",
        "subscription": subscription_id,
        "metadata": {"institution_id": str(held.pk), "plan": "standard", "purpose": "signup"},
    }


@pytest.mark.parametrize(
    ("outcome", "provisioned"),
    [
        ("checkout.session.async_payment_succeeded", True),
        ("invoice.paid", True),
        ("checkout.session.async_payment_failed", False),
    ],
)
def test_a_signup_paid_by_a_delayed_method_is_provisioned_once_the_money_arrives(
    stripe_stub, standard, outcome, provisioned
):
    held = pending_institution("paid-by-debit", plan=standard, awaiting_payment=True)
    subscription = stripe_stub.subscription_create(
        customer="cus_delayed",
        price_id="price_standard_month",
        params={"metadata": {"institution_id": str(held.pk), "purpose": "signup"}},
    )
    subscription["status"] = "incomplete"
    session = _signup_session(stripe_stub, held, subscription["id"], payment_status="unpaid")
    stripe_stub.send_event("checkout.session.completed", session)
    stripe_stub.send_event("customer.subscription.created", subscription)
    held.refresh_from_db()
    row = Subscription.objects.get(institution=held)
    assert (held.status, row.status, row.stripe_subscription_id) == (
        "awaiting_payment",
        "incomplete",
        subscription["id"],
    )

    if outcome == "invoice.paid":
        answer = stripe_stub.send_event(outcome, invoice(stripe_stub, subscription))
    else:
        answer = stripe_stub.send_event(
            outcome, {**session, "payment_status": "paid" if provisioned else "unpaid"}
        )
    assert answer.json()["outcome"] == "applied"
    held.refresh_from_db()
    row.refresh_from_db()
    if provisioned:
        assert (held.status, row.status) == ("pending", "active")
    else:
        assert (held.status, row.status) == ("awaiting_payment", "incomplete")
        # Stripe gives up on the payment: the address is free again.
        stripe_stub.send_event(
            "customer.subscription.updated", {**subscription, "status": "incomplete_expired"}
        )
        assert not Institution.objects.filter(pk=held.pk).exists()


def test_an_unpaid_upgrade_changes_nothing_until_its_payment_arrives(alpha, stripe_stub, standard):
    """An admin on a trial pays for an upgrade by bank debit: Checkout
    completes unpaid and the Stripe subscription is incomplete. The trial goes
    on as it was (no bigger plan, and no suspension if the debit fails) until
    the payment succeeds."""
    before = state(alpha)
    customer = stripe_stub.new_id("cus")
    metadata = {"institution_id": str(alpha.pk), "plan": "standard", "purpose": "upgrade"}
    subscription = stripe_stub.subscription_create(
        customer=customer, price_id="price_standard_month", params={"metadata": metadata}
    )
    subscription["status"] = "incomplete"
    session = {**_checkout_session(stripe_stub, alpha, subscription, plan="standard")}
    session["payment_status"] = "unpaid"
    stripe_stub.send_event("checkout.session.completed", session)
    created = stripe_stub.send_event("customer.subscription.created", subscription)
    assert created.json()["outcome"] == "ignored"
    row = Subscription.objects.get(institution=alpha)
    assert (row.status, row.plan.code, row.stripe_subscription_id) == ("trialing", "trial", None)
    assert state(alpha)["institution"] == before["institution"]

    stripe_stub.send_event("checkout.session.async_payment_succeeded", session)
    stripe_stub.send_event("customer.subscription.updated", {**subscription, "status": "active"})
    row.refresh_from_db()
    alpha.refresh_from_db()
    assert (row.status, row.plan, alpha.plan, row.stripe_subscription_id) == (
        "active",
        standard,
        standard,
        subscription["id"],
    )


def test_an_incomplete_subscription_does_not_apply_its_plan(stripe_stub, standard):
    held = pending_institution("not-yet", plan=Plan.objects.get(code="free"))
    Subscription.objects.filter(institution=held).update(status="incomplete")
    on_stripe(stripe_stub, held, status="incomplete")
    row = Subscription.objects.get(institution=held)
    assert (row.status, row.plan.code) == ("incomplete", "free")


def test_a_provisioned_institution_whose_subscription_expires_unpaid_is_suspended(
    alpha, stripe_stub, django_capture_on_commit_callbacks
):
    """Canceled, let back in by the operator, it subscribes again, and the
    new subscription's first payment never arrives."""
    old = on_stripe(stripe_stub, alpha)
    with django_capture_on_commit_callbacks(execute=True):
        stripe_stub.send_event("customer.subscription.deleted", {**old, "status": "canceled"})
    alpha.refresh_from_db()
    institution_reactivate(institution=alpha)
    new = stripe_stub.subscription_create(
        customer=old["customer"],
        price_id="price_standard_month",
        params={"metadata": old["metadata"]},
    )
    created = stripe_stub.send_event(
        "customer.subscription.created", {**new, "status": "incomplete"}
    )
    assert created.json()["outcome"] == "applied"
    alpha.refresh_from_db()
    assert alpha.status == "active"
    with django_capture_on_commit_callbacks(execute=True):
        stripe_stub.send_event(
            "customer.subscription.updated", {**new, "status": "incomplete_expired"}
        )
    alpha.refresh_from_db()
    assert (alpha.status, alpha.suspension_cause) == ("suspended", SuspensionCause.BILLING)


def test_a_paused_subscription_is_read_only_at_once_until_it_resumes(alpha, stripe_stub):
    subscription = on_stripe(stripe_stub, alpha)
    stripe_stub.send_event("customer.subscription.updated", {**subscription, "status": "paused"})
    alpha.refresh_from_db()
    assert alpha.is_read_only()
    admin = api_client(alpha, admin_of(alpha))
    assert admin.get("/api/v1/institution/subscription/").json()["read_only"] is True
    stripe_stub.send_event("customer.subscription.updated", {**subscription, "status": "active"})
    alpha.refresh_from_db()
    assert alpha.read_only_at is None and not alpha.is_read_only()


# --- one live Stripe subscription per institution -------------------------------------------


def _open_session(stub, institution) -> dict:
    """A Checkout session opened for an upgrade as our API opens them (made on
    the stub directly: two tabs opened before either was paid)."""
    session_id = stub.new_id("cs_test")
    metadata = {
        "institution_id": str(institution.pk),
        "plan": "standard",
        "interval": "month",
        "purpose": "upgrade",
    }
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": "subscription",
        "status": "open",
        "payment_status": "unpaid",
        "client_reference_id": str(institution.pk),
        "customer": None,
        "metadata": metadata,
        "subscription": None,
        "success_url": "http://alpha.localhost/",
        "line_items": {"data": [{"price": stub.price_object("price_standard_month")}]},
        "subscription_data": {"metadata": metadata},
    }
    stub.sessions[session_id] = session
    return session


def _live(stub, institution) -> list[str]:
    return [
        s["id"]
        for s in stub.subscriptions.values()
        if s["metadata"].get("institution_id") == str(institution.pk) and s["status"] == "active"
    ]


def test_of_two_paid_checkouts_the_newest_is_kept_and_the_other_canceled(alpha, stripe_stub):
    first, second = _open_session(stripe_stub, alpha), _open_session(stripe_stub, alpha)
    stripe_stub.checkout_pay(first)
    stripe_stub.checkout_pay(second)
    row = Subscription.objects.get(institution=alpha)
    assert _live(stripe_stub, alpha) == [second["subscription"]] == [row.stripe_subscription_id]
    assert stripe_stub.subscriptions[first["subscription"]]["status"] == "canceled"
    cancel = [p for m, path, p in stripe_stub.requests if m == "DELETE"]
    assert cancel == [{"prorate": "true"}]  # the unused time is credited
    assert row.status == "active"


def test_an_older_paid_checkout_arriving_late_is_the_one_canceled(alpha, stripe_stub):
    older = _open_session(stripe_stub, alpha)
    newer = on_stripe(stripe_stub, alpha)  # paid and applied since
    paid = stripe_stub.subscription_create(
        customer="cus_other",
        price_id="price_standard_month",
        params={"metadata": older["metadata"]},
    )
    older.update(status="complete", payment_status="paid", subscription=paid["id"])
    late = stripe_stub.send_event(
        "checkout.session.completed", older, created=int(time.time()) - 3600
    )
    assert late.json()["outcome"] == "applied"
    assert _live(stripe_stub, alpha) == [newer["id"]]
    assert Subscription.objects.get(institution=alpha).stripe_subscription_id == newer["id"]


def test_a_second_subscription_with_stripe_unreachable_is_retried_later(
    alpha, stripe_stub, settings
):
    first = on_stripe(stripe_stub, alpha)
    second = stripe_stub.subscription_create(
        customer=first["customer"],
        price_id="price_standard_month",
        params={"metadata": first["metadata"]},
    )
    session = _checkout_session(stripe_stub, alpha, second, plan="standard")
    before = state(alpha)
    settings.STRIPE_SECRET_KEY = "sk_test_revoked"  # Stripe refuses the cancel
    event = stripe_stub.event("checkout.session.completed", session)
    refused = stripe_stub.deliver(event)
    assert refused.status_code == 502
    assert error_code(refused) == "billing_provider_error"
    assert state(alpha) == before  # not even recorded: Stripe's retry applies it
    settings.STRIPE_SECRET_KEY = stripe_stub.api_key
    assert stripe_stub.deliver(event).json()["replay"] is False
    assert _live(stripe_stub, alpha) == [second["id"]]
