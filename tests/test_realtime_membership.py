"""WebSockets follow what the services change while a socket is open: courses
joined and left through the courses' endpoints (enroll, CSV import, delete),
a new role, and sessions ended without a message (the periodic re-check).

Same set-up as tests/test_realtime.py: uvicorn in a thread over committed data,
real clients, the real channel layer.
"""

import json

from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role

from . import test_realtime
from .api_helpers import admin_of, api_client, as_json, course_taught_by, member
from .test_realtime import (
    TIMEOUT,
    closed_with,
    host_of,
    labels,
    received_until_marker,
    send_course_event,
    token_for,
    ws,
)

API = "/api/v1"

server = test_realtime.server
pair = test_realtime.pair


def memberships_until(client, count: int) -> list[dict]:
    """The next `count` membership messages (anything else in between skipped)."""
    seen = []
    while len(seen) < count:
        message = json.loads(client.recv(timeout=TIMEOUT))
        if message["type"] == "membership":
            seen.append(message["payload"])
    return seen


def test_enrolling_importing_and_deleting_a_course_reach_open_sockets(server, pair, celery_eager):
    alpha, _ = pair
    teacher = member(alpha, "prof@live.test", Role.INSTRUCTOR)
    added = member(alpha, "added@live.test")
    imported = member(alpha, "imported@live.test")
    course = course_taught_by(alpha, teacher)
    prof = api_client(alpha, teacher)
    joined = {"courseId": str(course.pk), "joined": True}
    left = {"courseId": str(course.pk), "joined": False}

    with (
        ws(server, host_of(alpha), token_for(alpha, added)) as a,
        ws(server, host_of(alpha), token_for(alpha, imported)) as b,
    ):
        enrolled = as_json(
            prof, "post", f"{API}/courses/{course.pk}/enroll/", {"user_id": str(added.pk)}
        )
        assert enrolled.status_code == 201, enrolled.content
        assert memberships_until(a, 1) == [joined]

        csv = SimpleUploadedFile("roster.csv", b"email\nimported@live.test\n", "text/csv")
        uploaded = prof.post(
            f"{API}/courses/{course.pk}/enrollments/import/", {"file": csv, "dry_run": "false"}
        )
        assert uploaded.status_code in (201, 202), uploaded.content
        assert memberships_until(b, 1) == [joined]

        send_course_event(alpha, course.pk, "for the class")
        got = received_until_marker(alpha, {"a": (a, added), "b": (b, imported)})
        assert {name: labels(events) for name, events in got.items()} == {
            "a": ["for the class"],
            "b": ["for the class"],
        }

        assert prof.delete(f"{API}/courses/{course.pk}/").status_code == 204
        assert memberships_until(a, 1) == [left]
        assert memberships_until(b, 1) == [left]
        send_course_event(alpha, course.pk, "after deletion")
        got = received_until_marker(alpha, {"a": (a, added), "b": (b, imported)})
        assert got == {"a": [], "b": []}


def test_an_instructor_made_a_student_stops_following_the_courses_they_taught(server, pair):
    alpha, _ = pair
    teacher = member(alpha, "demoted@live.test", Role.INSTRUCTOR)
    course = course_taught_by(alpha, teacher)
    with ws(server, host_of(alpha), token_for(alpha, teacher)) as client:
        changed = as_json(
            api_client(alpha, admin_of(alpha)),
            "patch",
            f"{API}/users/{teacher.pk}/",
            {"role": Role.STUDENT},
        )
        assert changed.status_code == 200, changed.content
        assert memberships_until(client, 1) == [{"courseId": str(course.pk), "joined": False}]
        send_course_event(alpha, course.pk, "staff only")
        assert received_until_marker(alpha, {"t": (client, teacher)}) == {"t": []}


def test_a_session_ended_without_a_message_is_caught_by_the_periodic_recheck(
    server, pair, settings
):
    """A path that ends sessions without telling the sockets (here, rows
    deleted directly): the socket's own re-check closes it all the same."""
    settings.REALTIME_RECHECK_SECONDS = 1.0
    alpha, _ = pair
    user = member(alpha, "quiet@live.test")
    with ws(server, host_of(alpha), token_for(alpha, user)) as client:
        client.send(json.dumps({"type": "ping"}))
        assert json.loads(client.recv(timeout=TIMEOUT)) == {"type": "pong"}
        with tenant_context(alpha):
            Session.objects.all().delete()
        connection.set_schema_to_public()
        assert closed_with(client) == (4401, "The access token has been revoked.")


def test_a_password_changed_in_the_browser_closes_the_other_sessions_sockets_at_once(server, pair):
    """allauth's password change keeps the browser's own session and ends the
    others (their auth hash no longer matches): a socket opened with an API
    token of another session closes within seconds, not at the minute's
    re-check (REALTIME_RECHECK_SECONDS stays at its default here)."""
    from .conftest import host_client
    from .test_browser_auth import NEW_PASSWORD, PASSWORD, sign_in
    from .test_browser_auth import member as verified_member

    alpha, _ = pair
    user = verified_member(alpha, "changer@live.test")
    connection.set_schema_to_public()
    browser = host_client(host_of(alpha))
    assert sign_in(browser, "changer@live.test").status_code == 302
    with ws(server, host_of(alpha), token_for(alpha, user)) as client:
        client.send(json.dumps({"type": "ping"}))
        assert json.loads(client.recv(timeout=TIMEOUT)) == {"type": "pong"}
        changed = browser.post(
            "/accounts/password/change/",
            {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert changed.status_code == 302
        assert closed_with(client) == (4401, "The access token has been revoked.")
