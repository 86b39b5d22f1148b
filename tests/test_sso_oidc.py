"""OpenID Connect single sign-on, end to end against a real OpenID provider, and
the admin API for identity providers and the security policy.

The provider is django-oauth-toolkit running as its own process on loopback
(tests/peers/oidc_provider) with its own database. Our side runs in the test
process through the Django test client on alpha.localhost; the browser's side
of the provider (its sign-in page, the authorization endpoint) is `requests`.
Discovery, the code exchange at the token endpoint and the userinfo request are
real HTTP calls from our code to that process: nothing is mocked.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urljoin, urlsplit

import environ
import psycopg
import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.conf import settings
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, SecurityPolicy, User
from tenant_apps.audit.models import AuditEvent, AuditEventType
from tests.conftest import PASSWORD, host_client

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_ID = "alpha-idp"
CLIENT_ID = "conceptspro-alpha"
CLIENT_SECRET = "alpha-client-secret-at-the-idp"
CALLBACK_PATH = f"/accounts/oidc/{PROVIDER_ID}/login/callback/"
# allauth builds absolute URLs with ACCOUNT_DEFAULT_HTTP_PROTOCOL (http in tests).
CALLBACK = f"{settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL}://alpha.localhost{CALLBACK_PATH}"
IDP_PEOPLE = {
    "ada": {
        "email": "ada@alpha.test",
        "password": "ada-idp-password",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "affiliation": ["faculty", "member"],
    },
    "sam": {
        "email": "sam@alpha.test",
        "password": "sam-idp-password",
        "first_name": "Sam",
        "last_name": "Student",
        "affiliation": ["student"],
    },
}
ROLE_SETTINGS = {
    "role_claim": "affiliation",
    "role_map": {"faculty": "instructor", "student": "student", "staff": "ta"},
    "default_role": "student",
}
SSO_ONLY_MESSAGE = "This institution signs in with single sign-on only"


# --- The OpenID provider peer ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin_connection(db: dict):
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture(scope="module")
def openid_provider(tmp_path_factory):
    """The provider process, its users and its client registration for alpha."""
    db = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    idp_db = f"{db['NAME']}_idp"
    with _admin_connection(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{idp_db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{idp_db}"')
    idp_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{idp_db}"

    workdir = tmp_path_factory.mktemp("oidc_provider")
    seed = workdir / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "users": [{"username": name, **person} for name, person in IDP_PEOPLE.items()],
                "clients": [
                    {
                        "client_id": CLIENT_ID,
                        "client_secret": CLIENT_SECRET,
                        "redirect_uris": [
                            f"https://alpha.localhost{CALLBACK_PATH}",
                            f"http://alpha.localhost{CALLBACK_PATH}",
                        ],
                    }
                ],
            }
        )
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "tests.peers.oidc_provider.serve"),
                *("--port", str(port), "--seed", str(seed)),
            ],
            cwd=ROOT,
            env={**os.environ, "IDP_DATABASE_URL": idp_url},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        discovery = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                discovery = requests.get(f"{base}/o/.well-known/openid-configuration", timeout=2)
                if discovery.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        if discovery is None or discovery.status_code != 200:
            pytest.fail(f"the OpenID provider did not start:\n{log.read_text()}")
        yield SimpleNamespace(
            base=base, server_url=f"{base}/o", discovery=discovery.json(), log=log
        )
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with _admin_connection(db) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{idp_db}" WITH (FORCE)')


# --- Helpers -----------------------------------------------------------------


def _person(institution, email, role, password=PASSWORD):
    with tenant_context(institution):
        return User.objects.create_user(
            email, password, first_name="Pat", last_name=role, role=role, email_verified=True
        )


def _signed_in(institution, user, host):
    client = host_client(host)
    with tenant_context(institution):
        client.force_login(user)
    return client


@pytest.fixture
def alpha_admin(alpha):
    with tenant_context(alpha):
        admin = User.objects.get(email="admin@alpha.test")
    return _signed_in(alpha, admin, "alpha.localhost")


def _oidc_provider_body(openid_provider, **overrides) -> dict:
    body = {
        "type": "oidc",
        "provider_id": PROVIDER_ID,
        "name": "Alpha University SSO",
        "client_id": CLIENT_ID,
        "secret": CLIENT_SECRET,
        "settings": {"server_url": openid_provider.server_url, **ROLE_SETTINGS},
    }
    return {**body, **overrides}


def _create_provider(client, openid_provider, **overrides):
    return client.post(
        "/api/v1/institution/identity-providers/",
        _oidc_provider_body(openid_provider, **overrides),
        content_type="application/json",
    )


class Browser:
    """The person's browser on the provider's side: its cookies, its sign-in form."""

    def __init__(self):
        self.session = requests.Session()

    def authorize(self, authorize_url: str, username: str) -> str:
        """Follow the authorization request through the provider's sign-in;
        return where the provider sends the browser back (our callback)."""
        answer = self.session.get(authorize_url, allow_redirects=False, timeout=10)
        if answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/login/":
            login_url = urljoin(authorize_url, answer.headers["Location"])
            page = self.session.get(login_url, timeout=10)
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            signed_in = self.session.post(
                login_url,
                data={
                    "csrfmiddlewaretoken": csrf,
                    "username": username,
                    "password": IDP_PEOPLE[username]["password"],
                    "next": parse_qs(urlsplit(login_url).query)["next"][0],
                },
                allow_redirects=False,
                timeout=10,
            )
            assert signed_in.status_code == 302, signed_in.text
            answer = self.session.get(
                urljoin(login_url, signed_in.headers["Location"]),
                allow_redirects=False,
                timeout=10,
            )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


def _start(client) -> str:
    """Press the institution's sign-in button; return the authorization request URL."""
    response = client.post(f"/accounts/oidc/{PROVIDER_ID}/login/")
    assert response.status_code == 302, response.content
    return response["Location"]


