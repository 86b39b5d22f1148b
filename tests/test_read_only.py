"""Billing's read-only state and its grace period, through the tenant router:
after `read_only_at` every write is refused (403 `institution_read_only`, API
and pages) except signing in and the subscription endpoints, reads still work;
before it, pages show a banner and API answers carry `Institution-Notice`.
Another institution is not affected."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from conceptspro.api import ApplicationError
from shared_apps.institutions.routing import route_cache_forget
from tenant_apps.accounts.models import Invitation, Role, SecurityPolicy, User
from tenant_apps.accounts.services import user_ensure
from tenant_apps.courses.models import Course

from .api_helpers import admin_of, api_client, as_json, error_code
from .conftest import PASSWORD, host_client

pytestmark = pytest.mark.django_db

COURSE = {
    "code": "RO 1",
    "title": "Read only",
    "term": "Spring 2027",
    "academic_year": 2027,
    "start_date": "2027-01-15",
    "end_date": "2027-05-10",
}


def read_only_from(institution, moment) -> None:
    institution.read_only_at = moment
    institution.save(update_fields=["read_only_at"])
    # The test's transaction never commits, so the router's cache is told here.
    route_cache_forget([f"{institution.slug}.localhost"])


@pytest.fixture
def read_only(alpha):
    read_only_from(alpha, timezone.now() - timedelta(hours=1))
    return alpha


def signed_in(institution, user):
    client = host_client(f"{institution.slug}.localhost")
    with tenant_context(institution):
        client.force_login(user)
    connection.set_schema_to_public()
    return client


def test_api_writes_are_refused_and_reads_work(read_only):
    admin = api_client(read_only, admin_of(read_only))

    refused = as_json(admin, "post", "/api/v1/courses/", COURSE)

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "institution_read_only"
    assert error["read_only_at"] == read_only.read_only_at.isoformat()
    assert "update the payment details" in error["message"]
    assert refused["Institution-Notice"] == (
        f"read-only; read-only-at={read_only.read_only_at.isoformat()}"
    )
    with tenant_context(read_only):
        assert not Course.objects.exists()
    assert error_code(as_json(admin, "patch", "/api/v1/users/me/", {"bio": "x"})) == (
        "institution_read_only"
    )
    assert admin.get("/api/v1/courses/").status_code == 200
    assert admin.get("/api/v1/users/me/").status_code == 200


def test_pages_refuse_writes_with_the_read_only_page(read_only):
    admin = signed_in(read_only, admin_of(read_only))

    page = admin.post("/accounts/invitations/", {"email": "x@alpha.test", "role": Role.STUDENT})

    assert page.status_code == 403
    assert "This institution is read-only" in page.content.decode()
    assert admin.get("/accounts/invitations/").status_code == 200
    with tenant_context(read_only):
        assert not Invitation.objects.exists()


def test_signing_in_still_works_and_self_registration_does_not(read_only):
    with tenant_context(read_only):
        SecurityPolicy.objects.update_or_create(pk=1, defaults={"allow_self_registration": True})
    browser = host_client("alpha.localhost")
    email = admin_of(read_only).email

    assert browser.post("/accounts/login/", {"login": email, "password": PASSWORD}).status_code == (
        302
    )
    assert browser.get("/api/v1/users/me/").json()["email"] == email
    token = as_json(
        host_client("alpha.localhost"),
        "post",
        "/api/v1/auth/login/",
        {"email": email, "password": PASSWORD},
    )
    assert token.status_code == 200, token.content
    refreshed = as_json(
        host_client("alpha.localhost"),
        "post",
        "/api/v1/auth/refresh/",
        {"refresh_token": token.json()["refresh_token"]},
    )
    assert refreshed.status_code == 200
    assert browser.post("/accounts/logout/").status_code == 302

    signup = host_client("alpha.localhost").post(
        "/accounts/signup/",
        {
            "first_name": "Sam",
            "last_name": "New",
            "email": "sam@alpha.test",
            "password1": "a-new-long-password-42",
            "password2": "a-new-long-password-42",
        },
    )
    assert signup.status_code == 403
    register = as_json(
        host_client("alpha.localhost"),
        "post",
        "/api/v1/auth/register/",
        {"first_name": "S", "last_name": "N", "email": "sam@alpha.test", "password": "x" * 20},
    )
    assert error_code(register) == "institution_read_only"
    with tenant_context(read_only):
        assert not User.objects.filter(email="sam@alpha.test").exists()


def test_the_subscription_endpoints_stay_writable(read_only):
    admin = api_client(read_only, admin_of(read_only))
    for path in ("", "checkout/", "portal/"):
        answer = as_json(admin, "post", f"/api/v1/institution/subscription/{path}", {})
        # Whatever billing answers (it is off here), read-only did not refuse it.
        assert answer.json().get("error", {}).get("code") != "institution_read_only", path


def test_nothing_new_is_counted_while_read_only_even_outside_a_request(read_only):
    # Signing in by SSO, or a task, reaches the creation without the router.
    with tenant_context(read_only), pytest.raises(ApplicationError) as refused:
        user_ensure(email="late@alpha.test", first_name="L", last_name="T", password=PASSWORD)
    assert refused.value.code == "institution_read_only"
    with tenant_context(read_only):
        assert not User.objects.filter(email="late@alpha.test").exists()


def test_the_grace_period_shows_a_banner_and_a_header_and_still_writes(alpha, beta):
    moment = timezone.now() + timedelta(days=3)
    read_only_from(alpha, moment)
    admin = api_client(alpha, admin_of(alpha))

    created = as_json(admin, "post", "/api/v1/courses/", COURSE)

    assert created.status_code == 201, created.content
    assert created["Institution-Notice"] == f"past-due; read-only-at={moment.isoformat()}"
    page = signed_in(alpha, admin_of(alpha)).get("/accounts/invitations/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "institution-notice" in html
    assert "it becomes read-only unless an administrator updates the payment details" in html
    assert moment.strftime("%-d %B %Y") in html

    # Another institution: no banner, no header, writes as usual.
    beta_admin = api_client(beta, admin_of(beta))
    other = as_json(beta_admin, "post", "/api/v1/courses/", COURSE)
    assert other.status_code == 201
    assert "Institution-Notice" not in other
    beta_page = signed_in(beta, admin_of(beta)).get("/accounts/invitations/")
    assert "institution-notice" not in beta_page.content.decode()


def test_another_institution_is_writable_while_one_is_read_only(read_only, beta):
    beta_admin = api_client(beta, admin_of(beta))
    assert as_json(beta_admin, "post", "/api/v1/courses/", COURSE).status_code == 201
