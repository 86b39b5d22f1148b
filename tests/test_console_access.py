"""Who reaches the operator console on the bare domain: the operator's active
staff (public-schema accounts), signed in with their password and their
authenticator app's code through allauth's own pages. Everyone else is sent
to sign in, refused, or sent to set up or confirm their second factor, and
an action they attempt changes nothing and leaves no audit row."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db import connection

from shared_apps.console.models import OperatorAction
from shared_apps.institutions.models import Institution
from tenant_apps.accounts.models import User

from .api_helpers import admin_of
from .conftest import PASSWORD, host_client
from .test_mfa import totp_code

LOGIN = "/accounts/login/"
AUTHENTICATE = "/accounts/2fa/authenticate/"
ACTIVATE = "/accounts/2fa/totp/activate/"
MFA_REAUTHENTICATE = "/accounts/2fa/reauthenticate/"
CONSOLE = "/console/"


# --- helpers shared with test_console --------------------------------------------


def public_account(email: str, *, is_staff: bool = True, totp: bool = True) -> tuple:
    """An account of the public schema (the operator's side), and the secret
    of its authenticator app (None without one)."""
    connection.set_schema_to_public()
    user = User.objects.create_user(
        email,
        PASSWORD,
        first_name="Olga",
        last_name="Operator",
        is_staff=is_staff,
        email_verified=True,
    )
    secret = None
    if totp:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
    return user, secret


def console_client(email: str = "olga@operator.test") -> tuple:
    """A member of the operator's staff signed in through the real pages of the
    bare domain: password, then the code of their authenticator app."""
    user, secret = public_account(email)
    client = host_client("localhost")
    step = client.post(LOGIN, {"login": email, "password": PASSWORD})
    assert step.status_code == 302 and step["Location"] == AUTHENTICATE
    done = client.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert done.status_code == 302
    return client, user


def console_paths(institution: Institution) -> list[str]:
    return [CONSOLE, f"{CONSOLE}institutions/{institution.pk}/", f"{CONSOLE}audit/"]


def suspend_url(institution: Institution) -> str:
    return f"{CONSOLE}institutions/{institution.pk}/suspend/"


def assert_untouched(institution: Institution) -> None:
    """An attempted suspension left nothing behind."""
    institution.refresh_from_db()
    assert institution.status == Institution.Status.ACTIVE
    assert not OperatorAction.objects.exists()


# --- refused ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in_and_cannot_act(alpha, public_client):
    for path in console_paths(alpha):
        response = public_client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={path}"

    attempt = public_client.post(suspend_url(alpha), {"suspend-reason": "Unpaid"})
    assert attempt.status_code == 302 and attempt["Location"].startswith(LOGIN)
    assert_untouched(alpha)


def test_a_public_account_that_is_not_staff_is_refused(alpha, public_client):
    public_account("someone@example.test", is_staff=False, totp=False)
    signed_in = public_client.post(LOGIN, {"login": "someone@example.test", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"

    for path in console_paths(alpha):
        response = public_client.get(path)
        assert response.status_code == 403, path
        assert b"for the operator&#x27;s staff only" in response.content

    attempt = public_client.post(suspend_url(alpha), {"suspend-reason": "Unpaid"})
    assert attempt.status_code == 403
    assert_untouched(alpha)


def test_staff_without_an_authenticator_app_must_set_one_up_and_cannot_act(alpha, public_client):
    public_account("new@operator.test", totp=False)
    public_client.post(LOGIN, {"login": "new@operator.test", "password": PASSWORD})

    for path in console_paths(alpha):
        response = public_client.get(path)
        assert response.status_code == 302 and response["Location"] == ACTIVATE, path

    attempt = public_client.post(suspend_url(alpha), {"suspend-reason": "Unpaid"})
    assert attempt.status_code == 403
    assert b"Set up two-factor authentication" in attempt.content
    assert_untouched(alpha)


def test_a_password_alone_does_not_open_the_console_to_staff_with_mfa(alpha, public_client):
    public_account("olga@operator.test")
    step = public_client.post(LOGIN, {"login": "olga@operator.test", "password": PASSWORD})
    assert step["Location"] == AUTHENTICATE  # the code is still to come

    response = public_client.get(CONSOLE)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    attempt = public_client.post(suspend_url(alpha), {"suspend-reason": "Unpaid"})
    assert attempt.status_code == 302 and attempt["Location"].startswith(LOGIN)
    assert_untouched(alpha)


def test_a_session_that_did_not_pass_the_code_is_sent_to_confirm_it(
    alpha, public_client, django_capture_on_commit_callbacks
):
    """Staff who set up their authenticator app during a password-only session
    confirm a code before the console opens: the session itself must have
    passed the second factor."""
    user, _ = public_account("new@operator.test", totp=False)
    public_client.post(LOGIN, {"login": "new@operator.test", "password": PASSWORD})
    assert public_client.get(CONSOLE)["Location"] == ACTIVATE

    # Set it up through allauth's pages, which ask for the password again first.
    asked = public_client.get(ACTIVATE)
    assert asked["Location"].startswith("/accounts/reauthenticate/")
    public_client.post(asked["Location"], {"password": PASSWORD})
    secret = public_client.get(ACTIVATE).context["form"].secret
    with django_capture_on_commit_callbacks(execute=True):
        activated = public_client.post(ACTIVATE, {"code": totp_code(secret)})
    assert activated.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

    response = public_client.get(CONSOLE)
    assert response.status_code == 302
    assert response["Location"] == f"{MFA_REAUTHENTICATE}?next={CONSOLE}"
    attempt = public_client.post(suspend_url(alpha), {"suspend-reason": "Unpaid"})
    assert attempt.status_code == 302 and attempt["Location"].startswith(MFA_REAUTHENTICATE)
    assert_untouched(alpha)

    confirmed = public_client.post(response["Location"], {"code": totp_code(secret)})
    assert confirmed.status_code == 302 and confirmed["Location"] == CONSOLE
    assert public_client.get(CONSOLE).status_code == 200


def test_staff_whose_staff_flag_is_withdrawn_are_refused_at_the_next_request(alpha):
    client, user = console_client()
    assert client.get(CONSOLE).status_code == 200
    User.objects.filter(pk=user.pk).update(is_staff=False)
    assert client.get(CONSOLE).status_code == 403
    assert client.post(suspend_url(alpha), {"suspend-reason": "Unpaid"}).status_code == 403
    assert_untouched(alpha)


@pytest.mark.parametrize("is_staff", [False, True])
def test_an_institutions_own_admin_gets_nothing_on_the_bare_domain(alpha, is_staff):
    """Signed in on alpha's subdomain (even flagged staff there), the session
    belongs to alpha's schema: on the bare domain it is nobody's."""
    admin = admin_of(alpha)
    if is_staff:
        from django_tenants.utils import tenant_context

        with tenant_context(alpha):
            User.objects.filter(pk=admin.pk).update(is_staff=True)
        connection.set_schema_to_public()
    client = host_client("alpha.localhost")
    signed_in = client.post(LOGIN, {"login": admin.email, "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    assert client.get("/").context["user"].pk == admin.pk  # signed in on alpha

    # The test client sends its cookies to every host, so alpha's session
    # cookie does reach the bare domain here: it is still worth nothing.
    for path in console_paths(alpha):
        response = client.get(path, HTTP_HOST="localhost")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN), path
    attempt = client.post(suspend_url(alpha), {"suspend-reason": "x"}, HTTP_HOST="localhost")
    assert attempt.status_code == 302 and attempt["Location"].startswith(LOGIN)
    assert_untouched(alpha)


def test_the_console_is_not_served_on_an_institutions_subdomain(alpha, alpha_client):
    assert alpha_client.get(CONSOLE).status_code == 404


# --- allowed --------------------------------------------------------------------------


def test_staff_who_passed_the_code_reach_every_page(alpha):
    client, _ = console_client()
    for path in console_paths(alpha):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b'aria-label="Operator console"' in response.content


def test_sign_in_from_the_console_comes_back_to_it(db, public_client):
    _, secret = public_account("olga@operator.test")
    sent = public_client.get(f"{CONSOLE}audit/")
    page = public_client.get(sent["Location"])
    assert page.status_code == 200
    step = public_client.post(
        sent["Location"], {"login": "olga@operator.test", "password": PASSWORD}
    )
    assert step["Location"] == AUTHENTICATE
    done = public_client.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert done.status_code == 302 and done["Location"] == f"{CONSOLE}audit/"


def test_the_bare_domains_pages_lead_staff_to_the_console_and_nobody_else(db, public_client):
    link = '<a href="/console/">Console</a>'
    client, _ = console_client()
    assert link in client.get("/").content.decode()
    assert link not in host_client("localhost").get("/").content.decode()  # signed out
    public_account("someone@example.test", is_staff=False, totp=False)
    public_client.post(LOGIN, {"login": "someone@example.test", "password": PASSWORD})
    assert link not in public_client.get("/").content.decode()
