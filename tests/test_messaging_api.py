"""The messaging API through the tenant router: direct, group and course
conversations; who may message whom (sharing a course, widened by the
institution's policy); unread counts from last_read_at; editing and deleting
one's own messages; leaving and adding people; notifications of new messages;
the user's data export and erasure; another institution's users."""

import pytest
import schemathesis
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, settings

from tenant_apps.accounts.models import Role, User
from tenant_apps.courses.models import (
    CourseRole,
    CourseStatus,
    EnrollmentStatus,
    EnrollmentType,
)
from tenant_apps.messaging.models import (
    Conversation,
    ConversationParticipant,
    Message,
    MessagingPolicy,
)
from tenant_apps.notifications.models import Notification, NotificationKind
from tenant_apps.notifications.realtime import user_group
from tenant_apps.privacy.registry import user_data_sections

from .api_helpers import (
    CourseWorld,
    admin_of,
    api_client,
    as_json,
    course_taught_by,
    error_code,
    member,
)
from .api_helpers import enroll as _enroll
from .api_helpers import in_tenant as _in
from .channel_listener import GroupListener
from .test_api_fuzz import (  # noqa: F401 (wsgi_app is a fixture)
    CHECKS,
    EXAMPLES_PER_OPERATION,
    HOST,
    rolled_back_request,
    schemathesis_config,
    wsgi_app,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def world(alpha) -> CourseWorld:
    """CS 101 (published): its instructor, students stu1 and stu2, a TA, a
    waitlisted and a dropped student. `loner`: a student in no course with
    them; `drafty`: enrolled with stu1 only in a draft course."""
    instructor = member(alpha, "prof@alpha.test", Role.INSTRUCTOR, first_name="Prof")
    course = course_taught_by(alpha, instructor)
    users = {
        "admin": admin_of(alpha),
        "instructor": instructor,
        "stu1": member(alpha, "stu1@alpha.test", first_name="Ann"),
        "stu2": member(alpha, "stu2@alpha.test", first_name="Bob"),
        "ta": member(alpha, "ta@alpha.test", Role.TA),
        "waitlisted": member(alpha, "wait@alpha.test"),
        "dropped": member(alpha, "dropped@alpha.test"),
        "loner": member(alpha, "loner@alpha.test", first_name="Lou"),
        "drafty": member(alpha, "drafty@alpha.test"),
        "other_prof": member(alpha, "prof2@alpha.test", Role.INSTRUCTOR),
    }
    _enroll(alpha, course, users["stu1"])
    _enroll(alpha, course, users["stu2"])
    _enroll(alpha, course, users["ta"], CourseRole.TA)
    _enroll(alpha, course, users["waitlisted"], enrollment_type=EnrollmentType.WAITLIST)
    _enroll(alpha, course, users["dropped"], status=EnrollmentStatus.DROPPED)
    draft = course_taught_by(alpha, users["other_prof"], code="CS 999", status=CourseStatus.DRAFT)
    _enroll(alpha, draft, users["stu1"])
    _enroll(alpha, draft, users["drafty"])
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    return CourseWorld(alpha, course, users, clients)


def _open(client, kind="direct", **body):
    return as_json(client, "post", f"{API}/conversations/", {"conversation_type": kind, **body})


def _direct(world, sender: str, to: str, **body):
    return _open(world.clients[sender], participant_ids=[world.id(to)], **body)


def _send(client, conversation_id, content="Hello"):
    return as_json(
        client, "post", f"{API}/conversations/{conversation_id}/messages/", {"content": content}
    )


def _ok(response, status=200) -> dict:
    assert response.status_code == status, response.content
    return response.json() if response.content else {}


def _count(world, model, **filters) -> int:
    return _in(world.institution, lambda: model.objects.filter(**filters).count())


def _row(world, pk) -> dict:
    return _ok(world_client(world, "admin").get(f"{API}/conversations/{pk}/"))


def world_client(world, name):
    return world.clients[name]


def _unread(client) -> dict:
    return _ok(client.get(f"{API}/conversations/unread-count/"))


# --- direct conversations and who may message whom --------------------------


def test_direct_conversation_is_one_per_pair(world):
    c = world.clients
    response = _direct(world, "stu1", "stu2", message="Hi Bob")
    body = _ok(response, 201)
    assert body["created"] is True and body["conversation_type"] == "direct"
    assert response["Location"] == f"/api/v1/conversations/{body['id']}/"
    assert {p["user"]["id"] for p in body["participants"]} == {world.id("stu1"), world.id("stu2")}
    assert body["participant_count"] == 2
    assert body["last_message"]["content"] == "Hi Bob"
    assert body["unread_count"] == 0, "one's own messages are never unread"

    again = _ok(_direct(world, "stu1", "stu2"), 200)
    assert again["id"] == body["id"] and again["created"] is False
    reverse = _ok(_direct(world, "stu2", "stu1", message="Hi Ann"), 200)
    assert reverse["id"] == body["id"]
    assert _count(world, Conversation) == 1
    assert _count(world, Message, conversation_id=body["id"]) == 2
    assert _ok(c["stu1"].get(f"{API}/conversations/{body['id']}/"))["unread_count"] == 1


@pytest.mark.parametrize(
    ("sender", "recipient"),
    [
        ("stu1", "loner"),  # no shared course
        ("loner", "stu1"),  # the other way round
        ("stu1", "waitlisted"),  # a waitlisted student holds no seat
        ("stu1", "dropped"),  # nor does a dropped one
        ("drafty", "stu1"),  # a draft course is not a shared course yet
        ("stu1", "other_prof"),  # the instructor of the draft course
    ],
)
def test_students_reach_only_people_they_share_a_course_with(world, sender, recipient):
    response = _direct(world, sender, recipient, message="Hello?")
    assert response.status_code == 403, response.content
    assert error_code(response) == "recipient_not_reachable"
    assert response.json()["error"]["user_ids"] == [world.id(recipient)]
    assert _count(world, Conversation) == 0 and _count(world, Message) == 0


@pytest.mark.parametrize(
    ("sender", "recipient"),
    [
        ("stu1", "stu2"),  # classmates
        ("stu1", "instructor"),  # their instructor
        ("stu1", "ta"),  # their TA
        ("instructor", "loner"),  # instructors reach anyone
        ("ta", "loner"),  # institution TAs too
        ("admin", "loner"),  # admins too
        ("other_prof", "stu2"),
    ],
)
def test_who_may_be_reached(world, sender, recipient):
    _ok(_direct(world, sender, recipient), 201)


def test_the_policy_lets_students_message_anyone(world):
    c = world.clients
    url = f"{API}/institution/messaging-policy/"
    assert _ok(c["admin"].get(url))["students_message_anyone"] is False
    assert _direct(world, "stu1", "loner").status_code == 403
    body = _ok(as_json(c["admin"], "patch", url, {"students_message_anyone": True}))
    assert body["students_message_anyone"] is True
    _ok(_direct(world, "stu1", "loner"), 201)
    _ok(_direct(world, "loner", "stu2"), 201)
    body = _ok(as_json(c["admin"], "put", url, {"students_message_anyone": False}))
    assert body["students_message_anyone"] is False
    assert _direct(world, "loner", "drafty").status_code == 403


@pytest.mark.parametrize("name", ["instructor", "ta", "stu1"])
def test_only_admins_see_and_change_the_policy(world, name):
    client = world.clients[name]
    url = f"{API}/institution/messaging-policy/"
    assert client.get(url).status_code == 403
    response = as_json(client, "put", url, {"students_message_anyone": True})
    assert response.status_code == 403
    assert as_json(client, "patch", url, {"students_message_anyone": True}).status_code == 403
    assert _count(world, MessagingPolicy, students_message_anyone=True) == 0


def test_the_policy_refuses_bad_input(world):
    url = f"{API}/institution/messaging-policy/"
    client = world.clients["admin"]
    for body in ({}, {"students_message_anyone": "perhaps"}, {"unknown": True}):
        response = as_json(client, "put", url, body)
        assert response.status_code == 400 and error_code(response) == "invalid", body
    assert _count(world, MessagingPolicy, students_message_anyone=True) == 0


def test_unknown_and_inactive_recipients_are_refused(world):
    with tenant_context(world.institution):
        User.objects.filter(pk=world.users["stu2"].pk).update(is_suspended=True)
    connection.set_schema_to_public()
    ghost = "00000000-0000-4000-8000-000000000000"
    for ids in ([ghost], [world.id("stu2")]):
        response = _open(world.clients["instructor"], participant_ids=ids)
        assert response.status_code == 400 and error_code(response) == "unknown_recipients"
        assert response.json()["error"]["user_ids"] == ids
    assert _count(world, Conversation) == 0


STU2 = "stu2"  # replaced by stu2's id


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"conversation_type": "chat", "participant_ids": [STU2]},
        {"conversation_type": "direct"},
        {"conversation_type": "direct", "participant_ids": []},
        {"conversation_type": "direct", "participant_ids": "everyone"},
        {"conversation_type": "direct", "participant_ids": ["not-a-uuid"]},
        {"conversation_type": "direct", "participant_ids": [STU2], "title": "x"},
        {"conversation_type": "direct", "participant_ids": [STU2], "course_id": STU2},
        {"conversation_type": "group", "participant_ids": []},
        {"conversation_type": "course"},
        {"conversation_type": "course", "course_id": "CS 101"},
        {"conversation_type": "group", "participant_ids": [STU2], "surprise": 1},
        {"conversation_type": "direct", "participant_ids": [STU2], "message": "x" * 10_001},
        {"conversation_type": "direct", "participant_ids": [STU2], "message": "  "},
        {"conversation_type": "group", "participant_ids": [STU2] * 101},
    ],
)
def test_bad_conversations_are_refused(world, body):
    def real(value):
        if value == STU2:
            return world.id("stu2")
        return [real(v) for v in value] if isinstance(value, list) else value

    body = {key: real(value) for key, value in body.items()}
    response = as_json(world.clients["stu1"], "post", f"{API}/conversations/", body)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert _count(world, Conversation) == 0


