"""The users API through the tenant router: each endpoint for the role allowed,
a role refused, and another institution refused; nothing changes on refusal."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from conceptspro.api import ApplicationError
from tenant_apps.accounts import services
from tenant_apps.accounts.models import Role, User, UserPreferences
from tenant_apps.accounts.tokens import api_session_open, token_pair_issue
from tenant_apps.audit.models import AuditEvent

from .conftest import PASSWORD, host_client


def _member(institution, email, role=Role.STUDENT, **fields) -> User:
    with tenant_context(institution):
        return User.objects.create_user(
            email,
            PASSWORD,
            first_name=email.split("@")[0].title(),
            last_name="Tester",
            role=role,
            **fields,
        )


def _client(institution, user):
    client = host_client(f"{institution.schema_name}.localhost")
    with tenant_context(institution):
        client.force_login(user)
    connection.set_schema_to_public()
    return client


@pytest.fixture
def alpha_admin(alpha):
    with tenant_context(alpha):
        return User.objects.get(email="admin@alpha.test")


@pytest.fixture
def admin_client(alpha, alpha_admin):
    return _client(alpha, alpha_admin)


@pytest.fixture
def student(alpha):
    return _member(alpha, "stu@alpha.test", phone="555-0100", student_id="S-1")


@pytest.fixture
def student_client(alpha, student):
    return _client(alpha, student)


def test_me_and_profile_update(student_client, student):
    me = student_client.get("/api/v1/users/me/").json()
    assert me["email"] == "stu@alpha.test" and me["role"] == "student"

    response = student_client.patch(
        "/api/v1/users/me/",
        {"bio": "Hello", "timezone": "Europe/Paris", "role": "admin"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["timezone"] == "Europe/Paris"
    assert response.json()["role"] == "student", "role is not self-service"


def test_profile_update_with_bad_input_is_400_with_fields(student_client, alpha, student):
    response = student_client.put(
        "/api/v1/users/me/",
        {"timezone": "Mars/Olympus", "locale": "english!!", "first_name": ""},
        content_type="application/json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"timezone", "locale", "first_name"}
    with tenant_context(alpha):
        assert User.objects.get(pk=student.pk).timezone == "UTC"


def test_preferences_have_defaults_and_merge(student_client):
    prefs = student_client.get("/api/v1/users/me/preferences/").json()
    assert prefs["email_notifications"]["grades"] is True
    assert prefs["privacy_settings"] == {"show_email": False, "show_phone": False}

    patched = student_client.patch(
        "/api/v1/users/me/preferences/",
        {"email_notifications": {"grades": False}, "ui_preferences": {"theme": "dark"}},
        content_type="application/json",
    ).json()
    assert patched["email_notifications"]["grades"] is False
    assert patched["email_notifications"]["assignments"] is True, "PATCH merges"
    assert patched["ui_preferences"] == {"theme": "dark", "language": "en"}

    bad = student_client.patch(
        "/api/v1/users/me/preferences/",
        {"email_notifications": {"grades": "maybe"}, "ui_preferences": {"theme": "neon"}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"email_notifications", "ui_preferences"}


def test_admin_lists_with_search_role_filter_and_link_headers(admin_client, alpha):
    for n in range(3):
        _member(alpha, f"teacher{n}@alpha.test", role=Role.INSTRUCTOR)
    _member(alpha, "zed@alpha.test", role=Role.STUDENT)

    instructors = admin_client.get("/api/v1/users/?role=instructor&per_page=2").json()
    assert instructors["count"] == 3
    assert len(instructors["results"]) == 2
    assert {u["role"] for u in instructors["results"]} == {"instructor"}

    page = admin_client.get("/api/v1/users/?role=instructor&per_page=2")
    assert 'rel="next"' in page["Link"] and 'rel="last"' in page["Link"]
    assert "page=2" in page["Link"]

    found = admin_client.get("/api/v1/users/?q=zed").json()
    assert [u["email"] for u in found["results"]] == ["zed@alpha.test"]
    assert admin_client.get("/api/v1/users/?role=wizard").status_code == 400


def test_student_and_instructor_cannot_list_users(alpha, student_client):
    assert student_client.get("/api/v1/users/").status_code == 403
    instructor = _member(alpha, "prof@alpha.test", role=Role.INSTRUCTOR)
    response = _client(alpha, instructor).get("/api/v1/users/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_members_see_a_limited_card_admins_see_everything(alpha, admin_client, student):
    peer = _client(alpha, _member(alpha, "peer@alpha.test"))
    card = peer.get(f"/api/v1/users/{student.pk}/").json()
    assert card["first_name"] == "Stu"
    assert "email" not in card and "phone" not in card and "student_id" not in card

    with tenant_context(alpha):
        UserPreferences.objects.create(user=student, privacy_settings={"show_email": True})
    assert peer.get(f"/api/v1/users/{student.pk}/").json()["email"] == "stu@alpha.test"

    full = admin_client.get(f"/api/v1/users/{student.pk}/").json()
    assert full["student_id"] == "S-1" and full["phone"] == "555-0100"


def test_admin_changes_role_and_it_is_audited(alpha, admin_client, alpha_admin, student):
    response = admin_client.patch(
        f"/api/v1/users/{student.pk}/", {"role": "ta"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["role"] == "ta"
    with tenant_context(alpha):
        event = AuditEvent.objects.get(event="user.role_changed")
        assert (event.actor_id, event.target_id) == (alpha_admin.pk, student.pk)
        assert event.metadata == {"old": "student", "new": "ta"}


def test_non_admin_cannot_update_or_delete_and_nothing_changes(alpha, student):
    other = _member(alpha, "other@alpha.test", role=Role.INSTRUCTOR)
    client = _client(alpha, other)
    assert (
        client.patch(
            f"/api/v1/users/{student.pk}/", {"role": "admin"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/users/{student.pk}/").status_code == 403
    with tenant_context(alpha):
        unchanged = User.objects.get(pk=student.pk)
        assert unchanged.role == Role.STUDENT and unchanged.deleted_at is None


def test_duplicate_student_id_is_a_field_error(alpha, admin_client, student):
    other = _member(alpha, "two@alpha.test")
    response = admin_client.patch(
        f"/api/v1/users/{other.pk}/", {"student_id": "S-1"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "student_id" in response.json()["error"]["fields"]


def test_admin_cannot_demote_or_delete_themselves(admin_client, alpha_admin):
    demote = admin_client.patch(
        f"/api/v1/users/{alpha_admin.pk}/", {"role": "student"}, content_type="application/json"
    )
    assert demote.status_code == 409
    assert demote.json()["error"]["code"] == "cannot_modify_self"
    assert admin_client.delete(f"/api/v1/users/{alpha_admin.pk}/").status_code == 409


def test_soft_delete_signs_the_user_out_everywhere(alpha, admin_client, student):
    browser = _client(alpha, student)
    with tenant_context(alpha):
        pair = token_pair_issue(user=student, session=api_session_open(student))
    connection.set_schema_to_public()
    bearer = host_client("alpha.localhost")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {pair.access_token}"}
    assert bearer.get("/api/v1/users/me/", **auth).status_code == 200

    assert admin_client.delete(f"/api/v1/users/{student.pk}/").status_code == 204

    assert browser.get("/api/v1/users/me/").status_code == 401
    refused = bearer.get("/api/v1/users/me/", **auth)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    with tenant_context(alpha):
        deleted = User.objects.get(pk=student.pk)
        assert deleted.deleted_at is not None and not deleted.is_active
    listed = admin_client.get("/api/v1/users/").json()["results"]
    assert str(student.pk) not in {u["id"] for u in listed}
    assert admin_client.get("/api/v1/users/?include_deleted=true").json()["count"] == 2
    # Other members no longer find them; admins still can.
    peer = _client(alpha, _member(alpha, "peer@alpha.test"))
    assert peer.get(f"/api/v1/users/{student.pk}/").status_code == 404
    assert admin_client.get(f"/api/v1/users/{student.pk}/").status_code == 200


def test_suspension_ends_access(alpha, admin_client, student):
    browser = _client(alpha, student)
    assert browser.get("/api/v1/users/me/").status_code == 200
    suspend = admin_client.patch(
        f"/api/v1/users/{student.pk}/", {"is_suspended": True}, content_type="application/json"
    )
    assert suspend.status_code == 200 and suspend.json()["is_suspended"] is True
    assert browser.get("/api/v1/users/me/").status_code == 401

    # Lifting the suspension does not revive the old session.
    admin_client.patch(
        f"/api/v1/users/{student.pk}/", {"is_suspended": False}, content_type="application/json"
    )
    assert browser.get("/api/v1/users/me/").status_code == 401
    with tenant_context(alpha):
        student.refresh_from_db()
    assert _client(alpha, student).get("/api/v1/users/me/").status_code == 200, (
        "a new sign-in works"
    )


def test_another_institutions_admin_cannot_touch_alpha_users(alpha, beta, student):
    with tenant_context(beta):
        beta_admin = User.objects.get(email="admin@beta.test")
    beta_client = _client(beta, beta_admin)
    # On its own host, beta's admin does not find alpha's user at all...
    assert beta_client.get(f"/api/v1/users/{student.pk}/").status_code == 404
    # ...and beta's session means nothing on alpha's host.
    on_alpha = {"HTTP_HOST": "alpha.localhost"}
    assert beta_client.get("/api/v1/users/", **on_alpha).status_code == 401
    beta_client = _client(beta, beta_admin)  # the test client has one cookie jar for all hosts
    assert beta_client.delete(f"/api/v1/users/{student.pk}/", **on_alpha).status_code == 401
    with tenant_context(alpha):
        assert User.objects.get(pk=student.pk).deleted_at is None


def test_two_admins_cannot_demote_each_other_and_leave_none(alpha, admin_client, alpha_admin):
    """The second of two crossing demotions runs with an actor who has just
    lost the admin role: it is refused and the institution keeps an admin."""
    second = _member(alpha, "second-admin@alpha.test", role=Role.ADMIN)
    stale_first_admin = alpha_admin  # as loaded by a request that started before
    response = admin_client.patch(
        f"/api/v1/users/{second.pk}/", {"role": "instructor"}, content_type="application/json"
    )
    assert response.status_code == 200
    # `second` lost admin in between; its own pending demotion of the first admin:
    with tenant_context(alpha):
        stale_second = User(pk=second.pk, role=Role.ADMIN, email=second.email)
        with pytest.raises(ApplicationError) as refused:
            services.user_update(actor=stale_second, user=stale_first_admin, role="student")
        assert refused.value.code == "permission_denied"
        assert User.objects.get(pk=alpha_admin.pk).role == Role.ADMIN


def test_own_preferences_need_a_member_of_this_institution(alpha, beta):
    assert host_client("alpha.localhost").get("/api/v1/users/me/preferences/").status_code == 401
    with tenant_context(beta):
        beta_admin = User.objects.get(email="admin@beta.test")
    crossed = _client(beta, beta_admin).patch(
        "/api/v1/users/me/preferences/",
        {"ui_preferences": {"theme": "dark"}},
        content_type="application/json",
        HTTP_HOST="alpha.localhost",
    )
    assert crossed.status_code == 401
    with tenant_context(alpha):
        assert not UserPreferences.objects.exists()
