"""/api/v1/auth/: sign-up, sign-in, tokens and account recovery, through HTTP on
an institution's subdomain."""

import json
import re
import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, SecurityPolicy, User
from tenant_apps.audit.models import AuditEvent, AuditEventType
from tests.conftest import PASSWORD

LOGIN = "/api/v1/auth/login/"
REGISTER = "/api/v1/auth/register/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
FORGOT = "/api/v1/auth/forgot-password/"
RESET = "/api/v1/auth/reset-password/"
VERIFY = "/api/v1/auth/verify-email/"
RESEND = "/api/v1/auth/resend-verification/"
ME = "/api/v1/users/me/"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def post(client: Client, path: str, body: dict, **extra):
    return client.post(path, json.dumps(body), content_type="application/json", **extra)


def login(client: Client, email: str, password: str = PASSWORD, **body):
    return post(client, LOGIN, {"email": email, "password": password, **body})


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def make_user(institution, email: str, **fields) -> User:
    fields = {"first_name": "Pat", "last_name": "Doe", "email_verified": True, **fields}
    with tenant_context(institution):
        return User.objects.create_user(email, PASSWORD, **fields)


def set_policy(institution, **fields) -> None:
    with tenant_context(institution):
        SecurityPolicy.objects.update_or_create(pk=1, defaults=fields)


def audit_events(institution, event: str) -> list[AuditEvent]:
    with tenant_context(institution):
        return list(AuditEvent.objects.filter(event=event))


def totp_code(secret: str = TOTP_SECRET, *, offset: int = 0) -> str:
    counter = int(time.time()) // 30 + offset
    return format_hotp_value(hotp_value(secret, counter))


def mail_key(message, pattern: str) -> str:
    match = re.search(pattern, message.body)
    assert match, message.body
    return match.group(1)


def error(response) -> dict:
    return response.json()["error"]


# --- login ---------------------------------------------------------------


