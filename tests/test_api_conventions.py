"""The conventions every API endpoint shares (issue 4): rate limits per user
and per address, kept apart per institution; Idempotency-Key on POSTs that
create things; one error shape for every refusal; paginated lists with RFC
8288 Link headers."""

import re
import threading
import uuid
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.paginator import UnorderedObjectListWarning
from django.db import connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from conceptspro import urls_tenant
from tenant_apps.accounts.models import Role

from .api_helpers import admin_of, api_client, as_json, error_code, member
from .conftest import host_client, make_institution

INVITATIONS = "/api/v1/users/invitations/"
ME = "/api/v1/users/me/"


def assert_error(response, status: int, code: str) -> dict:
    """The one error shape: {"error": {"code", "message", "fields"}}."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    return error


def _invitation_count(client, email: str) -> int:
    page = client.get(INVITATIONS, {"per_page": 100}).json()
    return sum(1 for invitation in page["results"] if invitation["email"] == email)


# --- rate limits -----------------------------------------------------------------


@override_settings(API_RATE_PER_USER="3/minute")
def test_fourth_request_of_a_user_in_a_minute_is_refused_with_retry_after(alpha):
    client = api_client(alpha, member(alpha, "busy@alpha.test"))
    for _ in range(3):
        assert client.get(ME).status_code == 200
    response = client.get(ME)
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    # Per user: another user of the same institution, from the same address, goes on.
    assert api_client(alpha, admin_of(alpha)).get(ME).status_code == 200


@override_settings(API_RATE_PER_IP="3/minute")
def test_anonymous_callers_are_limited_per_address(alpha):
    body = {"email": "nobody@alpha.test"}
    path = "/api/v1/auth/resend-verification/"
    client = host_client("alpha.localhost")
    for _ in range(3):
        assert as_json(client, "post", path, body).status_code == 200
    response = as_json(client, "post", path, body)
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    # Another address still gets through.
    other = host_client("alpha.localhost", REMOTE_ADDR="203.0.113.9")
    assert as_json(other, "post", path, body).status_code == 200


@override_settings(API_RATE_PER_IP="3/minute")
def test_address_counters_are_kept_per_institution(alpha, beta):
    alpha_client = api_client(alpha, admin_of(alpha))
    beta_client = api_client(beta, admin_of(beta))
    for _ in range(3):
        assert alpha_client.get(ME).status_code == 200
    assert alpha_client.get(ME).status_code == 429
    # The same address on another institution's host has its own counter.
    for _ in range(3):
        assert beta_client.get(ME).status_code == 200
    assert beta_client.get(ME).status_code == 429


@override_settings(API_RATE_PER_USER="3/minute")
def test_user_counters_are_kept_per_institution_even_for_the_same_id(alpha, beta):
    shared_id = uuid.uuid4()
    alpha_user = member(alpha, "twin@alpha.test", id=shared_id)
    beta_user = member(beta, "twin@beta.test", id=shared_id)
    alpha_client, beta_client = api_client(alpha, alpha_user), api_client(beta, beta_user)
    for _ in range(3):
        assert alpha_client.get(ME).status_code == 200
    assert alpha_client.get(ME).status_code == 429
    assert beta_client.get(ME).status_code == 200


# --- Idempotency-Key -----------------------------------------------------------


@pytest.fixture
def admin(alpha):
    return api_client(alpha, admin_of(alpha))


def test_a_retried_invitation_answers_the_first_result_and_invites_once(admin):
    body = {"email": "retry@alpha.test", "role": Role.STUDENT, "first_name": "Re"}
    first = as_json(admin, "post", INVITATIONS, body, HTTP_IDEMPOTENCY_KEY="invite-retry-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first

    again = as_json(admin, "post", INVITATIONS, body, HTTP_IDEMPOTENCY_KEY="invite-retry-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _invitation_count(admin, "retry@alpha.test") == 1

    # Without the key the same request is a new one (a resend: 200, resent).
    fresh = as_json(admin, "post", INVITATIONS, body)
    assert fresh.status_code == 200
    assert fresh.json()["resent"] is True


def test_a_key_is_the_callers_own(alpha, admin):
    body = {"email": "mine@alpha.test"}
    assert as_json(admin, "post", INVITATIONS, body, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    other_admin = api_client(alpha, member(alpha, "admin2@alpha.test", Role.ADMIN))
    other = as_json(other_admin, "post", INVITATIONS, body, HTTP_IDEMPOTENCY_KEY="k")
    assert other.status_code == 200  # ran: a resend, not a replay of the first admin's answer
    assert "Idempotent-Replayed" not in other


def test_the_same_key_for_another_request_is_a_422(admin):
    key = {"HTTP_IDEMPOTENCY_KEY": "invite-reuse"}
    assert (
        as_json(admin, "post", INVITATIONS, {"email": "one@alpha.test"}, **key).status_code == 201
    )
    response = as_json(admin, "post", INVITATIONS, {"email": "two@alpha.test"}, **key)
    assert_error(response, 422, "idempotency_key_reused")
    assert _invitation_count(admin, "two@alpha.test") == 0


@pytest.mark.parametrize("key", ["x" * 256, "   ", "tab\there"])
def test_an_invalid_key_is_a_400_and_nothing_is_created(admin, key):
    body = {"email": "badkey@alpha.test"}
    response = as_json(admin, "post", INVITATIONS, body, HTTP_IDEMPOTENCY_KEY=key)
    error = assert_error(response, 400, "invalid_idempotency_key")
    assert "Idempotency-Key" in error["fields"]
    assert _invitation_count(admin, "badkey@alpha.test") == 0


def test_an_error_is_not_stored_so_the_corrected_retry_runs(admin):
    key = {"HTTP_IDEMPOTENCY_KEY": "invite-fix"}
    refused = as_json(admin, "post", INVITATIONS, {"email": "not-an-address"}, **key)
    assert_error(refused, 400, "invalid")
    fixed = as_json(admin, "post", INVITATIONS, {"email": "fixed@alpha.test"}, **key)
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed
    assert _invitation_count(admin, "fixed@alpha.test") == 1


def test_a_refusal_from_the_service_is_not_stored_either(alpha, admin):
    member(alpha, "taken@alpha.test")
    key = {"HTTP_IDEMPOTENCY_KEY": "invite-conflict"}
    conflict = as_json(admin, "post", INVITATIONS, {"email": "taken@alpha.test"}, **key)
    assert_error(conflict, 409, "user_exists")
    again = as_json(admin, "post", INVITATIONS, {"email": "taken@alpha.test"}, **key)
    assert_error(again, 409, "user_exists")
    assert "Idempotent-Replayed" not in again


def test_concurrent_duplicates_create_one_invitation(committed_db):
    institution = make_institution("idemrace")
    admin = admin_of(institution)
    clients = [api_client(institution, admin) for _ in range(6)]
    body = {"email": "race@idemrace.test", "role": Role.STUDENT}
    barrier = threading.Barrier(len(clients))
    answers = []

    def send(client):
        try:
            barrier.wait()
            response = as_json(client, "post", INVITATIONS, body, HTTP_IDEMPOTENCY_KEY="race-key")
            answers.append(
                (response.status_code, response.get("Idempotent-Replayed"), response.json())
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _, _ in answers] == [201] * len(clients), answers
    assert sorted(replayed or "" for _, replayed, _ in answers) == [""] + ["true"] * 5
    assert len({body["id"] for _, _, body in answers}) == 1
    assert _invitation_count(clients[0], "race@idemrace.test") == 1


# --- one error shape ---------------------------------------------------------------


def test_400_invalid_fields(admin):
    error = assert_error(as_json(admin, "patch", ME, {"timezone": "Mars/Olympus"}), 400, "invalid")
    assert list(error["fields"]) == ["timezone"]


def test_400_malformed_json(admin):
    response = admin.post(INVITATIONS, "{not json", content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_401_without_or_with_a_bad_token(alpha):
    anonymous = host_client("alpha.localhost").get(ME)
    assert_error(anonymous, 401, "not_authenticated")
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="api"'
    bad = host_client("alpha.localhost", HTTP_AUTHORIZATION="Bearer nonsense").get(INVITATIONS)
    assert_error(bad, 401, "invalid_token")
    assert 'error="invalid_token"' in bad["WWW-Authenticate"]


def test_401_for_a_token_of_another_institution(alpha, beta):
    beta_admin_on_alpha = api_client(beta, admin_of(beta))
    beta_admin_on_alpha.defaults["HTTP_HOST"] = "alpha.localhost"
    assert_error(beta_admin_on_alpha.get(ME), 401, "invalid_token")


def test_403_for_a_refused_role(alpha):
    student = api_client(alpha, member(alpha, "pupil@alpha.test"))
    assert_error(student.get("/api/v1/users/"), 403, "permission_denied")
    response = as_json(student, "post", INVITATIONS, {"email": "friend@alpha.test"})
    assert_error(response, 403, "permission_denied")


def test_404_for_what_does_not_exist(admin):
    assert_error(admin.get(f"/api/v1/users/{uuid.uuid4()}/"), 404, "not_found")
    assert_error(admin.get(f"{INVITATIONS}{uuid.uuid4()}/"), 404, "not_found")
    assert_error(admin.get("/api/v1/users/", {"page": 99}), 404, "not_found")


@pytest.mark.skipif(
    not hasattr(urls_tenant, "handler404"),
    reason="urls_tenant.handler404 = conceptspro.api.not_found_handler is not wired yet",
)
def test_404_for_an_unknown_api_path_has_the_shape_too(admin, alpha):
    assert_error(admin.get("/api/v1/no-such-thing/"), 404, "not_found")
    page = host_client("alpha.localhost").get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_405_names_the_allowed_methods(admin):
    response = admin.delete(ME)
    assert_error(response, 405, "method_not_allowed")
    assert "PATCH" in response["Allow"]


def test_415_for_a_body_type_the_endpoint_does_not_take(admin):
    response = admin.post(INVITATIONS, "<email>x@alpha.test</email>", content_type="text/xml")
    assert_error(response, 415, "unsupported_media_type")
    csv_as_json = as_json(admin, "post", f"{INVITATIONS}import/", {"file": "email\n"})
    assert_error(csv_as_json, 415, "unsupported_media_type")
    assert _invitation_count(admin, "x@alpha.test") == 0


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_413_for_a_json_body_over_the_limit(admin):
    body = {"email": "big@alpha.test", "first_name": "x" * 3000}
    assert_error(as_json(admin, "post", INVITATIONS, body), 413, "request_too_large")
    assert _invitation_count(admin, "big@alpha.test") == 0
    # Under the limit the same endpoint answers as usual.
    small = as_json(admin, "post", INVITATIONS, {"email": "big@alpha.test"})
    assert small.status_code == 201


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_413_for_form_fields_over_the_limit(admin):
    form = "email=big%40alpha.test&first_name=" + "x" * 3000
    response = admin.post(INVITATIONS, form, content_type="application/x-www-form-urlencoded")
    assert_error(response, 413, "request_too_large")
    upload = SimpleUploadedFile("people.csv", b"email\nbig@alpha.test\n", "text/csv")
    response = admin.post(f"{INVITATIONS}import/", {"file": upload, "dry_run": "x" * 3000})
    assert_error(response, 413, "request_too_large")
    assert _invitation_count(admin, "big@alpha.test") == 0


@override_settings(API_RATE_PER_USER="1/minute")
def test_429_has_the_shape_on_writes_too(admin):
    assert as_json(admin, "patch", ME, {"bio": "first"}).status_code == 200
    response = as_json(admin, "patch", ME, {"bio": "second"})
    assert_error(response, 429, "rate_limited")
    assert admin.get(ME).status_code == 429


# --- pagination --------------------------------------------------------------------


def _links(response) -> dict[str, dict[str, str]]:
    """rel -> query parameters of each link in the Link header."""
    links = {}
    for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response["Link"]):
        query = url.split("?", 1)[1]
        links[rel] = dict(pair.split("=", 1) for pair in query.split("&"))
    return links


def test_lists_answer_link_headers_for_every_page(alpha, admin):
    for n in range(2):
        member(alpha, f"paged{n}@alpha.test")
    total = admin.get("/api/v1/users/").json()["count"]
    assert total >= 3

    first = admin.get("/api/v1/users/", {"per_page": 1})
    assert first.json()["count"] == total
    assert (first.json()["page"], first.json()["per_page"]) == (1, 1)
    links = _links(first)
    assert set(links) == {"first", "next", "last"}
    assert links["next"]["page"] == "2"
    assert links["last"]["page"] == str(total)
    assert all(link["per_page"] == "1" for link in links.values())

    middle = admin.get("/api/v1/users/", {"per_page": 1, "page": 2})
    links = _links(middle)
    assert set(links) == {"first", "prev", "next", "last"}
    assert (links["first"]["page"], links["prev"]["page"], links["next"]["page"]) == (
        "1",
        "1",
        "3",
    )

    last = admin.get("/api/v1/users/", {"per_page": 1, "page": total})
    assert set(_links(last)) == {"first", "prev", "last"}
    # The next link leads where it says.
    followed = admin.get("/api/v1/users/", {"per_page": 1, "page": _links(first)["next"]["page"]})
    assert followed.json()["results"] == middle.json()["results"]


def test_per_page_is_capped_at_100(admin):
    assert admin.get("/api/v1/users/", {"per_page": 1000}).json()["per_page"] == 100


def test_updated_since_returns_only_what_changed(admin):
    everyone = admin.get("/api/v1/users/").json()["count"]
    assert (
        admin.get("/api/v1/users/", {"updated_since": "2000-01-01T00:00:00Z"}).json()["count"]
        == everyone
    )
    future = admin.get("/api/v1/users/", {"updated_since": "2999-01-01T00:00:00Z"})
    assert future.json()["count"] == 0
    error = assert_error(admin.get("/api/v1/users/", {"updated_since": "soon"}), 400, "invalid")
    assert "updated_since" in error["fields"]


def test_ordering_through_the_filter(alpha, admin):
    member(alpha, "aaa@alpha.test")
    emails = [
        u["email"] for u in admin.get("/api/v1/users/", {"ordering": "email"}).json()["results"]
    ]
    assert emails == sorted(emails)
    backwards = admin.get("/api/v1/users/", {"ordering": "-email"}).json()["results"]
    assert [u["email"] for u in backwards] == sorted(emails, reverse=True)
    assert error_code(admin.get("/api/v1/users/", {"ordering": "password"})) == "invalid"


def test_an_order_with_ties_pages_every_row_once_and_empty_terms_keep_the_default(alpha, admin):
    for n in range(5):
        member(alpha, f"tied{n}@alpha.test", Role.STUDENT)
    everyone = [u["id"] for u in admin.get("/api/v1/users/", {"per_page": 100}).json()["results"]]
    paged = []
    for page in range(1, len(everyone) + 1):
        listed = admin.get("/api/v1/users/", {"ordering": "role", "per_page": 1, "page": page})
        paged += [u["id"] for u in listed.json()["results"]]
    # Rows that tie on role come in primary-key order, so no page repeats another.
    assert sorted(paged) == sorted(everyone) and len(set(paged)) == len(paged)
    with CaptureQueriesContext(connection) as queries:
        admin.get("/api/v1/users/", {"ordering": "role", "per_page": 1})
    assert any(
        'ORDER BY "accounts_user"."role" ASC, "accounts_user"."id" ASC' in q["sql"]
        for q in queries.captured_queries
    )
    for nothing in (",", ",,"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnorderedObjectListWarning)
            listed = admin.get("/api/v1/users/", {"ordering": nothing, "per_page": 100}).json()
        assert [u["id"] for u in listed["results"]] == everyone


@pytest.mark.parametrize(
    "when",
    [
        "2026-07-05T12:00:00-21:10",  # Python takes the offset, PostgreSQL would not
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "9999-12-31T23:00:00-05:00",  # after year 9999 in UTC
    ],
)
def test_date_time_filters_take_any_offset_python_does_without_a_500(admin, when):
    listed = admin.get("/api/v1/users/", {"updated_since": when})
    assert listed.status_code in (200, 400), listed.content
    if listed.status_code == 400:
        assert "updated_since" in assert_error(listed, 400, "invalid")["fields"]
    audit = admin.get("/api/v1/audit-events/", {"since": when, "until": when})
    assert audit.status_code in (200, 400), audit.content


def test_an_offset_is_honoured_not_dropped(admin):
    me = admin.get(ME).json()
    changed = datetime.fromisoformat(me["updated_at"])
    just_after = (changed + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-10)))
    just_before = (changed - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=10)))
    query = {"q": me["email"]}
    after = admin.get("/api/v1/users/", {**query, "updated_since": just_after.isoformat()})
    before = admin.get("/api/v1/users/", {**query, "updated_since": just_before.isoformat()})
    assert (after.json()["count"], before.json()["count"]) == (0, 1)
