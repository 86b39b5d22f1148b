"""Self-serve sign-up on the bare domain, through HTTP: the landing and pricing
pages, the form's errors field by field, the live address check, the rate
limits, a free sign-up provisioned through the queue up to its admin signing
in, the progress page and its token, and a provisioning failure as shown."""

import re
import time
import urllib.error
import urllib.request

import pytest
from django.core import signing
from django.db import ProgrammingError, connection

from shared_apps.institutions.models import Institution
from shared_apps.plans.models import Plan
from shared_apps.signup.selectors import TOKEN_SALT, institution_id_for_token, signup_token
from shared_apps.subscriptions.models import SubscriptionStatus
from shared_apps.subscriptions.services import AWAITING_PAYMENT_HOLD

from .conftest import PASSWORD, host_client
from .test_browser_auth import assert_accessible_form, error_summary, signed_in_user

pytest_plugins = ["tests.peers.stripe_stub"]  # the `stripe_stub` fixture

SIGNUP = "/signup/"
CHECK = "/signup/check/"


def signup_data(slug="newu", **overrides) -> dict:
    return {
        "name": "New University",
        "slug": slug,
        "admin_first_name": "Ada",
        "admin_last_name": "Lovelace",
        "admin_email": "ada@newu.test",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "plan": "free",
        "interval": "month",
        **overrides,
    }


def form_error_codes(response) -> dict[str, list[str]]:
    """The form's errors as {field: [code, ...]} (non-field errors under __all__)."""
    return {
        field: [error.code for error in errors]
        for field, errors in response.context["form"].errors.as_data().items()
    }


def progress_path(response) -> str:
    assert response.status_code == 302, response.content[:2000]
    match = re.fullmatch(r"https?://[^/]+(/signup/progress/[^/]+/)", response["Location"])
    assert match, response["Location"]
    return match.group(1)


# --- the public pages -------------------------------------------------------------


def test_landing_page_invites_to_sign_up_and_to_the_prices(db, public_client):
    response = public_client.get("/")
    assert response.status_code == 200
    assert b'href="/signup/"' in response.content
    assert b'href="/pricing/"' in response.content
    assert b"Sign-up opens soon" not in response.content


def test_pricing_lists_the_public_plans_in_order_with_prices_limits_and_features(db, public_client):
    Plan.objects.create(code="secret", name="Secret deal", is_public=False, sort_order=1)
    response = public_client.get("/pricing/")
    assert response.status_code == 200
    page = response.content.decode()
    names = re.findall(r'<h2 id="plan-([a-z0-9-]+)">', page)
    assert names == ["free", "trial", "standard"]  # by sort_order; "secret" is not public
    assert "499.00 USD per month" in page and "4,990.00 USD per year" in page
    assert "Free for 30 days" in page and "30-day trial, no card needed" in page
    assert "Up to 50 users" in page and "Up to 5 courses" in page and "1.0\xa0GB of storage" in page
    assert "Included: </span>Single sign-on" in page  # standard's SSO
    assert "Not included: </span>Single sign-on" in page  # free's


def test_pricing_offers_free_plans_and_says_contact_us_for_paid_ones_without_billing(
    db, public_client, settings
):
    settings.BILLING_ENABLED = False
    page = public_client.get("/pricing/").content.decode()
    assert 'href="/signup/?plan=free"' in page and 'href="/signup/?plan=trial"' in page
    assert 'href="/signup/?plan=standard"' not in page
    assert "Contact us to subscribe" in page


def test_paid_plan_without_a_stripe_price_is_not_sold_even_with_billing_on(
    db, public_client, settings
):
    settings.BILLING_ENABLED = True
    Plan.objects.filter(code="standard").update(stripe_price_monthly="", stripe_price_yearly="")
    assert 'href="/signup/?plan=standard"' not in public_client.get("/pricing/").content.decode()
    Plan.objects.filter(code="standard").update(stripe_price_monthly="price_standard_month")
    assert 'href="/signup/?plan=standard"' in public_client.get("/pricing/").content.decode()


@pytest.mark.parametrize("path", ["/pricing/", SIGNUP, f"{CHECK}?slug=newu"])
def test_the_public_site_is_not_served_on_an_institution_subdomain(alpha_client, path):
    assert alpha_client.get(path).status_code == 404