def test_login_answers_tokens_that_authenticate_and_opens_no_browser_session(alpha, alpha_client):
    student = make_user(alpha, "student@alpha.test")
    csrf_enforcing = Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True)

    response = login(csrf_enforcing, "Student@Alpha.test")

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"] == {
        "id": str(student.id),
        "email": "student@alpha.test",
        "first_name": "Pat",
        "last_name": "Doe",
        "role": "student",
    }
    assert "sessionid" not in response.cookies
    assert "refresh_token" not in response.cookies
    me = alpha_client.get(ME, **bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == str(student.id)
    assert [e.target_id for e in audit_events(alpha, AuditEventType.LOGIN_SUCCEEDED)] == [
        student.id
    ]
    with tenant_context(alpha):
        student.refresh_from_db()
        assert student.last_login is not None


def test_login_with_missing_or_malformed_fields_is_a_400(alpha_client):
    response = post(alpha_client, LOGIN, {"email": "not-an-address"})

    assert response.status_code == 400
    assert error(response)["code"] == "invalid"
    assert set(error(response)["fields"]) == {"email", "password"}


def test_unknown_email_and_wrong_password_answer_identically(alpha, alpha_client):
    make_user(alpha, "known@alpha.test")

    unknown = login(alpha_client, "nobody@alpha.test")
    wrong = login(alpha_client, "known@alpha.test", "not-the-password")

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert error(wrong)["code"] == "invalid_credentials"
    assert len(audit_events(alpha, AuditEventType.LOGIN_FAILED)) == 2


def test_the_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(
    alpha, alpha_client
):
    make_user(alpha, "target@alpha.test")
    for _ in range(5):
        assert login(alpha_client, "target@alpha.test", "guess").status_code == 401

    response = login(alpha_client, "target@alpha.test")

    assert response.status_code == 429
    assert error(response)["code"] == "too_many_attempts"
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    lockouts = audit_events(alpha, AuditEventType.LOCKOUT)
    assert [e.email for e in lockouts] == ["target@alpha.test"]


def test_sso_only_policy_refuses_password_login(alpha, alpha_client):
    make_user(alpha, "sso@alpha.test")
    set_policy(alpha, password_login_enabled=False)

    response = login(alpha_client, "sso@alpha.test")

    assert response.status_code == 403
    assert error(response)["code"] == "password_login_disabled"
    assert "access_token" not in response.json()


@pytest.mark.parametrize(
    "state", [{"is_suspended": True}, {"deleted_at": timezone.now(), "is_active": False}]
)
def test_suspended_or_deleted_user_gets_the_invalid_credentials_answer(alpha, alpha_client, state):
    make_user(alpha, "gone@alpha.test", **state)

    right_password = login(alpha_client, "gone@alpha.test")
    wrong_password = login(alpha_client, "gone@alpha.test", "guess")

    assert right_password.status_code == 401
    assert right_password.json() == wrong_password.json()
    assert len(audit_events(alpha, AuditEventType.LOGIN_FAILED)) == 2


def test_unverified_email_is_refused_and_sent_a_new_link(alpha, alpha_client, mailoutbox):
    make_user(alpha, "new@alpha.test", email_verified=False)

    response = login(alpha_client, "new@alpha.test")

    assert response.status_code == 403
    assert error(response)["code"] == "email_not_verified"
    assert [m.to for m in mailoutbox] == [["new@alpha.test"]]
    assert "confirm-email/" in mailoutbox[0].body


def test_a_user_of_one_institution_cannot_sign_in_on_another(alpha, beta_client):
    make_user(alpha, "only-alpha@alpha.test")

    response = login(beta_client, "only-alpha@alpha.test")

    assert response.status_code == 401
    assert error(response)["code"] == "invalid_credentials"


# --- MFA -----------------------------------------------------------------


@pytest.fixture
def mfa_user(alpha):
    user = make_user(alpha, "mfa@alpha.test", role=Role.INSTRUCTOR)
    with tenant_context(alpha):
        TOTP.activate(user, TOTP_SECRET)
        recovery_codes = RecoveryCodes.activate(user).generate_codes()
    connection.set_schema_to_public()
    return user, recovery_codes


def test_a_user_with_totp_must_send_a_valid_code(alpha, alpha_client, mfa_user):
    without = login(alpha_client, "mfa@alpha.test")
    assert without.status_code == 401
    assert error(without)["code"] == "mfa_required"

    wrong = login(alpha_client, "mfa@alpha.test", code=totp_code(offset=1000))
    assert wrong.status_code == 401
    assert error(wrong)["code"] == "mfa_invalid"
    assert len(audit_events(alpha, AuditEventType.MFA_FAILED)) == 1

    right = login(alpha_client, "mfa@alpha.test", code=totp_code())
    assert right.status_code == 200
    assert right.json()["user"]["email"] == "mfa@alpha.test"

    # A TOTP code works once.
    assert error(login(alpha_client, "mfa@alpha.test", code=totp_code()))["code"] == "mfa_invalid"


def test_a_recovery_code_is_accepted_once(alpha_client, mfa_user):
    _, recovery_codes = mfa_user

    assert login(alpha_client, "mfa@alpha.test", code=recovery_codes[0]).status_code == 200
    again = login(alpha_client, "mfa@alpha.test", code=recovery_codes[0])
    assert error(again)["code"] == "mfa_invalid"


def test_the_wrong_password_with_a_valid_code_is_still_invalid_credentials(alpha_client, mfa_user):
    response = login(alpha_client, "mfa@alpha.test", "guess", code=totp_code())

    assert error(response)["code"] == "invalid_credentials"


def test_a_role_that_must_use_mfa_without_it_is_told_to_set_it_up(alpha, alpha_client):
    make_user(alpha, "teacher@alpha.test", role=Role.INSTRUCTOR)
    make_user(alpha, "learner@alpha.test", role=Role.STUDENT)
    set_policy(alpha, mfa_required_roles=[Role.INSTRUCTOR])

    instructor = login(alpha_client, "teacher@alpha.test")
    student = login(alpha_client, "learner@alpha.test")

    assert instructor.status_code == 403
    assert error(instructor)["code"] == "mfa_setup_required"
    assert student.status_code == 200


# --- tokens --------------------------------------------------------------


def test_refresh_rotates_and_the_spent_token_is_refused(alpha, alpha_client):
    make_user(alpha, "r@alpha.test")
    first = login(alpha_client, "r@alpha.test").json()

    rotated = post(alpha_client, REFRESH, {"refresh_token": first["refresh_token"]})

    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert alpha_client.get(ME, **bearer(second["access_token"])).status_code == 200
    spent = post(alpha_client, REFRESH, {"refresh_token": first["refresh_token"]})
    assert spent.status_code == 401
    assert error(spent)["code"] == "invalid_refresh_token"


def test_reusing_a_spent_refresh_token_ends_the_whole_session(alpha, alpha_client):
    user = make_user(alpha, "victim@alpha.test")
    stolen = login(alpha_client, "victim@alpha.test").json()["refresh_token"]
    legit = post(alpha_client, REFRESH, {"refresh_token": stolen}).json()

    assert post(alpha_client, REFRESH, {"refresh_token": stolen}).status_code == 401

    assert post(alpha_client, REFRESH, {"refresh_token": legit["refresh_token"]}).status_code == 401
    assert alpha_client.get(ME, **bearer(legit["access_token"])).status_code == 401
    assert [e.target_id for e in audit_events(alpha, AuditEventType.TOKEN_REFRESH_REUSED)] == [
        user.id
    ]


def test_refresh_without_a_token_is_a_400_and_with_garbage_a_401(alpha_client):
    missing = post(alpha_client, REFRESH, {})
    garbage = post(alpha_client, REFRESH, {"refresh_token": "not.a.token"})

    assert missing.status_code == 400
    assert set(error(missing)["fields"]) == {"refresh_token"}
    assert garbage.status_code == 401
    assert error(garbage)["code"] == "invalid_refresh_token"


def test_an_access_token_is_not_a_refresh_token(alpha, alpha_client):
    make_user(alpha, "mix@alpha.test")
    access = login(alpha_client, "mix@alpha.test").json()["access_token"]

    assert error(post(alpha_client, REFRESH, {"refresh_token": access}))["code"] == (
        "invalid_refresh_token"
    )


def test_the_refresh_token_can_live_in_an_httponly_cookie(alpha, alpha_client):
    make_user(alpha, "c@alpha.test")

    response = login(alpha_client, "c@alpha.test", refresh_cookie=True)

    assert "refresh_token" not in response.json()
    cookie = response.cookies["refresh_token"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/api/v1/auth/"
    assert not cookie["secure"]  # plain HTTP here; see the HTTPS case below
    refreshed = post(alpha_client, REFRESH, {})  # the client sends the cookie back
    assert refreshed.status_code == 200
    assert "refresh_token" not in refreshed.json()
    assert refreshed.cookies["refresh_token"].value != cookie.value
    assert alpha_client.get(ME, **bearer(refreshed.json()["access_token"])).status_code == 200

    body = {"email": "c@alpha.test", "password": PASSWORD, "refresh_cookie": True}
    secure = post(alpha_client, LOGIN, body, secure=True)
    assert secure.cookies["refresh_token"]["secure"]


def test_logout_revokes_the_access_and_refresh_tokens_at_once(alpha, alpha_client):
    user = make_user(alpha, "bye@alpha.test")
    signed_in = login(alpha_client, "bye@alpha.test", refresh_cookie=True)
    tokens, refresh_cookie = signed_in.json(), signed_in.cookies["refresh_token"].value

    response = alpha_client.post(LOGOUT, **bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert response.cookies["refresh_token"].value == ""  # cleared
    me = alpha_client.get(ME, **bearer(tokens["access_token"]))
    assert me.status_code == 401
    assert 'error="invalid_token"' in me["WWW-Authenticate"]
    alpha_client.cookies["refresh_token"] = refresh_cookie  # a client that kept it
    refused = post(alpha_client, REFRESH, {})
    assert refused.status_code == 401
    assert refused.cookies["refresh_token"].value == ""
    assert [e.actor_id for e in audit_events(alpha, AuditEventType.LOGOUT)] == [user.id]


def test_logout_also_ends_the_session_of_a_given_refresh_token(alpha, alpha_client):
    make_user(alpha, "two@alpha.test")
    phone = login(alpha_client, "two@alpha.test").json()
    laptop = login(alpha_client, "two@alpha.test").json()

    post(
        alpha_client,
        LOGOUT,
        {"refresh_token": laptop["refresh_token"]},
        **bearer(phone["access_token"]),
    )

    assert alpha_client.get(ME, **bearer(laptop["access_token"])).status_code == 401


def test_logout_needs_an_access_token(alpha_client):
    response = alpha_client.post(LOGOUT)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_access_token_from_alpha_is_refused_on_beta(alpha, beta, alpha_client, beta_client):
    make_user(alpha, "traveller@alpha.test")
    make_user(beta, "traveller@alpha.test")  # the same address is another account on beta
    tokens = login(alpha_client, "traveller@alpha.test").json()

    response = beta_client.get(ME, **bearer(tokens["access_token"]))
    refresh = post(beta_client, REFRESH, {"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "another institution" in response["WWW-Authenticate"]
    assert refresh.status_code == 401
    assert error(refresh)["code"] == "invalid_refresh_token"


def test_an_expired_access_token_is_refused_as_expired(alpha, alpha_client, settings):
    make_user(alpha, "late@alpha.test")
    settings.HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN = -1
    access = login(alpha_client, "late@alpha.test").json()["access_token"]
    settings.HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN = 15 * 60

    response = alpha_client.get(ME, **bearer(access))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "expired" in response["WWW-Authenticate"]


def test_a_tampered_access_token_is_refused_for_its_signature(alpha, alpha_client):
    make_user(alpha, "t@alpha.test")
    header, payload, signature = (
        login(alpha_client, "t@alpha.test").json()["access_token"].split(".")
    )
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = ".".join([header, payload, signature[:middle] + flipped + signature[middle + 1 :]])

    response = alpha_client.get(ME, **bearer(tampered))

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "signature is invalid" in response["WWW-Authenticate"]


# --- registration and email verification ----------------------------------

NEW_PERSON = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@alpha.test",
    "password": "analytical-engine-1843",
}


def test_registration_is_closed_by_default(alpha, alpha_client):
    response = post(alpha_client, REGISTER, NEW_PERSON)

    assert response.status_code == 403
    assert error(response)["code"] == "registration_closed"
    with tenant_context(alpha):
        assert not User.objects.filter(email="ada@alpha.test").exists()


def test_registration_is_closed_when_only_sso_is_allowed(alpha, alpha_client):
    set_policy(alpha, allow_self_registration=True, password_login_enabled=False)

    assert error(post(alpha_client, REGISTER, NEW_PERSON))["code"] == "registration_closed"


def test_open_registration_creates_a_student_who_verifies_then_signs_in(
    alpha, alpha_client, mailoutbox
):
    set_policy(alpha, allow_self_registration=True)

    response = post(alpha_client, REGISTER, {**NEW_PERSON, "email": "Ada@Alpha.test"})

    assert response.status_code == 201
    assert "sessionid" not in response.cookies
    with tenant_context(alpha):
        user = User.objects.get(email="ada@alpha.test")
        assert (user.role, user.first_name, user.email_verified) == ("student", "Ada", False)
    assert error(login(alpha_client, "ada@alpha.test", NEW_PERSON["password"]))["code"] == (
        "email_not_verified"
    )
    key = mail_key(mailoutbox[0], r"confirm-email/([-:\w]+)/")

    verified = post(alpha_client, VERIFY, {"key": key})

    assert verified.status_code == 200
    assert verified.json() == {"email": "ada@alpha.test", "verified": True}
    assert len(audit_events(alpha, AuditEventType.EMAIL_VERIFIED)) == 1
    assert login(alpha_client, "ada@alpha.test", NEW_PERSON["password"]).status_code == 200
    assert post(alpha_client, VERIFY, {"key": key}).status_code == 400  # used


def test_registering_an_existing_address_answers_the_same_and_creates_nothing(
    alpha, alpha_client, mailoutbox
):
    set_policy(alpha, allow_self_registration=True)
    make_user(alpha, "taken@alpha.test")

    existing = post(alpha_client, REGISTER, {**NEW_PERSON, "email": "taken@alpha.test"})
    new = post(alpha_client, REGISTER, NEW_PERSON)

    assert existing.status_code == new.status_code == 201
    assert existing.json() == new.json()
    with tenant_context(alpha):
        assert User.objects.filter(email="taken@alpha.test").count() == 1
        taken = User.objects.get(email="taken@alpha.test")
        assert taken.check_password(PASSWORD)
    to_taken = [m for m in mailoutbox if m.to == ["taken@alpha.test"]]
    assert len(to_taken) == 1
    assert "confirm-email/" not in to_taken[0].body  # allauth's "you already have an account"


def test_registration_with_bad_fields_is_a_400(alpha, alpha_client):
    set_policy(alpha, allow_self_registration=True)

    response = post(alpha_client, REGISTER, {"email": "nope", "password": "123"})

    assert response.status_code == 400
    assert set(error(response)["fields"]) >= {"email", "password", "first_name", "last_name"}


def test_registration_keeps_to_the_allowed_domains(alpha, alpha_client):
    set_policy(alpha, allow_self_registration=True, self_registration_domains=["alpha.edu"])

    outside = post(alpha_client, REGISTER, NEW_PERSON)
    inside = post(alpha_client, REGISTER, {**NEW_PERSON, "email": "ada@ALPHA.edu"})

    assert outside.status_code == 400
    assert set(error(outside)["fields"]) == {"email"}
    assert inside.status_code == 201


def test_verify_email_with_a_bad_key_is_a_400(alpha_client):
    response = post(alpha_client, VERIFY, {"key": "forged"})

    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"key"}


def test_resend_verification_answers_the_same_for_any_address(alpha, alpha_client, mailoutbox):
    make_user(alpha, "pending@alpha.test", email_verified=False)
    make_user(alpha, "done@alpha.test")

    answers = [
        post(alpha_client, RESEND, {"email": email})
        for email in ("pending@alpha.test", "done@alpha.test", "nobody@alpha.test")
    ]

    assert {a.status_code for a in answers} == {200}
    assert len({json.dumps(a.json()) for a in answers}) == 1
    assert [m.to for m in mailoutbox] == [["pending@alpha.test"]]
    assert post(alpha_client, RESEND, {"email": "x"}).status_code == 400


# --- password reset --------------------------------------------------------


def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(
    alpha, alpha_client, mailoutbox
):
    make_user(alpha, "forgetful@alpha.test")

    known = post(alpha_client, FORGOT, {"email": "forgetful@alpha.test"})
    unknown = post(alpha_client, FORGOT, {"email": "stranger@alpha.test"})

    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert (
        "password/reset/key/"
        in next(m for m in mailoutbox if m.to == ["forgetful@alpha.test"]).body
    )
    assert post(alpha_client, FORGOT, {"email": "bad"}).status_code == 400


def test_reset_password_with_the_emailed_key_sets_it_and_ends_open_sessions(
    alpha, alpha_client, mailoutbox
):
    make_user(alpha, "forgetful@alpha.test")
    old_access = login(alpha_client, "forgetful@alpha.test").json()["access_token"]
    post(alpha_client, FORGOT, {"email": "forgetful@alpha.test"})
    key = mail_key(mailoutbox[-1], r"password/reset/key/([0-9A-Za-z]+-[^/\s]+)/")

    weak = post(alpha_client, RESET, {"key": key, "password": "123"})
    bad_key = post(
        alpha_client, RESET, {"key": key[:-3] + "xyz", "password": "a-new-long-password"}
    )
    done = post(alpha_client, RESET, {"key": key, "password": "a-new-long-password"})

    assert weak.status_code == 400 and set(error(weak)["fields"]) == {"password"}
    assert bad_key.status_code == 400 and set(error(bad_key)["fields"]) == {"key"}
    assert done.status_code == 200
    assert (
        post(alpha_client, RESET, {"key": key, "password": "another-long-one"}).status_code == 400
    )
    assert alpha_client.get(ME, **bearer(old_access)).status_code == 401
    assert login(alpha_client, "forgetful@alpha.test").status_code == 401
    assert login(alpha_client, "forgetful@alpha.test", "a-new-long-password").status_code == 200
    assert len(audit_events(alpha, AuditEventType.PASSWORD_RESET)) == 1


def test_a_reset_key_from_alpha_does_nothing_on_beta(
    alpha, beta, alpha_client, beta_client, mailoutbox
):
    forgetful = make_user(alpha, "forgetful@alpha.test")
    # The worst case: beta has an account with the very same id (the key names
    # the user by id) and the same password.
    twin = make_user(beta, "twin@beta.test", id=forgetful.id)
    post(alpha_client, FORGOT, {"email": "forgetful@alpha.test"})
    key = mail_key(mailoutbox[-1], r"password/reset/key/([0-9A-Za-z]+-[^/\s]+)/")

    response = post(beta_client, RESET, {"key": key, "password": "a-new-long-password"})

    assert response.status_code == 400
    assert set(error(response)["fields"]) == {"key"}
    with tenant_context(beta):
        assert User.objects.get(pk=twin.pk).check_password(PASSWORD)


def test_a_verification_key_from_alpha_verifies_nothing_on_beta(
    alpha, beta, alpha_client, beta_client, mailoutbox
):
    set_policy(alpha, allow_self_registration=True)
    post(alpha_client, REGISTER, NEW_PERSON)
    key = mail_key(mailoutbox[0], r"confirm-email/([-:\w]+)/")
    with tenant_context(alpha):
        alpha_address_id = EmailAddress.objects.get(email="ada@alpha.test").pk
    # Beta's unverified address with the same id: ids repeat from one schema to another.
    unverified = make_user(beta, "someone-else@beta.test", email_verified=False)
    with tenant_context(beta):
        EmailAddress.objects.filter(pk=alpha_address_id).delete()
        EmailAddress.objects.filter(user=unverified).delete()
        EmailAddress.objects.create(
            pk=alpha_address_id, user=unverified, email=unverified.email, primary=True
        )

    response = post(beta_client, VERIFY, {"key": key})

    assert response.status_code == 400
    with tenant_context(beta):
        assert not EmailAddress.objects.get(pk=alpha_address_id).verified


@pytest.mark.parametrize(
    "policy", [{"password_login_enabled": False}, {"mfa_required_roles": ["student"]}]
)
def test_a_stricter_policy_stops_renewing_existing_api_sessions(alpha, alpha_client, policy):
    make_user(alpha, "old-session@alpha.test")
    tokens = login(alpha_client, "old-session@alpha.test").json()
    set_policy(alpha, **policy)

    refused = post(alpha_client, REFRESH, {"refresh_token": tokens["refresh_token"]})

    assert refused.status_code == 401
    assert error(refused)["code"] == "invalid_refresh_token"
    assert alpha_client.get(ME, **bearer(tokens["access_token"])).status_code == 401
