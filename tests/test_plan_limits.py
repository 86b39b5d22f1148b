"""Plan limits through HTTP: every kind of creation (invitation, CSV import,
acceptance, self-registration, SSO just in time, course create and copy,
upload) is allowed under the plan's limit and refused at it with 403
`plan_limit_reached`, the limit and the usage, creating nothing; deletions
free room; a plan change applies at once; SSO settings need a plan with SSO;
two concurrent creations cannot both take the last place; other institutions
are not affected."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from shared_apps.plans.metering import usage_measure
from shared_apps.plans.models import Feature, InstitutionUsage, Plan
from shared_apps.subscriptions.services import subscription_change_plan
from tenant_apps.accounts.models import Invitation, Role, SecurityPolicy, User
from tenant_apps.courses.models import Course
from tenant_apps.files.models import StoredFile

from .api_helpers import admin_of, api_client, as_json, at_once, error_code, member
from .conftest import host_client, make_institution
from .test_sso_oidc import (  # noqa: F401 -- pytest fixtures, used by name
    Browser,
    _create_provider,
    _finish,
    _start,
    alpha_admin,
    openid_provider,
)

INVITATIONS = "/api/v1/users/invitations/"
COURSES = "/api/v1/courses/"
UPLOAD = "/api/v1/files/upload/"
REGISTER = "/api/v1/auth/register/"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
NEW_PASSWORD = "a-new-long-password-42"
PASSWORDS = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
SIGNUP = {
    "first_name": "Sam",
    "last_name": "New",
    "email": "sam@alpha.test",
    **PASSWORDS,
}


def plan_assign(institution, *, name="Tiny", **fields) -> Plan:
    """A plan of its own for `institution`, assigned as the operator does."""
    plan = Plan.objects.create(code=f"tiny-{uuid.uuid4().hex[:8]}", name=name, **fields)
    subscription_change_plan(institution=institution, plan=plan)
    return plan


def usage(institution) -> InstitutionUsage:
    connection.set_schema_to_public()
    return InstitutionUsage.objects.get(pk=institution.pk)


def recount(institution) -> None:
    """Set-up rows written straight to the tables are counted by metering."""
    usage_measure(institution=institution)
    connection.set_schema_to_public()


def count(institution, model, **filters) -> int:
    with tenant_context(institution):
        return model.objects.filter(**filters).count()


def limit_of(response) -> dict:
    assert response.status_code == 403, response.content
    assert error_code(response) == "plan_limit_reached"
    return response.json()["error"]["limit"]


def invite(client, email: str, **fields):
    return as_json(client, "post", INVITATIONS, {"email": email, **fields})


def course_body(code: str) -> dict:
    return {
        "code": code,
        "title": "Cell biology",
        "term": "Spring 2027",
        "academic_year": 2027,
        "start_date": "2027-01-15",
        "end_date": "2027-05-10",
    }


def browser_of(institution, user):
    client = host_client(f"{institution.slug}.localhost")
    with tenant_context(institution):
        client.force_login(user)
    connection.set_schema_to_public()
    return client


# --- Users: invitations ----------------------------------------------------------------


def test_invitations_count_as_seats_and_stop_at_the_plan(alpha, beta):
    plan_assign(alpha, max_users=3)
    admin = api_client(alpha, admin_of(alpha))

    assert invite(admin, "a@alpha.test").status_code == 201
    assert invite(admin, "b@alpha.test").status_code == 201
    refused = invite(admin, "c@alpha.test")

    assert limit_of(refused) == {
        "kind": "users",
        "max": 3,
        "usage": 1,  # the admin
        "requested": 1,
        "plan": "Tiny",
        "pending": 2,
    }
    assert refused.json()["error"]["message"] == (
        "Your plan (Tiny) allows 3 users; 1 is in use and 2 more are invited. "
        "Ask your institution's administrator to upgrade."
    )
    assert count(alpha, Invitation) == 2
    # Sending an open invitation again takes no new seat.
    assert invite(admin, "a@alpha.test").status_code == 200
    # Another institution is not affected.
    assert invite(api_client(beta, admin_of(beta)), "c@beta.test").status_code == 201
    # A withdrawn invitation frees its seat.
    [b] = [i for i in admin.get(INVITATIONS).json()["results"] if i["email"] == "b@alpha.test"]
    assert admin.delete(f"{INVITATIONS}{b['id']}/").status_code == 204
    assert invite(admin, "c@alpha.test").status_code == 201


def test_the_invitations_page_shows_the_limit(alpha):
    plan_assign(alpha, max_users=1)
    page = browser_of(alpha, admin_of(alpha)).post(
        "/accounts/invitations/", {"email": "a@alpha.test", "role": Role.STUDENT}
    )
    assert page.status_code == 403
    assert "Your plan (Tiny) allows 1 user; 1 is in use." in page.content.decode()
    assert count(alpha, Invitation) == 0


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv")


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_csv_import_that_does_not_fit_is_refused_whole(alpha, dry_run):
    plan_assign(alpha, max_users=3)
    admin = api_client(alpha, admin_of(alpha))
    rows = "email,role\nx@alpha.test,student\ny@alpha.test,ta\nz@alpha.test,student\n"

    refused = admin.post(f"{INVITATIONS}import/", {"file": _csv(rows), "dry_run": dry_run})

    assert limit_of(refused) == {
        "kind": "users",
        "max": 3,
        "usage": 1,
        "requested": 3,
        "plan": "Tiny",
    }
    assert count(alpha, Invitation) == 0
    page = browser_of(alpha, admin_of(alpha)).post(
        "/accounts/invitations/import/", {"file": _csv(rows), "dry_run": dry_run}
    )
    assert page.status_code == 403
    assert "Your plan (Tiny) allows 3 users; 1 is in use, so 3 users more" in page.content.decode()
    fits = admin.post(f"{INVITATIONS}import/", {"file": _csv(rows.rsplit("z@", 1)[0])})
    assert fits.status_code == 200, fits.content
    assert fits.json()["counts"]["created"] == 2
    assert count(alpha, Invitation) == 2


def _invitation_key(admin_client, email: str, mailoutbox, capture) -> str:
    """Invite `email`; the key from the link in the mail (sent on commit)."""
    with capture(execute=True):
        assert invite(admin_client, email).status_code == 201
    body = mailoutbox[-1].body
    return body.split("/accounts/invitations/", 1)[1].split("/", 1)[0]


def test_accepting_takes_a_seat_refused_when_none_is_left_and_a_deletion_frees_one(
    alpha, mailoutbox, django_capture_on_commit_callbacks
):
    plan_assign(alpha, max_users=2)
    admin_user = admin_of(alpha)
    admin = api_client(alpha, admin_user)
    key = _invitation_key(admin, "new@alpha.test", mailoutbox, django_capture_on_commit_callbacks)
    # Someone else took the last seat meanwhile.
    other = member(alpha, "other@alpha.test")
    recount(alpha)
    accept = {"first_name": "New", "last_name": "Person", **PASSWORDS}

    page = host_client("alpha.localhost").post(f"/accounts/invitations/{key}/", accept)

    assert page.status_code == 403
    assert "Your plan (Tiny) allows 2 users; 2 are in use." in page.content.decode()
    assert count(alpha, User, email="new@alpha.test") == 0
    assert count(alpha, Invitation, accepted_at__isnull=True) == 1

    assert admin.delete(f"/api/v1/users/{other.pk}/").status_code == 204
    assert usage(alpha).users == 1
    accepted = host_client("alpha.localhost").post(f"/accounts/invitations/{key}/", accept)
    assert accepted.status_code == 302, accepted.content
    assert count(alpha, User, email="new@alpha.test") == 1
    assert usage(alpha).users == 2


# --- Users: self-registration ----------------------------------------------------------


def _open_registration(institution) -> None:
    with tenant_context(institution):
        SecurityPolicy.objects.update_or_create(pk=1, defaults={"allow_self_registration": True})
    connection.set_schema_to_public()


def test_self_registration_shows_the_limit_on_the_page_and_in_the_api(alpha, alpha_client):
    _open_registration(alpha)
    plan = plan_assign(alpha, max_users=1)

    page = alpha_client.post("/accounts/signup/", SIGNUP)
    assert page.status_code == 403
    html = page.content.decode()
    assert "Your plan (Tiny) allows 1 user; 1 is in use." in html
    assert 'name="email"' in html  # the form again, with the refusal as its error
    api = as_json(
        alpha_client,
        "post",
        REGISTER,
        {
            "first_name": "Sam",
            "last_name": "New",
            "email": SIGNUP["email"],
            "password": NEW_PASSWORD,
        },
    )
    assert limit_of(api)["usage"] == 1
    assert count(alpha, User, email="sam@alpha.test") == 0
    assert usage(alpha).users == 1

    Plan.objects.filter(pk=plan.pk).update(max_users=2)
    created = alpha_client.post("/accounts/signup/", SIGNUP)
    assert created.status_code == 302
    assert count(alpha, User, email="sam@alpha.test") == 1
    assert usage(alpha).users == 2


# --- Users: SSO just in time, and SSO settings -----------------------------------------


def test_an_sso_account_is_not_created_when_the_plan_is_full(alpha, alpha_admin, openid_provider):  # noqa: F811
    assert _create_provider(alpha_admin, openid_provider).status_code == 201
    plan_assign(alpha, max_users=1, features={Feature.SSO: True})

    client = host_client("alpha.localhost")
    page = _finish(client, Browser().authorize(_start(client), "ada"))

    assert page.status_code == 403
    assert "Your plan (Tiny) allows 1 user; 1 is in use." in page.content.decode()
    assert count(alpha, User, email="ada@alpha.test") == 0
    assert client.get("/api/v1/users/me/").status_code == 401
    assert usage(alpha).users == 1


def test_sso_settings_need_a_plan_that_includes_sso(alpha, alpha_admin):  # noqa: F811
    plan = plan_assign(alpha, features={Feature.SSO: False})
    body = {
        "type": "oidc",
        "provider_id": "campus",
        "name": "Campus SSO",
        "client_id": "lms",
        "secret": "s3cret",
        "settings": {"server_url": "http://127.0.0.1:9/o"},
    }
    providers = "/api/v1/institution/identity-providers/"

    refused = alpha_admin.post(providers, body, content_type="application/json")

    assert limit_of(refused) == {
        "kind": "feature",
        "feature": "sso",
        "included": False,
        "plan": "Tiny",
    }
    assert "does not include single sign-on" in refused.json()["error"]["message"]
    assert alpha_admin.get(providers).json()["count"] == 0
    sso_only = alpha_admin.patch(
        "/api/v1/institution/security-policy/",
        {"password_login_enabled": False},
        content_type="application/json",
    )
    assert limit_of(sso_only)["feature"] == "sso"

    # The plan gains SSO: the same request goes through at once.
    Plan.objects.filter(pk=plan.pk).update(features={Feature.SSO: True})
    assert alpha_admin.post(providers, body, content_type="application/json").status_code == 201
    # A student is refused before any plan question; so is another institution's admin.
    student = browser_of(alpha, member(alpha, "stu@alpha.test"))
    assert error_code(student.post(providers, body, content_type="application/json")) == (
        "permission_denied"
    )


# --- Courses ---------------------------------------------------------------------------


def test_courses_stop_at_the_plan_copies_too_and_a_deletion_frees_a_place(alpha, beta):
    plan_assign(alpha, max_courses=1)
    admin = api_client(alpha, admin_of(alpha))

    first = as_json(admin, "post", COURSES, course_body("BIO 1"))
    assert first.status_code == 201, first.content
    refused = as_json(admin, "post", COURSES, course_body("BIO 2"))
    assert limit_of(refused) == {
        "kind": "courses",
        "max": 1,
        "usage": 1,
        "requested": 1,
        "plan": "Tiny",
    }
    copy = as_json(
        admin,
        "post",
        f"{COURSES}{first.json()['id']}/copy/",
        {
            "term": "Fall 2027",
            "academic_year": 2027,
            "start_date": "2027-09-01",
            "end_date": "2027-12-15",
        },
    )
    assert limit_of(copy)["kind"] == "courses"
    assert count(alpha, Course) == 1
    assert (
        as_json(api_client(beta, admin_of(beta)), "post", COURSES, course_body("B 1")).status_code
        == 201
    )

    assert admin.delete(f"{COURSES}{first.json()['id']}/").status_code == 204
    assert usage(alpha).courses == 0
    assert as_json(admin, "post", COURSES, course_body("BIO 2")).status_code == 201


def test_a_plan_change_or_override_moves_the_limit_at_once(alpha):
    plan = plan_assign(alpha, max_courses=1)
    admin = api_client(alpha, admin_of(alpha))
    assert as_json(admin, "post", COURSES, course_body("C 1")).status_code == 201
    assert limit_of(as_json(admin, "post", COURSES, course_body("C 2")))["max"] == 1

    bigger = plan_assign(alpha, name="Bigger", max_courses=2)
    assert as_json(admin, "post", COURSES, course_body("C 2")).status_code == 201
    assert limit_of(as_json(admin, "post", COURSES, course_body("C 3")))["plan"] == "Bigger"

    subscription_change_plan(institution=alpha, plan=plan)  # lowered below the usage
    lowered = limit_of(as_json(admin, "post", COURSES, course_body("C 3")))
    assert (lowered["max"], lowered["usage"]) == (1, 2)

    alpha.max_courses = 3  # the operator's override for this one customer
    alpha.save(update_fields=["max_courses"])
    assert as_json(admin, "post", COURSES, course_body("C 3")).status_code == 201
    assert bigger.institutions.count() == 0


# --- Storage ---------------------------------------------------------------------------


def _upload(client, name="notes.pdf"):
    upload = SimpleUploadedFile(name, PDF, content_type="application/pdf")
    return client.post(UPLOAD, {"file": upload})


def test_uploads_stop_at_the_plan_storage_and_a_deletion_frees_room(alpha):
    plan_assign(alpha, max_storage_bytes=len(PDF) + 10)
    client = api_client(alpha, member(alpha, "stu@alpha.test"))

    first = _upload(client)
    assert first.status_code == 201, first.content
    refused = _upload(client, "again.pdf")
    assert limit_of(refused) == {
        "kind": "storage_bytes",
        "max": len(PDF) + 10,
        "usage": len(PDF),
        "requested": len(PDF),
        "plan": "Tiny",
    }
    assert "of storage" in refused.json()["error"]["message"]
    assert count(alpha, StoredFile) == 1
    assert usage(alpha).storage_bytes == len(PDF)

    assert client.delete(f"/api/v1/files/{first.json()['id']}/").status_code == 204
    assert usage(alpha).storage_bytes == 0
    assert _upload(client, "again.pdf").status_code == 201


# --- Concurrency -----------------------------------------------------------------------


@pytest.fixture
def racing(committed_db):
    """A committed institution on a plan of its own (both visible to every
    thread's connection); the plan goes once the institution is back on the
    default one."""
    gamma = make_institution("gamma")
    plan = Plan.objects.create(code=f"race-{uuid.uuid4().hex[:8]}", name="Race", max_courses=1)
    subscription_change_plan(institution=gamma, plan=plan)
    yield gamma, plan
    connection.set_schema_to_public()
    subscription_change_plan(institution=gamma, plan=Plan.objects.get(is_default=True))
    plan.delete()


def test_two_creations_at_once_cannot_both_take_the_last_place(
    racing, mailoutbox, django_capture_on_commit_callbacks
):
    gamma, plan = racing
    assert usage(gamma).users == 1  # provisioning's first admin took the first seat
    admin = admin_of(gamma)
    clients = [api_client(gamma, admin), api_client(gamma, admin)]

    answers = at_once(
        [
            lambda: as_json(clients[0], "post", COURSES, course_body("R 1")),
            lambda: as_json(clients[1], "post", COURSES, course_body("R 2")),
        ]
    )

    assert sorted(a.status_code for a in answers) == [201, 403]
    assert count(gamma, Course) == 1
    assert usage(gamma).courses == 1

    # Two invitees accept at once for the last seat.
    Plan.objects.filter(pk=plan.pk).update(max_users=3)
    keys = [
        _invitation_key(
            clients[0], f"p{i}@gamma.test", mailoutbox, django_capture_on_commit_callbacks
        )
        for i in (1, 2)
    ]
    Plan.objects.filter(pk=plan.pk).update(max_users=2)
    accept = {"first_name": "P", "last_name": "Q", **PASSWORDS}
    accepted = at_once(
        [
            lambda key=key: host_client("gamma.localhost").post(
                f"/accounts/invitations/{key}/", accept
            )
            for key in keys
        ]
    )
    assert sorted(a.status_code for a in accepted) == [302, 403]
    assert count(gamma, User) == 2
    assert usage(gamma).users == 2