def test_signup_form_is_labelled_and_preselects_the_plan_asked_for(db, public_client):
    response = public_client.get(f"{SIGNUP}?plan=trial")
    assert response.status_code == 200
    page = assert_accessible_form(response)
    names = {control["name"] for control in page.controls}
    assert names == {
        "name",
        "slug",
        "admin_first_name",
        "admin_last_name",
        "admin_email",
        "password",
        "password_confirm",
        "plan",
        "interval",
    }
    [trial] = [c for c in page.controls if c["name"] == "plan" and c["value"] == "trial"]
    assert "checked" in trial
    assert b'data-slug-check="/signup/check/"' in response.content


# --- the form's errors ----------------------------------------------------------------


def test_an_empty_form_names_every_required_field_and_stores_nothing(db, public_client):
    before = Institution.objects.count()
    response = public_client.post(SIGNUP, {})
    assert response.status_code == 200
    errors = form_error_codes(response)
    required = {
        "name",
        "slug",
        "admin_first_name",
        "admin_last_name",
        "admin_email",
        "password",
        "password_confirm",
        "plan",
    }
    assert {field for field, codes in errors.items() if "required" in codes} == required
    assert 'role="alert"' in error_summary(response)
    assert_accessible_form(response)
    assert Institution.objects.count() == before


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"slug": "alpha"}, "slug", "taken"),
        ({"slug": "ALPHA"}, "slug", "taken"),
        ({"slug": "admin"}, "slug", "reserved"),
        ({"slug": "pg-things"}, "slug", "reserved"),
        ({"slug": "new_u"}, "slug", "invalid"),
        ({"slug": "x"}, "slug", "too_short"),
        ({"slug": "a" * 41}, "slug", "max_length"),
        ({"admin_email": "not-an-address"}, "admin_email", "invalid"),
        ({"password": "short", "password_confirm": "short"}, "password", "password_too_short"),
        (
            {"password": "password123", "password_confirm": "password123"},
            "password",
            "password_too_common",
        ),
        ({"password_confirm": "something-else-entirely"}, "password_confirm", "password_mismatch"),
        ({"plan": "no-such-plan"}, "plan", "invalid_choice"),
        ({"plan": "standard", "interval": "week"}, "interval", "invalid_choice"),
    ],
)
def test_each_bad_field_gets_its_own_error_and_nothing_is_stored(
    db, public_client, overrides, field, code
):
    before = Institution.objects.count()
    response = public_client.post(SIGNUP, signup_data(**overrides))
    assert response.status_code == 200
    errors = form_error_codes(response)
    assert code in errors.get(field, []), errors
    assert f'href="#id_{field}' in error_summary(response)  # the summary links to the field
    assert Institution.objects.count() == before
    # What was typed comes back, except the passwords.
    body = response.content.decode()
    assert 'value="New University"' in body and PASSWORD not in body


def test_a_paid_plan_is_refused_while_billing_is_off(db, public_client, settings):
    settings.BILLING_ENABLED = False
    response = public_client.post(SIGNUP, signup_data(plan="standard"))
    assert form_error_codes(response) == {"plan": ["not_purchasable"]}
    assert "contact us" in error_summary(response)
    assert not Institution.objects.filter(slug="newu").exists()


def test_a_plan_sold_by_the_month_only_refuses_the_year(db, public_client, settings):
    settings.BILLING_ENABLED = True
    Plan.objects.filter(code="standard").update(
        price_yearly_cents=None, stripe_price_monthly="price_standard_month"
    )
    response = public_client.post(SIGNUP, signup_data(plan="standard", interval="year"))
    assert form_error_codes(response) == {"interval": ["invalid"]}


def test_a_plan_that_is_not_public_cannot_be_signed_up_for(db, public_client):
    Plan.objects.create(code="secret", name="Secret deal", is_public=False)
    response = public_client.post(SIGNUP, signup_data(plan="secret"))
    assert form_error_codes(response) == {"plan": ["invalid_choice"]}


# --- the address check ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "available", "code", "answered_slug"),
    [
        ("newu", True, "available", "newu"),
        (" NewU ", True, "available", "newu"),
        ("alpha", False, "taken", "alpha"),
        ("admin", False, "reserved", "admin"),
        ("new_u", False, "invalid", "new_u"),
        ("-newu", False, "invalid", "-newu"),
        ("x", False, "too_short", "x"),
        ("", False, "too_short", ""),
    ],
)
def test_slug_check_answers_by_the_rules_of_creation(
    db, public_client, slug, available, code, answered_slug
):
    response = public_client.get(CHECK, {"slug": slug})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"slug", "available", "code", "message"}
    assert (body["slug"], body["available"], body["code"]) == (answered_slug, available, code)
    assert body["message"]
    assert "no-store" in response["Cache-Control"]


