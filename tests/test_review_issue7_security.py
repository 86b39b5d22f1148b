"""Security review of issue 7: defects found, each shown by a failing test.

Every test here goes through the real flows (HTTP through the tenant router,
WebSockets against uvicorn, the real channel layer, Celery eager) and fails
because of the defect its docstring describes; none is about behaviour that
was found correct.
"""

import pytest
from django.core import mail
from django.db import connection
from django_tenants.utils import tenant_context
from websockets.exceptions import ConnectionClosed

from tenant_apps.accounts.models import Role
from tenant_apps.accounts.tokens import api_session_open, token_pair_issue
from tenant_apps.notifications.models import Notification

from . import test_realtime
from .api_helpers import admin_of, api_client, as_json, course_taught_by, member
from .conftest import host_client
from .test_realtime import (
    enroll,
    host_of,
    labels,
    notify,
    received_until_marker,
    send_course_event,
    token_for,
    ws,
)

API = "/api/v1"

# The WebSocket tests' fixtures: uvicorn serving the ASGI app, two fresh institutions.
server = test_realtime.server
pair = test_realtime.pair


def _received_or_closed(institution, client, user) -> list[dict]:
    """What the client got before its marker; [] if the server closed it."""
    try:
        return received_until_marker(institution, {"u": (client, user)})["u"]
    except ConnectionClosed:
        return []


# --- realtime -------------------------------------------------------------------


def test_a_student_dropped_from_a_course_keeps_receiving_its_live_events(server, pair):
    """DEFECT: tenant_apps.notifications.realtime.realtime_membership_changed
    is never called by the code that changes enrollments (courses'
    enrollment_drop, enroll, roster imports, erasure...): only the tests call
    it. The consumer joins a student's course groups once, at connect, so a
    student dropped from a course (here by the instructor, through
    POST /courses/{id}/unenroll/) keeps receiving every course event on the
    socket they already had open: new discussion threads with their titles
    and authors, for as long as the socket lives (the token lasts 15 minutes
    and a client reconnects with a refreshed one before that only if it
    wants to). A student removed from a course must stop getting its
    material at once, as the REST API stops serving it."""
    alpha, _ = pair
    teacher = member(alpha, "prof@review.test", Role.INSTRUCTOR)
    student = member(alpha, "dropped@review.test")
    course = course_taught_by(alpha, teacher)
    enroll(alpha, course, student)
    prof = api_client(alpha, teacher)
    forum = as_json(prof, "post", f"{API}/courses/{course.pk}/discussions/", {"title": "General"})
    assert forum.status_code == 201, forum.content
    forum_id = forum.json()["id"]

    with ws(server, host_of(alpha), token_for(alpha, student)) as client:
        dropped = as_json(
            prof, "post", f"{API}/courses/{course.pk}/unenroll/", {"user_id": str(student.pk)}
        )
        assert dropped.status_code == 200, dropped.content
        # The REST API refuses the dropped student at once...
        assert api_client(alpha, student).get(f"{API}/discussions/{forum_id}/").status_code == 404
        posted = as_json(
            prof,
            "post",
            f"{API}/discussions/{forum_id}/posts/",
            {"title": "Midterm answers", "content": "<p>Only for the class.</p>"},
        )
        assert posted.status_code == 201, posted.content
        got = _received_or_closed(alpha, client, student)

    # ...but the live socket still gets the course's new thread.
    leaked = [e for e in got if e["type"] == "discussion.post"]
    assert leaked == [], f"a dropped student received the course's events: {leaked}"


@pytest.mark.parametrize("how", ["logout", "erasure"])
def test_an_open_socket_outlives_the_session_it_was_opened_with(server, pair, celery_eager, how):
    """DEFECT: tenant_apps/notifications/consumers.py checks the access token
    only in connect() and then keeps the socket until the token's `exp`
    (15 minutes by default). Ending the session does not reach the socket:
    after POST /auth/logout/ (said to stop the tokens "at once") or after an
    admin erases the user (accounts' erase "ends their sessions and tokens at
    once"), the REST API answers 401 but the already-open socket keeps
    delivering the user's notifications and their courses' events: a
    logged-out shared computer, or an erased person's device, goes on
    receiving private data. Nothing closes the socket when a session ends
    (no event to the user's group, no periodic re-check of the session)."""
    alpha, _ = pair
    teacher = member(alpha, "prof@review.test", Role.INSTRUCTOR)
    user = member(alpha, "leaving@review.test")
    course = course_taught_by(alpha, teacher)
    enroll(alpha, course, user)
    with tenant_context(alpha):
        token = token_pair_issue(user=user, session=api_session_open(user)).access_token
    connection.set_schema_to_public()
    own = host_client(host_of(alpha), HTTP_AUTHORIZATION=f"Bearer {token}")

    with ws(server, host_of(alpha), token) as client:
        if how == "logout":
            assert own.post(f"{API}/auth/logout/").status_code == 204
        else:
            erased = as_json(
                api_client(alpha, admin_of(alpha)),
                "post",
                f"{API}/users/{user.pk}/erase/",
                {"confirm_email": user.email},
            )
            assert erased.status_code == 200, erased.content
        assert own.get(f"{API}/notifications/").status_code == 401  # the session is over
        notify(alpha, user, "private note after the session ended")
        send_course_event(alpha, course.pk, "course news after the session ended")
        got = _received_or_closed(alpha, client, user)

    assert labels(got) == [], f"the socket kept delivering after {how}: {labels(got)}"


# --- erasure ----------------------------------------------------------------------