def test_a_conversation_with_oneself_is_refused(world):
    response = _direct(world, "stu1", "stu1")
    assert response.status_code == 400 and error_code(response) == "invalid"


# --- group and course conversations ----------------------------------------


def test_group_conversation(world):
    c = world.clients
    body = _ok(
        _open(
            c["stu1"],
            "group",
            participant_ids=[world.id("stu2"), world.id("ta")],
            title="  Study group ",
            message="Meet at 5?",
        ),
        201,
    )
    assert body["title"] == "Study group" and body["participant_count"] == 3
    assert body["created_by"]["id"] == world.id("stu1")
    for name in ("stu2", "ta"):
        assert _ok(c[name].get(f"{API}/conversations/{body['id']}/"))["unread_count"] == 1
    # A group with someone unreachable is not made at all.
    response = _open(c["stu1"], "group", participant_ids=[world.id("stu2"), world.id("loner")])
    assert response.status_code == 403
    assert response.json()["error"]["user_ids"] == [world.id("loner")]
    assert _count(world, Conversation) == 1


def test_course_conversation_goes_to_the_course_members(world):
    c = world.clients
    url = f"{API}/conversations/"
    body = {"conversation_type": "course", "course_id": str(world.course.pk), "message": "Hi!"}
    conversation = _ok(as_json(c["ta"], "post", url, body), 201)
    assert conversation["course_id"] == str(world.course.pk)
    assert conversation["title"] == "CS 101: Course CS 101"
    members = _ok(c["ta"].get(f"{API}/conversations/{conversation['id']}/participants/"))
    assert {row["user"]["id"] for row in members["results"]} == {
        world.id(n) for n in ("instructor", "ta", "stu1", "stu2")
    }, "not the waitlisted nor the dropped student"
    assert _ok(c["stu2"].get(f"{API}/conversations/{conversation['id']}/"))["unread_count"] == 1
    assert c["waitlisted"].get(f"{API}/conversations/{conversation['id']}/").status_code == 404