def test_slug_check_sees_an_address_held_for_payment_as_taken(db, public_client):
    from .conftest import pending_institution

    pending_institution("heldu", awaiting_payment=True)
    assert public_client.get(CHECK, {"slug": "heldu"}).json()["code"] == "taken"


def test_slug_check_is_rate_limited_per_client_address(db, public_client):
    for _ in range(60):
        assert public_client.get(CHECK, {"slug": "newu"}).status_code == 200
    refused = public_client.get(CHECK, {"slug": "newu"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused["Retry-After"]) <= 60
    # Another client address has its own allowance.
    other = host_client("localhost", REMOTE_ADDR="10.1.2.3")
    assert other.get(CHECK, {"slug": "newu"}).status_code == 200


def test_signups_are_rate_limited_per_client_address(db, public_client):
    for index in range(10):
        response = public_client.post(SIGNUP, signup_data(f"many-{index}"))
        assert response.status_code == 302
    refused = public_client.post(SIGNUP, signup_data("many-10"))
    assert refused.status_code == 429
    assert form_error_codes(refused) == {"__all__": ["rate_limited"]}
    assert "Too many sign-ups" in error_summary(refused)
    assert int(refused["Retry-After"]) > 0
    assert not Institution.objects.filter(slug="many-10").exists()


def test_refused_forms_do_not_use_up_the_signup_allowance(db, public_client):
    for _ in range(12):
        public_client.post(SIGNUP, signup_data("alpha"))  # taken: refused by the service
        public_client.post(SIGNUP, signup_data(password_confirm="different-words-here"))
    assert public_client.post(SIGNUP, signup_data()).status_code == 302


# --- a free sign-up ----------------------------------------------------------------------


def test_free_signup_records_a_pending_institution_and_shows_its_progress(db, public_client):
    response = public_client.post(SIGNUP, signup_data(plan="trial"))
    path = progress_path(response)
    assert response["Location"].startswith("http://localhost/")

    institution = Institution.objects.get(slug="newu")
    assert institution.status == Institution.Status.PENDING
    assert institution.name == "New University" and institution.plan.code == "trial"
    assert institution.subscription.status == SubscriptionStatus.TRIALING
    job = institution.provisioning_job
    assert (job.admin_email, job.admin_first_name, job.admin_last_name) == (
        "ada@newu.test",
        "Ada",
        "Lovelace",
    )
    assert job.admin_password_hash and PASSWORD not in job.admin_password_hash

    page = public_client.get(path)
    assert page.status_code == 200
    assert b"Setting up New University" in page.content
    assert b"ada@newu.test" in page.content
    assert b'<meta http-equiv="refresh" content="3">' in page.content  # works without JS
    assert re.search(rb'<a class="button" id="progress-next" href="#" hidden>', page.content)
    status = public_client.get(path + "status/").json()
    assert status == {
        "status": "pending",
        "message": status["message"],
        "steps_done": [],
        "steps_total": 5,
        "next_url": "",
    }


def test_free_signup_is_provisioned_and_its_admin_signs_in_with_the_chosen_password(
    db, celery_eager, django_capture_on_commit_callbacks
):
    client = host_client("localhost:8000")  # as reached on a port: the port is kept
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SIGNUP, signup_data(plan="free"))
    path = progress_path(response)
    institution = Institution.objects.get(slug="newu")
    assert institution.subscription.status == SubscriptionStatus.ACTIVE

    status = client.get(path + "status/").json()
    assert status["status"] == "active"
    assert status["steps_done"] == ["schema", "domain", "admin", "settings", "activate"]
    assert status["next_url"] == "http://newu.localhost:8000/accounts/login/"
    page = client.get(path)
    assert b"New University is ready. Sign in with ada@newu.test" in page.content
    assert b'href="http://newu.localhost:8000/accounts/login/"' in page.content

    admin = host_client("newu.localhost:8000")
    signed_in = admin.post("/accounts/login/", {"login": "ada@newu.test", "password": PASSWORD})
    assert signed_in.status_code == 302
    user = signed_in_user(admin)
    assert user.email == "ada@newu.test" and user.role == "admin"
    assert user.get_full_name() == "Ada Lovelace"
    connection.set_schema_to_public()


