"""The public site on the bare domain: landing, pricing, the sign-up form with
its live address check, and a sign-up's progress until the institution is open.

Who may call them: anyone, signed in or not; they exist on the bare domain only
(an institution's subdomain answers 404). A sign-up's progress, status and
cancel pages answer only to the signed token the sign-up handed out, so nobody
can read or release another institution's sign-up.
"""

import time

from allauth.core.internal.httpkit import get_client_ip
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from conceptspro.api import ApplicationError, error_json_response
from conceptspro.tenancy import request_port
from provisioning.services import STEPS
from shared_apps.institutions.models import Institution
from shared_apps.plans.models import Feature, Interval

from .forms import SignupForm
from .selectors import (
    institution_for_token,
    institution_id_for_token,
    plan_purchasable,
    plans_public,
    slug_availability,
)
from .services import signup_release, signup_start

# (requests, seconds) per client address. Sign-ups create institutions, so few;
# the address check runs as someone types, so more.
SIGNUP_RATE = (10, 3600)
SLUG_CHECK_RATE = (60, 60)

STEP_LABELS = {
    "schema": "Creating your institution's database",
    "domain": "Setting up its address",
    "admin": "Creating your administrator account",
    "settings": "Applying the default settings",
    "activate": "Opening your institution",
}


def _rate_consume(request, scope: str, rate: tuple[int, int]) -> tuple[str, int]:
    """Counts this request in the client address's fixed window. Returns the
    counter's key and, when over the limit, the seconds until the window ends
    (else 0)."""
    limit, window = rate
    now = int(time.time())
    window_start = now - now % window
    key = f"signup:rate:{scope}:{get_client_ip(request)}:{window_start}"
    cache.add(key, 0, timeout=window)
    if cache.incr(key) <= limit:
        return key, 0
    return key, window_start + window - now


def _site_context(request) -> dict:
    """What base.html needs to link back to the bare domain."""
    return {"base_domain": settings.BASE_DOMAIN, "port": request_port(request)}


@require_GET
def landing(request):
    return render(request, "public/landing.html", _site_context(request))


@require_GET
def pricing(request):
    offers = []
    for plan in plans_public():
        yearly = plan.needs_payment_at_signup and plan.price_yearly_cents
        offers.append(
            {
                "plan": plan,
                "price": plan.price_text(),
                "price_yearly": plan.price_text(Interval.YEAR) if yearly else "",
                "features": [(label, plan.has_feature(value)) for value, label in Feature.choices],
                "purchasable": plan_purchasable(plan)
                or bool(yearly and plan_purchasable(plan, Interval.YEAR)),
            }
        )
    return render(request, "public/pricing.html", {**_site_context(request), "offers": offers})


