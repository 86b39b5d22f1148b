"""SAML 2.0 single sign-on against a real identity provider on loopback.

The IdP is pysaml2 (tests/peers/saml_idp); our side is allauth's SAML provider
configured as one institution's SocialApp in that institution's schema. The
browser's part is played by hand: our login redirect is fetched from the IdP
with `requests`, and the IdP's auto-submit form is posted to our ACS.
"""

import base64
import re
import shutil
import zlib
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, User
from tenant_apps.audit.models import AuditEvent, AuditEventType
from tests.peers.saml_idp import SamlIdp

XMLSEC1_MISSING = "xmlsec1 not installed: the pysaml2 IdP signs with it (apt-get install xmlsec1)"
pytestmark = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason=XMLSEC1_MISSING)

# The attributes' URI names (what Shibboleth and most IdPs send), by friendly name.
OID = {
    "uid": "urn:oid:0.9.2342.19200300.100.1.1",
    "mail": "urn:oid:0.9.2342.19200300.100.1.3",
    "givenName": "urn:oid:2.5.4.42",
    "sn": "urn:oid:2.5.4.4",
    "eduPersonAffiliation": "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
}

PEOPLE = {
    "pat": {
        "uid": ["pat"],
        "mail": ["pat.lee@alpha.test"],
        "givenName": ["Pat"],
        "sn": ["Lee"],
        "eduPersonAffiliation": ["faculty", "member"],
    },
    "sam": {
        "uid": ["sam"],
        "mail": ["sam.roe@alpha.test"],
        "givenName": ["Sam"],
        "sn": ["Roe"],
        "eduPersonAffiliation": ["student"],
    },
    "alex": {
        "uid": ["alex"],
        "mail": ["alex.kim@alpha.test"],
        "givenName": ["Alex"],
        "sn": ["Kim"],
        "eduPersonAffiliation": ["alum"],
    },
}


def saml_app_settings(idp, *, by_metadata_url: bool = False) -> dict:
    """An institution's SAML identity provider, as its admin would configure it."""
    if by_metadata_url:
        idp_settings = {"entity_id": idp.entity_id, "metadata_url": idp.metadata_url}
    else:
        idp_settings = {
            "entity_id": idp.entity_id,
            "sso_url": idp.sso_url,
            "x509cert": idp.certificate,
        }
    return {
        "idp": idp_settings,
        "attribute_mapping": {
            "uid": OID["uid"],
            "email": OID["mail"],
            "first_name": OID["givenName"],
            "last_name": OID["sn"],
        },
        "advanced": {
            "strict": True,
            "want_assertion_signed": True,
            "want_message_signed": True,
            "authn_request_signed": False,
            "reject_idp_initiated_sso": True,
        },
        "role_claim": OID["eduPersonAffiliation"],
        "role_map": {"faculty": "instructor", "student": "student"},
        "default_role": "student",
    }


def add_saml_app(institution, slug: str, idp, **options) -> None:
    with tenant_context(institution):
        SocialApp.objects.create(
            provider="saml",
            provider_id=slug,
            client_id=slug,
            name=f"{institution.name} sign-in",
            settings=saml_app_settings(idp, **options),
        )


def sp_metadata(client, slug: str) -> str:
    response = client.get(f"/accounts/saml/{slug}/metadata/")
    assert response.status_code == 200, response.content
    return response.content.decode()


@pytest.fixture
def idp():
    # Here too, for the tests in other modules that borrow this fixture.
    if shutil.which("xmlsec1") is None:
        pytest.skip(XMLSEC1_MISSING)
    with SamlIdp(people=PEOPLE) as running:
        yield running


@pytest.fixture
def alpha_sso(alpha, alpha_client, idp):
    """alpha signs in with `idp`, which knows alpha's service provider."""
    add_saml_app(alpha, "alpha", idp)
    idp.trust_sp(sp_metadata(alpha_client, "alpha"))
    return idp


def start_login(client, slug: str) -> str:
    """Our sign-in button: the URL of the IdP with the AuthnRequest."""
    response = client.post(f"/accounts/saml/{slug}/login/")
    assert response.status_code == 302, response.content
    return response["Location"]


def sign_in_at_idp(idp_url: str, user: str) -> dict[str, str]:
    """What the IdP's auto-submit form would post back: SAMLResponse, RelayState."""
    response = requests.get(idp_url, params={"user": user}, timeout=10)
    assert response.status_code == 200, response.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', response.text))
    return {name: unescape(value) for name, value in fields.items()}


