"""Writes of self-serve sign-up: record the institution (and, on a paid plan,
send its admin to Checkout), and release an address whose payment was cancelled."""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from conceptspro.api import ApplicationError
from provisioning.services import institution_create
from shared_apps.institutions.models import Institution
from shared_apps.plans.models import Plan
from shared_apps.subscriptions.services import checkout_signup_abandon, checkout_start_signup

from .selectors import signup_token


@dataclass(frozen=True)
class SignupStarted:
    institution: Institution
    token: str
    # Where the browser goes next: the progress page, or Stripe's Checkout.
    next_url: str


def signup_start(
    *,
    name: str,
    slug: str,
    admin_email: str,
    admin_password: str,
    admin_first_name: str,
    admin_last_name: str,
    plan: Plan,
    interval: str,
    site_url: str,
) -> SignupStarted:
    """A free or trial plan is provisioned at once; a paid plan holds the address
    (awaiting payment) until Checkout completes.

    `site_url` is the bare domain as the browser reached it ("https://example.com"),
    for the addresses Checkout sends the browser back to.
    Raises ValidationError by field (institution_create's), or ApplicationError
    when Checkout cannot start (billing off, no Stripe price, Stripe failing);
    nothing is kept then.
    """
    institution = institution_create(
        name=name,
        slug=slug,
        admin_email=admin_email,
        admin_password=admin_password,
        admin_first_name=admin_first_name,
        admin_last_name=admin_last_name,
        plan=plan,
        interval=interval,
        awaiting_payment=plan.needs_payment_at_signup,
    )
    token = signup_token(institution)
    progress_url = site_url + _public_path("signup-progress", token)
    if not plan.needs_payment_at_signup:
        return SignupStarted(institution=institution, token=token, next_url=progress_url)
    try:
        checkout_url = checkout_start_signup(
            institution=institution,
            plan=plan,
            interval=interval,
            success_url=progress_url,
            cancel_url=site_url + _public_path("signup-cancelled", token),
        )
    except ApplicationError:
        # No Checkout, no payment to wait for: the address must not stay held.
        signup_release(institution_id=institution.pk)
        raise
    return SignupStarted(institution=institution, token=token, next_url=checkout_url)


def _public_path(name: str, token: str) -> str:
    return reverse(name, args=[token], urlconf=settings.PUBLIC_SCHEMA_URLCONF)


@transaction.atomic
def signup_release(*, institution_id) -> bool:
    """Frees the address a paid sign-up held when its payment did not happen.

    A no-op (False) once the payment arrived: the row is locked, and
    `institution_payment_received` moves it on only from awaiting payment.
    """
    institution = (
        Institution.objects.select_for_update()
        .filter(pk=institution_id, status=Institution.Status.AWAITING_PAYMENT)
        .first()
    )
    if institution is None or not checkout_signup_abandon(institution=institution):
        return False
    # Nothing was provisioned: no schema, no domain; the subscription and the
    # provisioning job go with the row.
    institution.delete()
    return True
