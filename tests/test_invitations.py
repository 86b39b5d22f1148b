"""Invitations: an admin invites people by email (one at a time or from a CSV
file); the invitee follows the emailed link, sets a password and signs in."""

import copy
import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Invitation, Role, SecurityPolicy, User
from tenant_apps.audit.models import AuditEvent, AuditEventType
from tests.conftest import PASSWORD

NEW_PASSWORD = "correct-horse-battery-staple"
LINK = re.compile(r"http://alpha\.localhost/accounts/invitations/([A-Za-z0-9_-]+)/")
API = "/api/v1/users/invitations/"
PAGE = "/accounts/invitations/"


def _user(institution, email, role=Role.STUDENT) -> User:
    with tenant_context(institution):
        return User.objects.create_user(
            email, PASSWORD, first_name="Pat", last_name="Example", role=role
        )


def _sign_in(client: Client, institution, user: User) -> Client:
    with tenant_context(institution):
        client.force_login(user)
    return client


@pytest.fixture
def admin_client(alpha, alpha_client) -> Client:
    with tenant_context(alpha):
        admin = User.objects.get(email="admin@alpha.test")
    return _sign_in(alpha_client, alpha, admin)


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Run one request and the on-commit callbacks (the emails) it queued."""

    def run(method, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return method(*args, **kwargs)

    return run


def _key_from_mail(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def _invite(admin_client, send, email="new.person@alpha.test", role="instructor", **names):
    response = send(admin_client.post, API, {"email": email, "role": role, **names})
    assert response.status_code == 201, response.content
    return response.json(), _key_from_mail(mail.outbox[-1])


def _invitations(institution, **filters):
    with tenant_context(institution):
        return list(Invitation.objects.filter(**filters))


def _users(institution, email):
    with tenant_context(institution):
        return list(User.objects.filter(email=email))


def _accept(client, key, password=NEW_PASSWORD, **fields):
    data = {
        "first_name": "Nia",
        "last_name": "Okafor",
        "password1": password,
        "password2": password,
    }
    return client.post(f"{PAGE}{key}/", {**data, **fields})


# --- The whole journey -----------------------------------------------------------------


def test_the_invitee_follows_the_link_gets_the_invited_role_and_signs_in(alpha, admin_client, send):
    body, key = _invite(
        admin_client, send, "New.Person@alpha.test", first_name="Nia", last_name="O"
    )
    assert body["email"] == "new.person@alpha.test"
    assert body["status"] == "open" and body["role"] == "instructor" and body["resent"] is False
    assert body["invited_by"]["email"] == "admin@alpha.test"
    [message] = mail.outbox
    assert message.to == ["new.person@alpha.test"]
    assert f"http://alpha.localhost/accounts/invitations/{key}/" in message.body
    [invitation] = _invitations(alpha, email="new.person@alpha.test")
    assert key not in invitation.key_hash and len(invitation.key_hash) == 64
    assert invitation.expires_at - timezone.now() > timedelta(days=13, hours=23)

    invitee = Client(HTTP_HOST="alpha.localhost")
    page = invitee.get(f"{PAGE}{key}/")
    assert page.status_code == 200
    assert b"new.person@alpha.test" in page.content and b'name="password1"' in page.content

    accepted = _accept(invitee, key)
    assert accepted.status_code == 302 and accepted["Location"] == "/"
    me = invitee.get("/api/v1/users/me/").json()
    assert (me["email"], me["role"], me["first_name"]) == (
        "new.person@alpha.test",
        "instructor",
        "Nia",
    )
    with tenant_context(alpha):
        user = User.objects.get(email="new.person@alpha.test")
        assert user.email_verified
        assert EmailAddress.objects.filter(user=user, verified=True, primary=True).count() == 1
        invitation.refresh_from_db()
        assert invitation.accepted_at is not None and invitation.user_id == user.id
        events = set(AuditEvent.objects.values_list("event", flat=True))
        assert {AuditEventType.INVITATION_SENT, AuditEventType.INVITATION_ACCEPTED} <= events

    # The password works on allauth's own sign-in page.
    fresh = Client(HTTP_HOST="alpha.localhost")
    login = fresh.post(
        "/accounts/login/", {"login": "new.person@alpha.test", "password": NEW_PASSWORD}
    )
    assert login.status_code == 302, login.content
    assert fresh.get("/api/v1/users/me/").json()["role"] == "instructor"

    # The link works once.
    again = Client(HTTP_HOST="alpha.localhost")
    assert again.get(f"{PAGE}{key}/").status_code == 410
    second = _accept(again, key, password="another-long-password")
    assert second.status_code == 410
    assert b"already been used" in second.content
    assert len(_users(alpha, "new.person@alpha.test")) == 1


def test_an_expired_link_is_refused(alpha, admin_client, send):
    _, key = _invite(admin_client, send)
    with tenant_context(alpha):
        Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    invitee = Client(HTTP_HOST="alpha.localhost")
    page = invitee.get(f"{PAGE}{key}/")
    assert page.status_code == 410 and b"expired" in page.content
    assert _accept(invitee, key).status_code == 410
    assert _users(alpha, "new.person@alpha.test") == []


def test_an_unknown_key_is_a_clear_404(alpha_client):
    response = alpha_client.get(f"{PAGE}not-a-real-key/")
    assert response.status_code == 404
    assert b"not valid" in response.content
    assert _accept(alpha_client, "not-a-real-key").status_code == 404


def test_a_revoked_invitation_no_longer_opens(alpha, admin_client, send):
    body, key = _invite(admin_client, send)
    assert admin_client.delete(f"{API}{body['id']}/").status_code == 204
    assert admin_client.delete(f"{API}{body['id']}/").status_code == 204  # idempotent
    invitee = Client(HTTP_HOST="alpha.localhost")
    assert invitee.get(f"{PAGE}{key}/").status_code == 410
    assert _accept(invitee, key).status_code == 410
    assert _users(alpha, "new.person@alpha.test") == []
    with tenant_context(alpha):
        assert AuditEvent.objects.filter(event=AuditEventType.INVITATION_REVOKED).count() == 1


def test_an_accepted_invitation_cannot_be_revoked(admin_client, send):
    body, key = _invite(admin_client, send)
    assert _accept(Client(HTTP_HOST="alpha.localhost"), key).status_code == 302
    response = admin_client.delete(f"{API}{body['id']}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invitation_accepted"


def test_a_weak_password_is_refused_with_the_validators_message(alpha, admin_client, send):
    _, key = _invite(admin_client, send)
    invitee = Client(HTTP_HOST="alpha.localhost")
    response = _accept(invitee, key, password="12345678")
    assert response.status_code == 400
    assert b"too common" in response.content
    mismatch = _accept(invitee, key, password2="something-else-entirely")
    assert mismatch.status_code == 400 and b"differ" in mismatch.content
    assert _users(alpha, "new.person@alpha.test") == []
    assert invitee.get(f"{PAGE}{key}/").status_code == 200  # still open


def test_sso_only_institution_accepts_without_a_password(alpha, admin_client, send):
    with tenant_context(alpha):
        SecurityPolicy.objects.update_or_create(pk=1, defaults={"password_login_enabled": False})
    _, key = _invite(admin_client, send)
    invitee = Client(HTTP_HOST="alpha.localhost")
    page = invitee.get(f"{PAGE}{key}/")
    assert page.status_code == 200 and b"password1" not in page.content
    done = invitee.post(f"{PAGE}{key}/", {"first_name": "Nia", "last_name": "Okafor"})
    assert done.status_code == 200 and b"single sign-on" in done.content
    assert invitee.get("/api/v1/users/me/").status_code == 401  # not signed in
    [user] = _users(alpha, "new.person@alpha.test")
    assert user.role == Role.INSTRUCTOR and not user.has_usable_password()
    with tenant_context(alpha):
        assert EmailAddress.objects.get(user=user).verified


# --- Creating through the API ----------------------------------------------------------


def test_inviting_an_existing_account_is_a_conflict(alpha, admin_client, send):
    _user(alpha, "already@alpha.test")
    response = send(admin_client.post, API, {"email": "ALREADY@alpha.test"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "user_exists"
    assert mail.outbox == [] and _invitations(alpha) == []


def test_inviting_again_sends_a_fresh_link_and_the_old_one_stops(alpha, admin_client, send):
    _, first_key = _invite(admin_client, send, role="student")
    with tenant_context(alpha):
        Invitation.objects.update(expires_at=timezone.now() + timedelta(days=1))
    again = send(admin_client.post, API, {"email": "new.person@alpha.test", "role": "ta"})
    assert again.status_code == 200 and again.json()["resent"] is True
    second_key = _key_from_mail(mail.outbox[-1])
    assert second_key != first_key and len(mail.outbox) == 2
    [invitation] = _invitations(alpha)
    assert invitation.role == Role.TA
    assert invitation.expires_at - timezone.now() > timedelta(days=13)
    invitee = Client(HTTP_HOST="alpha.localhost")
    assert invitee.get(f"{PAGE}{first_key}/").status_code == 404
    assert _accept(invitee, second_key).status_code == 302
    assert invitee.get("/api/v1/users/me/").json()["role"] == "ta"


def test_bad_input_is_a_400_with_fields(admin_client, send):
    response = send(admin_client.post, API, {"email": "not-an-address", "role": "dean"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {"email", "role"}
    assert mail.outbox == []


def test_the_list_filters_by_status(alpha, admin_client, send):
    _invite(admin_client, send, "open@alpha.test")
    revoked, _ = _invite(admin_client, send, "revoked@alpha.test")
    expired, _ = _invite(admin_client, send, "expired@alpha.test")
    _, key = _invite(admin_client, send, "accepted@alpha.test")
    admin_client.delete(f"{API}{revoked['id']}/")
    with tenant_context(alpha):
        Invitation.objects.filter(pk=expired["id"]).update(expires_at=timezone.now())
    _accept(Client(HTTP_HOST="alpha.localhost"), key)

    def emails(query=""):
        body = admin_client.get(f"{API}{query}").json()
        return {row["email"] for row in body["results"]}, body["count"]

    assert emails() == (
        {"open@alpha.test", "revoked@alpha.test", "expired@alpha.test", "accepted@alpha.test"},
        4,
    )
    assert emails("?status=open") == ({"open@alpha.test"}, 1)
    assert emails("?status=revoked") == ({"revoked@alpha.test"}, 1)
    assert emails("?status=expired") == ({"expired@alpha.test"}, 1)
    assert emails("?status=accepted") == ({"accepted@alpha.test"}, 1)
    page = admin_client.get(f"{API}?per_page=3").json()
    assert (page["count"], len(page["results"]), page["per_page"]) == (4, 3, 3)
    bad = admin_client.get(f"{API}?status=pending")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


# --- CSV import ------------------------------------------------------------------------


def _csv(text: str | bytes, name="people.csv"):
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


IMPORT_FILE = """\
email,first_name,last_name,role
ada@alpha.test,Ada,Lovelace,
grace@alpha.test,Grace,Hopper,Instructor
member@alpha.test,Mem,Ber,student
pending@alpha.test,Pen,Ding,ta
ADA@alpha.test,Ada,Again,student
bob@alpha.test,Bob,Builder,dean
not-an-email,No,Body,student

