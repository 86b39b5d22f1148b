"""Review of issue 6's flows (billing state machine, console actions, sign-up):
each test here shows one defect found in review, failing until it is fixed."""

import json
import time

import pytest
from django.core.files.storage import default_storage

from shared_apps.console.models import OperatorAction, OperatorActionType
from shared_apps.institutions.models import Institution
from shared_apps.plans.models import Plan
from shared_apps.subscriptions import services as billing
from shared_apps.subscriptions.models import Subscription, SubscriptionStatus

from .api_helpers import admin_of, api_client
from .conftest import make_institution, pending_institution
from .test_billing_webhooks import on_stripe
from .test_console_access import console_client
from .test_sso_oidc import openid_provider  # noqa: F401 -- a fixture, used by name

pytest_plugins = ["tests.peers.stripe_stub"]  # the `stripe_stub` fixture


def held_signup_with_checkout(slug: str):
    """A paid sign-up holding `slug`, its Checkout session open; and the session's URL."""
    standard = Plan.objects.get(code="standard")
    held = pending_institution(slug, plan=standard, awaiting_payment=True)
    url = billing.checkout_start_signup(
        institution=held,
        plan=standard,
        interval="month",
        success_url="http://localhost/done",
        cancel_url="http://localhost/cancel",
    )
    return held, url


