"""Reads of the public site: the plans on sale, whether an address is free,
and the institution a sign-up's signed token names."""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_tenants.utils import schema_exists

from shared_apps.institutions.models import (
    Institution,
    schema_name_for_slug,
    validate_institution_slug,
)
from shared_apps.plans.models import Interval, Plan

# A sign-up's progress (and its cancel link) is reached with this token only:
# it names one institution and cannot be forged or reused for another.
TOKEN_SALT = "conceptspro.signup.progress"  # noqa: S105 -- a namespace, not a secret
TOKEN_MAX_AGE_SECONDS = 24 * 3600


def plans_public() -> QuerySet[Plan]:
    return Plan.objects.filter(is_public=True).order_by("sort_order", "code")


def plan_purchasable(plan: Plan, interval: str = Interval.MONTH) -> bool:
    """Free and trial plans always are; a paid plan only with billing on and a
    Stripe price for the interval."""
    if not plan.needs_payment_at_signup:
        return True
    return settings.BILLING_ENABLED and bool(plan.stripe_price(interval))


def plan_intervals(plan: Plan) -> list[str]:
    """The billing intervals a plan is sold by."""
    return [Interval.MONTH, Interval.YEAR] if plan.price_yearly_cents else [Interval.MONTH]


@dataclass(frozen=True)
class SlugAvailability:
    slug: str
    available: bool
    code: str
    message: str


def slug_availability(raw_slug: str) -> SlugAvailability:
    """The rules `institution_create` applies to an address, for the live check."""
    slug = raw_slug.strip().lower()
    try:
        validate_institution_slug(slug)
    except ValidationError as exc:
        return SlugAvailability(slug, False, exc.code or "invalid", exc.messages[0])
    schema_name = schema_name_for_slug(slug)
    if Institution.objects.filter(schema_name=schema_name).exists() or schema_exists(schema_name):
        return SlugAvailability(slug, False, "taken", "This address is taken.")
    host = f"{slug}.{settings.BASE_DOMAIN}"
    return SlugAvailability(slug, True, "available", f"{host} is available.")


def signup_token(institution: Institution) -> str:
    return signing.dumps(str(institution.pk), salt=TOKEN_SALT)


def institution_id_for_token(token: str) -> str | None:
    """The institution id a token was issued for; None when forged or expired."""
    try:
        return signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one
        return None


def institution_for_token(token: str) -> Institution | None:
    institution_id = institution_id_for_token(token)
    if institution_id is None:
        return None
    return (
        Institution.objects.select_related("plan", "provisioning_job", "subscription")
        .filter(pk=institution_id)
        .first()
    )
