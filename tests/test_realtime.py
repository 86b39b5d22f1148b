"""WebSockets (/ws/) with real clients: uvicorn serving the ASGI app in a
thread on 127.0.0.1 over committed data, `websockets` clients connecting to
each institution's host, events sent through the real Redis channel layer.

Each test makes its own two institutions ("wsalpha" and "wsbeta" style, from
the template) rather than writing committed rows into the session's alpha and
beta: `committed_db` drops them afterwards.

How a test knows a client got nothing it should not have: after the events
under test, each client's own user group gets a marker, and the client reads
until it. A group message reaches a connection in the order it was sent, so
anything misdelivered before the marker would have arrived before it.
"""

import json
import socket
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager

import pytest
import uvicorn
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from shared_apps.institutions.models import Institution
from tenant_apps.accounts.models import Role, User
from tenant_apps.accounts.tokens import api_session_close, api_session_open, token_pair_issue
from tenant_apps.courses.models import Course, CourseRole, Enrollment, EnrollmentType
from tenant_apps.notifications.api import (
    NotificationKind,
    notification_send,
    realtime_send_to_course,
    realtime_send_to_users,
)
from tenant_apps.notifications.models import Notification
from tenant_apps.notifications.realtime import realtime_membership_changed

from .api_helpers import course_taught_by, member
from .conftest import make_institution

TIMEOUT = 10


@pytest.fixture
def server(committed_db):
    """The port of uvicorn serving conceptspro.asgi in a thread of this process.
    Each test's server runs its own event loop, and the core Redis layer
    receives on one loop only: each starts with a fresh layer."""
    from channels.layers import channel_layers

    from conceptspro.asgi import application

    channel_layers.backends.clear()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(application, lifespan="off", log_level="warning")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]})
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not uvicorn_server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        uvicorn_server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()
        channel_layers.backends.clear()


@pytest.fixture
def pair():
    """Two fresh institutions (distinct slugs per test)."""
    tag = uuid.uuid4().hex[:6]
    return make_institution(f"wsa{tag}"), make_institution(f"wsb{tag}")


def host_of(institution: Institution) -> str:
    return f"{institution.schema_name}.localhost"


def token_for(institution: Institution, user: User, *, lifetime: int | None = None) -> str:
    overrides = {} if lifetime is None else {"HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN": lifetime}
    with tenant_context(institution), override_settings(**overrides):
        token = token_pair_issue(user=user, session=api_session_open(user)).access_token
    connection.set_schema_to_public()
    return token


def ws(port: int, host: str, token: str | None = None, *, via="subprotocol", **options):
    """A client on `host` (the Host header), connected to 127.0.0.1:port."""
    path = options.pop("path", "/ws/")
    headers, subprotocols = {}, None
    if token is not None and via == "subprotocol":
        subprotocols = ["bearer", token]
    elif token is not None and via == "header":
        headers["Authorization"] = f"Bearer {token}"
    elif token is not None and via == "query":
        path += f"?access_token={token}"
    return connect(
        f"ws://{host}:{port}{path}",
        address=("127.0.0.1", port),
        additional_headers=headers,
        subprotocols=subprotocols,
        proxy=None,
        open_timeout=TIMEOUT,
        close_timeout=2,
        **options,
    )


def closed_with(client) -> tuple[int, str]:
    """The close code and reason the server sent (waits for the close)."""
    with pytest.raises(ConnectionClosed) as closed:
        client.recv(timeout=TIMEOUT)
    return closed.value.rcvd.code, closed.value.rcvd.reason


def refused_handshake(port: int, host: str, token: str | None = None, **options) -> int:
    with pytest.raises(InvalidStatus) as refused:
        ws(port, host, token, **options)
    return refused.value.response.status_code


def enroll(institution, course, user, role=CourseRole.STUDENT, **fields) -> Enrollment:
    with tenant_context(institution):
        enrollment = Enrollment.objects.create(
            course=course, user=user, role=role, enrolled_at=timezone.now(), **fields
        )
    connection.set_schema_to_public()
    return enrollment