def upgrade_session(stub, institution, subscription, *, plan="standard", paid=True) -> dict:
    return {
        "id": stub.new_id("cs_test"),
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid" if paid else "unpaid",
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


@pytest.fixture
def operator(db):
    client, _ = console_client("rita@operator.test")
    return client


def act(client, institution, action: str, data: dict | None = None):
    fields = {f"{action}-{key}": value for key, value in (data or {}).items()}
    return client.post(f"/console/institutions/{institution.pk}/{action}/", fields)


# --- the webhook's state machine --------------------------------------------------------


def test_a_late_upgrade_checkout_does_not_resurrect_a_canceled_subscription(
    alpha, stripe_stub, django_capture_on_commit_callbacks
):
    """checkout.session.completed is NEVER_STALE, but for an upgrade it also
    sets status=active: delivered late (Stripe retries for days), it revives a
    subscription Stripe has since canceled and lifts the billing suspension."""
    now = int(time.time())
    subscription = on_stripe(stripe_stub, alpha, created=now - 3600)
    with django_capture_on_commit_callbacks(execute=True):
        stripe_stub.send_event(
            "customer.subscription.deleted", {**subscription, "status": "canceled"}, created=now
        )
    alpha.refresh_from_db()
    assert (alpha.status, alpha.suspension_cause) == ("suspended", "billing")

    with django_capture_on_commit_callbacks(execute=True):
        stripe_stub.send_event(
            "checkout.session.completed",
            upgrade_session(stripe_stub, alpha, subscription),
            created=now - 3600,  # the upgrade's payment, an hour before the cancellation
        )
    assert Subscription.objects.get(institution=alpha).status == "canceled"
    alpha.refresh_from_db()
    assert (alpha.status, alpha.suspension_cause) == ("suspended", "billing")


def test_a_same_second_update_after_deletion_does_not_resurrect(alpha, stripe_stub):
    """Canceled is final in Stripe; ties of one second apply in arrival order,
    so an `updated` (active) of the same second arriving after `deleted`
    brings the subscription back to life."""
    subscription = on_stripe(stripe_stub, alpha)
    now = int(time.time()) + 5
    stripe_stub.send_event(
        "customer.subscription.deleted", {**subscription, "status": "canceled"}, created=now
    )
    stripe_stub.send_event(
        "customer.subscription.updated",
        {**subscription, "status": "active", "cancel_at_period_end": True},
        created=now,
    )
    assert Subscription.objects.get(institution=alpha).status == "canceled"
    alpha.refresh_from_db()
    assert alpha.status == "suspended"


def test_an_invoice_of_a_replaced_stripe_subscription_does_not_touch_the_current_one(
    alpha, stripe_stub
):
    """Subscription events check that they are about the subscription the row
    tracks; invoice events do not (found by the metadata's institution_id), so
    a failed invoice of the institution's old subscription makes its new,
    paid-up one past due (and read-only after the grace period)."""
    old = on_stripe(stripe_stub, alpha)
    stripe_stub.send_event("customer.subscription.deleted", {**old, "status": "canceled"})
    new = stripe_stub.subscription_create(
        customer=old["customer"],
        price_id="price_standard_month",
        params={"metadata": old["metadata"]},
    )
    stripe_stub.send_event("checkout.session.completed", upgrade_session(stripe_stub, alpha, new))
    row = Subscription.objects.get(institution=alpha)
    assert (row.stripe_subscription_id, row.status) == (new["id"], "active")

    failed = stripe_stub.send_event(
        "invoice.payment_failed",
        stripe_stub.invoice_paid_object(old),  # the old one's invoice
    )
    assert failed.json()["outcome"] == "ignored"
    row.refresh_from_db()
    alpha.refresh_from_db()
    assert (row.status, row.past_due_since, alpha.read_only_at) == ("active", None, None)


def test_a_resubscriptions_created_event_before_its_checkout_is_not_lost(alpha, stripe_stub):
    """After a cancellation the row still names the old Stripe subscription, so
    `customer.subscription.created` of the new one, arriving before
    `checkout.session.completed` (Stripe does not order them), is recorded
    IGNORED for good: its period end and cancellation flag are never applied."""
    old = on_stripe(stripe_stub, alpha, cancel_at_period_end=True)
    stripe_stub.send_event("customer.subscription.deleted", {**old, "status": "canceled"})
    new = stripe_stub.subscription_create(
        customer=old["customer"],
        price_id="price_standard_month",
        params={"metadata": old["metadata"]},
    )
    new["current_period_end"] = new["items"]["data"][0]["current_period_end"] = 2_000_000_000
    created = stripe_stub.send_event("customer.subscription.created", new)
    stripe_stub.send_event("checkout.session.completed", upgrade_session(stripe_stub, alpha, new))
    assert created.json()["outcome"] == "applied"
    row = Subscription.objects.get(institution=alpha)
    assert row.stripe_subscription_id == new["id"]
    assert row.current_period_end.timestamp() == 2_000_000_000
    assert row.cancel_at_period_end is False


def test_an_unpaid_signup_checkout_does_not_provision(db, stripe_stub):
    """`payment_status` is computed and then ignored for a sign-up: a session
    completed unpaid (delayed payment methods) provisions the institution, and
    its later `incomplete_expired` leaves it active for free."""
    standard = Plan.objects.get(code="standard")
    held = pending_institution("unpaid-signup", plan=standard, awaiting_payment=True)
    session = {
        "id": "cs_test_unpaid",
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "unpaid",
        "client_reference_id": str(held.pk),
        "customer": "cus_unpaid",
        "subscription": "sub_unpaid",
        "metadata": {"institution_id": str(held.pk), "plan": "standard", "purpose": "signup"},
    }
    stripe_stub.send_event("checkout.session.completed", session)
    held.refresh_from_db()
    assert Subscription.objects.get(institution=held).status == "incomplete"
    assert held.status == Institution.Status.AWAITING_PAYMENT


def test_a_second_upgrade_checkout_does_not_leave_two_live_stripe_subscriptions(alpha, stripe_stub):
    """Each POST opens a new Checkout session and leaves the earlier one open:
    an admin who pays in two tabs gets two Stripe subscriptions billing every
    month; the row follows the last one and nothing cancels the other."""
    admin = api_client(alpha, admin_of(alpha))
    urls = []
    for _ in range(2):
        response = admin.post(
            "/api/v1/institution/subscription/checkout/",
            json.dumps({"plan": "standard", "interval": "month"}),
            content_type="application/json",
        )
        if response.status_code == 200:
            urls.append(response.json()["url"])
    for url in urls:
        session = stripe_stub.sessions[url.rsplit("/", 1)[1]]
        if session["status"] == "open":
            stripe_stub.checkout_pay(session)
    live = [
        s
        for s in stripe_stub.subscriptions.values()
        if s["metadata"].get("institution_id") == str(alpha.pk) and s["status"] == "active"
    ]
    assert len(live) == 1
    assert Subscription.objects.get(institution=alpha).stripe_subscription_id == live[0]["id"]


# --- console actions and Stripe --------------------------------------------------------------


def test_console_delete_of_a_stripe_billed_institution_cancels_its_subscription(
    db, operator, stripe_stub, celery_eager, django_capture_on_commit_callbacks
):
    """Deleting drops the schema and the rows, but nothing tells Stripe: the
    customer keeps being charged every month for an institution that is gone."""
    doomed = make_institution("doomed-paid")
    subscription = on_stripe(stripe_stub, doomed)
    with django_capture_on_commit_callbacks(execute=True):
        done = act(operator, doomed, "delete", {"confirm_slug": "doomed-paid"})
    assert done.status_code == 302
    assert not Institution.objects.filter(slug="doomed-paid").exists()
    row = OperatorAction.objects.get(action=OperatorActionType.INSTITUTION_DELETE)
    if row.details.get("export_name"):
        default_storage.delete(row.details["export_name"])
    assert stripe_stub.subscriptions[subscription["id"]]["status"] == "canceled"


def test_console_delete_of_an_awaiting_payment_signup_closes_its_checkout(
    db, operator, stripe_stub, celery_eager, django_capture_on_commit_callbacks
):
    """The sign-up's own cancel page expires the Checkout session before it
    releases the address (61ffc6e); the console's delete does not, so the
    session stays payable and a payment for a deleted institution is ignored."""
    held, url = held_signup_with_checkout("held-paid")
    session_id = url.rsplit("/", 1)[1]
    with django_capture_on_commit_callbacks(execute=True):
        done = act(operator, held, "delete", {"confirm_slug": "held-paid"})
    assert done.status_code == 302
    assert not Institution.objects.filter(slug="held-paid").exists()
    assert stripe_stub.sessions[session_id]["status"] == "expired"


def test_console_delete_is_refused_when_stripe_cannot_cancel_the_subscription(
    db, operator, stripe_stub, settings, celery_eager, django_capture_on_commit_callbacks
):
    """Regression (fix of the test above): Stripe refusing the cancellation
    (here: our key revoked) leaves the institution and its data as they were."""
    kept = make_institution("kept-paid")
    subscription = on_stripe(stripe_stub, kept)
    settings.STRIPE_SECRET_KEY = "sk_test_revoked"
    with django_capture_on_commit_callbacks(execute=True):
        refused = act(operator, kept, "delete", {"confirm_slug": "kept-paid"})
    assert refused.status_code == 502
    errors = refused.context["action_forms"][-1]["errors"]
    assert [e["code"] for e in errors] == ["billing_provider_error"]
    assert "nothing was deleted" in errors[0]["message"]
    kept.refresh_from_db()
    assert kept.status == "active"
    assert not OperatorAction.objects.exists()
    assert stripe_stub.subscriptions[subscription["id"]]["status"] == "active"
    assert Subscription.objects.get(institution=kept).status == "active"


def test_console_delete_of_a_signup_whose_checkout_cannot_be_closed_is_refused(
    db, operator, stripe_stub
):
    """Regression: a session already completed (paid, its event not yet here)
    cannot be expired: the held address is not deleted under the payment."""
    held, url = held_signup_with_checkout("held-paying")
    stripe_stub.sessions[url.rsplit("/", 1)[1]]["status"] = "complete"
    refused = act(operator, held, "delete", {"confirm_slug": "held-paying"})
    assert refused.status_code == 409
    errors = refused.context["action_forms"][-1]["errors"]
    assert [e["code"] for e in errors] == ["checkout_not_closed"]
    assert Institution.objects.filter(slug="held-paying").exists()
    assert not OperatorAction.objects.exists()


def test_extending_the_trial_of_a_stripe_billed_past_due_subscription_reaches_stripe(
    alpha, operator, stripe_stub
):
    """The console's extend-trial rewrites the local mirror only (trialing,
    past_due_since cleared): Stripe keeps the subscription past due and keeps
    retrying the card, and its next event puts the mirror back, restarting
    the grace period from then. Either refuse it, or extend the trial in Stripe."""
    subscription = on_stripe(stripe_stub, alpha)
    stripe_stub.send_event("customer.subscription.updated", {**subscription, "status": "past_due"})
    before = Subscription.objects.get(institution=alpha)
    response = act(operator, alpha, "extend-trial", {"days": 14})
    after = Subscription.objects.get(institution=alpha)
    if after.status == before.status and after.trial_end == before.trial_end:
        return  # refused: nothing changed here or in Stripe
    stripe_trial_end = stripe_stub.subscriptions[subscription["id"]].get("trial_end")
    assert response.status_code in (200, 302)
    assert stripe_trial_end is not None
    assert int(after.trial_end.timestamp()) == int(stripe_trial_end)


def test_extending_the_trial_of_a_free_plan_does_not_make_it_expire(beta, operator):
    """extend-trial is offered for any subscription: on an active free plan
    it turns it into a trial, which housekeeping expires to past due and the
    grace period then makes read-only: a free institution locked by the
    operator's kindness."""
    free = Plan.objects.get(code="free")
    Institution.objects.filter(pk=beta.pk).update(plan=free)
    Subscription.objects.update_or_create(
        institution=beta, defaults={"plan": free, "status": SubscriptionStatus.ACTIVE}
    )
    act(operator, beta, "extend-trial", {"days": 1})
    # A day and more later (time simulated on the row), housekeeping runs.
    row = Subscription.objects.get(institution=beta)
    if row.trial_end is not None:
        Subscription.objects.filter(pk=row.pk).update(
            trial_end=row.trial_end.replace(year=row.trial_end.year - 1)
        )
    billing.subscriptions_housekeeping()
    beta.refresh_from_db()
    assert Subscription.objects.get(institution=beta).status == "active"
    assert beta.read_only_at is None


# --- metering: SSO sign-up through allauth's form ------------------------------------------


@pytest.fixture(scope="module")
def provider_with_a_mailless_person(request):
    """The test OpenID provider, with one person whose directory entry has no
    email address: allauth cannot sign them up automatically and shows its
    SSO sign-up form instead."""
    from . import test_sso_oidc

    test_sso_oidc.IDP_PEOPLE["nomail"] = {
        "email": "",
        "password": "nomail-idp-password",
        "first_name": "Noa",
        "last_name": "Mail",
        "affiliation": ["student"],
    }
    try:
        yield request.getfixturevalue("openid_provider")
    finally:
        test_sso_oidc.IDP_PEOPLE.pop("nomail")


def test_an_sso_signup_through_the_form_takes_one_seat(alpha, provider_with_a_mailless_person):
    """SocialAccountAdapter.save_user reserves a seat, then allauth's default
    save_user calls AccountAdapter.save_user(form) for the sign-up form, which
    reserves another: one new account, two seats gone until the nightly recount."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from shared_apps.plans.metering import usage_measure
    from shared_apps.plans.models import InstitutionUsage
    from tenant_apps.accounts.models import User

    from .conftest import host_client
    from .test_sso_oidc import Browser, _create_provider, _finish, _signed_in, _start

    with tenant_context(alpha):
        admin = User.objects.get(email="admin@alpha.test")
    created = _create_provider(
        _signed_in(alpha, admin, "alpha.localhost"), provider_with_a_mailless_person
    )
    assert created.status_code == 201, created.content
    connection.set_schema_to_public()
    usage_measure(institution=alpha)
    before = InstitutionUsage.objects.get(pk=alpha.pk).users

    client = host_client("alpha.localhost")
    answer = _finish(client, Browser().authorize(_start(client), "nomail"))
    assert answer.status_code == 302 and answer["Location"].endswith("/3rdparty/signup/")
    signed_up = client.post(
        answer["Location"],
        {"email": "noa@alpha.test", "first_name": "Noa", "last_name": "Mail"},
    )
    assert signed_up.status_code == 302, signed_up.content
    with tenant_context(alpha):
        assert User.objects.filter(email="noa@alpha.test").count() == 1
    connection.set_schema_to_public()
    assert InstitutionUsage.objects.get(pk=alpha.pk).users == before + 1
