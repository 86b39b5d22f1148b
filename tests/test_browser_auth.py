"""The server-rendered sign-in pages on an institution's subdomain, through HTTP:
sign-in, lockout, no account enumeration, password reset and change,
self-registration with email verification, sign-out, SSO-only institutions,
and sessions that stay in their own institution."""

import re
from html.parser import HTMLParser

from allauth.socialaccount.models import SocialApp
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, SecurityPolicy, User
from tenant_apps.accounts.services import user_ensure
from tenant_apps.audit.models import AuditEvent

from .conftest import PASSWORD

LOGIN = "/accounts/login/"
NEW_PASSWORD = "another-long-password-2"


# --- helpers shared with test_mfa ---------------------------------------------


def member(institution, email, role=Role.STUDENT, password=PASSWORD) -> User:
    """A member with a verified address, as an invitation or an admin makes one."""
    with tenant_context(institution):
        user, _ = user_ensure(
            email=email, first_name="Pat", last_name="Lee", role=role, password=password
        )
    connection.set_schema_to_public()
    return user


def policy_set(institution, **fields) -> None:
    with tenant_context(institution):
        SecurityPolicy.objects.update_or_create(pk=1, defaults=fields)
    connection.set_schema_to_public()


def sign_in(client, email, password=PASSWORD, **extra):
    return client.post(LOGIN, {"login": email, "password": password}, **extra)


def signed_in_user(client):
    """Who the institution's home page says is signed in (None: nobody)."""
    user = client.get("/").context["user"]
    return user if user.is_authenticated else None


def audit_events(institution, event, **filters) -> list[AuditEvent]:
    with tenant_context(institution):
        events = list(AuditEvent.objects.filter(event=event, **filters))
    connection.set_schema_to_public()
    return events