@pytest.mark.django_db
def test_erasing_a_user_leaves_their_name_in_other_peoples_notifications(alpha):
    """DEFECT: an erasure removes only the erased user's OWN notifications
    (tenant_apps/notifications/services.py notifications_erase). The
    notifications the system itself wrote to others about them keep their
    name: messaging's "New message from <first> <last>" / "<first> <last>
    sent you a message." (tenant_apps/messaging/services.py _notify), the
    discussions reply notification "<name> replied to your post", and the
    admin's "The data export of <name> is ready". After the erasure those
    rows, the emails aside, still name the person in the recipients'
    notification lists (and metadata.sender_id still points at the erased
    row). This is not free text someone else wrote (a README "known limit"):
    it is copy of the person's name the system made itself and could scrub
    (or build from the user row when read)."""
    sender = member(
        alpha, "zebulon@review.test", Role.INSTRUCTOR, first_name="Zebulon", last_name="Quixote"
    )
    reader = member(alpha, "reader@review.test")
    sent = as_json(
        api_client(alpha, sender),
        "post",
        f"{API}/conversations/",
        {"conversation_type": "direct", "participant_ids": [str(reader.pk)], "message": "Hello"},
    )
    assert sent.status_code == 201, sent.content
    reader_client = api_client(alpha, reader)
    before = reader_client.get(f"{API}/notifications/").json()["results"]
    assert any("Zebulon" in n["title"] for n in before)  # set-up: the notification is there

    erased = as_json(
        api_client(alpha, admin_of(alpha)),
        "post",
        f"{API}/users/{sender.pk}/erase/",
        {"confirm_email": sender.email},
    )
    assert erased.status_code == 200, erased.content

    after = reader_client.get(f"{API}/notifications/").json()["results"]
    named = [
        n
        for n in after
        if any(word in f"{n['title']} {n['message']}" for word in ("Zebulon", "Quixote"))
    ]
    assert named == [], f"the erased user is still named in others' notifications: {named}"
    with tenant_context(alpha):
        stored = list(
            Notification.objects.filter(title__icontains="Quixote").values_list("title", flat=True)
        )
    connection.set_schema_to_public()
    assert stored == []


# --- email ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_line_break_in_a_conversation_title_stops_the_message_emails(
    alpha, celery_eager, django_capture_on_commit_callbacks
):
    """DEFECT: titles of group conversations (and of forums, posts...) are
    plain text that may hold a line break (DRF's CharField keeps inner "\\n"),
    and messaging puts the conversation's title into the notification title
    ("New message from <name> in <title>"), which delivery uses as the email
    SUBJECT (tenant_apps/notifications/delivery.py notification_email).
    Django refuses a header with a newline (BadHeaderError, its guard against
    header injection), so the email task fails, unclaims, and fails again on
    every retry: any participant (a student may create a group) can silently
    stop the message emails of everyone in it. Titles should be made single
    line before they become a subject (or rejected on input)."""
    teacher = member(alpha, "prof@review.test", Role.INSTRUCTOR)
    one = member(alpha, "one@review.test")
    two = member(alpha, "two@review.test")
    mail.outbox.clear()
    failure = None
    try:
        with django_capture_on_commit_callbacks(execute=True):
            created = as_json(
                api_client(alpha, teacher),
                "post",
                f"{API}/conversations/",
                {
                    "conversation_type": "group",
                    "participant_ids": [str(one.pk), str(two.pk)],
                    "title": "Study\nGroup",
                    "message": "Meeting at five.",
                },
            )
    except Exception as error:  # the eager email task's error, if it propagates
        failure = error
    assert created.status_code == 201, created.content
    assert sorted(m.to[0] for m in mail.outbox) == [one.email, two.email], (
        f"message emails were not sent ({failure!r})"
    )


# --- messaging --------------------------------------------------------------------


@pytest.mark.django_db
def test_someone_who_left_a_conversation_reads_edits_made_after_they_left(alpha):
    """DEFECT (minor): a participant who left "keeps what they saw, up to now,
    all read; nothing after" (tenant_apps/messaging/services.py
    conversation_leave). selectors.conversation_messages keeps the leaver to
    messages *created* before `left_at`, but serves their *current* content:
    an edit made after they left (PATCH /messages/{id}/, allowed to the
    sender while in the conversation) is readable by the leaver, through
    GET /conversations/{id}/messages/ and GET /messages/{id}/. Text written
    after someone left reaches them (e.g. the sender replaces a placeholder
    with the real plan once the person they distrust has gone)."""
    teacher = member(alpha, "prof@review.test", Role.INSTRUCTOR)
    stays = member(alpha, "stays@review.test")
    leaves = member(alpha, "leaves@review.test")
    prof = api_client(alpha, teacher)
    created = as_json(
        prof,
        "post",
        f"{API}/conversations/",
        {"conversation_type": "group", "participant_ids": [str(stays.pk), str(leaves.pk)]},
    )
    assert created.status_code == 201, created.content
    conversation_id = created.json()["id"]
    sent = as_json(
        prof, "post", f"{API}/conversations/{conversation_id}/messages/", {"content": "TBD"}
    )
    assert sent.status_code == 201, sent.content
    message_id = sent.json()["id"]
    leaver = api_client(alpha, leaves)
    left = leaver.delete(f"{API}/conversations/{conversation_id}/participants/{leaves.pk}/")
    assert left.status_code == 204, left.content

    edited = as_json(prof, "patch", f"{API}/messages/{message_id}/", {"content": "Plan: meet at 5"})
    assert edited.status_code == 200, edited.content

    listed = leaver.get(f"{API}/conversations/{conversation_id}/messages/").json()["results"]
    assert [m["content"] for m in listed] == ["TBD"], "the leaver reads text written after leaving"
    one = leaver.get(f"{API}/messages/{message_id}/")
    assert one.status_code == 404 or one.json()["content"] == "TBD"