def event(kind: str, **payload) -> dict:
    return {"type": kind, "payload": payload}


def send_course_event(institution, course_id, label: str) -> None:
    with tenant_context(institution):
        realtime_send_to_course(course_id, event("course.test", label=label))
    connection.set_schema_to_public()


def notify(institution, user: User, title: str) -> None:
    """A notification through the real write path: the delivery task runs on
    commit (eagerly, in this schema) and pushes it to the user's group."""
    with tenant_context(institution), transaction.atomic():
        notification_send(user_ids=[user.pk], kind=NotificationKind.MESSAGE, title=title)
    connection.set_schema_to_public()


def received_until_marker(institution, clients: dict) -> dict:
    """{name: [events]} each client got before its own marker."""
    markers = {name: uuid.uuid4().hex for name in clients}
    with tenant_context(institution):
        for name, (_, user) in clients.items():
            realtime_send_to_users([user.pk], event("marker", id=markers[name]))
    connection.set_schema_to_public()
    got = {}
    for name, (client, _) in clients.items():
        got[name] = []
        while True:
            message = json.loads(client.recv(timeout=TIMEOUT))
            if message["type"] == "marker" and message["payload"]["id"] == markers[name]:
                break
            got[name].append(message)
    return got


def labels(events: list[dict]) -> list[str]:
    """What each event says: a course event's label, a notification's title."""
    return [e["payload"].get("label") or e["payload"].get("title") for e in events]


# --- two institutions, colliding ids --------------------------------------------


def test_two_institutions_with_colliding_ids_each_get_only_their_own_events(
    server, pair, celery_eager
):
    """Alpha's and beta's users share one UUID, and so do their courses: only
    the schema in the group name tells them apart, and that is enough."""
    alpha, beta = pair
    shared_user_id, shared_course_id = uuid.uuid4(), uuid.uuid4()
    people = {}
    for institution in (alpha, beta):
        teacher = member(institution, "teacher@ws.test", Role.INSTRUCTOR)
        student = member(institution, "student@ws.test", id=shared_user_id)
        course = course_taught_by(institution, teacher, id=shared_course_id)
        enroll(institution, course, student)
        people[institution.pk] = student
    a_student, b_student = people[alpha.pk], people[beta.pk]
    assert a_student.pk == b_student.pk

    with (
        ws(server, host_of(alpha), token_for(alpha, a_student)) as a,
        ws(server, host_of(beta), token_for(beta, b_student)) as b,
    ):
        notify(alpha, a_student, "alpha note")
        send_course_event(alpha, shared_course_id, "alpha course")
        notify(beta, b_student, "beta note")
        send_course_event(beta, shared_course_id, "beta course")

        got_a = received_until_marker(alpha, {"a": (a, a_student)})["a"]
        got_b = received_until_marker(beta, {"b": (b, b_student)})["b"]

    assert labels(got_a) == ["alpha note", "alpha course"]
    assert labels(got_b) == ["beta note", "beta course"]
    notification = got_a[0]
    assert notification["type"] == "notification"
    with tenant_context(alpha):
        stored = Notification.objects.get(pk=notification["payload"]["notificationId"])
        assert stored.user_id == a_student.pk and stored.pushed_at is not None
    connection.set_schema_to_public()


def test_a_token_of_one_institution_is_refused_on_anothers_host(server, pair):
    """Even for a user whose id exists in both: beta's token names beta's
    schema and a session only beta has."""
    alpha, beta = pair
    shared_id = uuid.uuid4()
    member(alpha, "same@ws.test", id=shared_id)
    b_user = member(beta, "same@ws.test", id=shared_id)
    with ws(server, host_of(alpha), token_for(beta, b_user)) as client:
        assert closed_with(client) == (4401, "The access token was issued by another institution.")


# --- refusals -------------------------------------------------------------------