alan@alpha.test,Alan,Turing,ta
"""


def _seed_for_import(alpha, admin_client, send):
    _user(alpha, "member@alpha.test")
    _invite(admin_client, send, "pending@alpha.test", role="student")
    mail.outbox.clear()


def test_csv_import_reports_every_row(alpha, admin_client, send):
    _seed_for_import(alpha, admin_client, send)
    response = send(admin_client.post, f"{API}import/", {"file": _csv(IMPORT_FILE)})
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["dry_run"] is False
    assert [(r["row"], r["email"], r["status"]) for r in report["rows"]] == [
        (2, "ada@alpha.test", "created"),
        (3, "grace@alpha.test", "created"),
        (4, "member@alpha.test", "skipped"),
        (5, "pending@alpha.test", "resent"),
        (6, "ada@alpha.test", "error"),
        (7, "bob@alpha.test", "error"),
        (8, "not-an-email", "error"),
        (10, "alan@alpha.test", "created"),
    ]
    messages = {r["row"]: r["message"] for r in report["rows"]}
    assert "row 2" in messages[6] and "dean" in messages[7] and "not a valid" in messages[8]
    assert report["counts"] == {"created": 3, "resent": 1, "skipped": 1, "error": 3}

    assert sorted(m.to[0] for m in mail.outbox) == [
        "ada@alpha.test",
        "alan@alpha.test",
        "grace@alpha.test",
        "pending@alpha.test",
    ]
    with tenant_context(alpha):
        roles = dict(
            Invitation.objects.filter(accepted_at__isnull=True).values_list("email", "role")
        )
    assert roles == {
        "ada@alpha.test": "student",
        "grace@alpha.test": "instructor",
        "pending@alpha.test": "ta",
        "alan@alpha.test": "ta",
    }
    # The emailed links work.
    grace = next(m for m in mail.outbox if m.to == ["grace@alpha.test"])
    invitee = Client(HTTP_HOST="alpha.localhost")
    assert _accept(invitee, _key_from_mail(grace)).status_code == 302
    assert invitee.get("/api/v1/users/me/").json()["role"] == "instructor"


def test_csv_dry_run_reports_and_changes_nothing(alpha, admin_client, send):
    _seed_for_import(alpha, admin_client, send)
    with tenant_context(alpha):
        before = list(Invitation.objects.values_list("id", "key_hash", "expires_at"))
    response = send(
        admin_client.post, f"{API}import/", {"file": _csv(IMPORT_FILE), "dry_run": "true"}
    )
    assert response.status_code == 200
    report = response.json()
    assert report["dry_run"] is True
    assert report["counts"] == {"created": 3, "resent": 1, "skipped": 1, "error": 3}
    assert mail.outbox == []
    with tenant_context(alpha):
        assert list(Invitation.objects.values_list("id", "key_hash", "expires_at")) == before


@pytest.mark.parametrize(
    "content, reason",
    [
        ("email,role\nj\xe9r\xf4me@alpha.test,student\n".encode("latin-1"), "UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UTF-8"),
        ("name,role\nAda,student\n", "email column"),
        ("", "empty"),
        ("email\n" + "x@alpha.test\n" * 5001, "5000"),
    ],
)
def test_a_file_that_is_not_a_utf8_csv_with_emails_is_refused_whole(
    alpha, admin_client, send, content, reason
):
    response = send(admin_client.post, f"{API}import/", {"file": _csv(content)})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_csv"
    assert reason in error["fields"]["file"][0]
    assert mail.outbox == [] and _invitations(alpha) == []


def test_a_file_of_the_largest_size_is_imported_in_one_request(alpha, admin_client, send):
    alpha.max_users = 6000  # room under the plan's limit for the whole file (rolled back)
    alpha.save(update_fields=["max_users"])
    content = "email,role\n" + "".join(f"p{i}@alpha.test,ta\n" for i in range(5000))
    response = send(admin_client.post, f"{API}import/", {"file": _csv(content)})
    assert response.status_code == 200
    assert response.json()["counts"] == {"created": 5000, "resent": 0, "skipped": 0, "error": 0}
    assert len(mail.outbox) == 5000
    with tenant_context(alpha):
        assert Invitation.objects.filter(role=Role.TA).count() == 5000
        assert AuditEvent.objects.filter(event=AuditEventType.INVITATION_SENT).count() == 5000


def test_csv_import_without_a_file_is_a_400(admin_client):
    response = admin_client.post(f"{API}import/", {})
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_utf8_with_bom_and_non_ascii_names_is_accepted(alpha, admin_client, send):
    content = "\ufeffEmail,First_Name,Last_Name\njerome@alpha.test,Jérôme,Ñúñez\n".encode()
    response = send(admin_client.post, f"{API}import/", {"file": _csv(content)})
    assert response.status_code == 200
    assert response.json()["counts"]["created"] == 1
    [invitation] = _invitations(alpha)
    assert (invitation.first_name, invitation.last_name) == ("Jérôme", "Ñúñez")


# --- The admin's page ------------------------------------------------------------------


def test_the_admin_page_invites_imports_and_withdraws(alpha, admin_client, send):
    assert b"No open invitations" in admin_client.get(PAGE).content
    invited = send(
        admin_client.post,
        PAGE,
        {"email": "page@alpha.test", "role": "ta", "first_name": "Pa", "last_name": "Ge"},
    )
    assert invited.status_code == 302
    assert mail.outbox[-1].to == ["page@alpha.test"]
    listing = admin_client.get(PAGE)
    assert b"page@alpha.test" in listing.content and b"sent to page@alpha.test" in listing.content

    dry = send(
        admin_client.post,
        f"{PAGE}import/",
        {"file": _csv("email,role\nrow@alpha.test,student\nbad,student\n"), "dry_run": "on"},
    )
    assert dry.status_code == 200
    assert b"Dry run" in dry.content and b"row@alpha.test" in dry.content
    assert b"not a valid email address" in dry.content
    assert len(mail.outbox) == 1

    real = send(admin_client.post, f"{PAGE}import/", {"file": _csv("email\nrow@alpha.test\n")})
    assert real.status_code == 200 and b"Import report" in real.content
    assert mail.outbox[-1].to == ["row@alpha.test"]

    bad = admin_client.post(f"{PAGE}import/", {"file": _csv(b"\xff\xfe\x00e")})
    assert bad.status_code == 400 and b"not UTF-8" in bad.content

    exists = admin_client.post(PAGE, {"email": "admin@alpha.test", "role": "student"})
    assert exists.status_code == 409 and b"already has an account" in exists.content

    [invitation] = _invitations(alpha, email="page@alpha.test")
    withdrawn = admin_client.post(f"{PAGE}{invitation.id}/revoke/")
    assert withdrawn.status_code == 302
    assert _invitations(alpha, email="page@alpha.test", revoked_at__isnull=False)


# --- Who may do it ---------------------------------------------------------------------


def _every_admin_request(client, invitation_id):
    return {
        "api list": client.get(API),
        "api create": client.post(API, {"email": "sneaky@alpha.test", "role": "admin"}),
        "api detail": client.get(f"{API}{invitation_id}/"),
        "api revoke": client.delete(f"{API}{invitation_id}/"),
        "api import": client.post(f"{API}import/", {"file": _csv("email\nsneaky@alpha.test\n")}),
        "page": client.get(PAGE),
        "page invite": client.post(PAGE, {"email": "sneaky@alpha.test", "role": "admin"}),
        "page import": client.post(f"{PAGE}import/", {"file": _csv("email\nsneaky@alpha.test\n")}),
        "page revoke": client.post(f"{PAGE}{invitation_id}/revoke/"),
    }


@pytest.mark.parametrize("role", [Role.STUDENT, Role.INSTRUCTOR, Role.TA])
def test_other_roles_are_refused_everywhere(alpha, alpha_client, admin_client, send, role):
    body, _ = _invite(admin_client, send)
    mail.outbox.clear()
    member = _sign_in(
        Client(HTTP_HOST="alpha.localhost"), alpha, _user(alpha, "m@alpha.test", role)
    )
    with_callbacks = send(_every_admin_request, member, body["id"])
    assert {name: r.status_code for name, r in with_callbacks.items()} == {
        name: 403 for name in with_callbacks
    }
    assert with_callbacks["api create"].json()["error"]["code"] == "permission_denied"
    assert mail.outbox == []
    [invitation] = _invitations(alpha)
    assert invitation.revoked_at is None
    assert _invitations(alpha, email="sneaky@alpha.test") == []


def test_anonymous_callers_are_refused(alpha, alpha_client, admin_client, send):
    body, _ = _invite(admin_client, send)
    mail.outbox.clear()
    responses = send(_every_admin_request, Client(HTTP_HOST="alpha.localhost"), body["id"])
    _assert_treated_as_anonymous(responses)
    assert mail.outbox == [] and len(_invitations(alpha)) == 1


def _assert_treated_as_anonymous(responses):
    for name, response in responses.items():
        if name.startswith("api"):
            assert response.status_code == 401, name
            assert response.json()["error"]["code"] == "not_authenticated", name
        else:
            assert response.status_code == 302, name
            assert response["Location"].startswith("/accounts/login/"), name


def test_an_alpha_admin_session_is_refused_on_beta(alpha, beta, admin_client, send):
    with tenant_context(beta):
        admin = User.objects.get(email="admin@beta.test")
    beta_admin = _sign_in(Client(HTTP_HOST="beta.localhost"), beta, admin)
    beta_invitation = send(beta_admin.post, API, {"email": "b@beta.test"}).json()
    mail.outbox.clear()

    on_beta = Client(HTTP_HOST="beta.localhost")
    # alpha's admin session cookie, presented to beta (a copy: beta's answer
    # deletes the cookie it does not know, and a browser keeps cookies per host).
    on_beta.cookies = copy.deepcopy(admin_client.cookies)
    assert on_beta.get(API, HTTP_HOST="alpha.localhost").status_code == 200
    responses = send(_every_admin_request, on_beta, beta_invitation["id"])
    _assert_treated_as_anonymous(responses)
    assert mail.outbox == []
    with tenant_context(beta):
        assert list(Invitation.objects.values_list("email", "revoked_at")) == [
            ("b@beta.test", None)
        ]
    # An alpha invitation's key means nothing on beta.
    _, key = _invite(admin_client, send)
    assert Client(HTTP_HOST="beta.localhost").get(f"{PAGE}{key}/").status_code == 404
