"""Two-factor authentication through the pages on an institution's subdomain:
setting up an authenticator app, recovery codes, the code step at sign-in, and
the institution's rule that some roles must use it."""

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.db import connection
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role

from .conftest import PASSWORD
from .test_browser_auth import (
    assert_accessible_form,
    audit_events,
    error_summary,
    member,
    policy_set,
    sign_in,
    signed_in_user,
)

ACTIVATE = "/accounts/2fa/totp/activate/"
AUTHENTICATE = "/accounts/2fa/authenticate/"


def totp_code(secret: str) -> str:
    """What the user's authenticator app shows now."""
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def wrong_code(secret: str) -> str:
    """A code valid in no window allauth accepts."""
    valid = {hotp_value(secret, c) for c in yield_hotp_counters_from_time()}
    return format_hotp_value(next(n for n in range(10**6) if n not in valid))


def reauthenticate(client, next_url: str, password: str = PASSWORD):
    """allauth asks for the password again before MFA settings change."""
    response = client.get(next_url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert_accessible_form(page)
    done = client.post(response["Location"], {"password": password})
    assert done.status_code == 302 and done["Location"] == next_url
    return done


def activate_totp(client, capture_on_commit) -> str:
    """Set up an authenticator app through the pages; returns its secret.
    allauth sends its signals (our audit) once the transaction commits."""
    page = client.get(ACTIVATE)
    assert page.status_code == 200
    assert_accessible_form(page)
    secret = page.context["form"].secret
    assert secret.encode() in page.content  # the secret is written out...
    assert b'src="data:image/svg+xml' in page.content  # ...beside the QR code
    with capture_on_commit(execute=True):
        done = client.post(ACTIVATE, {"code": totp_code(secret)})
    assert done.status_code == 302
    return secret


def with_mfa(institution, email, role=Role.STUDENT) -> tuple:
    """A member who has already set up an authenticator app and recovery codes."""
    user = member(institution, email, role=role)
    secret = generate_totp_secret()
    with tenant_context(institution):
        TOTP.activate(user, secret)
        codes = RecoveryCodes.activate(user).get_unused_codes()
    connection.set_schema_to_public()
    return user, secret, codes


def authenticators(institution, user) -> set[str]:
    with tenant_context(institution):
        types = set(Authenticator.objects.filter(user=user).values_list("type", flat=True))
    connection.set_schema_to_public()
    return types


def test_activating_an_authenticator_app_through_the_pages(
    alpha, alpha_client, django_capture_on_commit_callbacks
):
    user = member(alpha, "pat@alpha.test")
    sign_in(alpha_client, "pat@alpha.test")
    index = alpha_client.get("/accounts/2fa/")
    assert index.status_code == 200 and b"not active" in index.content

    reauthenticate(alpha_client, ACTIVATE)
    page = alpha_client.get(ACTIVATE)
    secret = page.context["form"].secret
    refused = alpha_client.post(ACTIVATE, {"code": wrong_code(secret)})
    assert refused.status_code == 200
    assert 'href="#id_code"' in error_summary(refused)
    assert authenticators(alpha, user) == set()

    activate_totp(alpha_client, django_capture_on_commit_callbacks)
    assert authenticators(alpha, user) == {"totp", "recovery_codes"}
    assert audit_events(alpha, "mfa.enabled", target=user, metadata__method="totp")

    codes = alpha_client.get("/accounts/2fa/recovery-codes/")
    assert codes.status_code == 200
    unused = codes.context["unused_codes"]
    assert len(unused) == 10 and unused[0].encode() in codes.content


def test_generating_new_recovery_codes(alpha, alpha_client, django_capture_on_commit_callbacks):
    user, _, old_codes = with_mfa(alpha, "pat@alpha.test")
    sign_in(alpha_client, "pat@alpha.test")
    alpha_client.post(AUTHENTICATE, {"code": old_codes[0]})
    generate = "/accounts/2fa/recovery-codes/generate/"
    reauthenticate(alpha_client, generate)

    page = alpha_client.get(generate)
    assert page.status_code == 200 and b"invalidate your existing codes" in page.content
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals on commit
        assert alpha_client.post(generate).status_code == 302
    new_codes = alpha_client.get("/accounts/2fa/recovery-codes/").context["unused_codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert audit_events(alpha, "mfa.recovery_codes_regenerated", target=user)


def test_sign_in_asks_for_the_code_and_refuses_a_wrong_one(alpha, alpha_client):
    user, secret, _ = with_mfa(alpha, "pat@alpha.test")
    response = sign_in(alpha_client, "pat@alpha.test")
    assert response.status_code == 302 and response["Location"] == AUTHENTICATE
    assert signed_in_user(alpha_client) is None  # the password alone is not enough

    page = alpha_client.get(AUTHENTICATE)
    assert page.status_code == 200
    assert_accessible_form(page)

    refused = alpha_client.post(AUTHENTICATE, {"code": wrong_code(secret)})
    assert refused.status_code == 200
    assert 'href="#id_code"' in error_summary(refused)
    assert signed_in_user(alpha_client) is None
    assert audit_events(alpha, "mfa.failed", target=user)
    assert not audit_events(alpha, "login.succeeded", target=user)

    accepted = alpha_client.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert accepted.status_code == 302 and accepted["Location"] == "/"
    assert signed_in_user(alpha_client).pk == user.pk
    assert audit_events(alpha, "login.succeeded", target=user)


def test_a_recovery_code_signs_in_once(alpha, alpha_client):
    user, _, codes = with_mfa(alpha, "pat@alpha.test")
    sign_in(alpha_client, "pat@alpha.test")
    assert alpha_client.post(AUTHENTICATE, {"code": codes[3]}).status_code == 302
    assert signed_in_user(alpha_client).pk == user.pk

    alpha_client.post("/accounts/logout/")
    sign_in(alpha_client, "pat@alpha.test")
    assert alpha_client.post(AUTHENTICATE, {"code": codes[3]}).status_code == 200  # used
    assert signed_in_user(alpha_client) is None


def test_deactivating_the_authenticator_app_is_audited(alpha, alpha_client):
    user, secret, _ = with_mfa(alpha, "pat@alpha.test")
    sign_in(alpha_client, "pat@alpha.test")
    alpha_client.post(AUTHENTICATE, {"code": totp_code(secret)})
    deactivate = "/accounts/2fa/totp/deactivate/"
    reauthenticate(alpha_client, deactivate)

    page = alpha_client.get(deactivate)
    assert page.status_code == 200 and b"<button" in page.content
    assert alpha_client.post(deactivate).status_code == 302
    assert "totp" not in authenticators(alpha, user)
    assert audit_events(alpha, "mfa.disabled", target=user, metadata__method="totp")


def test_required_mfa_sends_an_instructor_to_set_it_up(
    alpha, alpha_client, django_capture_on_commit_callbacks
):
    policy_set(alpha, mfa_required_roles=["admin", "instructor"])
    user = member(alpha, "prof@alpha.test", role=Role.INSTRUCTOR)
    sign_in(alpha_client, "prof@alpha.test")

    for path in ("/", "/accounts/password/change/", "/accounts/email/"):
        response = alpha_client.get(path)
        assert response.status_code == 302 and response["Location"] == ACTIVATE, path

    # Setting it up works from there, password confirmation included.
    reauthenticate(alpha_client, ACTIVATE)
    activate_totp(alpha_client, django_capture_on_commit_callbacks)
    assert "totp" in authenticators(alpha, user)
    assert alpha_client.get("/").status_code == 200


def test_required_mfa_still_lets_an_instructor_sign_out(alpha, alpha_client):
    policy_set(alpha, mfa_required_roles=["admin", "instructor"])
    member(alpha, "prof@alpha.test", role=Role.INSTRUCTOR)
    sign_in(alpha_client, "prof@alpha.test")
    assert alpha_client.get("/")["Location"] == ACTIVATE

    assert alpha_client.post("/accounts/logout/").status_code == 302
    assert signed_in_user(alpha_client) is None


def test_required_mfa_does_not_concern_a_student(alpha, alpha_client):
    policy_set(alpha, mfa_required_roles=["admin", "instructor"])
    member(alpha, "stu@alpha.test", role=Role.STUDENT)
    sign_in(alpha_client, "stu@alpha.test")
    home = alpha_client.get("/")
    assert home.status_code == 200 and home.context["user"].email == "stu@alpha.test"


def test_one_institutions_mfa_rule_does_not_reach_another(alpha, beta, beta_client):
    policy_set(alpha, mfa_required_roles=["admin", "instructor"])
    member(beta, "prof@beta.test", role=Role.INSTRUCTOR)
    sign_in(beta_client, "prof@beta.test")
    assert beta_client.get("/").status_code == 200