@pytest.mark.parametrize("via", ["subprotocol", "header", "query"])
def test_a_missing_or_bad_token_is_closed_with_4401(server, pair, via):
    alpha, _ = pair
    with ws(server, host_of(alpha)) as client:
        code, reason = closed_with(client)
        assert code == 4401 and "No access token" in reason
    with ws(server, host_of(alpha), "not-a-jwt", via=via) as client:
        assert closed_with(client) == (
            4401,
            "The access token is malformed or its signature is invalid.",
        )


def test_an_expired_or_revoked_token_is_closed_with_4401(server, pair):
    alpha, _ = pair
    user = member(alpha, "late@ws.test")
    with ws(server, host_of(alpha), token_for(alpha, user, lifetime=-5)) as client:
        assert closed_with(client) == (4401, "The access token has expired.")

    with tenant_context(alpha):
        session = api_session_open(user)
        token = token_pair_issue(user=user, session=session).access_token
        api_session_close(session)  # logged out
    connection.set_schema_to_public()
    with ws(server, host_of(alpha), token) as client:
        assert closed_with(client) == (4401, "The access token has been revoked.")


def test_a_suspended_account_is_closed_with_4401(server, pair):
    alpha, _ = pair
    user = member(alpha, "gone@ws.test")
    token = token_for(alpha, user)
    with tenant_context(alpha):
        User.objects.filter(pk=user.pk).update(is_suspended=True)
    connection.set_schema_to_public()
    with ws(server, host_of(alpha), token) as client:
        code, reason = closed_with(client)
        # allauth finds no user for the session before our own check says why.
        assert code == 4401 and reason in (
            "The account is not active.",
            "The access token has been revoked.",
        )


def test_the_connection_closes_with_4401_when_its_token_expires(server, pair):
    alpha, _ = pair
    user = member(alpha, "brief@ws.test")
    with ws(server, host_of(alpha), token_for(alpha, user, lifetime=2)) as client:
        client.send(json.dumps({"type": "ping"}))
        assert json.loads(client.recv(timeout=TIMEOUT)) == {"type": "pong"}
        started = time.monotonic()
        assert closed_with(client) == (4401, "The access token has expired.")
        assert time.monotonic() - started < 4


def test_unknown_public_suspended_or_unprovisioned_hosts_are_refused_before_accepting(server, pair):
    """A plain HTTP 403 in every case: nothing says whether the institution exists."""
    alpha, _ = pair
    user = member(alpha, "host@ws.test")
    token = token_for(alpha, user)
    assert refused_handshake(server, "nowhere.localhost", token) == 403
    assert refused_handshake(server, "localhost", token) == 403
    assert refused_handshake(server, "evil.example.com", token) == 403  # not an allowed host
    Institution.objects.filter(pk=alpha.pk).update(status=Institution.Status.SUSPENDED)
    _forget_route(alpha)
    assert refused_handshake(server, host_of(alpha), token) == 403
    Institution.objects.filter(pk=alpha.pk).update(status=Institution.Status.PROVISIONING)
    _forget_route(alpha)
    assert refused_handshake(server, host_of(alpha), token) == 403
    Institution.objects.filter(pk=alpha.pk).update(status=Institution.Status.ACTIVE)
    _forget_route(alpha)
    with ws(server, host_of(alpha), token) as client:
        client.send(json.dumps({"type": "ping"}))
        assert json.loads(client.recv(timeout=TIMEOUT)) == {"type": "pong"}


def test_suspending_an_institution_closes_its_open_sockets_at_once(server, pair):
    """Through the lifecycle's own service (what the console and billing
    call): the open socket closes with 4403 within seconds, far before the
    minute's re-check; the other institution's socket stays open."""
    from provisioning.services import institution_suspend

    alpha, beta = pair
    one, other = member(alpha, "one@ws.test"), member(beta, "other@ws.test")
    with (
        ws(server, host_of(alpha), token_for(alpha, one)) as client,
        ws(server, host_of(beta), token_for(beta, other)) as bystander,
    ):
        client.send(json.dumps({"type": "ping"}))
        assert json.loads(client.recv(timeout=TIMEOUT)) == {"type": "pong"}
        started = time.monotonic()
        with transaction.atomic():
            institution_suspend(institution=Institution.objects.get(pk=alpha.pk), reason="Unpaid")
        assert closed_with(client) == (4403, "The institution is not available.")
        assert time.monotonic() - started < 5
        bystander.send(json.dumps({"type": "ping"}))
        assert json.loads(bystander.recv(timeout=TIMEOUT)) == {"type": "pong"}
    assert refused_handshake(server, host_of(alpha), token_for(alpha, one)) == 403


