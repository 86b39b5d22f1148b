"""Security review of issue 6 (billing, plan limits, signup, console): each
test shows one defect found in review and fails until it is fixed.

- A late (retried) `checkout.session.completed` revives a canceled
  subscription and lifts the billing suspension.
- A Checkout that completed without payment (`payment_status: unpaid`)
  provisions a paid sign-up.
- A user deleted by two requests at once frees two seats, so the plan's
  limit can be overshot afterwards.
"""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django_tenants.utils import tenant_context

from shared_apps.institutions.models import Institution, SuspensionCause
from shared_apps.plans.metering import usage_measure
from shared_apps.plans.models import InstitutionUsage, Plan
from shared_apps.subscriptions.models import Subscription
from tenant_apps.accounts.models import User

from .api_helpers import admin_of, api_client, member
from .conftest import make_institution, pending_institution

pytest_plugins = ["tests.peers.stripe_stub"]  # the `stripe_stub` fixture

WEBHOOK = "/billing/stripe/webhook/"


@pytest.fixture
def standard(db) -> Plan:
    return Plan.objects.get(code="standard")


def _linked_to_stripe(stub, institution, *, created: int) -> dict:
    """`institution` with a Stripe customer and subscription on the standard
    plan, as Stripe's `customer.subscription.created` leaves it."""
    customer = stub.new_id("cus")
    metadata = {"institution_id": str(institution.pk), "plan": "standard", "purpose": "upgrade"}
    subscription = stub.subscription_create(
        customer=customer, price_id="price_standard_month", params={"metadata": metadata}
    )
    response = stub.send_event("customer.subscription.created", subscription, created=created)
    assert response.json()["outcome"] == "applied", response.content
    return subscription


def _checkout_session(institution, subscription: dict, *, purpose: str, payment_status: str):
    return {
        "id": f"cs_test_review_{purpose}_{institution.slug}",
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": payment_status,
        "client_reference_id": str(institution.pk),
        "customer": subscription["customer"],
        "subscription": subscription["id"],
        "metadata": {
            "institution_id": str(institution.pk),
            "plan": "standard",
            "interval": "month",
            "purpose": purpose,
        },
    }


# --- out of order ---------------------------------------------------------------------


def test_a_late_checkout_completed_does_not_revive_a_canceled_subscription(
    alpha, stripe_stub, django_capture_on_commit_callbacks
):
    """Stripe retries a delivery that failed for up to three days and never
    promises order. An upgrade's `checkout.session.completed` (created before
    the customer canceled) arriving after `customer.subscription.deleted`
    sets the subscription back to active and lifts the billing suspension:
    the institution is open again for free. It is older than the state it
    would overwrite, so it must not change the status."""
    now = int(time.time())
    subscription = _linked_to_stripe(stripe_stub, alpha, created=now - 120)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = stripe_stub.send_event(
            "customer.subscription.deleted",
            {**subscription, "status": "canceled"},
            created=now - 60,
        )
    assert deleted.json()["outcome"] == "applied"
    alpha.refresh_from_db()
    assert (alpha.status, alpha.suspension_cause) == ("suspended", SuspensionCause.BILLING)

    with django_capture_on_commit_callbacks(execute=True):
        late = stripe_stub.send_event(
            "checkout.session.completed",
            _checkout_session(alpha, subscription, purpose="upgrade", payment_status="paid"),
            created=now - 120,
        )
    assert late.status_code == 200

    assert Subscription.objects.get(institution=alpha).status == "canceled"
    alpha.refresh_from_db()
    assert (alpha.status, alpha.suspension_cause) == ("suspended", SuspensionCause.BILLING)


# --- paid sign-up without payment -----------------------------------------------------


def test_a_checkout_completed_without_payment_does_not_provision_a_paid_signup(
    stripe_stub, standard
):
    """With a delayed payment method (a bank debit) Checkout completes with
    `payment_status: unpaid`; the money may never arrive. The held address
    must wait for the payment (invoice.paid / async_payment_succeeded), not
    start provisioning a paid institution at once (which then stays active:
    `incomplete_expired` does nothing to an institution past awaiting_payment)."""
    held = pending_institution("review-unpaid", plan=standard, awaiting_payment=True)
    subscription = {"id": "sub_review_unpaid", "customer": "cus_review_unpaid"}
    response = stripe_stub.send_event(
        "checkout.session.completed",
        _checkout_session(held, subscription, purpose="signup", payment_status="unpaid"),
    )
    assert response.status_code == 200
    held.refresh_from_db()
    assert held.status == Institution.Status.AWAITING_PAYMENT
    assert Subscription.objects.get(institution=held).status == "incomplete"


# --- seats ----------------------------------------------------------------------------


def _users_counted(institution) -> int:
    return InstitutionUsage.objects.get(pk=institution.pk).users


def _backends_waiting_for_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def _until_waiting(count: int) -> None:
    """Until `count` other connections wait for a row lock (a condition, not a
    duration: the bound only stops a broken test from hanging)."""
    deadline = time.monotonic() + 30
    while _backends_waiting_for_locks() < count:
        assert time.monotonic() < deadline, "the requests never reached the locks"
        time.sleep(0.02)


@pytest.fixture
def gamma(committed_db):
    """A provisioned institution whose rows are committed (for threads)."""
    return make_institution("reviewseats")


def test_a_user_deleted_by_two_requests_at_once_frees_one_seat_only(gamma):
    """`user_soft_delete` decides whether to free a seat from the row the view
    read without a lock. Two DELETEs of one user that both read it before
    either commits each see it alive, each mark it deleted and each release a
    seat: the counter ends one below the truth, so the next creation passes
    a full plan. The interleaving is forced with a row lock held elsewhere on
    the usage row: the first request waits there (after marking the user),
    the second has read the user and waits for the first one's row."""
    student = member(gamma, "twice@reviewseats.test")
    usage_measure(institution=gamma)
    connection.set_schema_to_public()
    before = _users_counted(gamma)
    path = f"/api/v1/users/{student.pk}/"
    admin = admin_of(gamma)
    first, second = api_client(gamma, admin), api_client(gamma, admin)

    held, release = threading.Event(), threading.Event()
    results = {}

    def hold_usage_row():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM public.plans_institutionusage"
                    " WHERE institution_id = %s FOR UPDATE",
                    [gamma.pk],
                )
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    def delete(name, client):
        try:
            results[name] = client.delete(path).status_code
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_usage_row)
    holder.start()
    assert held.wait(10)
    requests = [threading.Thread(target=delete, args=("first", first))]
    requests[0].start()
    _until_waiting(1)  # the first has marked the user and waits for the usage row
    requests.append(threading.Thread(target=delete, args=("second", second)))
    requests[1].start()
    _until_waiting(2)  # the second has read the user alive and waits for its row
    release.set()
    holder.join(30)
    for thread in requests:
        thread.join(30)

    assert results == {"first": 204, "second": 204}
    with tenant_context(gamma):
        live = User.objects.filter(is_active=True, deleted_at__isnull=True).count()
    connection.set_schema_to_public()
    assert live == before - 1
    assert _users_counted(gamma) == live