@pytest.mark.parametrize(("name", "status"), [("stu1", 403), ("loner", 404), ("other_prof", 404)])
def test_only_the_course_staff_message_the_course(world, name, status):
    body = {"conversation_type": "course", "course_id": str(world.course.pk), "title": "Hi"}
    response = as_json(world.clients[name], "post", f"{API}/conversations/", body)
    assert response.status_code == status, response.content
    assert _count(world, Conversation) == 0


def test_a_course_conversation_needs_someone_to_talk_to(world):
    empty = course_taught_by(world.institution, world.users["instructor"], code="CS 102")
    body = {"conversation_type": "course", "course_id": str(empty.pk)}
    response = as_json(world.clients["instructor"], "post", f"{API}/conversations/", body)
    assert response.status_code == 400 and error_code(response) == "no_recipients"
    assert _count(world, Conversation) == 0


def test_creating_is_idempotent_with_a_key(world):
    body = {"conversation_type": "group", "participant_ids": [world.id("stu2")], "message": "x"}
    first = as_json(
        world.clients["stu1"], "post", f"{API}/conversations/", body, HTTP_IDEMPOTENCY_KEY="k1"
    )
    second = as_json(
        world.clients["stu1"], "post", f"{API}/conversations/", body, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert _count(world, Conversation) == 1 and _count(world, Message) == 1


# --- seeing conversations and messages -------------------------------------


def test_only_participants_see_a_conversation(world):
    c = world.clients
    conversation = _ok(_direct(world, "stu1", "stu2", message="secret"), 201)["id"]
    for name in ("loner", "admin", "instructor"):
        client = c[name]
        assert client.get(f"{API}/conversations/{conversation}/").status_code == 404
        assert client.get(f"{API}/conversations/{conversation}/messages/").status_code == 404
        assert client.get(f"{API}/conversations/{conversation}/participants/").status_code == 404
        assert _send(client, conversation).status_code == 404
        assert client.post(f"{API}/conversations/{conversation}/read/").status_code == 404
        assert _ok(client.get(f"{API}/conversations/"))["count"] == 0
    message = _ok(c["stu1"].get(f"{API}/conversations/{conversation}/messages/"))["results"][0]
    assert c["loner"].get(f"{API}/messages/{message['id']}/").status_code == 404
    assert _count(world, Message) == 1


def test_the_list_is_newest_activity_first_with_unread_counts(world):
    c = world.clients
    first = _ok(_direct(world, "stu1", "stu2", message="one"), 201)["id"]
    second = _ok(_direct(world, "stu1", "instructor", message="two"), 201)["id"]
    listed = _ok(c["stu1"].get(f"{API}/conversations/"))
    assert [row["id"] for row in listed["results"]] == [second, first]
    _ok(_send(c["stu2"], first, "three"), 201)
    _ok(_send(c["stu2"], first, "four"), 201)
    listed = _ok(c["stu1"].get(f"{API}/conversations/"))["results"]
    assert [row["id"] for row in listed] == [first, second]
    assert listed[0]["unread_count"] == 2 and listed[0]["last_message"]["content"] == "four"
    assert listed[1]["unread_count"] == 0
    assert _unread(c["stu1"]) == {"unread_messages": 2, "unread_conversations": 1}
    assert _unread(c["stu2"]) == {"unread_messages": 0, "unread_conversations": 0}, "replied"
    assert _unread(c["instructor"]) == {"unread_messages": 1, "unread_conversations": 1}

    unread = _ok(c["stu1"].get(f"{API}/conversations/", {"unread": "true"}))["results"]
    assert [row["id"] for row in unread] == [first]
    direct = _ok(c["stu1"].get(f"{API}/conversations/", {"conversation_type": "group"}))
    assert direct["count"] == 0

    read = _ok(c["stu1"].post(f"{API}/conversations/{first}/read/"))
    assert read["unread_count"] == 0 and read["last_read_at"]
    assert _unread(c["stu1"]) == {"unread_messages": 0, "unread_conversations": 0}
    _ok(_send(c["stu2"], first, "five"), 201)
    assert _unread(c["stu1"]) == {"unread_messages": 1, "unread_conversations": 1}
    # Replying reads everything before one's own message.
    _ok(_send(c["stu1"], first, "six"), 201)
    assert _unread(c["stu1"]) == {"unread_messages": 0, "unread_conversations": 0}


def test_deleted_messages_are_not_unread(world):
    c = world.clients
    conversation = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    message = _ok(_send(c["stu2"], conversation, "oops"), 201)["id"]
    assert _unread(c["stu1"])["unread_messages"] == 1
    assert c["stu2"].delete(f"{API}/messages/{message}/").status_code == 204
    assert _unread(c["stu1"]) == {"unread_messages": 0, "unread_conversations": 0}


def test_the_list_costs_the_same_queries_however_many_conversations(world):
    c = world.clients

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            _ok(c["instructor"].get(f"{API}/conversations/"))
        return len(captured)

    for name in ("stu1", "stu2"):
        _ok(_direct(world, "instructor", name, message="hi"), 201)
        _ok(_send(c[name], _direct(world, name, "instructor").json()["id"], "back"), 201)
    few = queries()
    for name in ("ta", "loner", "drafty", "other_prof", "waitlisted", "dropped"):
        conversation = _ok(_direct(world, "instructor", name, message="hi"), 201)["id"]
        _ok(_send(c[name], conversation, "back"), 201)
    group = [world.id(n) for n in ("stu1", "stu2", "ta")]
    _ok(_open(c["instructor"], "group", participant_ids=group, message="all"), 201)
    assert queries() == few
    assert few <= 8, f"{few} queries"


def test_list_query_count_is_bounded(world, django_assert_max_num_queries):
    for name in ("stu1", "stu2", "ta", "loner"):
        _ok(_direct(world, "instructor", name, message="hi"), 201)
    with django_assert_max_num_queries(8):
        _ok(world.clients["instructor"].get(f"{API}/conversations/"))
    with django_assert_max_num_queries(5):
        _ok(world.clients["instructor"].get(f"{API}/conversations/unread-count/"))


def test_messages_are_newest_first_and_paginated(world):
    c = world.clients
    conversation = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    for n in range(5):
        _ok(_send(c["stu1" if n % 2 else "stu2"], conversation, f"m{n}"), 201)
    url = f"{API}/conversations/{conversation}/messages/"
    page = _ok(c["stu1"].get(url, {"per_page": 2}))
    assert page["count"] == 5 and [m["content"] for m in page["results"]] == ["m4", "m3"]
    assert page["results"][0]["sender"]["id"] == world.id("stu2")
    older = _ok(c["stu1"].get(url, {"before": page["results"][-1]["created_at"]}))
    assert [m["content"] for m in older["results"]] == ["m2", "m1", "m0"]
    newer = _ok(c["stu1"].get(url, {"after": page["results"][-1]["created_at"]}))
    assert [m["content"] for m in newer["results"]] == ["m4"]


@pytest.mark.parametrize("content", ["", "   \n ", "x" * 10_001, None, ["a"], {"text": "a"}])
def test_bad_messages_are_refused(world, content):
    conversation = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    response = _send(world.clients["stu1"], conversation, content)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert _count(world, Message) == 0


def test_content_is_trimmed_and_stored_as_plain_text(world):
    conversation = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    body = _ok(_send(world.clients["stu1"], conversation, "  <b>hi</b> & bye \n"), 201)
    assert body["content"] == "<b>hi</b> & bye", "not sanitised: clients escape it"
    assert len(_ok(_send(world.clients["stu1"], conversation, "y" * 10_000), 201)["content"]) == (
        10_000
    )


# --- editing and deleting ---------------------------------------------------


def test_senders_edit_and_delete_their_own_messages(world):
    c = world.clients
    conversation = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    message = _ok(_send(c["stu1"], conversation, "helo"), 201)["id"]
    url = f"{API}/messages/{message}/"
    edited = _ok(as_json(c["stu1"], "patch", url, {"content": "hello"}))
    assert edited["content"] == "hello" and edited["is_edited"] and edited["edited_at"]
    assert _ok(c["stu2"].get(url))["content"] == "hello"

    assert c["stu1"].delete(url).status_code == 204
    shown = _ok(c["stu2"].get(url))
    assert shown["is_deleted"] is True and shown["content"] == "This message was deleted."
    listed = _ok(c["stu2"].get(f"{API}/conversations/{conversation}/messages/"))["results"]
    assert listed[0]["content"] == "This message was deleted."
    stored = _in(world.institution, lambda: Message.objects.get(pk=message))
    assert stored.content == "" and stored.deleted_at is not None, "the text is gone"
    response = as_json(c["stu1"], "patch", url, {"content": "back"})
    assert response.status_code == 409 and error_code(response) == "message_deleted"
    assert c["stu1"].delete(url).status_code == 204, "deleting again does nothing"


@pytest.mark.parametrize("name", ["stu2", "instructor", "admin"])
def test_others_may_not_edit_or_delete_a_message(world, name):
    c = world.clients
    participants = [world.id("stu1"), world.id("stu2"), world.id("admin")]
    conversation = _ok(_open(c["instructor"], "group", participant_ids=participants), 201)["id"]
    message = _ok(_send(c["stu1"], conversation, "mine"), 201)["id"]
    url = f"{API}/messages/{message}/"
    assert as_json(c[name], "patch", url, {"content": "theirs"}).status_code == 403
    assert c[name].delete(url).status_code == 403
    stored = _in(world.institution, lambda: Message.objects.get(pk=message))
    assert stored.content == "mine" and stored.deleted_at is None and not stored.is_edited


def test_editing_refuses_bad_content(world):
    c = world.clients
    conversation = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    message = _ok(_send(c["stu1"], conversation, "keep"), 201)["id"]
    for body in ({}, {"content": ""}, {"content": "z" * 10_001}, {"content": "x", "extra": 1}):
        response = as_json(c["stu1"], "patch", f"{API}/messages/{message}/", body)
        assert response.status_code == 400, body
    assert _in(world.institution, lambda: Message.objects.get(pk=message).content) == "keep"


# --- leaving, adding and renaming -------------------------------------------


def test_a_leaver_sees_nothing_new(world):
    c = world.clients
    participants = [world.id("stu2"), world.id("ta")]
    conversation = _ok(_open(c["stu1"], "group", participant_ids=participants), 201)["id"]
    _ok(_send(c["stu1"], conversation, "before"), 201)
    said = _ok(_send(c["stu2"], conversation, "regret"), 201)["id"]
    me = world.id("stu2")
    url = f"{API}/conversations/{conversation}/participants/{me}/"
    assert c["stu2"].delete(url).status_code == 204
    assert c["stu2"].delete(url).status_code == 204, "leaving again does nothing"
    _ok(_send(c["stu1"], conversation, "after"), 201)

    seen = _ok(c["stu2"].get(f"{API}/conversations/{conversation}/"))
    assert seen["left_at"] and seen["unread_count"] == 0
    assert seen["last_message"]["content"] == "regret"
    messages = _ok(c["stu2"].get(f"{API}/conversations/{conversation}/messages/"))["results"]
    assert [m["content"] for m in messages] == ["regret", "before"]
    # What they said they may take back, not change.
    response = as_json(c["stu2"], "patch", f"{API}/messages/{said}/", {"content": "hm"})
    assert response.status_code == 403
    assert c["stu2"].delete(f"{API}/messages/{said}/").status_code == 204
    assert _unread(c["stu2"]) == {"unread_messages": 0, "unread_conversations": 0}
    response = _send(c["stu2"], conversation, "let me back")
    assert response.status_code == 403 and error_code(response) == "not_a_participant"
    left = _ok(c["stu2"].get(f"{API}/conversations/", {"left": "true"}))
    assert [row["id"] for row in left["results"]] == [conversation]
    assert _ok(c["stu1"].get(f"{API}/conversations/{conversation}/"))["participant_count"] == 2


def test_leaving_is_for_oneself_and_not_for_direct_conversations(world):
    c = world.clients
    direct = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    response = c["stu1"].delete(f"{API}/conversations/{direct}/participants/{world.id('stu1')}/")
    assert response.status_code == 409 and error_code(response) == "cannot_leave_direct"
    group = _ok(_open(c["stu1"], "group", participant_ids=[world.id("stu2")]), 201)["id"]
    response = c["stu1"].delete(f"{API}/conversations/{group}/participants/{world.id('stu2')}/")
    assert response.status_code == 403
    response = c["loner"].delete(f"{API}/conversations/{group}/participants/{world.id('loner')}/")
    assert response.status_code == 404
    assert _count(world, ConversationParticipant, left_at__isnull=False) == 0


def test_members_add_people_they_may_reach(world):
    c = world.clients
    conversation = _ok(
        _open(c["stu1"], "group", participant_ids=[world.id("stu2")], message="old news"), 201
    )["id"]
    url = f"{API}/conversations/{conversation}/participants/"
    response = as_json(c["stu2"], "post", url, {"user_ids": [world.id("loner")]})
    assert response.status_code == 403 and error_code(response) == "recipient_not_reachable"
    assert c["loner"].get(f"{API}/conversations/{conversation}/").status_code == 404
    response = as_json(c["loner"], "post", url, {"user_ids": [world.id("loner")]})
    assert response.status_code == 404

    body = _ok(as_json(c["stu2"], "post", url, {"user_ids": [world.id("ta")]}))
    assert body["participant_count"] == 3
    seen = _ok(c["ta"].get(f"{API}/conversations/{conversation}/"))
    assert seen["unread_count"] == 0, "the history is there, not unread"
    history = _ok(c["ta"].get(f"{API}/conversations/{conversation}/messages/"))["results"]
    assert [m["content"] for m in history] == ["old news"]
    # The instructor (who may reach anyone) brings in someone new; a student
    # who left may be brought back.
    instructor_group = _ok(
        _open(c["instructor"], "group", participant_ids=[world.id("stu1")]), 201
    )["id"]
    url = f"{API}/conversations/{instructor_group}/participants/"
    _ok(as_json(c["instructor"], "post", url, {"user_ids": [world.id("loner")]}))
    assert c["loner"].delete(f"{url}{world.id('loner')}/").status_code == 204
    _ok(as_json(c["instructor"], "post", url, {"user_ids": [world.id("loner")]}))
    assert _ok(c["loner"].get(f"{API}/conversations/{instructor_group}/"))["left_at"] is None


def test_people_are_not_added_to_direct_conversations(world):
    c = world.clients
    direct = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    url = f"{API}/conversations/{direct}/participants/"
    response = as_json(c["stu1"], "post", url, {"user_ids": [world.id("ta")]})
    assert response.status_code == 409 and error_code(response) == "not_a_group"
    for body in ({}, {"user_ids": []}, {"user_ids": ["x"]}, {"user_ids": [world.id("ta")] * 101}):
        assert as_json(c["stu1"], "post", url, body).status_code == 400, body
    assert _count(world, ConversationParticipant, conversation_id=direct) == 2


def test_renaming(world):
    c = world.clients
    group = _ok(_open(c["stu1"], "group", participant_ids=[world.id("stu2")], title="A"), 201)
    url = f"{API}/conversations/{group['id']}/"
    assert _ok(as_json(c["stu2"], "patch", url, {"title": "B"}))["title"] == "B"
    assert as_json(c["loner"], "patch", url, {"title": "C"}).status_code == 404
    assert as_json(c["stu2"], "patch", url, {"title": "x" * 256}).status_code == 400

    direct = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    response = as_json(c["stu1"], "patch", f"{API}/conversations/{direct}/", {"title": "D"})
    assert response.status_code == 409

    body = {"conversation_type": "course", "course_id": str(world.course.pk), "title": "News"}
    course = _ok(as_json(c["instructor"], "post", f"{API}/conversations/", body), 201)["id"]
    url = f"{API}/conversations/{course}/"
    assert as_json(c["stu1"], "patch", url, {"title": "Mine now"}).status_code == 403
    assert _ok(as_json(c["ta"], "patch", url, {"title": "Week 2"}))["title"] == "Week 2"
    titles = _in(
        world.institution, lambda: sorted(Conversation.objects.values_list("title", flat=True))
    )
    assert titles == ["", "B", "Week 2"]


# --- notifications ------------------------------------------------------------


def test_a_message_notifies_the_others_once_until_read(world, celery_eager):
    c = world.clients
    participants = [world.id("stu2"), world.id("ta")]
    conversation = _ok(
        _open(c["stu1"], "group", participant_ids=participants, title="Lab", message="one"), 201
    )["id"]

    def notified(name) -> list:
        return _in(
            world.institution,
            lambda: list(
                Notification.objects.filter(
                    user=world.users[name], notification_type=NotificationKind.MESSAGE
                ).values("title", "link_url", "metadata")
            ),
        )

    assert notified("stu1") == []
    for name in ("stu2", "ta"):
        rows = notified(name)
        assert len(rows) == 1
        assert rows[0]["title"] == "New message from Ann Tester in Lab"
        assert rows[0]["link_url"] == f"/messages/{conversation}"
        assert rows[0]["metadata"]["conversation_id"] == conversation
    _ok(_send(c["stu1"], conversation, "two"), 201)
    assert len(notified("stu2")) == 1, "one pending notification per conversation"
    _ok(c["stu2"].post(f"{API}/conversations/{conversation}/read/"))
    _ok(_send(c["stu1"], conversation, "three"), 201)
    assert len(notified("stu2")) == 2, "read since: notified again"
    assert len(notified("ta")) == 1
    assert len(notified("stu1")) == 0


def test_a_rolled_back_message_notifies_nobody(world, celery_eager):
    conversation = _ok(_direct(world, "stu1", "stu2"), 201)["id"]
    assert _send(world.clients["stu1"], conversation, "").status_code == 400
    assert _count(world, Notification) == 0


def test_events_reach_the_participants_after_commit(world, django_capture_on_commit_callbacks):
    """The design document's `message` event, then `message.updated` and
    `message.deleted`, on each participant's WebSocket group; a leaver's
    group gets nothing."""
    listeners = []

    def listener(name) -> GroupListener:
        group = user_group(world.institution.schema_name, world.users[name].pk)
        listeners.append(GroupListener(group))
        return listeners[-1]

    def received(channel: GroupListener) -> dict:
        return channel.receive(5)["event"]

    c = world.clients
    participants = [world.id("stu2"), world.id("ta")]
    conversation = _ok(_open(c["stu1"], "group", participant_ids=participants), 201)["id"]
    assert (
        c["ta"]
        .delete(f"{API}/conversations/{conversation}/participants/{world.id('ta')}/")
        .status_code
        == 204
    )
    bob, ann, ta = listener("stu2"), listener("stu1"), listener("ta")
    with django_capture_on_commit_callbacks(execute=True):
        message = _ok(_send(c["stu1"], conversation, "live"), 201)
    event = received(bob)
    assert event == {
        "type": "message",
        "payload": {
            "conversationId": conversation,
            "messageId": message["id"],
            "senderId": world.id("stu1"),
            "content": "live",
            "createdAt": event["payload"]["createdAt"],
        },
    }
    assert received(ann)["payload"]["messageId"] == message["id"], "the sender's other tabs"
    url = f"{API}/messages/{message['id']}/"
    with django_capture_on_commit_callbacks(execute=True):
        _ok(as_json(c["stu1"], "patch", url, {"content": "edited"}))
    event = received(bob)
    assert event["type"] == "message.updated" and event["payload"]["content"] == "edited"
    with django_capture_on_commit_callbacks(execute=True):
        assert c["stu1"].delete(url).status_code == 204
    event = received(bob)
    assert event["type"] == "message.deleted"
    assert event["payload"]["messageId"] == message["id"]
    assert "content" not in event["payload"]
    with pytest.raises(TimeoutError):
        ta.receive(0.5)
    for each in listeners:
        each.close()


# --- data rights --------------------------------------------------------------


def _section(name):
    return next(s for s in user_data_sections() if s.name == name)


def test_export_and_erase(world):
    c = world.clients
    conversation = _ok(_direct(world, "stu1", "stu2", message="from ann"), 201)["id"]
    _ok(_send(c["stu2"], conversation, "from bob"), 201)
    section = _section("messages")
    ann = world.users["stu1"]
    exported = _in(world.institution, lambda: section.export(ann))
    assert [m["content"] for m in exported["messages_sent"]] == ["from ann"]
    assert [row["id"] for row in exported["conversations"]] == [conversation]

    _in(world.institution, lambda: section.erase(ann, keep_academic_records=True))
    assert _count(world, ConversationParticipant, user=ann) == 0
    stored = _in(world.institution, lambda: list(Message.objects.filter(sender=ann)))
    assert all(m.content == "" and m.deleted_at for m in stored)
    messages = _ok(c["stu2"].get(f"{API}/conversations/{conversation}/messages/"))["results"]
    assert [m["content"] for m in messages] == ["from bob", "This message was deleted."]


# --- another institution ----------------------------------------------------


def test_another_institution_is_kept_apart(world, beta):
    c = world.clients
    conversation = _ok(_direct(world, "stu1", "stu2", message="alpha only"), 201)["id"]
    message = _ok(c["stu1"].get(f"{API}/conversations/{conversation}/messages/"))["results"][0]
    stranger = member(beta, "stu@beta.test")
    beta_on_alpha = api_client(beta, stranger)
    beta_on_alpha.defaults["HTTP_HOST"] = "alpha.localhost"
    for method, path, body in [
        ("get", f"{API}/conversations/", None),
        ("post", f"{API}/conversations/", {"conversation_type": "direct"}),
        ("get", f"{API}/conversations/unread-count/", None),
        ("get", f"{API}/conversations/{conversation}/", None),
        ("patch", f"{API}/conversations/{conversation}/", {"title": "x"}),
        ("get", f"{API}/conversations/{conversation}/messages/", None),
        ("post", f"{API}/conversations/{conversation}/messages/", {"content": "x"}),
        ("get", f"{API}/conversations/{conversation}/participants/", None),
        ("post", f"{API}/conversations/{conversation}/participants/", {"user_ids": []}),
        ("delete", f"{API}/conversations/{conversation}/participants/{stranger.pk}/", None),
        ("post", f"{API}/conversations/{conversation}/read/", None),
        ("get", f"{API}/messages/{message['id']}/", None),
        ("patch", f"{API}/messages/{message['id']}/", {"content": "x"}),
        ("delete", f"{API}/messages/{message['id']}/", None),
        ("get", f"{API}/institution/messaging-policy/", None),
        ("put", f"{API}/institution/messaging-policy/", {"students_message_anyone": True}),
    ]:
        response = as_json(beta_on_alpha, method, path, body)
        assert response.status_code == 401, (method, path, response.status_code)
    # beta's own conversations never show on alpha, nor alpha's on beta.
    beta_teacher = member(beta, "prof@beta.test", Role.INSTRUCTOR)
    beta_client = api_client(beta, beta_teacher)
    opened = _open(beta_client, participant_ids=[str(stranger.pk)], message="beta only")
    beta_conversation = _ok(opened, 201)["id"]
    assert beta_client.get(f"{API}/conversations/{conversation}/").status_code == 404
    assert c["stu1"].get(f"{API}/conversations/{beta_conversation}/").status_code == 404
    assert [row["id"] for row in _ok(c["stu1"].get(f"{API}/conversations/"))["results"]] == [
        conversation
    ]
    # An id of another institution's user is not a member here.
    response = _open(c["instructor"], participant_ids=[str(stranger.pk)])
    assert response.status_code == 400 and error_code(response) == "unknown_recipients"
    assert _in(world.institution, lambda: Message.objects.count()) == 1


def test_anonymous_callers_are_refused(world, alpha_client):
    for path in (
        "/conversations/",
        "/conversations/unread-count/",
        "/institution/messaging-policy/",
    ):
        assert alpha_client.get(f"{API}{path}").status_code == 401


# --- generated requests against the messaging operations ---------------------

MESSAGING_PATHS = r"^/api/v1/(conversations|messages|institution/messaging-policy)/"


@pytest.fixture(params=["admin", "stu1"])
def fuzz_caller(request) -> str:
    return request.param


@pytest.fixture
def messaging_schema(request, world, fuzz_caller):
    """The served schema's messaging operations, called as an admin or a
    student with real conversations and messages half of the time: a group
    and a direct conversation of both, a course conversation, a message of
    each of them, and their ids as user_id."""
    c = world.clients
    members = [world.id("stu1"), world.id("admin")]
    group = _ok(_open(c["instructor"], "group", participant_ids=members, message="g"), 201)
    direct = _ok(_direct(world, "admin", "stu1", message="d"), 201)
    course = {"conversation_type": "course", "course_id": str(world.course.pk), "message": "c"}
    in_course = _ok(as_json(c["instructor"], "post", f"{API}/conversations/", course), 201)
    mine = _ok(_send(c[fuzz_caller], group["id"], "mine"), 201)
    conversations = [group, direct, in_course]
    known = {
        "path.id": [
            *(row["id"] for row in conversations),
            *(row["last_message"]["id"] for row in conversations),
            mine["id"],
        ],
        "path.user_id": [world.id("stu1"), world.id("admin")],
    }
    request.node._nodeid = request.node.nodeid  # as tests/test_api_fuzz.py explains
    response = world.clients["admin"].get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    config = schemathesis_config(EXAMPLES_PER_OPERATION["admin"], known)
    schema = schemathesis.openapi.from_dict(response.json(), config=config)
    schema.app = request.getfixturevalue("wsgi_app")
    return schema


messaging_operations = schemathesis.pytest.from_fixture("messaging_schema").include(
    path_regex=MESSAGING_PATHS
)


@messaging_operations.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_never_fail(case, world, fuzz_caller):
    authorization = world.clients[fuzz_caller].defaults["HTTP_AUTHORIZATION"]
    with rolled_back_request():
        case.call_and_validate(
            base_url=f"http://{HOST}", headers={"Authorization": authorization}, checks=CHECKS
        )