def _finish(client, callback_url: str):
    """Hand the provider's redirect back to our side, as the browser would."""
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return client.get(f"{parts.path}?{parts.query}", secure=parts.scheme == "https")


def _sso_sign_in(username: str):
    client = host_client("alpha.localhost")
    callback = Browser().authorize(_start(client), username)
    response = _finish(client, callback)
    assert response.status_code == 302, response.content
    return client


def _events(institution, event):
    with tenant_context(institution):
        return list(AuditEvent.objects.filter(event=event).order_by("created_at"))


# --- Sign-in through the provider ----------------------------------------------


def test_first_sso_login_creates_the_account_with_the_mapped_role(
    alpha, alpha_admin, openid_provider
):
    created = _create_provider(alpha_admin, openid_provider)
    assert created.status_code == 201, created.content
    # What the admin registers at their provider is exactly what we send.
    assert created.json()["redirect_uri"] == CALLBACK

    client = host_client("alpha.localhost")
    authorize_url = _start(client)
    # The endpoint came from discovery: settings only name the issuer.
    assert authorize_url.startswith(openid_provider.discovery["authorization_endpoint"] + "?")
    request = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    assert request["client_id"] == CLIENT_ID
    assert request["redirect_uri"] == CALLBACK
    assert request["response_type"] == "code"
    assert "openid" in request["scope"].split()
    assert request["code_challenge_method"] == "S256"
    assert len(request["code_challenge"]) == 43  # base64url of a SHA-256 digest

    browser = Browser()
    callback = browser.authorize(authorize_url, "ada")
    answer = parse_qs(urlsplit(callback).query)
    assert answer["state"] == [request["state"]]
    code = answer["code"][0]

    # The provider enforces PKCE: the code alone, or with a wrong verifier, is refused.
    token_endpoint = openid_provider.discovery["token_endpoint"]
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert requests.post(token_endpoint, data=exchange, timeout=10).status_code == 400
    wrong = requests.post(token_endpoint, data={**exchange, "code_verifier": "x" * 64}, timeout=10)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    # ... and refuses an authorization request without a challenge.
    without_pkce = re.sub(r"&code_challenge(_method)?=[^&]*", "", authorize_url)
    refused = parse_qs(urlsplit(browser.authorize(without_pkce, "ada")).query)
    assert "code" not in refused
    assert refused["error"] == ["invalid_request"]

    # Our callback exchanges the code with its verifier and reads userinfo.
    finished = _finish(client, callback)
    assert finished.status_code == 302
    assert finished["Location"] == "/"

    me = client.get("/api/v1/users/me/").json()
    assert me["email"] == "ada@alpha.test"
    assert me["role"] == Role.INSTRUCTOR  # affiliation "faculty" → instructor
    assert (me["first_name"], me["last_name"]) == ("Ada", "Lovelace")
    with tenant_context(alpha):
        user = User.objects.get(email="ada@alpha.test")
        assert user.email_verified
        assert EmailAddress.objects.get(user=user, email="ada@alpha.test").verified
        link = SocialAccount.objects.get(user=user)
        assert link.provider == PROVIDER_ID
        assert link.extra_data["userinfo"]["affiliation"] == ["faculty", "member"]
    [account_created] = _events(alpha, AuditEventType.SSO_ACCOUNT_CREATED)
    assert account_created.target_id == user.id
    assert account_created.metadata == {"provider": PROVIDER_ID, "role": "instructor"}
    [login] = _events(alpha, AuditEventType.SSO_LOGIN)
    assert login.target_id == user.id
    assert login.metadata["provider"] == PROVIDER_ID