class _Page(HTMLParser):
    """The form controls, labels, ids and in-page links of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self.fragment_links: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag in ("input", "select", "textarea") and attrs.get("type") not in (
            "hidden",
            "submit",
        ):
            self.controls.append(attrs)
        elif tag == "label" and attrs.get("for"):
            self.label_for.add(attrs["for"])
        elif tag == "a" and (attrs.get("href") or "").startswith("#"):
            self.fragment_links.append(attrs["href"][1:])


def assert_accessible_form(response) -> _Page:
    """Every control has a label; what it is described by and every in-page
    link (the error summary's, the skip link) point at something that exists."""
    page = _Page(response.content.decode())
    assert page.controls, "no form on the page"
    for control in page.controls:
        assert control.get("id") in page.label_for, f"unlabelled control {control}"
        for described_by in (control.get("aria-describedby") or "").split():
            assert described_by in page.ids, f"{control} described by missing {described_by}"
    for target in page.fragment_links:
        assert target in page.ids, f"link to missing #{target}"
    assert "main" in page.fragment_links  # the skip link
    return page


def error_summary(response) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', response.content.decode(), re.S)
    assert match, "no error summary on the page"
    return match.group(0)


def link_in_mail(message, path_prefix: str) -> str:
    match = re.search(rf"https?://alpha\.localhost({re.escape(path_prefix)}\S*)", message.body)
    assert match, f"no {path_prefix} link in {message.body!r}"
    return match.group(1)


# --- sign-in --------------------------------------------------------------------


def test_login_page_has_labelled_fields_and_no_signup_link_by_default(alpha_client):
    response = alpha_client.get(LOGIN)
    assert response.status_code == 200
    page = assert_accessible_form(response)
    assert {c["name"] for c in page.controls} == {"login", "password", "remember"}
    assert b"/accounts/signup/" not in response.content  # self-registration is off
    assert b'aria-label="Account"' in response.content  # the site nav, with "Sign in"


def test_login_succeeds_redirects_and_is_audited(alpha, alpha_client):
    user = member(alpha, "pat@alpha.test")
    response = sign_in(alpha_client, "PAT@alpha.test")
    assert response.status_code == 302 and response["Location"] == "/"

    home = alpha_client.get("/")
    assert home.context["user"].pk == user.pk
    assert b"Pat Lee" in home.content and b"Sign out" in home.content
    assert b'href="/accounts/2fa/"' in home.content  # the "Security" link
    [event] = audit_events(alpha, "login.succeeded", target=user)
    assert event.ip_address == "127.0.0.1"


def test_a_wrong_password_is_refused_with_an_announced_error(alpha, alpha_client):
    member(alpha, "pat@alpha.test")
    response = sign_in(alpha_client, "pat@alpha.test", "not-the-password")
    assert response.status_code == 200
    assert 'role="alert"' in error_summary(response)
    assert_accessible_form(response)
    assert signed_in_user(alpha_client) is None
    assert len(audit_events(alpha, "login.failed", email="pat@alpha.test")) == 1


def test_five_failures_lock_the_account_even_for_the_right_password(alpha, alpha_client):
    member(alpha, "pat@alpha.test")
    for _ in range(5):
        refused = sign_in(alpha_client, "pat@alpha.test", "guess")
        assert "not correct" in error_summary(refused)

    locked = sign_in(alpha_client, "pat@alpha.test")
    assert locked.status_code == 200
    assert "Too many failed sign-in attempts" in error_summary(locked)
    assert signed_in_user(alpha_client) is None
    assert audit_events(alpha, "login.locked_out", email="pat@alpha.test")

    # The limit is per account too: another address is refused as well.
    elsewhere = sign_in(alpha_client, "pat@alpha.test", REMOTE_ADDR="10.9.9.9")
    assert "Too many failed sign-in attempts" in error_summary(elsewhere)
    assert signed_in_user(alpha_client) is None


def test_five_failures_from_one_address_lock_that_address(alpha, alpha_client):
    member(alpha, "pat@alpha.test")
    for n in range(5):
        sign_in(alpha_client, f"nobody{n}@alpha.test", "guess", REMOTE_ADDR="10.0.0.7")

    locked = sign_in(alpha_client, "pat@alpha.test", REMOTE_ADDR="10.0.0.7")
    assert "Too many failed sign-in attempts" in error_summary(locked)
    assert signed_in_user(alpha_client) is None

    # The account itself is not locked: from another address it signs in.
    assert sign_in(alpha_client, "pat@alpha.test", REMOTE_ADDR="10.0.0.8").status_code == 302
    assert signed_in_user(alpha_client) is not None


def test_unknown_email_and_wrong_password_give_the_same_error(alpha, alpha_client):
    member(alpha, "pat@alpha.test")
    wrong_password = sign_in(alpha_client, "pat@alpha.test", "guess")
    unknown_email = sign_in(alpha_client, "nobody@alpha.test", "guess")
    assert wrong_password.status_code == unknown_email.status_code == 200
    assert error_summary(wrong_password).encode() == error_summary(unknown_email).encode()


def test_the_policy_is_read_only_by_pages_that_use_it(alpha_client):
    with CaptureQueriesContext(connection) as home:
        alpha_client.get("/")
    with CaptureQueriesContext(connection) as login:
        alpha_client.get(LOGIN)
    assert not any("accounts_securitypolicy" in q["sql"] for q in home.captured_queries)
    assert any("accounts_securitypolicy" in q["sql"] for q in login.captured_queries)


def test_the_public_site_login_page_has_no_institution_policy(db, public_client):
    response = public_client.get(LOGIN)
    assert response.status_code == 200
    assert "security_policy" not in response.context
    assert b'name="password"' in response.content


# --- SSO-only institutions ------------------------------------------------------


def test_sso_only_institution_hides_the_password_form_and_lists_its_providers(alpha, alpha_client):
    member(alpha, "pat@alpha.test")
    policy_set(alpha, password_login_enabled=False)
    with tenant_context(alpha):
        SocialApp.objects.create(
            provider="openid_connect",
            provider_id="alpha-idp",
            name="Alpha Single Sign-On",
            client_id="lms",
            secret="s3cret",
            settings={"server_url": "https://idp.alpha.test"},
        )
    connection.set_schema_to_public()

    page = alpha_client.get(LOGIN)
    assert page.status_code == 200
    assert b'name="password"' not in page.content
    assert b"single sign-on only" in page.content
    html = page.content.decode()
    # The provider is a button posting to allauth's provider login view.
    assert re.search(
        r'<form method="post" action="/accounts/oidc/alpha-idp/login/\?process=login">.*?'
        r'<button type="submit"[^>]*>Sign in with Alpha Single Sign-On</button>',
        html,
        re.S,
    )

    # A password sent anyway is refused.
    refused = sign_in(alpha_client, "pat@alpha.test")
    assert "single sign-on only" in error_summary(refused)
    assert signed_in_user(alpha_client) is None


def test_providers_are_listed_beside_the_password_form(alpha, alpha_client):
    with tenant_context(alpha):
        SocialApp.objects.create(
            provider="openid_connect",
            provider_id="alpha-idp",
            name="Alpha Single Sign-On",
            client_id="lms",
            settings={"server_url": "https://idp.alpha.test"},
        )
    connection.set_schema_to_public()
    page = alpha_client.get(LOGIN)
    assert b'name="password"' in page.content
    assert b"Sign in with Alpha Single Sign-On" in page.content
    # beta has no provider: alpha's is not listed there.
    assert (
        b"Alpha Single Sign-On" not in alpha_client.get(LOGIN, HTTP_HOST="beta.localhost").content
    )


# --- password reset and change --------------------------------------------------


def test_password_reset_answers_alike_and_mails_a_link_only_to_the_account(alpha, alpha_client):
    user = member(alpha, "pat@alpha.test")
    page = alpha_client.get("/accounts/password/reset/")
    assert page.status_code == 200
    assert_accessible_form(page)

    known = alpha_client.post("/accounts/password/reset/", {"email": "pat@alpha.test"})
    unknown = alpha_client.post("/accounts/password/reset/", {"email": "nobody@alpha.test"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == "/accounts/password/reset/done/"
    assert alpha_client.get(known["Location"]).status_code == 200

    to_known = [m for m in mail.outbox if m.to == ["pat@alpha.test"]]
    to_unknown = [m for m in mail.outbox if m.to == ["nobody@alpha.test"]]
    assert len(to_known) == 1 and len(mail.outbox) == 1 + len(to_unknown)
    assert all("/accounts/password/reset/key/" not in m.body for m in to_unknown)

    link = alpha_client.get(link_in_mail(to_known[0], "/accounts/password/reset/key/"))
    assert link.status_code == 302  # allauth moves the key from the URL into the session
    form = alpha_client.get(link["Location"])
    assert form.status_code == 200
    assert_accessible_form(form)
    done = alpha_client.post(
        link["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert alpha_client.get(done["Location"]).status_code == 200  # "password changed"
    assert audit_events(alpha, "password.reset", target=user)

    assert sign_in(alpha_client, "pat@alpha.test", PASSWORD).status_code == 200  # old: refused
    assert sign_in(alpha_client, "pat@alpha.test", NEW_PASSWORD).status_code == 302
    assert signed_in_user(alpha_client).pk == user.pk


def test_password_change_for_a_signed_in_user(alpha, alpha_client):
    assert alpha_client.get("/accounts/password/change/").status_code == 302  # anonymous
    user = member(alpha, "pat@alpha.test")
    sign_in(alpha_client, "pat@alpha.test")

    page = alpha_client.get("/accounts/password/change/")
    assert page.status_code == 200
    assert_accessible_form(page)

    wrong = alpha_client.post(
        "/accounts/password/change/",
        {"oldpassword": "guess", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200
    assert 'href="#id_oldpassword"' in error_summary(wrong)  # the error links to its field
    assert b'aria-invalid="true"' in wrong.content
    assert not audit_events(alpha, "password.changed", target=user)

    changed = alpha_client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert audit_events(alpha, "password.changed", target=user)

    alpha_client.post("/accounts/logout/")
    assert sign_in(alpha_client, "pat@alpha.test", NEW_PASSWORD).status_code == 302


# --- self-registration and email verification -----------------------------------


def test_self_registration_makes_an_unverified_student_until_the_mail_link(alpha, alpha_client):
    policy_set(alpha, allow_self_registration=True)
    assert b"/accounts/signup/" in alpha_client.get(LOGIN).content

    page = alpha_client.get("/accounts/signup/")
    assert page.status_code == 200
    form = assert_accessible_form(page)
    assert [c["name"] for c in form.controls] == [
        "first_name",
        "last_name",
        "email",
        "password1",
        "password2",
    ]

    invalid = alpha_client.post("/accounts/signup/", {"email": "not-an-address"})
    assert 'href="#id_email"' in error_summary(invalid)
    assert_accessible_form(invalid)  # aria-describedby points at the field's errors

    response = alpha_client.post(
        "/accounts/signup/",
        {
            "first_name": "Sam",
            "last_name": "New",
            "email": "sam@alpha.test",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert alpha_client.get(response["Location"]).status_code == 200  # "verify your email"
    with tenant_context(alpha):
        user = User.objects.get(email="sam@alpha.test")
    assert user.role == Role.STUDENT and not user.email_verified

    [message] = mail.outbox
    confirm_url = link_in_mail(message, "/accounts/confirm-email/")
    assert alpha_client.get(confirm_url).status_code == 200
    assert alpha_client.post(confirm_url).status_code == 302

    with tenant_context(alpha):
        user.refresh_from_db()
    assert user.email_verified
    assert audit_events(alpha, "email.verified", target=user)
    assert sign_in(alpha_client, "sam@alpha.test", NEW_PASSWORD).status_code == 302


def test_signup_is_closed_unless_the_policy_allows_it(alpha, alpha_client):
    closed = alpha_client.get("/accounts/signup/")
    assert closed.status_code == 200
    assert b"Sign-up closed" in closed.content and b'name="email"' not in closed.content

    alpha_client.post(
        "/accounts/signup/",
        {
            "first_name": "Sam",
            "last_name": "New",
            "email": "sam@alpha.test",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    with tenant_context(alpha):
        assert not User.objects.filter(email="sam@alpha.test").exists()
    assert not mail.outbox

    # Self-registration needs password sign-in: SSO-only keeps it closed.
    policy_set(alpha, allow_self_registration=True, password_login_enabled=False)
    assert b"Sign-up closed" in alpha_client.get("/accounts/signup/").content


# --- sign-out and institutions apart --------------------------------------------


def test_logout_is_a_post(alpha, alpha_client):
    user = member(alpha, "pat@alpha.test")
    sign_in(alpha_client, "pat@alpha.test")

    confirm = alpha_client.get("/accounts/logout/")
    assert confirm.status_code == 200 and b'method="post"' in confirm.content
    assert signed_in_user(alpha_client) is not None  # GET does not sign out

    assert alpha_client.post("/accounts/logout/").status_code == 302
    assert signed_in_user(alpha_client) is None
    assert audit_events(alpha, "logout", target=user)


def test_a_beta_session_does_not_sign_in_on_alpha(alpha, beta, beta_client):
    member(alpha, "pat@alpha.test")
    assert sign_in(beta_client, "admin@beta.test").status_code == 302
    assert signed_in_user(beta_client) is not None

    # The same browser (cookie jar) on alpha: nobody is signed in there.
    on_alpha = beta_client.get("/", HTTP_HOST="alpha.localhost")
    assert on_alpha.context["user"].is_anonymous
    assert b"Sign out" not in on_alpha.content
    change = beta_client.get("/accounts/password/change/", HTTP_HOST="alpha.localhost")
    assert change.status_code == 302 and change["Location"].startswith(LOGIN)
    # beta's credentials mean nothing on alpha either.
    assert sign_in(beta_client, "admin@beta.test", HTTP_HOST="alpha.localhost").status_code == 200


def test_email_addresses_are_not_self_service(alpha, alpha_client):
    alpha_client.post("/accounts/login/", {"login": "admin@alpha.test", "password": PASSWORD})
    response = alpha_client.get("/accounts/email/")
    assert response.status_code == 403
    assert b"managed by your institution" in response.content
    response = alpha_client.post(
        "/accounts/email/", {"email": "other@alpha.test", "action_add": ""}
    )
    assert response.status_code == 403