def _signup_page(request, form: SignupForm, *, status: int = 200, **extra):
    context = {
        **_site_context(request),
        "form": form,
        "check_url": reverse("signup-check"),
        **extra,
    }
    return render(request, "signup/signup.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def signup(request):
    if request.method == "GET":
        initial = {"plan": request.GET.get("plan"), "interval": request.GET.get("interval")}
        return _signup_page(request, SignupForm(initial={k: v for k, v in initial.items() if v}))
    form = SignupForm(request.POST)
    if not form.is_valid():
        return _signup_page(request, form)
    rate_key, retry_after = _rate_consume(request, "signup", SIGNUP_RATE)
    if retry_after:
        minutes = -(-retry_after // 60)
        form.add_error(
            None,
            ValidationError(
                f"Too many sign-ups from your network. Try again in {minutes} minutes.",
                code="rate_limited",
            ),
        )
        response = _signup_page(request, form, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    data = form.cleaned_data
    try:
        started = signup_start(
            name=data["name"],
            slug=data["slug"],
            admin_email=data["admin_email"],
            admin_password=data["password"],
            admin_first_name=data["admin_first_name"],
            admin_last_name=data["admin_last_name"],
            plan=data["plan"],
            interval=data["interval"],
            site_url=f"{request.scheme}://{request.get_host()}",
        )
    except ValidationError as exc:
        # Only institutions created count against the allowance.
        cache.decr(rate_key)
        form.add_service_errors(exc)
        return _signup_page(request, form)
    except ApplicationError as exc:
        # Checkout could not start; the held address was released.
        cache.decr(rate_key)
        form.add_error(None, ValidationError(exc.message, code=exc.code))
        return _signup_page(request, form, status=exc.status)
    return HttpResponseRedirect(started.next_url)


@never_cache
@require_GET
def slug_check(request):
    """Whether an address is free, by the rules sign-up applies: JSON
    {"slug", "available", "code", "message"}; 429 when asked too often."""
    _, retry_after = _rate_consume(request, "slug-check", SLUG_CHECK_RATE)
    if retry_after:
        response = error_json_response(
            status_code=429,
            code="rate_limited",
            message=f"Too many checks. Try again in {retry_after} seconds.",
        )
        response["Retry-After"] = str(retry_after)
        return response
    result = slug_availability(request.GET.get("slug", ""))
    return JsonResponse(
        {
            "slug": result.slug,
            "available": result.available,
            "code": result.code,
            "message": result.message,
        }
    )


def _progress(request, institution: Institution) -> dict:
    """Where a sign-up stands, for the page and its JSON."""
    job = getattr(institution, "provisioning_job", None)
    done = set(job.steps_done if job else [])
    status = institution.status
    Status = Institution.Status
    next_url = ""
    if status == Status.ACTIVE:
        domain = institution.domains.filter(is_primary=True).values_list("domain", flat=True)
        next_url = f"{request.scheme}://{domain.first()}{request_port(request)}"
        next_url += "/accounts/login/"
    email = job.admin_email if job else ""
    messages = {
        Status.AWAITING_PAYMENT: "Waiting for Stripe to confirm your payment.",
        Status.PENDING: "Your institution is in the queue: setting it up starts in a moment.",
        Status.PROVISIONING: f"Setting up {institution.name}.",
        Status.ACTIVE: f"{institution.name} is ready. Sign in with {email} "
        "and the password you chose.",
        Status.FAILED: f"Setting up {institution.name} did not finish. Our team sees every "
        "set-up that fails and finishes it; you do not need to sign up again. "
        "This page updates by itself.",
        Status.SUSPENDED: f"{institution.name} is suspended. Contact us for details.",
    }
    return {
        "status": status,
        "message": messages[status],
        "steps": [
            {"name": name, "label": STEP_LABELS.get(name, name), "done": name in done}
            for name, _ in STEPS
        ],
        "steps_done": [name for name, _ in STEPS if name in done],
        "steps_total": len(STEPS),
        "next_url": next_url,
        "email": email,
    }


def _institution_for_token_or_404(token: str) -> Institution:
    institution = institution_for_token(token)
    if institution is None:
        raise Http404("No such sign-up.")
    return institution


@never_cache
@require_GET
def progress(request, token: str):
    """The sign-up's progress page: polls its status (or reloads itself
    without JavaScript) and sends the admin to sign in once it is open."""
    institution = _institution_for_token_or_404(token)
    context = {
        **_site_context(request),
        "institution": institution,
        "progress": _progress(request, institution),
        "status_url": reverse("signup-progress-status", args=[token]),
    }
    return render(request, "signup/progress.html", context)


@never_cache
@require_GET
def progress_status(request, token: str):
    """JSON: status, message, steps_done, steps_total and next_url (the
    institution's sign-in page once it is active, else empty)."""
    institution = institution_for_token(token)
    if institution is None:
        return error_json_response(status_code=404, code="not_found", message="No such sign-up.")
    state = _progress(request, institution)
    return JsonResponse(
        {key: state[key] for key in ("status", "message", "steps_done", "steps_total", "next_url")}
    )


@never_cache
@require_GET
def cancelled(request, token: str):
    """Checkout's cancel address: the held address is released and the form
    comes back filled in (without the password), saying payment was cancelled."""
    institution_id = institution_id_for_token(token)
    if institution_id is None:
        raise Http404("No such sign-up.")
    institution = institution_for_token(token)
    initial = {}
    if institution is not None:
        job = getattr(institution, "provisioning_job", None)
        subscription = getattr(institution, "subscription", None)
        initial = {
            "name": institution.name,
            "slug": institution.slug,
            "admin_email": job.admin_email if job else "",
            "admin_first_name": job.admin_first_name if job else "",
            "admin_last_name": job.admin_last_name if job else "",
            "plan": institution.plan.code if institution.plan else None,
            "interval": subscription.interval if subscription else Interval.MONTH,
        }
        if not signup_release(institution_id=institution.pk):
            # Paid after all (or never waiting for payment): follow it.
            return redirect("signup-progress", token=token)
    return _signup_page(request, SignupForm(initial=initial), payment_cancelled=True)