def test_an_unmapped_affiliation_gets_the_default_role(alpha, alpha_admin, openid_provider):
    body = _oidc_provider_body(openid_provider)
    body["settings"] = {**body["settings"], "role_map": {"faculty": "instructor"}}
    body["settings"]["default_role"] = "ta"
    assert (
        alpha_admin.post(
            "/api/v1/institution/identity-providers/", body, content_type="application/json"
        ).status_code
        == 201
    )

    client = _sso_sign_in("sam")

    assert client.get("/api/v1/users/me/").json()["role"] == Role.TA


def test_a_second_login_reuses_the_same_account(alpha, alpha_admin, openid_provider):
    assert _create_provider(alpha_admin, openid_provider).status_code == 201

    first = _sso_sign_in("ada").get("/api/v1/users/me/").json()
    second = _sso_sign_in("ada").get("/api/v1/users/me/").json()

    assert second["id"] == first["id"]
    with tenant_context(alpha):
        assert User.objects.filter(email="ada@alpha.test").count() == 1
        assert SocialAccount.objects.filter(provider=PROVIDER_ID).count() == 1
    assert len(_events(alpha, AuditEventType.SSO_ACCOUNT_CREATED)) == 1
    assert len(_events(alpha, AuditEventType.SSO_LOGIN)) == 2


def test_sso_only_refuses_passwords_and_still_signs_in_with_sso(
    alpha, alpha_admin, openid_provider
):
    assert _create_provider(alpha_admin, openid_provider).status_code == 201
    _person(alpha, "pw@alpha.test", Role.STUDENT)

    switched = alpha_admin.patch(
        "/api/v1/institution/security-policy/",
        {"password_login_enabled": False},
        content_type="application/json",
    )
    assert switched.status_code == 200, switched.content
    assert switched.json()["password_login_enabled"] is False
    [changed] = _events(alpha, AuditEventType.POLICY_CHANGED)
    assert changed.metadata == {"changed": {"password_login_enabled": {"from": True, "to": False}}}

    client = host_client("alpha.localhost")
    page = client.get("/accounts/login/")
    assert f"/accounts/oidc/{PROVIDER_ID}/login/" in page.content.decode()
    refused = client.post("/accounts/login/", {"login": "pw@alpha.test", "password": PASSWORD})
    assert refused.status_code == 200
    assert SSO_ONLY_MESSAGE in refused.content.decode()
    assert client.get("/api/v1/users/me/").status_code == 401

    signed_in = _sso_sign_in("ada")
    assert signed_in.get("/api/v1/users/me/").json()["email"] == "ada@alpha.test"


# --- The security policy API -----------------------------------------------------


