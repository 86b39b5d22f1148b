"""The audit trail: sign-ins (good and bad) land in the institution's own
schema with IP and user agent, and only that institution's admins read it."""

from django.db import connection
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, User

from .conftest import PASSWORD, host_client


def _sign_in(client, email, password):
    return client.post(
        "/accounts/login/",
        {"login": email, "password": password},
        HTTP_USER_AGENT="AuditTest/1.0",
        REMOTE_ADDR="203.0.113.7",
    )


def test_sign_ins_are_recorded_and_admins_can_filter_them(alpha, alpha_client):
    assert _sign_in(alpha_client, "admin@alpha.test", "wrong-password").status_code == 200
    assert _sign_in(alpha_client, "nobody@alpha.test", "wrong-password").status_code == 200
    assert _sign_in(alpha_client, "admin@alpha.test", PASSWORD).status_code == 302

    events = alpha_client.get("/api/v1/audit-events/").json()["results"]
    assert [e["event"] for e in events] == ["login.succeeded", "login.failed", "login.failed"]
    succeeded, unknown, known = events
    assert succeeded["actor"]["email"] == "admin@alpha.test"
    assert succeeded["ip_address"] == "203.0.113.7"
    assert succeeded["user_agent"] == "AuditTest/1.0"
    assert unknown["email"] == "nobody@alpha.test" and unknown["actor"] is None
    assert known["email"] == "admin@alpha.test"

    failed = alpha_client.get("/api/v1/audit-events/?event=login.failed").json()
    assert failed["count"] == 2
    assert alpha_client.get("/api/v1/audit-events/?event=bogus").status_code == 400


def test_only_this_institutions_admins_read_the_trail(alpha, beta):
    with tenant_context(alpha):
        instructor = User.objects.create_user(
            "prof@alpha.test", PASSWORD, first_name="P", last_name="Q", role=Role.INSTRUCTOR
        )
    client = host_client("alpha.localhost")
    with tenant_context(alpha):
        client.force_login(instructor)
    connection.set_schema_to_public()
    assert client.get("/api/v1/audit-events/").status_code == 403

    beta_admin = host_client("beta.localhost")
    assert _sign_in(beta_admin, "admin@beta.test", PASSWORD).status_code == 302
    own = beta_admin.get("/api/v1/audit-events/").json()["results"]
    assert {e["email"] for e in own} == {"admin@beta.test"}, "beta's trail holds beta's events"
    assert beta_admin.get("/api/v1/audit-events/", HTTP_HOST="alpha.localhost").status_code == 401