def _forget_route(institution) -> None:
    """What the models do after commit when a row changes (update() skips save())."""
    from shared_apps.institutions.routing import route_cache_forget

    route_cache_forget([host_of(institution)])


def test_a_browser_page_of_another_site_may_not_connect(server, pair):
    alpha, beta = pair
    user = member(alpha, "origin@ws.test")
    token = token_for(alpha, user)
    port = server
    for origin in (
        f"http://{host_of(beta)}:{port}",  # another institution's page
        "https://evil.example.com",
        f"http://{host_of(alpha)}:{port + 1}",  # another port is another origin
        "null",
    ):
        assert refused_handshake(server, host_of(alpha), token, origin=origin) == 403, origin
    with ws(server, host_of(alpha), token, origin=f"http://{host_of(alpha)}:{port}") as client:
        client.send(json.dumps({"type": "ping"}))
        assert json.loads(client.recv(timeout=TIMEOUT)) == {"type": "pong"}


def test_other_paths_are_refused(server, pair):
    alpha, _ = pair
    token = token_for(alpha, member(alpha, "path@ws.test"))
    assert refused_handshake(server, host_of(alpha), token, path="/ws/other/") == 403


# --- the protocol ---------------------------------------------------------------


@pytest.mark.parametrize("via", ["subprotocol", "header", "query"])
def test_ping_gets_pong_whichever_way_the_token_came(server, pair, via):
    alpha, _ = pair
    token = token_for(alpha, member(alpha, "pinger@ws.test"))
    with ws(server, host_of(alpha), token, via=via) as client:
        assert client.subprotocol == ("bearer" if via == "subprotocol" else None)
        client.send("not json")  # ignored
        client.send(json.dumps({"type": "something else"}))  # ignored
        client.send(json.dumps({"type": "ping"}))
        assert json.loads(client.recv(timeout=TIMEOUT)) == {"type": "pong"}


# --- who gets what within one institution ---------------------------------------


@pytest.fixture
def classroom(pair):
    """Alpha's course with its instructor, a TA, two students holding seats, a
    waitlisted student, a student of another course and the admin."""
    alpha, _ = pair
    people = {
        "instructor": member(alpha, "prof@ws.test", Role.INSTRUCTOR),
        "ta": member(alpha, "ta@ws.test"),
        "s1": member(alpha, "s1@ws.test"),
        "s2": member(alpha, "s2@ws.test"),
        "waitlisted": member(alpha, "wait@ws.test"),
        "elsewhere": member(alpha, "else@ws.test"),
    }
    with tenant_context(alpha):
        people["admin"] = User.objects.get(email=f"admin@{alpha.slug}.test")
    connection.set_schema_to_public()
    course = course_taught_by(alpha, people["instructor"])
    other = course_taught_by(alpha, people["instructor"], code="CS 202")
    enroll(alpha, course, people["ta"], CourseRole.TA)
    enroll(alpha, course, people["s1"])
    enroll(alpha, course, people["s2"])
    enroll(alpha, course, people["waitlisted"], enrollment_type=EnrollmentType.WAITLIST)
    enroll(alpha, other, people["elsewhere"])
    return alpha, course, other, people


@contextmanager
def connected(server, institution, people: dict):
    """{name: (client, user)} for each of `people`, connected."""
    with ExitStack() as stack:
        yield {
            name: (
                stack.enter_context(ws(server, host_of(institution), token_for(institution, user))),
                user,
            )
            for name, user in people.items()
        }