def post_to_acs(client, slug: str, form: dict[str, str]):
    """The browser posts the form to our ACS, which hands over to its finish step."""
    posted = client.post(f"/accounts/saml/{slug}/acs/", form)
    if posted.status_code != 302:
        return posted
    return client.get(posted["Location"])


def saml_login(client, slug: str, user: str):
    return post_to_acs(client, slug, sign_in_at_idp(start_login(client, slug), user))


def signed_in_user(client):
    connection.set_schema_to_public()
    return client.get("/").context["user"]


def test_the_login_url_redirects_to_the_idp_with_an_authn_request(alpha_sso, alpha_client):
    # A GET only shows a confirmation form: a link cannot start a login.
    assert alpha_client.get("/accounts/saml/alpha/login/").status_code == 200

    location = start_login(alpha_client, "alpha")

    assert location.startswith(alpha_sso.sso_url + "?")
    (saml_request,) = parse_qs(urlsplit(location).query)["SAMLRequest"]
    xml = zlib.decompress(base64.b64decode(saml_request), -15).decode()
    assert "<samlp:AuthnRequest" in xml
    assert f'Destination="{alpha_sso.sso_url}"' in xml
    assert 'AssertionConsumerServiceURL="http://alpha.localhost/accounts/saml/alpha/acs/"' in xml


@pytest.mark.parametrize(
    ("user", "role"),
    [("pat", Role.INSTRUCTOR), ("sam", Role.STUDENT), ("alex", Role.STUDENT)],
    ids=["faculty-is-instructor", "student-is-student", "unmapped-gets-default"],
)
def test_first_login_creates_the_account_with_the_mapped_role(
    alpha, alpha_sso, alpha_client, user, role
):
    finished = saml_login(alpha_client, "alpha", user)

    assert finished.status_code == 302 and finished["Location"] == "/", finished.content
    email = PEOPLE[user]["mail"][0]
    signed_in = signed_in_user(alpha_client)
    assert signed_in.is_authenticated and signed_in.email == email
    with tenant_context(alpha):
        account = User.objects.get(email=email)
        assert (account.role, account.email_verified) == (role, True)
        assert (account.first_name, account.last_name) == (
            PEOPLE[user]["givenName"][0],
            PEOPLE[user]["sn"][0],
        )
        social = SocialAccount.objects.get(user=account)
        assert (social.provider, social.uid) == ("alpha", user)
        assert (
            social.extra_data[OID["eduPersonAffiliation"]] == PEOPLE[user]["eduPersonAffiliation"]
        )
        assert account.emailaddress_set.get().verified
        events = set(AuditEvent.objects.filter(target=account).values_list("event", flat=True))
        assert events == {AuditEventType.SSO_ACCOUNT_CREATED, AuditEventType.SSO_LOGIN}


def test_the_idp_may_be_configured_by_its_metadata_url(alpha, alpha_client, idp):
    add_saml_app(alpha, "alpha", idp, by_metadata_url=True)
    idp.trust_sp(sp_metadata(alpha_client, "alpha"))

    finished = saml_login(alpha_client, "alpha", "pat")

    assert finished.status_code == 302 and finished["Location"] == "/", finished.content
    assert signed_in_user(alpha_client).email == "pat.lee@alpha.test"


def test_second_login_reuses_the_account(alpha, alpha_sso, alpha_client):
    saml_login(alpha_client, "alpha", "pat")
    with tenant_context(alpha):
        first = User.objects.get(email="pat.lee@alpha.test")

    again = Client(HTTP_HOST="alpha.localhost")  # a new browser
    finished = saml_login(again, "alpha", "pat")

    assert finished.status_code == 302, finished.content
    assert signed_in_user(again).pk == first.pk
    with tenant_context(alpha):
        assert User.objects.filter(email="pat.lee@alpha.test").count() == 1
        assert SocialAccount.objects.filter(user=first).count() == 1
        logins = AuditEvent.objects.filter(target=first, event=AuditEventType.SSO_LOGIN)
        assert logins.count() == 2
        assert AuditEvent.objects.filter(event=AuditEventType.SSO_ACCOUNT_CREATED).count() == 1