def test_a_provisioning_failure_is_shown_in_words_not_as_a_traceback(
    db, public_client, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = public_client.post(SIGNUP, signup_data())
    path = progress_path(response)
    # A half-made schema (as a crashed run could leave): the admin step fails.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA newu")
    with pytest.raises(ProgrammingError):
        for callback in queued:
            callback()
    connection.set_schema_to_public()
    institution = Institution.objects.get(slug="newu")
    assert institution.status == Institution.Status.FAILED
    assert "ProgrammingError" in institution.status_reason

    status = public_client.get(path + "status/").json()
    assert status["status"] == "failed" and status["next_url"] == ""
    assert status["steps_done"] == ["schema", "domain"]
    assert "did not finish" in status["message"]
    page = public_client.get(path)
    assert b"did not finish" in page.content
    assert b"ProgrammingError" not in page.content and b"relation" not in page.content


# --- the progress token -------------------------------------------------------------------


def _tampered(token: str) -> str:
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


class _LongAgoSigner(signing.TimestampSigner):
    def timestamp(self):
        return signing.b62_encode(int(time.time()) - 2 * 24 * 3600)


def test_progress_answers_only_its_own_signed_token(db, public_client, alpha, beta):
    token = signup_token(alpha)
    assert public_client.get(f"/signup/progress/{token}/").status_code == 200
    beta_id = signing.b64_encode(f'"{beta.pk}"'.encode()).decode()
    forged = [
        _tampered(token),
        f"{beta_id}:{token.split(':', 1)[1]}",  # alpha's signature on beta's id
        signing.dumps(str(beta.pk), salt="another.purpose"),
        _LongAgoSigner(salt=TOKEN_SALT).sign_object(str(beta.pk)),  # expired
        "nonsense",
    ]
    for bad in forged:
        page = public_client.get(f"/signup/progress/{bad}/")
        assert page.status_code == 404, bad
        assert b"Beta" not in page.content
        status = public_client.get(f"/signup/progress/{bad}/status/")
        assert status.status_code == 404
        assert status.json()["error"]["code"] == "not_found"


def test_progress_of_a_deleted_signup_is_gone(db, public_client):
    public_client.post(SIGNUP, signup_data())
    institution = Institution.objects.get(slug="newu")
    token = signup_token(institution)
    institution.delete()
    assert public_client.get(f"/signup/progress/{token}/").status_code == 404


def test_progress_is_not_served_on_an_institution_subdomain(alpha, alpha_client):
    assert alpha_client.get(f"/signup/progress/{signup_token(alpha)}/").status_code == 404


# --- a paid sign-up, through the Stripe stub -----------------------------------------------


def paid_signup(client, stub, **overrides):
    """Posts a paid sign-up; (response, the institution, its Checkout session on the stub)."""
    response = client.post(SIGNUP, signup_data(plan="standard", **overrides))
    assert response.status_code == 302, response.content[:2000]
    institution = Institution.objects.get(slug=overrides.get("slug", "newu"))
    [session] = [
        s for s in stub.sessions.values() if s["client_reference_id"] == str(institution.pk)
    ]
    return response, institution, session


def test_paid_signup_holds_the_address_and_sends_the_browser_to_checkout(
    db, public_client, stripe_stub
):
    response, institution, session = paid_signup(public_client, stripe_stub, interval="year")
    assert response["Location"] == session["url"]
    assert response["Location"].startswith(stripe_stub.api_base + "/pay/")

    assert institution.status == Institution.Status.AWAITING_PAYMENT
    subscription = institution.subscription
    assert subscription.status == SubscriptionStatus.INCOMPLETE
    assert (subscription.interval, subscription.stripe_checkout_session_id) == (
        "year",
        session["id"],
    )
    assert session["line_items"]["data"][0]["price"]["id"] == "price_standard_year"
    assert session["customer_email"] == "ada@newu.test"
    token = re.fullmatch(r"http://localhost/signup/progress/([^/]+)/", session["success_url"])[1]
    assert institution_id_for_token(token) == str(institution.pk)
    assert session["cancel_url"] == f"http://localhost/signup/cancelled/{token}/"
    # Nothing is provisioned before the payment.
    assert institution.provisioning_job.steps_done == []
    assert public_client.get(CHECK, {"slug": "newu"}).json()["code"] == "taken"

    status = public_client.get(f"/signup/progress/{token}/status/").json()
    assert status["status"] == "awaiting_payment" and "Stripe" in status["message"]


def test_paid_signup_is_provisioned_once_checkout_completes(
    db, public_client, stripe_stub, celery_eager, django_capture_on_commit_callbacks
):
    _, institution, session = paid_signup(public_client, stripe_stub)
    with django_capture_on_commit_callbacks(execute=True):
        success_url = stripe_stub.checkout_pay(session)  # the webhooks, through our endpoint
    assert all(code == 200 for _, code in stripe_stub.deliveries)
    assert success_url == session["success_url"]

    status = public_client.get(success_url.removeprefix("http://localhost") + "status/").json()
    assert status["status"] == "active"
    assert status["next_url"] == "http://newu.localhost/accounts/login/"
    institution.refresh_from_db()
    assert institution.subscription.status == SubscriptionStatus.ACTIVE
    connection.set_schema_to_public()


def test_cancelled_payment_releases_the_address_and_gives_the_form_back(
    db, public_client, stripe_stub
):
    _, institution, session = paid_signup(public_client, stripe_stub)
    cancel_path = session["cancel_url"].removeprefix("http://localhost")

    page = public_client.get(cancel_path)
    assert page.status_code == 200
    assert b"Payment was cancelled" in page.content
    body = page.content.decode()
    assert 'value="New University"' in body and 'value="ada@newu.test"' in body
    assert re.search(r'<input type="radio" name="plan" value="standard"[^>]* checked', body)
    assert not Institution.objects.filter(pk=institution.pk).exists()
    assert public_client.get(CHECK, {"slug": "newu"}).json()["available"] is True
    # Its progress is gone; cancelling again says the same, with nothing left to fill in.
    assert public_client.get(f"/signup/progress/{signup_token(institution)}/").status_code == 404
    again = public_client.get(cancel_path)
    assert again.status_code == 200 and b"Payment was cancelled" in again.content


def test_cancelling_closes_the_checkout_session_so_it_can_no_longer_be_paid(
    db, public_client, stripe_stub
):
    _, institution, session = paid_signup(public_client, stripe_stub)
    # Stripe closes it by itself before housekeeping would release the address.
    hold_ends = institution.created_at + AWAITING_PAYMENT_HOLD
    assert int(session["expires_at"]) < hold_ends.timestamp()

    public_client.get(session["cancel_url"].removeprefix("http://localhost"))
    assert stripe_stub.sessions[session["id"]]["status"] == "expired"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(session["url"], method="POST"))  # noqa: S310
    assert refused.value.code == 409


