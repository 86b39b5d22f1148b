"""An institution admin's subscription endpoints, through the tenant router:
who may call them, what they show, and their refusals."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared_apps.subscriptions.models import Subscription
from tenant_apps.accounts.models import Role

from .api_helpers import admin_of, api_client, as_json, error_code, member
from .test_billing_webhooks import on_stripe

pytest_plugins = ["tests.peers.stripe_stub"]  # the `stripe_stub` fixture

BASE = "/api/v1/institution/subscription/"
CALLS = [
    ("get", BASE, None),
    ("get", f"{BASE}plans/", None),
    ("post", f"{BASE}checkout/", {"plan": "standard", "interval": "month"}),
    ("post", f"{BASE}portal/", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
@pytest.mark.parametrize("role", [Role.INSTRUCTOR, Role.STUDENT])
def test_only_institution_admins(alpha, stripe_stub, method, path, body, role):
    caller = member(alpha, f"{role}@alpha.test", role=role)
    response = as_json(api_client(alpha, caller), method, path, body)
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    assert stripe_stub.sessions == {} and stripe_stub.portal_sessions == {}


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_another_institutions_admin_is_refused(alpha, beta, stripe_stub, method, path, body):
    beta_admin = api_client(beta, admin_of(beta))
    response = as_json(beta_admin, method, path, body, HTTP_HOST="alpha.localhost")
    assert response.status_code == 401
    assert stripe_stub.sessions == {}


def test_anonymous_is_refused(alpha_client):
    assert alpha_client.get(BASE).status_code == 401


def test_admin_sees_plan_state_limits_and_usage(alpha):
    response = api_client(alpha, admin_of(alpha)).get(BASE)
    assert response.status_code == 200
    body = response.json()
    assert body["plan"]["code"] == "trial"
    assert body["status"] == "trialing"
    assert body["trial_end"] is not None
    assert (body["read_only_at"], body["read_only"]) == (None, False)
    assert body["billing_enabled"] is False  # no Stripe keys in the test settings
    assert body["has_billing_account"] is False
    assert body["limits"] == {"users": 200, "courses": 20, "storage_bytes": 5 * 1024**3}
    assert body["usage"]["users"] >= 1  # the admin
    assert body["features"]["sso"] is True


def test_admin_sees_the_public_plans_with_prices(alpha, stripe_stub):
    response = api_client(alpha, admin_of(alpha)).get(f"{BASE}plans/")
    assert response.status_code == 200
    plans = {plan["code"]: plan for plan in response.json()}
    assert plans["standard"]["price_monthly_cents"] == 49900
    assert plans["standard"]["price_yearly_cents"] == 499000
    assert plans["standard"]["intervals_for_sale"] == ["month", "year"]
    assert plans["free"]["intervals_for_sale"] == []


def test_admin_checkout_gives_a_stripe_url(alpha, stripe_stub):
    admin = api_client(alpha, admin_of(alpha))
    response = as_json(
        admin, "post", f"{BASE}checkout/", {"plan": "standard", "return_path": "/settings/"}
    )
    assert response.status_code == 200
    url = response.json()["url"]
    session = stripe_stub.sessions[url.rsplit("/", 1)[1]]
    assert session["cancel_url"] == "http://alpha.localhost/settings/?checkout=canceled"
    assert session["line_items"]["data"][0]["price"]["id"] == "price_standard_month"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"plan": "nope"}, 400, "invalid"),
        ({"plan": "standard", "interval": "week"}, 400, "invalid"),
        ({"plan": "standard", "return_path": "https://evil.test/"}, 400, "invalid"),
        ({"plan": "standard", "return_path": "//evil.test/"}, 400, "invalid"),
        ({"plan": "standard", "colour": "red"}, 400, "invalid"),
        ({"plan": "free"}, 400, "price_unavailable"),
        ({}, 400, "invalid"),
    ],
)
def test_checkout_refusals(alpha, stripe_stub, body, status, code):
    response = as_json(api_client(alpha, admin_of(alpha)), "post", f"{BASE}checkout/", body)
    assert response.status_code == status
    assert error_code(response) == code
    assert stripe_stub.sessions == {}


def test_checkout_and_portal_with_billing_off(alpha):
    admin = api_client(alpha, admin_of(alpha))
    for path, body in ((f"{BASE}checkout/", {"plan": "standard"}), (f"{BASE}portal/", {})):
        response = as_json(admin, "post", path, body)
        assert response.status_code == 409
        assert error_code(response) == "billing_disabled"


def test_portal_needs_a_billing_account_then_gives_its_url(alpha, stripe_stub):
    admin = api_client(alpha, admin_of(alpha))
    response = as_json(admin, "post", f"{BASE}portal/", {})
    assert response.status_code == 409
    assert error_code(response) == "no_billing_account"

    checkout = as_json(admin, "post", f"{BASE}checkout/", {"plan": "standard"}).json()
    stripe_stub.checkout_pay(stripe_stub.sessions[checkout["url"].rsplit("/", 1)[1]])
    response = as_json(admin, "post", f"{BASE}portal/", {"return_path": "/billing/"})
    assert response.status_code == 200
    portal = stripe_stub.portal_sessions[response.json()["url"].rsplit("/", 1)[1]]
    assert portal["return_url"] == "http://alpha.localhost/billing/"
    body = admin.get(BASE).json()
    assert (body["status"], body["plan"]["code"], body["has_billing_account"]) == (
        "active",
        "standard",
        True,
    )


def test_stripe_unreachable_is_a_502(alpha, stripe_stub, settings):
    stripe_stub.stop()
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    response = as_json(
        api_client(alpha, admin_of(alpha)), "post", f"{BASE}checkout/", {"plan": "standard"}
    )
    assert response.status_code == 502
    assert error_code(response) == "billing_provider_error"


def test_a_second_checkout_closes_the_first(alpha, stripe_stub):
    admin = api_client(alpha, admin_of(alpha))
    urls = [
        as_json(admin, "post", f"{BASE}checkout/", {"plan": "standard"}).json()["url"]
        for _ in range(2)
    ]
    first, second = (stripe_stub.sessions[url.rsplit("/", 1)[1]] for url in urls)
    assert (first["status"], second["status"]) == ("expired", "open")


def test_no_plan_change_while_a_stripe_payment_is_outstanding(alpha, stripe_stub):
    """In the grace period of a failed payment, Stripe's price change would
    give the bigger plan at once and invoice it later: refused until paid."""
    subscription = on_stripe(stripe_stub, alpha)
    stripe_stub.send_event("customer.subscription.updated", {**subscription, "status": "past_due"})
    refused = as_json(
        api_client(alpha, admin_of(alpha)),
        "post",
        f"{BASE}checkout/",
        {"plan": "standard", "interval": "year"},
    )
    assert refused.status_code == 409
    assert error_code(refused) == "payment_outstanding"
    assert stripe_stub.subscriptions[subscription["id"]]["items"]["data"][0]["price"]["id"] == (
        "price_standard_month"
    )
    assert Subscription.objects.get(institution=alpha).interval == "month"


def test_an_ended_local_trial_in_grace_may_pay_through_checkout(alpha, stripe_stub):
    """Checkout takes the payment first, so a trial past its end may upgrade."""
    Subscription.objects.filter(institution=alpha).update(
        status="past_due", trial_end=timezone.now() - timedelta(days=1)
    )
    response = as_json(
        api_client(alpha, admin_of(alpha)), "post", f"{BASE}checkout/", {"plan": "standard"}
    )
    assert response.status_code == 200
    assert response.json()["url"].startswith(stripe_stub.api_base)
