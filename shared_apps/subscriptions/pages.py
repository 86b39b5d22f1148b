"""The institution admin's billing page on the institution's own host,
/billing/: the plan, its limits and what is used of them, the billing state,
and the two ways to pay: Stripe Checkout to move to a paid plan, Stripe's
customer portal for cards, invoices and cancellation (the API's
/api/v1/institution/subscription/ offers the same).

Who may use it: an active admin of this institution (others: 403; signed out:
sign in first). It stays writable while the institution is read-only, so that
its admin can pay; the past-due banner links here.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from conceptspro.api import ApplicationError
from shared_apps.plans.models import Interval
from tenant_apps.accounts.api import is_institution_admin

from . import selectors, services
from .models import SubscriptionStatus


def _require_admin(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not is_institution_admin(request.user):
        raise PermissionDenied("Only the institution's administrators manage its subscription.")
    return None


def _absolute(request, query: str = "") -> str:
    return request.build_absolute_uri(reverse("billing") + query)


def _page(request, *, error: ApplicationError | None = None):
    overview = selectors.subscription_overview(institution_id=connection.tenant.pk)
    rows = [
        (label, overview.usage.get(kind), overview.limits.get(kind), kind == "storage_bytes")
        for kind, label in (
            ("users", "People"),
            ("courses", "Courses"),
            ("storage_bytes", "Storage"),
        )
    ]
    context = {
        "overview": overview,
        "status_label": SubscriptionStatus(overview.status).label,
        "usage_rows": rows,
        "plans": selectors.plans_for_sale(),
        "intervals": Interval.choices,
        "outcome": request.GET.get("checkout", ""),
        "error": error,
    }
    return render(
        request, "subscriptions/billing.html", context, status=error.status if error else 200
    )


@never_cache
@require_GET
def billing(request):
    if (refusal := _require_admin(request)) is not None:
        return refusal
    return _page(request)


@require_POST
def billing_checkout(request):
    """Move to the chosen plan: Checkout's page, or (a subscription Stripe
    already bills) the new price at once."""
    if (refusal := _require_admin(request)) is not None:
        return refusal
    plan = selectors.plan_for_sale(request.POST.get("plan", ""))
    interval = request.POST.get("interval", Interval.MONTH)
    if plan is None or interval not in Interval.values:
        error = ApplicationError("Choose one of the plans below.", code="invalid")
        return _page(request, error=error)
    try:
        url = services.checkout_start_upgrade(
            institution=selectors.institution_current(),
            plan=plan,
            interval=interval,
            success_url=_absolute(request, "?checkout=success"),
            cancel_url=_absolute(request, "?checkout=canceled"),
            customer_email=request.user.email,
        )
    except ApplicationError as error:
        return _page(request, error=error)
    return redirect(url or reverse("billing") + "?checkout=changed")


@require_POST
def billing_portal(request):
    """Stripe's customer portal: cards, invoices, cancellation."""
    if (refusal := _require_admin(request)) is not None:
        return refusal
    try:
        url = services.portal_session_create(
            institution=selectors.institution_current(), return_url=_absolute(request)
        )
    except ApplicationError as error:
        return _page(request, error=error)
    return redirect(url)