def test_a_checkout_paid_whose_webhook_has_not_arrived_keeps_its_address(
    db, public_client, stripe_stub
):
    _, institution, session = paid_signup(public_client, stripe_stub)
    stripe_stub.sessions[session["id"]]["status"] = "complete"  # paid; Stripe has not told us yet
    response = public_client.get(session["cancel_url"].removeprefix("http://localhost"))
    assert response.status_code == 302  # to the progress page, which waits for the payment
    institution.refresh_from_db()
    assert institution.status == Institution.Status.AWAITING_PAYMENT


def test_cancel_after_the_payment_went_through_keeps_the_institution(
    db, public_client, stripe_stub
):
    _, institution, session = paid_signup(public_client, stripe_stub)
    stripe_stub.checkout_pay(session)
    token = signup_token(institution)
    response = public_client.get(f"/signup/cancelled/{token}/")
    assert response.status_code == 302
    assert response["Location"] == f"/signup/progress/{token}/"
    institution.refresh_from_db()
    assert institution.status == Institution.Status.PENDING


def test_cancel_never_releases_a_free_signup_or_answers_a_forged_token(db, public_client, alpha):
    public_client.post(SIGNUP, signup_data())
    institution = Institution.objects.get(slug="newu")
    token = signup_token(institution)
    assert public_client.get(f"/signup/cancelled/{token}/").status_code == 302
    assert Institution.objects.filter(pk=institution.pk).exists()
    assert public_client.get(f"/signup/cancelled/{_tampered(token)}/").status_code == 404
    alpha_token = signup_token(alpha)
    assert public_client.get(f"/signup/cancelled/{alpha_token}/").status_code == 302
    assert Institution.objects.filter(pk=alpha.pk, status="active").exists()


def test_checkout_that_cannot_start_releases_the_address_and_says_so(
    db, public_client, stripe_stub, settings
):
    settings.STRIPE_SECRET_KEY = "sk_test_not_the_stubs"  # Stripe refuses the request
    response = public_client.post(SIGNUP, signup_data(plan="standard"))
    assert response.status_code == 502
    assert form_error_codes(response) == {"__all__": ["billing_provider_error"]}
    assert "payment provider" in error_summary(response)
    assert not Institution.objects.filter(slug="newu").exists()
