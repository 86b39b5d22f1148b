"""The institution admin's billing page (/billing/ on the institution's host),
through the tenant router with browser sessions: who may see and use it, what
it shows, Checkout and the portal through the Stripe stub, and that it stays
usable while the institution is read-only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared_apps.subscriptions.models import Subscription
from tenant_apps.accounts.models import Role

from .api_helpers import admin_of, member
from .test_billing_webhooks import on_stripe
from .test_read_only import read_only_from, signed_in

pytest_plugins = ["tests.peers.stripe_stub"]  # the `stripe_stub` fixture

PAGE = "/billing/"


@pytest.mark.parametrize("role", [Role.INSTRUCTOR, Role.STUDENT])
def test_only_the_institutions_admins(alpha, stripe_stub, role):
    browser = signed_in(alpha, member(alpha, f"{role}@alpha.test", role=role))
    assert browser.get(PAGE).status_code == 403
    refused = browser.post(f"{PAGE}checkout/", {"plan": "standard", "interval": "month"})
    assert refused.status_code == 403
    assert browser.post(f"{PAGE}portal/").status_code == 403
    assert stripe_stub.sessions == {} and stripe_stub.portal_sessions == {}


def test_signed_out_is_sent_to_sign_in_and_another_institutions_admin_is_not_let_in(
    alpha, beta, alpha_client
):
    assert alpha_client.get(PAGE)["Location"].startswith("/accounts/login/")
    beta_session = signed_in(beta, admin_of(beta))
    # The session cookie of beta means nothing on alpha's host.
    beta_session.defaults["HTTP_HOST"] = "alpha.localhost"
    assert beta_session.get(PAGE)["Location"].startswith("/accounts/login/")


def test_the_admin_sees_plan_status_and_usage_against_limits(alpha):
    page = signed_in(alpha, admin_of(alpha)).get(PAGE)
    html = page.content.decode()
    assert page.status_code == 200
    assert '<dd id="billing-plan">Trial</dd>' in html
    assert '<dd id="billing-status">Trialing</dd>' in html
    assert "<td>200</td>" in html and "<td>20</td>" in html  # users and courses allowed
    assert "5.0\xa0GB" in html
    assert "Plans are arranged with us directly" in html  # billing is off in the test settings


def test_choosing_a_plan_goes_to_stripe_checkout(alpha, stripe_stub):
    admin = admin_of(alpha)
    response = signed_in(alpha, admin).post(
        f"{PAGE}checkout/", {"plan": "standard", "interval": "year"}
    )
    assert response.status_code == 302
    (session,) = stripe_stub.sessions.values()
    assert response["Location"] == session["url"]
    assert session["line_items"]["data"][0]["price"]["id"] == "price_standard_year"
    assert session["success_url"] == "http://alpha.localhost/billing/?checkout=success"
    assert session["customer_email"] == admin.email


def test_a_bad_plan_and_an_outstanding_payment_are_shown_not_raised(alpha, stripe_stub):
    browser = signed_in(alpha, admin_of(alpha))
    bad = browser.post(f"{PAGE}checkout/", {"plan": "no-such-plan", "interval": "month"})
    assert bad.status_code == 400 and "Choose one of the plans below." in bad.content.decode()

    on_stripe(stripe_stub, alpha, status="past_due")
    owed = browser.post(f"{PAGE}checkout/", {"plan": "standard", "interval": "year"})
    assert owed.status_code == 409
    assert "settle its payment" in owed.content.decode()
    assert stripe_stub.sessions == {}


def test_the_portal_opens_for_an_institution_stripe_bills(alpha, stripe_stub):
    browser = signed_in(alpha, admin_of(alpha))
    without = browser.post(f"{PAGE}portal/")
    assert without.status_code == 409  # no billing account yet
    on_stripe(stripe_stub, alpha)
    opened = browser.post(f"{PAGE}portal/")
    (portal,) = stripe_stub.portal_sessions.values()
    assert opened["Location"] == portal["url"]
    assert portal["return_url"] == "http://alpha.localhost/billing/"
    assert portal["customer"] == Subscription.objects.get(institution=alpha).stripe_customer_id


def test_a_read_only_institutions_admin_can_still_pay_and_the_banner_links_here(alpha, stripe_stub):
    read_only_from(alpha, timezone.now() - timedelta(hours=1))
    browser = signed_in(alpha, admin_of(alpha))
    page = browser.get(PAGE)
    assert 'href="/billing/">Update the payment details</a>' in page.content.decode()
    paying = browser.post(f"{PAGE}checkout/", {"plan": "standard", "interval": "month"})
    assert paying.status_code == 302 and len(stripe_stub.sessions) == 1
    # The link is for admins: a student sees the banner without it.
    student_page = signed_in(alpha, member(alpha, "s@alpha.test")).get("/").content.decode()
    assert "institution-notice" in student_page
    assert "Update the payment details" not in student_page