def refusal_reason(finished) -> str:
    """Why allauth's SAML provider refused the response (its error page)."""
    assert finished.status_code == 401, finished.status_code
    assert "socialaccount/authentication_error.html" in [t.name for t in finished.templates]
    return finished.context["saml_last_error_reason"]


def assert_refused(client, institution, email: str) -> None:
    assert signed_in_user(client).is_anonymous
    with tenant_context(institution):
        assert not User.objects.filter(email=email).exists()
        assert not SocialAccount.objects.exists()
        assert not AuditEvent.objects.filter(event=AuditEventType.SSO_LOGIN).exists()


def test_a_response_signed_by_another_key_is_refused(alpha, alpha_sso, alpha_client):
    # The impostor answers alpha's AuthnRequest as alpha's IdP, with its own key.
    with SamlIdp(people=PEOPLE, impersonating=alpha_sso) as impostor:
        impostor.trust_sp(sp_metadata(alpha_client, "alpha"))
        idp_url = start_login(alpha_client, "alpha").replace(alpha_sso.base_url, impostor.base_url)
        form = sign_in_at_idp(idp_url, "pat")

    finished = post_to_acs(alpha_client, "alpha", form)

    assert refusal_reason(finished) == "Signature validation failed. SAML Response rejected"
    assert_refused(alpha_client, alpha, "pat.lee@alpha.test")
    # Only the key was wrong: had alpha trusted the impostor's key, it was in.
    with tenant_context(alpha):
        app = SocialApp.objects.get(provider="saml")
        app.settings["idp"]["x509cert"] = impostor.certificate
        app.save()
    assert post_to_acs(alpha_client, "alpha", form)["Location"] == "/"


def test_a_tampered_response_is_refused(alpha, alpha_sso, alpha_client):
    form = sign_in_at_idp(start_login(alpha_client, "alpha"), "sam")
    xml = base64.b64decode(form["SAMLResponse"]).decode()
    assert xml.count(">student<") == 1
    form["SAMLResponse"] = base64.b64encode(xml.replace(">student<", ">faculty<").encode()).decode()

    finished = post_to_acs(alpha_client, "alpha", form)

    assert refusal_reason(finished) == "Signature validation failed. SAML Response rejected"
    assert_refused(alpha_client, alpha, "sam.roe@alpha.test")


def test_alphas_response_does_not_sign_in_on_beta_without_an_idp(
    alpha_sso, alpha_client, beta, beta_client
):
    form = sign_in_at_idp(start_login(alpha_client, "alpha"), "pat")

    finished = post_to_acs(beta_client, "alpha", form)

    assert finished.status_code == 404
    assert beta_client.post("/accounts/saml/alpha/login/").status_code == 404
    assert beta_client.get("/accounts/saml/alpha/metadata/").status_code == 404
    assert_refused(beta_client, beta, "pat.lee@alpha.test")


def test_alphas_response_does_not_sign_in_on_beta_trusting_the_same_idp(
    alpha_sso, alpha_client, beta, beta_client
):
    # beta trusts the very same IdP: the response is still addressed to alpha.
    add_saml_app(beta, "beta", alpha_sso)
    form = sign_in_at_idp(start_login(alpha_client, "alpha"), "pat")

    finished = post_to_acs(beta_client, "beta", form)

    assert refusal_reason(finished) == (
        "The response was received at http://beta.localhost/accounts/saml/beta/acs/ "
        "instead of http://alpha.localhost/accounts/saml/alpha/acs/"
    )
    assert_refused(beta_client, beta, "pat.lee@alpha.test")
    # ...and it was not spent: alpha still accepts it.
    assert post_to_acs(alpha_client, "alpha", form)["Location"] == "/"


def test_a_captured_response_cannot_be_replayed_from_another_browser(
    alpha, alpha_sso, alpha_client
):
    form = sign_in_at_idp(start_login(alpha_client, "alpha"), "pat")
    assert post_to_acs(alpha_client, "alpha", form)["Location"] == "/"

    attacker = Client(HTTP_HOST="alpha.localhost")
    finished = post_to_acs(attacker, "alpha", form)

    # Its InResponseTo names a request this browser never made.
    assert finished.status_code == 403
    assert signed_in_user(attacker).is_anonymous
    with tenant_context(alpha):
        assert AuditEvent.objects.filter(event=AuditEventType.SSO_LOGIN).count() == 1
