"""Stripe Checkout and the customer portal against the Stripe stub: a paid
sign-up paid on the stub's hosted page over real HTTP (the stub calls our
webhook on a real server), upgrades, plan changes made in Stripe, the portal,
and the hourly housekeeping of trials and unpaid sign-ups."""

import threading
import time
import urllib.parse
from datetime import timedelta
from http.client import HTTPConnection
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.utils import timezone

from conceptspro.api import ApplicationError
from shared_apps.institutions.models import Institution
from shared_apps.plans.models import Plan
from shared_apps.subscriptions import services
from shared_apps.subscriptions.models import Subscription
from shared_apps.subscriptions.tasks import subscriptions_housekeeping

from .api_helpers import admin_of, api_client, as_json
from .conftest import pending_institution, wait_for_status
from .test_billing_webhooks import on_stripe

pytest_plugins = ["tests.peers.stripe_stub"]  # the `stripe_stub` fixture


@pytest.fixture
def standard(db):
    return Plan.objects.get(code="standard")


def _http(url: str, method: str = "GET", body: bytes = b""):
    parts = urllib.parse.urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, parts.path, body=body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def django_server(committed_db):
    """Our site on a loopback port (one thread), for peers that call us over HTTP."""
    server = make_server("127.0.0.1", 0, WSGIHandler(), handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# --- sign-up ---------------------------------------------------------------------------


def test_signup_checkout_asks_stripe_for_the_plans_price(stripe_stub, standard):
    held = pending_institution("paid-uni", plan=standard, awaiting_payment=True, interval="year")
    url = services.checkout_start_signup(
        institution=held,
        plan=standard,
        interval="year",
        success_url="http://localhost/signup/done/?session={CHECKOUT_SESSION_ID}",
        cancel_url="http://localhost/signup/",
    )
    session_id = url.rsplit("/", 1)[1]
    assert url == f"{stripe_stub.api_base}/pay/{session_id}"
    session = stripe_stub.sessions[session_id]
    metadata = {
        "institution_id": str(held.pk),
        "plan": "standard",
        "interval": "year",
        "purpose": "signup",
    }
    assert session["mode"] == "subscription"
    assert session["line_items"]["data"][0]["price"]["id"] == standard.stripe_price_yearly
    assert session["client_reference_id"] == str(held.pk)
    assert session["customer_email"] == "admin@paid-uni.test"
    assert session["metadata"] == metadata
    assert session["subscription_data"]["metadata"] == metadata
    assert Subscription.objects.get(institution=held).stripe_checkout_session_id == session_id


def test_signup_checkout_refusals(stripe_stub, standard, settings):
    held = pending_institution("paid-uni", plan=standard, awaiting_payment=True)
    urls = {"success_url": "http://localhost/ok/", "cancel_url": "http://localhost/no/"}
    Plan.objects.filter(pk=standard.pk).update(stripe_price_yearly="")
    standard.refresh_from_db()
    with pytest.raises(ApplicationError) as refused:
        services.checkout_start_signup(institution=held, plan=standard, interval="year", **urls)
    assert (refused.value.code, refused.value.status) == ("price_unavailable", 400)
    active = Institution.objects.get(slug="alpha")
    with pytest.raises(ApplicationError) as refused:
        services.checkout_start_signup(institution=active, plan=standard, interval="month", **urls)
    assert (refused.value.code, refused.value.status) == ("not_awaiting_payment", 409)
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(ApplicationError) as refused:
        services.checkout_start_signup(institution=held, plan=standard, interval="month", **urls)
    assert (refused.value.code, refused.value.status) == ("billing_disabled", 409)
    assert stripe_stub.sessions == {}


def test_paid_signup_through_the_hosted_page_provisions_the_institution(
    stripe_stub, django_server, celery_eager
):
    standard = Plan.objects.get(code="standard")
    stripe_stub.webhook_url = f"{django_server}/billing/stripe/webhook/"
    held = pending_institution("paid-http", plan=standard, awaiting_payment=True)
    url = services.checkout_start_signup(
        institution=held,
        plan=standard,
        interval="month",
        success_url=f"{django_server}/signup/done/?session={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{django_server}/signup/",
    )
    status, _, page = _http(url)
    assert status == 200
    assert "Pay</button>" in page and "499.00 USD / month" in page
    assert "admin@paid-http.test" in page

    status, headers, _ = _http(url, "POST", b"card=4242")
    session_id = url.rsplit("/", 1)[1]
    assert status == 303
    assert headers["Location"] == f"{django_server}/signup/done/?session={session_id}"
    assert [(event["type"], code) for event, code in stripe_stub.deliveries] == [
        ("checkout.session.completed", 200),
        ("customer.subscription.created", 200),
        ("invoice.paid", 200),
    ]
    wait_for_status(held, Institution.Status.ACTIVE)
    row = Subscription.objects.get(institution=held)
    stripe_subscription = stripe_stub.subscriptions[row.stripe_subscription_id]
    assert (row.status, row.plan, row.stripe_customer_id) == (
        "active",
        standard,
        stripe_subscription["customer"],
    )
    # The hosted page cannot be paid twice.
    assert _http(url, "POST", b"card=4242")[0] == 409

    # The admin cancels in the portal; Stripe tells us at once.
    portal_url = services.portal_session_create(
        institution=held, return_url=f"{django_server}/billing-done/"
    )
    status, _, page = _http(portal_url)
    assert status == 200 and "Cancel subscription" in page
    status, headers, _ = _http(f"{portal_url}/cancel", "POST")
    assert (status, headers["Location"]) == (303, f"{django_server}/billing-done/")
    assert stripe_stub.deliveries[-1][0]["type"] == "customer.subscription.updated"
    assert stripe_stub.deliveries[-1][1] == 200
    assert Subscription.objects.get(institution=held).cancel_at_period_end is True


# --- upgrades and plan changes ------------------------------------------------------------


def _checkout(institution, body):
    return as_json(
        api_client(institution, admin_of(institution)),
        "post",
        "/api/v1/institution/subscription/checkout/",
        body,
    )


def test_a_trial_upgrades_through_checkout_then_changes_price_in_place(
    alpha, stripe_stub, standard
):
    response = _checkout(alpha, {"plan": "standard", "interval": "month"})
    assert response.status_code == 200, response.json()
    session = stripe_stub.sessions[response.json()["url"].rsplit("/", 1)[1]]
    assert session["metadata"]["purpose"] == "upgrade"
    assert session["customer_email"] == "admin@alpha.test"
    assert session["success_url"].startswith("http://alpha.localhost/?checkout=success")
    assert "{CHECKOUT_SESSION_ID}" in session["success_url"]
    alpha.refresh_from_db()
    assert alpha.plan.code == "trial"  # nothing changes before Stripe confirms

    stripe_stub.checkout_pay(session)  # the admin pays; Stripe's events arrive
    row = Subscription.objects.get(institution=alpha)
    alpha.refresh_from_db()
    assert (row.status, row.plan, alpha.plan, row.trial_end) == ("active", standard, standard, None)

    again = _checkout(alpha, {"plan": "standard", "interval": "month"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_on_plan"

    yearly = _checkout(alpha, {"plan": "standard", "interval": "year"})
    assert yearly.json() == {"url": None}
    stripe_subscription = stripe_stub.subscriptions[row.stripe_subscription_id]
    assert stripe_subscription["items"]["data"][0]["price"]["id"] == "price_standard_year"
    assert Subscription.objects.get(institution=alpha).interval == "year"
    assert len(stripe_stub.sessions) == 1


def test_operator_plan_change_of_a_stripe_subscription_changes_stripes_price(
    alpha, stripe_stub, standard
):
    session = stripe_stub.sessions[
        _checkout(alpha, {"plan": "standard"}).json()["url"].rsplit("/", 1)[1]
    ]
    stripe_stub.checkout_pay(session)
    stripe_stub.prices["price_premium_month"] = {"unit_amount": 99900, "interval": "month"}
    premium = Plan.objects.create(
        code="premium",
        name="Premium",
        price_monthly_cents=99900,
        stripe_price_monthly="price_premium_month",
    )
    services.subscription_change_plan(institution=alpha, plan=premium)
    row = Subscription.objects.get(institution=alpha)
    stripe_subscription = stripe_stub.subscriptions[row.stripe_subscription_id]
    assert stripe_subscription["items"]["data"][0]["price"]["id"] == "price_premium_month"
    # Stripe's own event about the change agrees with the plan set here.
    stripe_stub.send_event("customer.subscription.updated", stripe_subscription)
    alpha.refresh_from_db()
    assert (Subscription.objects.get(institution=alpha).plan, alpha.plan) == (premium, premium)

    free = Plan.objects.get(code="free")
    with pytest.raises(ApplicationError) as refused:
        services.subscription_change_plan(institution=alpha, plan=free)
    assert refused.value.code == "price_unavailable"


def test_operator_plan_change_without_stripe_makes_an_expired_trial_active(alpha, standard):
    row = Subscription.objects.get(institution=alpha)
    row.trial_end = timezone.now() - timedelta(days=10)
    row.save()
    subscriptions_housekeeping()
    alpha.refresh_from_db()
    assert alpha.is_read_only()
    services.subscription_change_plan(institution=alpha, plan=standard)
    alpha.refresh_from_db()
    assert Subscription.objects.get(institution=alpha).status == "active"
    assert alpha.read_only_at is None and alpha.plan == standard


# --- housekeeping -------------------------------------------------------------------------


def test_housekeeping_expires_local_trials_and_releases_unpaid_signups(
    alpha, beta, standard, celery_eager
):
    trial = Subscription.objects.get(institution=alpha)
    ended = timezone.now() - timedelta(days=2)
    trial.trial_end = ended
    trial.save()
    old = pending_institution("unpaid-old", plan=standard, awaiting_payment=True)
    Institution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    young = pending_institution("unpaid-young", plan=standard, awaiting_payment=True)

    assert subscriptions_housekeeping.delay().get() == {"trials_expired": 1, "signups_released": 1}
    row = Subscription.objects.get(institution=alpha)
    alpha.refresh_from_db()
    assert (row.status, row.past_due_since) == ("past_due", ended)
    assert alpha.read_only_at == ended + timedelta(days=7)
    assert not alpha.is_read_only()  # still within grace
    assert Subscription.objects.get(institution=beta).status == "trialing"
    assert not Institution.objects.filter(pk=old.pk).exists()
    assert Institution.objects.filter(pk=young.pk).exists()
    # Again: nothing more to do.
    assert subscriptions_housekeeping.delay().get() == {"trials_expired": 0, "signups_released": 0}
    alpha.refresh_from_db()
    assert alpha.read_only_at == ended + timedelta(days=7)

    services.subscription_extend_trial(institution=alpha, days=14)
    alpha.refresh_from_db()
    assert alpha.read_only_at is None


def test_a_stripe_trial_is_extended_in_stripe(alpha, stripe_stub):
    subscription = on_stripe(
        stripe_stub, alpha, status="trialing", trial_end=int(time.time()) + 86400
    )
    ends = subscription["trial_end"]
    extended = services.subscription_extend_trial(institution=alpha, days=14)
    in_stripe = stripe_stub.subscriptions[subscription["id"]]
    assert in_stripe["trial_end"] == ends + 14 * 86400
    assert int(extended.trial_end.timestamp()) == in_stripe["trial_end"]
    # Stripe's own event about it agrees with the mirror.
    stripe_stub.send_event("customer.subscription.updated", in_stripe)
    row = Subscription.objects.get(institution=alpha)
    assert (row.status, row.trial_end) == ("trialing", extended.trial_end)


@pytest.mark.parametrize("case", ["free", "paid_locally", "stripe_past_due", "stripe_active"])
def test_only_a_trial_is_extended(alpha, stripe_stub, case):
    if case == "free":
        Subscription.objects.filter(institution=alpha).update(
            plan=Plan.objects.get(code="free"), status="active", trial_end=None
        )
    elif case == "paid_locally":
        Subscription.objects.filter(institution=alpha).update(status="active", trial_end=None)
    else:
        subscription = on_stripe(stripe_stub, alpha)
        if case == "stripe_past_due":
            stripe_stub.send_event(
                "customer.subscription.updated", {**subscription, "status": "past_due"}
            )
    before = Subscription.objects.get(institution=alpha)
    with pytest.raises(ApplicationError) as refused:
        services.subscription_extend_trial(institution=alpha, days=14)
    assert (refused.value.code, refused.value.status) == ("not_trialing", 409)
    after = Subscription.objects.get(institution=alpha)
    assert (after.status, after.trial_end) == (before.status, before.trial_end)
    assert not [r for r in stripe_stub.requests if r[0] == "POST" and "/subscriptions/" in r[1]]