def test_sso_only_needs_an_identity_provider(alpha, alpha_admin):
    response = alpha_admin.put(
        "/api/v1/institution/security-policy/",
        {
            "allow_self_registration": False,
            "self_registration_domains": [],
            "password_login_enabled": False,
            "mfa_required_roles": [],
        },
        content_type="application/json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_identity_provider"
    with tenant_context(alpha):
        assert SecurityPolicy.objects.get_or_create(pk=1)[0].password_login_enabled
    assert _events(alpha, AuditEventType.POLICY_CHANGED) == []


def test_the_last_identity_provider_cannot_go_while_sso_only(alpha, alpha_admin, openid_provider):
    created = _create_provider(alpha_admin, openid_provider).json()
    alpha_admin.patch(
        "/api/v1/institution/security-policy/",
        {"password_login_enabled": False},
        content_type="application/json",
    )

    response = alpha_admin.delete(f"/api/v1/institution/identity-providers/{created['id']}/")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "identity_provider_required"
    with tenant_context(alpha):
        assert SocialApp.objects.filter(pk=created["id"]).exists()


def test_the_policy_is_read_and_edited_with_validation(alpha, alpha_admin):
    policy = alpha_admin.get("/api/v1/institution/security-policy/").json()
    assert policy.pop("updated_at")
    assert policy == {
        "allow_self_registration": False,
        "self_registration_domains": [],
        "password_login_enabled": True,
        "mfa_required_roles": [],
    }
    bad = alpha_admin.patch(
        "/api/v1/institution/security-policy/",
        {"mfa_required_roles": ["admin", "dean"], "self_registration_domains": ["not a domain"]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"mfa_required_roles", "self_registration_domains"}
    too_long = ".".join(["a" * 63] * 4) + ".edu"  # 260 characters, each label valid
    bad = alpha_admin.patch(
        "/api/v1/institution/security-policy/",
        {"self_registration_domains": [too_long]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"self_registration_domains"}

    good = alpha_admin.patch(
        "/api/v1/institution/security-policy/",
        {"mfa_required_roles": ["admin", "instructor"], "self_registration_domains": ["Alpha.EDU"]},
        content_type="application/json",
    )
    assert good.status_code == 200
    assert good.json()["mfa_required_roles"] == ["admin", "instructor"]
    assert good.json()["self_registration_domains"] == ["alpha.edu"]
    [changed] = _events(alpha, AuditEventType.POLICY_CHANGED)
    assert changed.metadata["changed"] == {
        "mfa_required_roles": {"from": [], "to": ["admin", "instructor"]},
        "self_registration_domains": {"from": [], "to": ["alpha.edu"]},
    }


# --- The identity provider API -----------------------------------------------------


def test_the_secret_is_write_only(alpha, alpha_admin, openid_provider):
    created = _create_provider(alpha_admin, openid_provider)
    listed = alpha_admin.get("/api/v1/institution/identity-providers/")
    one = alpha_admin.get(f"/api/v1/institution/identity-providers/{created.json()['id']}/")

    for body in (created.content, listed.content, one.content):
        assert CLIENT_SECRET.encode() not in body
    assert listed.json()["count"] == 1
    provider = one.json()
    assert provider["has_secret"] is True
    assert "secret" not in provider
    assert provider["settings"] == {
        "server_url": openid_provider.server_url,
        **ROLE_SETTINGS,
        "oauth_pkce_enabled": True,
    }
    assert provider["login_url"] == CALLBACK.replace("login/callback/", "login/")
    [event] = _events(alpha, AuditEventType.IDP_CHANGED)
    assert event.metadata["action"] == "created"
    assert CLIENT_SECRET not in json.dumps(event.metadata)


def test_updating_and_deleting_a_provider_is_audited(alpha, alpha_admin, openid_provider):
    pk = _create_provider(alpha_admin, openid_provider).json()["id"]
    url = f"/api/v1/institution/identity-providers/{pk}/"

    patched = alpha_admin.patch(
        url, {"secret": "rotated-secret", "name": "Alpha SSO"}, content_type="application/json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["name"] == "Alpha SSO"
    fixed = alpha_admin.patch(url, {"provider_id": "other"}, content_type="application/json")
    assert fixed.status_code == 400
    assert "provider_id" in fixed.json()["error"]["fields"]
    with tenant_context(alpha):
        assert SocialApp.objects.get(pk=pk).secret == "rotated-secret"

    assert alpha_admin.delete(url).status_code == 204
    assert alpha_admin.get(url).status_code == 404
    _created, updated, deleted = _events(alpha, AuditEventType.IDP_CHANGED)
    assert updated.metadata["changed"] == ["name", "secret"]
    assert deleted.metadata["action"] == "deleted"
    assert "rotated-secret" not in json.dumps(updated.metadata)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"settings": {"server_url": "http://idp.example.edu/o"}}, "settings"),
        (
            {
                "settings": {
                    "server_url": "https://idp.example.edu",
                    "role_claim": "a",
                    "role_map": {"x": "dean"},
                }
            },
            "settings",
        ),
        (
            {
                "settings": {
                    "server_url": "https://idp.example.edu",
                    "openid_configuration_overrides": {},
                }
            },
            "settings",
        ),
        ({"provider_id": "not a slug"}, "provider_id"),
        ({"secret": ""}, "secret"),
    ],
)
def test_invalid_identity_providers_are_refused(alpha, alpha_admin, openid_provider, change, field):
    response = _create_provider(alpha_admin, openid_provider, **change)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with tenant_context(alpha):
        assert not SocialApp.objects.exists()


def test_the_provider_id_is_unique(alpha, alpha_admin, openid_provider):
    assert _create_provider(alpha_admin, openid_provider).status_code == 201
    again = _create_provider(alpha_admin, openid_provider)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "provider_id_taken"