def test_a_user_gets_their_own_notifications_not_a_classmates(server, classroom, celery_eager):
    alpha, _, _, people = classroom
    with connected(server, alpha, {k: people[k] for k in ("s1", "s2")}) as clients:
        notify(alpha, people["s1"], "for s1")
        notify(alpha, people["s2"], "for s2")
        got = received_until_marker(alpha, clients)
    assert labels(got["s1"]) == ["for s1"]
    assert labels(got["s2"]) == ["for s2"]


def test_course_events_reach_its_members_only(server, classroom):
    alpha, course, other, people = classroom
    with connected(server, alpha, people) as clients:
        send_course_event(alpha, course.pk, "course news")
        send_course_event(alpha, other.pk, "other news")
        got = received_until_marker(alpha, clients)
    assert {name: labels(events) for name, events in got.items()} == {
        "instructor": ["course news", "other news"],
        "ta": ["course news"],
        "s1": ["course news"],
        "s2": ["course news"],
        "waitlisted": [],
        "elsewhere": ["other news"],
        "admin": [],
    }


def test_joining_and_leaving_a_course_takes_effect_on_an_open_connection(server, classroom):
    alpha, course, _, people = classroom
    newcomer = member(alpha, "new@ws.test")
    seen = []  # what the newcomer's client got, in order

    def membership_changed(joined: bool) -> None:
        with tenant_context(alpha):
            realtime_membership_changed(user_id=newcomer.pk, course_id=course.pk, joined=joined)
        connection.set_schema_to_public()
        while True:  # until the consumer says it has followed (or left) the course
            seen.append(json.loads(clients["new"][0].recv(timeout=TIMEOUT)))
            if seen[-1]["type"] == "membership":
                return

    with connected(server, alpha, {"new": newcomer, "s1": people["s1"]}) as clients:
        send_course_event(alpha, course.pk, "before")
        enrollment = enroll(alpha, course, newcomer)
        membership_changed(joined=True)
        send_course_event(alpha, course.pk, "while enrolled")
        with tenant_context(alpha):
            Enrollment.objects.filter(pk=enrollment.pk).update(status="dropped")
        connection.set_schema_to_public()
        membership_changed(joined=False)
        send_course_event(alpha, course.pk, "after dropping")
        # A "joined" for a course they are not in changes nothing: the
        # consumer asks the database. Nor does a course id that is no id.
        membership_changed(joined=True)
        with tenant_context(alpha):
            realtime_membership_changed(user_id=newcomer.pk, course_id="not-a-uuid", joined=True)
        connection.set_schema_to_public()
        send_course_event(alpha, course.pk, "still dropped")
        got = received_until_marker(alpha, clients)
    course_id = str(course.pk)
    assert seen + got["new"] == [
        {"type": "membership", "payload": {"courseId": course_id, "joined": True}},
        event("course.test", label="while enrolled"),
        {"type": "membership", "payload": {"courseId": course_id, "joined": False}},
        {"type": "membership", "payload": {"courseId": course_id, "joined": False}},
    ]
    assert labels(got["s1"]) == ["before", "while enrolled", "after dropping", "still dropped"]


def test_a_deleted_course_is_not_followed(server, classroom):
    alpha, course, _, people = classroom
    with tenant_context(alpha):
        Course.objects.filter(pk=course.pk).update(deleted_at=timezone.now())
    connection.set_schema_to_public()
    with connected(server, alpha, {"s1": people["s1"]}) as clients:
        send_course_event(alpha, course.pk, "ghost")
        got = received_until_marker(alpha, clients)
    assert got["s1"] == []


def test_an_idle_connection_still_gets_events(server, pair):
    """Longer than the channel layer's blocking read (5 s) and redis-py's
    default socket timeout (also 5 s): the connection must survive its quiet."""
    alpha, _ = pair
    user = member(alpha, "idle@ws.test")
    with ws(server, host_of(alpha), token_for(alpha, user)) as client:
        time.sleep(12)
        got = received_until_marker(alpha, {"idle": (client, user)})
    assert got == {"idle": []}