def test_a_saml_provider_needs_its_idp_keys(alpha, alpha_admin):
    body = {
        "type": "saml",
        "provider_id": "alpha-saml",
        "name": "Alpha SAML",
        "settings": {
            "idp": {"entity_id": "https://idp.alpha.edu/", "sso_url": "https://idp.alpha.edu/sso"},
            "attribute_mapping": {"uid": "uid", "email": ["mail", "email"]},
            "role_claim": "eduPersonAffiliation",
            "role_map": {"faculty": "instructor"},
        },
    }
    url = "/api/v1/institution/identity-providers/"
    missing = alpha_admin.post(url, body, content_type="application/json")
    assert missing.status_code == 400
    assert "x509cert" in missing.json()["error"]["fields"]["settings"]["idp"]

    body["settings"]["idp"]["x509cert"] = "MIIC...certificate..."
    created = alpha_admin.post(url, body, content_type="application/json")
    assert created.status_code == 201, created.content
    provider = created.json()
    assert provider["type"] == "saml"
    assert provider["client_id"] == "alpha-saml"
    assert provider["settings"]["attribute_mapping"] == {"uid": ["uid"], "email": ["mail", "email"]}
    site = CALLBACK.removesuffix(CALLBACK_PATH)
    assert provider["redirect_uri"] == f"{site}/accounts/saml/alpha-saml/acs/"
    assert provider["metadata_url"] == f"{site}/accounts/saml/alpha-saml/metadata/"


# --- Who may use the API --------------------------------------------------------------

ADMIN_ENDPOINTS = [
    ("get", "/api/v1/institution/identity-providers/"),
    ("post", "/api/v1/institution/identity-providers/"),
    ("get", "/api/v1/institution/identity-providers/{pk}/"),
    ("patch", "/api/v1/institution/identity-providers/{pk}/"),
    ("delete", "/api/v1/institution/identity-providers/{pk}/"),
    ("get", "/api/v1/institution/security-policy/"),
    ("patch", "/api/v1/institution/security-policy/"),
]


def _call(client, method, url, pk, openid_provider, **extra):
    body = _oidc_provider_body(openid_provider, provider_id="intruder")
    if "security-policy" in url:
        body = {"password_login_enabled": False, "allow_self_registration": True}
    return getattr(client, method)(
        url.format(pk=pk), body, content_type="application/json", **extra
    )


@pytest.mark.parametrize("role", [Role.INSTRUCTOR, Role.STUDENT])
def test_other_roles_are_refused(alpha, alpha_admin, openid_provider, role):
    pk = _create_provider(alpha_admin, openid_provider).json()["id"]
    client = _signed_in(alpha, _person(alpha, f"{role}@alpha.test", role), "alpha.localhost")

    for method, url in ADMIN_ENDPOINTS:
        response = _call(client, method, url, pk, openid_provider)
        assert response.status_code == 403, (method, url)
        assert response.json()["error"]["code"] == "permission_denied"
    with tenant_context(alpha):
        assert list(SocialApp.objects.values_list("provider_id", flat=True)) == [PROVIDER_ID]
        policy = SecurityPolicy.objects.get_or_create(pk=1)[0]
        assert policy.password_login_enabled and not policy.allow_self_registration


def test_anonymous_and_another_institutions_admin_are_refused(
    alpha, beta, alpha_admin, openid_provider
):
    pk = _create_provider(alpha_admin, openid_provider).json()["id"]
    with tenant_context(beta):
        beta_admin = User.objects.get(email="admin@beta.test")
    beta_client = _signed_in(beta, beta_admin, "beta.localhost")

    # On its own host, beta's admin sees beta's providers: none of alpha's.
    listed = beta_client.get("/api/v1/institution/identity-providers/")
    assert listed.status_code == 200
    assert listed.json()["count"] == 0
    assert beta_client.get(f"/api/v1/institution/identity-providers/{pk}/").status_code == 404

    for method, url in ADMIN_ENDPOINTS:
        anonymous = _call(host_client("alpha.localhost"), method, url, pk, openid_provider)
        assert anonymous.status_code == 401, (method, url)
        # beta's session cookie, sent to alpha's host, names no session there.
        # (alpha's answer deletes the unknown cookie: sign in afresh each time.)
        beta_client = _signed_in(beta, beta_admin, "beta.localhost")
        crossed = _call(beta_client, method, url, pk, openid_provider, HTTP_HOST="alpha.localhost")
        assert crossed.status_code == 401, (method, url)
    with tenant_context(alpha):
        assert list(SocialApp.objects.values_list("provider_id", flat=True)) == [PROVIDER_ID]
        assert SecurityPolicy.objects.get_or_create(pk=1)[0].password_login_enabled
