"""The discussions API through the tenant router: every endpoint for the roles
allowed, the roles refused (nothing changes), and another institution's users;
threaded replies, sanitised bodies, anonymous posts, moderation, votes, pins
and locks, soft deletes, an archived course, notifications, realtime events,
the activity log and the user's data rights."""

import json

import pytest

from tenant_apps.accounts.models import Role
from tenant_apps.activity.models import ActivityLog
from tenant_apps.courses.models import (
    Course,
    CourseRole,
    CourseStatus,
    EnrollmentType,
)
from tenant_apps.discussions.models import Forum, Post, PostVote
from tenant_apps.notifications.models import Notification
from tenant_apps.notifications.realtime import course_group
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

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def world(alpha) -> CourseWorld:
    instructor = member(alpha, "prof@alpha.test", Role.INSTRUCTOR)
    course = course_taught_by(alpha, instructor)
    users = {"instructor": instructor, "admin": admin_of(alpha)}
    for n in range(3):
        users[f"stu{n}"] = member(alpha, f"stu{n}@alpha.test", first_name=f"Student{n}")
        _enroll(alpha, course, users[f"stu{n}"])
    users["ta"] = member(alpha, "ta@alpha.test", Role.TA)
    _enroll(alpha, course, users["ta"], CourseRole.TA)
    users["grader"] = member(alpha, "grader@alpha.test", Role.TA)
    _enroll(alpha, course, users["grader"], CourseRole.GRADER)
    users["waitlisted"] = member(alpha, "wait@alpha.test")
    _enroll(alpha, course, users["waitlisted"], enrollment_type=EnrollmentType.WAITLIST)
    users["outsider"] = member(alpha, "outsider@alpha.test")
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    return CourseWorld(alpha, course, users, clients)


def _forum(world, who="instructor", **body):
    body = {"title": "General", "description": "<p>Talk here</p>", **body}
    return as_json(
        world.clients[who], "post", f"{API}/courses/{world.course.pk}/discussions/", body
    )


def _forum_id(world, **body) -> str:
    response = _forum(world, **body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _post(world, who, forum_id, **body):
    body = {"title": "Question", "content": "<p>How?</p>", **body}
    return as_json(world.clients[who], "post", f"{API}/discussions/{forum_id}/posts/", body)


def _post_id(world, who, forum_id, **body) -> str:
    response = _post(world, who, forum_id, **body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _reply(world, who, post_id, **body):
    body = {"content": "<p>Like this.</p>", **body}
    return as_json(world.clients[who], "post", f"{API}/posts/{post_id}/replies/", body)


def _reply_id(world, who, post_id, **body) -> str:
    response = _reply(world, who, post_id, **body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _stored(world, post_id) -> Post:
    return _in(world.institution, lambda: Post.objects.get(pk=post_id))


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- forums ----------------------------------------------------------------------


def test_instructor_creates_a_forum_and_students_read_it(world):
    response = _forum(world, is_pinned=True, allow_anonymous=True)
    assert response.status_code == 201, response.content
    forum = response.json()
    assert response["Location"] == f"/api/v1/discussions/{forum['id']}/"
    assert forum["course_id"] == str(world.course.pk)
    assert forum["created_by"]["id"] == str(world.users["instructor"].pk)
    assert forum["allow_anonymous"] is True and forum["require_moderation"] is False
    assert forum["thread_count"] == 0 and forum["pending_count"] == 0

    assert _forum(world, "admin", title="Admin's").status_code == 201
    listed = world.clients["stu0"].get(f"{API}/courses/{world.course.pk}/discussions/")
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [r["title"] for r in rows] == ["General", "Admin's"], "pinned first"
    assert "pending_count" not in rows[0], "moderators only"
    ta_rows = world.clients["ta"].get(f"{API}/courses/{world.course.pk}/discussions/").json()
    assert ta_rows["results"][0]["pending_count"] == 0
    detail = world.clients["grader"].get(f"{API}/discussions/{forum['id']}/")
    assert detail.status_code == 200 and detail.json()["title"] == "General"


@pytest.mark.parametrize(
    ("who", "status"),
    [("ta", 403), ("grader", 403), ("stu0", 403), ("waitlisted", 404), ("outsider", 404)],
)
def test_refused_roles_create_no_forum(world, who, status):
    response = _forum(world, who)
    assert response.status_code == status
    assert _in(world.institution, lambda: Forum.objects.count()) == 0


def test_forum_changes_and_deletion(world):
    forum_id = _forum_id(world)
    post_id = _post_id(world, "stu0", forum_id)
    url = f"{API}/discussions/{forum_id}/"
    for who, status in [("ta", 403), ("stu0", 403), ("waitlisted", 404), ("outsider", 404)]:
        response = as_json(world.clients[who], "patch", url, {"title": "Mine"})
        assert response.status_code == status, who
        assert world.clients[who].delete(url).status_code == status, who
    assert _in(world.institution, lambda: Forum.objects.get(pk=forum_id).title) == "General"
    assert _in(world.institution, lambda: Forum.objects.get(pk=forum_id).deleted_at) is None

    response = as_json(
        world.clients["instructor"], "patch", url, {"title": "Q&A", "require_moderation": True}
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Q&A" and response.json()["require_moderation"] is True
    response = as_json(world.clients["admin"], "patch", url, {"is_pinned": True})
    assert response.status_code == 200 and response.json()["is_pinned"] is True

    assert world.clients["instructor"].delete(url).status_code == 204
    assert _in(world.institution, lambda: Forum.objects.get(pk=forum_id).deleted_at) is not None
    for path in (url, f"{url}posts/", f"{API}/posts/{post_id}/"):
        assert world.clients["instructor"].get(path).status_code == 404, path
    assert (
        world.clients["stu0"].get(f"{API}/courses/{world.course.pk}/discussions/").json()["count"]
        == 0
    )


def test_waitlisted_and_outsiders_see_nothing(world):
    forum_id = _forum_id(world)
    post_id = _post_id(world, "stu0", forum_id)
    paths = [
        f"{API}/courses/{world.course.pk}/discussions/",
        f"{API}/courses/{world.course.pk}/discussions/moderation-queue/",
        f"{API}/discussions/{forum_id}/",
        f"{API}/discussions/{forum_id}/posts/",
        f"{API}/posts/{post_id}/",
        f"{API}/posts/{post_id}/replies/",
    ]
    for who in ("waitlisted", "outsider"):
        for path in paths:
            response = world.clients[who].get(path)
            assert response.status_code == 404, (who, path)
        assert _post(world, who, forum_id).status_code == 404
        assert _reply(world, who, post_id).status_code == 404
        vote = as_json(world.clients[who], "post", f"{API}/posts/{post_id}/vote/", {"vote": "up"})
        assert vote.status_code == 404
    assert _in(world.institution, lambda: Post.objects.count()) == 1
    assert _in(world.institution, lambda: PostVote.objects.count()) == 0
    assert _stored(world, post_id).view_count == 0


def test_students_do_not_see_a_draft_courses_discussions(world):
    forum_id = _forum_id(world)
    _in(
        world.institution,
        lambda: Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.DRAFT),
    )
    assert world.clients["stu0"].get(f"{API}/discussions/{forum_id}/").status_code == 404
    assert world.clients["ta"].get(f"{API}/discussions/{forum_id}/").status_code == 200


# --- threads and replies -----------------------------------------------------------


def test_threads_and_nested_replies(world):
    forum_id = _forum_id(world)
    thread = _post(world, "stu0", forum_id, title="Week 1")
    assert thread.status_code == 201, thread.content
    body = thread.json()
    assert thread["Location"] == f"/api/v1/posts/{body['id']}/"
    assert body["author"]["id"] == str(world.users["stu0"].pk) and body["is_own"] is True
    assert body["status"] == "published" and body["parent_post_id"] is None
    thread_id = body["id"]

    first = _reply_id(world, "stu1", thread_id)
    # The design document's way: POST to the forum with parent_post_id.
    second = _post(world, "ta", forum_id, title="", parent_post_id=thread_id)
    assert second.status_code == 201 and second.json()["parent_post_id"] == thread_id
    nested = _reply_id(world, "stu0", first, content="<p>Thanks</p>")

    assert _stored(world, thread_id).reply_count == 2
    assert _stored(world, first).reply_count == 1
    threads = world.clients["stu2"].get(f"{API}/discussions/{forum_id}/posts/")
    assert _ids(threads) == [thread_id], "threads only"
    assert threads.json()["results"][0]["reply_count"] == 2
    replies = world.clients["stu2"].get(f"{API}/posts/{thread_id}/replies/")
    assert _ids(replies) == [first, second.json()["id"]], "oldest first"
    assert _ids(world.clients["stu2"].get(f"{API}/posts/{first}/replies/")) == [nested]
    assert world.clients["stu2"].get(f"{API}/posts/{nested}/").json()["parent_post_id"] == first


def test_reply_input_is_checked(world):
    forum_id = _forum_id(world)
    other_forum = _forum_id(world, title="Other")
    thread_id = _post_id(world, "stu0", forum_id)
    elsewhere = _post_id(world, "stu0", other_forum)
    before = _in(world.institution, lambda: Post.objects.count())
    cases = [
        ({"title": "", "content": "<p>x</p>"}, "title"),
        ({"content": "<p>x</p>"}, "title"),
        ({"title": "T"}, "content"),
        ({"title": "T", "content": "<script>alert(1)</script>"}, "content"),
        ({"title": "T", "content": "<p> </p>"}, "content"),
        ({"title": "x" * 256, "content": "x"}, "title"),
        ({"title": "T", "content": "x" * 100_001}, "content"),
        ({"title": "T", "content": 5 * [1]}, "content"),
        ({"title": "T", "content": "x", "parent_post_id": "nope"}, "parent_post_id"),
        ({"title": "T", "content": "x", "parent_post_id": elsewhere}, "parent_post_id"),
        ({"title": "T", "content": "x", "is_anonymous": "maybe"}, "is_anonymous"),
        ({"title": "T", "content": "x", "author_id": "me"}, "author_id"),
        ({"title": "T", "content": "x", "status": "published"}, "status"),
    ]
    for body, field in cases:
        response = as_json(
            world.clients["stu0"], "post", f"{API}/discussions/{forum_id}/posts/", body
        )
        assert response.status_code == 400, (body, response.content)
        assert error_code(response) == "invalid"
        assert field in response.json()["error"]["fields"], body
    response = world.clients["stu0"].post(
        f"{API}/posts/{thread_id}/replies/", "[1]", content_type="application/json"
    )
    assert response.status_code == 400
    assert _in(world.institution, lambda: Post.objects.count()) == before


def test_malformed_query_parameters_are_400(world):
    forum_id = _forum_id(world)
    c = world.clients["stu0"]
    for query in (
        {"ordering": "author__last_name"},
        {"ordering": "author__password"},
        {"updated_since": "yesterday"},
        {"status": "secret"},
    ):
        response = c.get(f"{API}/discussions/{forum_id}/posts/", query)
        assert response.status_code == 400, query
        assert error_code(response) == "invalid"
    assert (
        c.get(f"{API}/discussions/{forum_id}/posts/", {"per_page": 1000}).json()["per_page"] == 100
    )


# --- sanitising ------------------------------------------------------------------


DIRTY = (
    '<p onclick="steal()" style="color:red">Hi <strong>all</strong></p>'
    "<script>alert('x')</script><style>p{}</style>"
    '<a href="javascript:alert(1)">bad</a> <a href="https://example.com" target="_blank">good</a>'
    ' <a href="mailto:t@alpha.test">mail</a> <a href="/relative">rel</a>'
    '<img src="x" onerror="alert(1)"><iframe src="https://evil"></iframe>'
    "<h1>Big</h1><h3>Small</h3><ul><li>one</li></ul><pre><code>x &lt; y</code></pre>"
    "<blockquote>q</blockquote><!-- hidden -->"
)


def _assert_clean(html: str):
    for bad in (
        "<script",
        "alert",
        "<style",
        "onclick",
        "onerror",
        "javascript:",
        "style=",
        "<img",
        "<iframe",
        "<h1",
        "hidden",
        "/relative",
        "target=",
    ):
        assert bad not in html, (bad, html)
    for kept in (
        "<strong>all</strong>",
        "<h3>Small</h3>",
        "<ul><li>one</li></ul>",
        "<pre><code>x &lt; y</code></pre>",
        "<blockquote>q</blockquote>",
    ):
        assert kept in html, (kept, html)
    assert '<a href="https://example.com" rel="noopener nofollow">good</a>' in html
    assert '<a href="mailto:t@alpha.test" rel="noopener nofollow">mail</a>' in html


def test_bodies_are_sanitised_before_they_are_stored(world):
    response = _forum(world, description=DIRTY)
    assert response.status_code == 201
    forum_id = response.json()["id"]
    _assert_clean(response.json()["description"])
    _assert_clean(_in(world.institution, lambda: Forum.objects.get(pk=forum_id).description))

    response = _post(world, "stu0", forum_id, content=DIRTY)
    assert response.status_code == 201
    post_id = response.json()["id"]
    _assert_clean(response.json()["content"])
    stored = _stored(world, post_id).content
    _assert_clean(stored)
    assert world.clients["stu1"].get(f"{API}/posts/{post_id}/").json()["content"] == stored

    reply_id = _reply_id(world, "stu1", post_id, content=DIRTY)
    _assert_clean(_stored(world, reply_id).content)
    edited = as_json(
        world.clients["stu0"],
        "patch",
        f"{API}/posts/{post_id}/",
        {"content": "<b onclick=x>5 < 6</b>"},
    )
    assert edited.status_code == 200
    assert edited.json()["content"] == "5 &lt; 6" == _stored(world, post_id).content


def test_titles_are_plain_text_stored_as_written(world):
    forum_id = _forum_id(world)
    response = _post(world, "stu0", forum_id, title="a < b & <i>c</i>")
    assert response.json()["title"] == "a < b & <i>c</i>", "clients render titles as text"


# --- anonymity -------------------------------------------------------------------


def test_anonymous_authors_are_hidden_from_students_only(world):
    forum_id = _forum_id(world, allow_anonymous=True)
    author = world.users["stu0"]
    post_id = _post_id(world, "stu0", forum_id, is_anonymous=True, title="Confused")
    secrets = (str(author.pk), author.first_name, author.email)

    def leaks(response) -> bool:
        text = response.content.decode()
        return any(secret in text for secret in secrets)

    for who in ("stu1", "grader"):
        c = world.clients[who]
        for path in (f"{API}/posts/{post_id}/", f"{API}/discussions/{forum_id}/posts/"):
            response = c.get(path)
            assert response.status_code == 200 and not leaks(response), (who, path)
        detail = c.get(f"{API}/posts/{post_id}/").json()
        assert detail["author"] is None and detail["is_anonymous"] is True
        assert detail["is_own"] is False
    own = world.clients["stu0"].get(f"{API}/posts/{post_id}/").json()
    assert own["is_own"] is True and own["author"] is None

    for who in ("ta", "instructor", "admin"):
        detail = world.clients[who].get(f"{API}/posts/{post_id}/").json()
        assert detail["author"]["id"] == str(author.pk), who

    # A voter's and a replier's answers do not name the author either.
    vote = as_json(world.clients["stu1"], "post", f"{API}/posts/{post_id}/vote/", {"vote": "up"})
    assert vote.status_code == 200 and not leaks(vote)
    reply = _reply(world, "stu1", post_id)
    assert reply.status_code == 201 and not leaks(reply)


def test_anonymous_posts_only_where_the_forum_allows(world):
    forum_id = _forum_id(world)
    response = _post(world, "stu0", forum_id, is_anonymous=True)
    assert response.status_code == 400 and error_code(response) == "anonymous_not_allowed"
    assert "is_anonymous" in response.json()["error"]["fields"]
    assert _in(world.institution, lambda: Post.objects.count()) == 0


def test_an_anonymous_reply_notifies_without_naming_its_author(world):
    forum_id = _forum_id(world, allow_anonymous=True)
    post_id = _post_id(world, "stu0", forum_id)
    replier = world.users["stu1"]
    reply_id = _reply_id(world, "stu1", post_id, is_anonymous=True)
    notes = _in(
        world.institution, lambda: list(Notification.objects.filter(user=world.users["stu0"]))
    )
    assert len(notes) == 1
    note = notes[0]
    assert note.notification_type == "discussion_reply"
    text = json.dumps([note.title, note.message, note.link_url, note.metadata])
    assert str(replier.pk) not in text and replier.first_name not in text
    assert note.metadata["post_id"] == reply_id and reply_id in note.link_url


def test_replies_notify_the_parents_author_but_not_themselves(world):
    forum_id = _forum_id(world)
    post_id = _post_id(world, "stu0", forum_id)
    _reply_id(world, "stu0", post_id)
    assert _in(world.institution, lambda: Notification.objects.count()) == 0
    _reply_id(world, "ta", post_id)
    notes = _in(world.institution, lambda: list(Notification.objects.all()))
    assert [n.user_id for n in notes] == [world.users["stu0"].pk]
    assert "Ta" in notes[0].message, "a named reply names its author"


def _receive(listener: GroupListener, timeout: float):
    try:
        return listener.receive(timeout)
    except TimeoutError:
        return None


@pytest.fixture
def course_listener(world):
    """A channel in the course's realtime group, as a member's socket would be."""
    listener = GroupListener(course_group("alpha", world.course.pk))
    yield listener
    listener.close()


def test_realtime_events_never_reveal_anonymous_authors_or_pending_posts(
    world, course_listener, celery_eager, django_capture_on_commit_callbacks
):
    forum_id = _forum_id(world, allow_anonymous=True)
    moderated = _forum_id(world, title="Moderated", require_moderation=True)
    author = world.users["stu0"]
    with django_capture_on_commit_callbacks(execute=True):
        post_id = _post_id(world, "stu0", forum_id, is_anonymous=True)
    message = _receive(course_listener, 5)
    assert message is not None, "a published post is announced"
    event = message["event"]
    assert event["type"] == "discussion.post"
    assert event["payload"]["post_id"] == post_id and event["payload"]["author"] is None
    text = json.dumps(event)
    assert str(author.pk) not in text and author.first_name not in text

    with django_capture_on_commit_callbacks(execute=True):
        pending = _post_id(world, "stu1", moderated)
    assert _receive(course_listener, 0.5) is None, "a pending post is not announced"
    with django_capture_on_commit_callbacks(execute=True):
        as_json(world.clients["ta"], "post", f"{API}/posts/{pending}/approve/")
    event = _receive(course_listener, 5)["event"]
    assert event["payload"]["post_id"] == pending
    assert event["payload"]["author"]["id"] == str(world.users["stu1"].pk)


# --- moderation ------------------------------------------------------------------


def test_moderated_posts_wait_for_approval(world):
    forum_id = _forum_id(world, require_moderation=True)
    thread_id = _post_id(world, "ta", forum_id, title="Rules")  # a moderator's: published
    assert _stored(world, thread_id).status == "published"

    response = _reply(world, "stu0", thread_id)
    assert response.status_code == 201 and response.json()["status"] == "pending"
    pending = response.json()["id"]
    assert _stored(world, thread_id).reply_count == 0
    assert _in(world.institution, lambda: Notification.objects.count()) == 0, "not yet"

    assert world.clients["stu1"].get(f"{API}/posts/{pending}/").status_code == 404
    assert _ids(world.clients["stu1"].get(f"{API}/posts/{thread_id}/replies/")) == []
    own = world.clients["stu0"].get(f"{API}/posts/{thread_id}/replies/").json()["results"]
    assert [(r["id"], r["status"]) for r in own] == [(pending, "pending")]
    # A pending post takes no replies, even from its author.
    again = _reply(world, "stu0", pending)
    assert again.status_code == 409 and error_code(again) == "post_not_published"

    queue = f"{API}/courses/{world.course.pk}/discussions/moderation-queue/"
    assert _ids(world.clients["ta"].get(queue)) == [pending]
    assert world.clients["stu0"].get(queue).status_code == 403
    assert world.clients["grader"].get(queue).status_code == 403
    forums = world.clients["instructor"].get(f"{API}/courses/{world.course.pk}/discussions/")
    assert forums.json()["results"][0]["pending_count"] == 1

    for who in ("stu0", "stu1", "grader"):
        refused = world.clients[who].post(f"{API}/posts/{pending}/approve/")
        assert refused.status_code in (403, 404), who
    assert _stored(world, pending).status == "pending"

    approved = world.clients["ta"].post(f"{API}/posts/{pending}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "published"
    assert _stored(world, pending).moderated_by_id == world.users["ta"].pk
    assert _stored(world, thread_id).reply_count == 1
    assert world.clients["stu1"].get(f"{API}/posts/{pending}/").status_code == 200
    notes = _in(world.institution, lambda: list(Notification.objects.all()))
    assert [n.user_id for n in notes] == [world.users["ta"].pk], "notified once approved"
    assert _ids(world.clients["ta"].get(queue)) == []
    assert world.clients["ta"].post(f"{API}/posts/{pending}/approve/").status_code == 200
    assert _in(world.institution, lambda: Notification.objects.count()) == 1, "only once"


def test_rejected_posts_stay_with_their_author(world):
    forum_id = _forum_id(world, require_moderation=True)
    pending = _post_id(world, "stu0", forum_id)
    assert world.clients["stu0"].post(f"{API}/posts/{pending}/reject/").status_code == 403
    # A grader takes part as a student: someone else's pending post does not exist for them.
    assert world.clients["grader"].post(f"{API}/posts/{pending}/reject/").status_code == 404
    response = world.clients["instructor"].post(f"{API}/posts/{pending}/reject/")
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert world.clients["stu0"].get(f"{API}/posts/{pending}/").json()["status"] == "rejected"
    assert world.clients["stu1"].get(f"{API}/posts/{pending}/").status_code == 404
    assert _ids(world.clients["stu1"].get(f"{API}/discussions/{forum_id}/posts/")) == []

    published = _post_id(world, "admin", forum_id)
    response = world.clients["ta"].post(f"{API}/posts/{published}/reject/")
    assert response.status_code == 409 and error_code(response) == "post_not_pending"
    assert _stored(world, published).status == "published"
    # Changing one's mind: a rejected post may still be approved.
    assert world.clients["ta"].post(f"{API}/posts/{pending}/approve/").json()["status"] == (
        "published"
    )


# --- pins, locks, edits, deletes ---------------------------------------------------


def test_moderators_pin_and_lock(world):
    forum_id = _forum_id(world)
    older = _post_id(world, "stu0", forum_id, title="Older")
    newer = _post_id(world, "stu1", forum_id, title="Newer")
    reply = _reply_id(world, "stu1", older)
    assert _ids(world.clients["stu0"].get(f"{API}/discussions/{forum_id}/posts/")) == [newer, older]

    for who, status in [("stu0", 403), ("grader", 403), ("waitlisted", 404)]:
        response = as_json(
            world.clients[who],
            "patch",
            f"{API}/posts/{older}/",
            {"is_pinned": True, "is_locked": True},
        )
        assert response.status_code == status, who
    stored = _stored(world, older)
    assert not stored.is_pinned and not stored.is_locked

    response = as_json(
        world.clients["ta"],
        "patch",
        f"{API}/posts/{older}/",
        {"is_pinned": True, "is_locked": True},
    )
    assert response.status_code == 200, response.content
    assert response.json()["is_pinned"] and response.json()["is_locked"]
    assert _ids(world.clients["stu0"].get(f"{API}/discussions/{forum_id}/posts/")) == [older, newer]

    for post_id in (older, reply):  # the lock closes the whole thread
        refused = _reply(world, "stu1", post_id)
        assert refused.status_code == 409 and error_code(refused) == "post_locked"
    refused = _reply(world, "instructor", older)
    assert refused.status_code == 409
    assert _stored(world, older).reply_count == 1
    assert _in(world.institution, lambda: Post.objects.count()) == 3

    as_json(world.clients["instructor"], "patch", f"{API}/posts/{older}/", {"is_locked": False})
    assert _reply(world, "stu1", reply).status_code == 201


def test_only_the_author_edits_a_post(world):
    forum_id = _forum_id(world)
    post_id = _post_id(world, "stu0", forum_id)
    url = f"{API}/posts/{post_id}/"
    for who, status in [("stu1", 403), ("ta", 403), ("instructor", 403), ("outsider", 404)]:
        response = as_json(world.clients[who], "patch", url, {"content": "<p>Mine now</p>"})
        assert response.status_code == status, who
    assert _stored(world, post_id).content == "<p>How?</p>"

    response = as_json(world.clients["stu0"], "patch", url, {"title": "Better"})
    assert response.status_code == 200 and response.json()["title"] == "Better"
    response = as_json(world.clients["stu0"], "put", url, {"title": "Best"})
    assert response.status_code == 400 and "content" in response.json()["error"]["fields"]
    response = as_json(world.clients["stu0"], "put", url, {"title": "Best", "content": "<p>Hm</p>"})
    assert response.status_code == 200 and response.json()["content"] == "<p>Hm</p>"
    response = as_json(world.clients["stu0"], "patch", url, {"title": " "})
    assert response.status_code == 400, "a thread keeps a title"
    response = as_json(world.clients["stu0"], "patch", url, {"is_anonymous": True})
    assert response.status_code == 400
    response = as_json(world.clients["stu0"], "patch", url, {"is_pinned": True})
    assert response.status_code == 403
    assert _stored(world, post_id).title == "Best"


def test_deleting_keeps_the_thread_with_a_placeholder(world):
    forum_id = _forum_id(world)
    thread_id = _post_id(world, "stu0", forum_id)
    reply_a = _reply_id(world, "stu1", thread_id)
    reply_b = _reply_id(world, "stu2", thread_id)
    lonely = _post_id(world, "stu1", forum_id, title="Lonely")

    for who, status in [("stu1", 403), ("grader", 403), ("waitlisted", 404)]:
        assert world.clients[who].delete(f"{API}/posts/{thread_id}/").status_code == status
    assert _stored(world, thread_id).deleted_at is None

    assert world.clients["stu0"].delete(f"{API}/posts/{thread_id}/").status_code == 204
    assert world.clients["stu1"].delete(f"{API}/posts/{lonely}/").status_code == 204
    listed = world.clients["stu2"].get(f"{API}/discussions/{forum_id}/posts/").json()["results"]
    assert [r["id"] for r in listed] == [thread_id], "a deleted post without replies is gone"
    placeholder = listed[0]
    assert placeholder["is_deleted"] is True
    assert placeholder["content"] == "" and placeholder["title"] == ""
    assert placeholder["author"] is None
    assert _ids(world.clients["stu2"].get(f"{API}/posts/{thread_id}/replies/")) == [
        reply_a,
        reply_b,
    ]
    edit = as_json(world.clients["stu0"], "patch", f"{API}/posts/{thread_id}/", {"title": "x"})
    assert edit.status_code == 409 and error_code(edit) == "post_deleted"
    assert _reply(world, "stu1", thread_id).status_code == 409

    # A moderator deletes someone else's reply; the count follows.
    assert world.clients["ta"].delete(f"{API}/posts/{reply_a}/").status_code == 204
    assert _stored(world, thread_id).reply_count == 1
    assert world.clients["ta"].delete(f"{API}/posts/{reply_a}/").status_code == 404
    assert world.clients["stu2"].delete(f"{API}/posts/{reply_b}/").status_code == 204
    assert _stored(world, thread_id).reply_count == 0
    assert world.clients["stu2"].get(f"{API}/posts/{thread_id}/").status_code == 404
    assert _in(world.institution, lambda: Post.objects.count()) == 4, "soft deletes"


# --- votes and views ---------------------------------------------------------------


def _vote(world, who, post_id, vote):
    return as_json(world.clients[who], "post", f"{API}/posts/{post_id}/vote/", {"vote": vote})


def test_one_vote_per_user_changeable(world):
    forum_id = _forum_id(world)
    post_id = _post_id(world, "stu0", forum_id)
    response = _vote(world, "stu1", post_id, "up")
    assert response.status_code == 200, response.content
    assert response.json() == {"post_id": post_id, "my_vote": "up", "upvotes": 1, "downvotes": 0}
    assert _vote(world, "stu1", post_id, "up").json()["upvotes"] == 1, "still one vote"
    assert _vote(world, "stu1", post_id, "down").json() == {
        "post_id": post_id,
        "my_vote": "down",
        "upvotes": 0,
        "downvotes": 1,
    }
    _vote(world, "stu2", post_id, "down")
    _vote(world, "ta", post_id, "up")
    stored = _stored(world, post_id)
    assert (stored.upvotes, stored.downvotes) == (1, 2)
    detail = world.clients["stu1"].get(f"{API}/posts/{post_id}/").json()
    assert detail["my_vote"] == "down" and detail["upvotes"] == 1
    assert world.clients["stu0"].get(f"{API}/posts/{post_id}/").json()["my_vote"] is None

    assert _vote(world, "stu1", post_id, "none").json()["my_vote"] is None
    assert _vote(world, "stu2", post_id, None).json() == {
        "post_id": post_id,
        "my_vote": None,
        "upvotes": 1,
        "downvotes": 0,
    }
    assert _in(world.institution, lambda: PostVote.objects.count()) == 1

    for body in ({"vote": "sideways"}, {}, {"vote": 1}, {"vote": "up", "weight": 9}):
        response = as_json(world.clients["stu1"], "post", f"{API}/posts/{post_id}/vote/", body)
        assert response.status_code == 400, body
    for who in ("waitlisted", "outsider"):
        assert _vote(world, who, post_id, "down").status_code == 404
    assert _in(world.institution, lambda: PostVote.objects.count()) == 1


def test_pending_and_deleted_posts_take_no_votes(world):
    forum_id = _forum_id(world, require_moderation=True)
    pending = _post_id(world, "stu0", forum_id)
    response = _vote(world, "ta", pending, "up")
    assert response.status_code == 409 and error_code(response) == "post_not_published"
    published = _post_id(world, "instructor", forum_id)
    _reply_id(world, "instructor", published)
    world.clients["instructor"].delete(f"{API}/posts/{published}/")
    response = _vote(world, "stu0", published, "up")
    assert response.status_code == 409 and error_code(response) == "post_deleted"
    assert _in(world.institution, lambda: PostVote.objects.count()) == 0


def test_views_are_counted_and_logged(world):
    forum_id = _forum_id(world)
    post_id = _post_id(world, "stu0", forum_id)
    assert world.clients["stu1"].get(f"{API}/posts/{post_id}/").json()["view_count"] == 1
    assert world.clients["ta"].get(f"{API}/posts/{post_id}/").json()["view_count"] == 2
    assert _stored(world, post_id).view_count == 2

    logged = _in(
        world.institution,
        lambda: list(
            ActivityLog.objects.filter(entity_id=post_id).values_list(
                "activity_type", "user_id", "course_id"
            )
        ),
    )
    course = world.course.pk
    assert sorted(logged) == sorted(
        [
            ("post_discussion", world.users["stu0"].pk, course),
            ("view_discussion", world.users["stu1"].pk, course),
            ("view_discussion", world.users["ta"].pk, course),
        ]
    )


# --- an archived course ------------------------------------------------------------


def test_an_archived_course_is_read_only(world):
    forum_id = _forum_id(world)
    post_id = _post_id(world, "ta", forum_id)
    _in(
        world.institution,
        lambda: Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.ARCHIVED),
    )
    c = world.clients
    attempts = [
        _forum(world),
        as_json(c["instructor"], "patch", f"{API}/discussions/{forum_id}/", {"title": "x"}),
        c["instructor"].delete(f"{API}/discussions/{forum_id}/"),
        _post(world, "instructor", forum_id),
        _reply(world, "instructor", post_id),
        as_json(c["ta"], "patch", f"{API}/posts/{post_id}/", {"title": "x"}),
        c["ta"].delete(f"{API}/posts/{post_id}/"),
        _vote(world, "instructor", post_id, "up"),
        c["ta"].post(f"{API}/posts/{post_id}/approve/"),
    ]
    for response in attempts:
        assert response.status_code == 409, response.content
        assert error_code(response) == "course_archived"
    assert _in(world.institution, lambda: Post.objects.count()) == 1
    stored = _stored(world, post_id)
    assert stored.title == "Question" and stored.deleted_at is None and stored.upvotes == 0
    assert c["instructor"].get(f"{API}/discussions/{forum_id}/posts/").status_code == 200
    # Students see an archived course's material no more (CourseAccess.can_view_content).
    assert c["stu0"].get(f"{API}/discussions/{forum_id}/posts/").status_code == 404


# --- other institutions ------------------------------------------------------------


def test_another_institution_is_refused(alpha, beta, world):
    forum_id = _forum_id(world)
    post_id = _post_id(world, "stu0", forum_id)
    beta_admin = admin_of(beta)
    stray = api_client(beta, beta_admin)
    stray.defaults["HTTP_HOST"] = "alpha.localhost"
    operations = [
        ("get", f"{API}/courses/{world.course.pk}/discussions/"),
        ("post", f"{API}/courses/{world.course.pk}/discussions/"),
        ("get", f"{API}/courses/{world.course.pk}/discussions/moderation-queue/"),
        ("get", f"{API}/discussions/{forum_id}/"),
        ("patch", f"{API}/discussions/{forum_id}/"),
        ("delete", f"{API}/discussions/{forum_id}/"),
        ("get", f"{API}/discussions/{forum_id}/posts/"),
        ("post", f"{API}/discussions/{forum_id}/posts/"),
        ("get", f"{API}/posts/{post_id}/"),
        ("put", f"{API}/posts/{post_id}/"),
        ("patch", f"{API}/posts/{post_id}/"),
        ("delete", f"{API}/posts/{post_id}/"),
        ("get", f"{API}/posts/{post_id}/replies/"),
        ("post", f"{API}/posts/{post_id}/replies/"),
        ("post", f"{API}/posts/{post_id}/vote/"),
        ("post", f"{API}/posts/{post_id}/approve/"),
        ("post", f"{API}/posts/{post_id}/reject/"),
    ]
    body = {"title": "x", "content": "<p>x</p>", "vote": "up"}
    for method, path in operations:
        assert as_json(stray, method, path, body).status_code == 401, (method, path)

    # On beta's own host, alpha's ids do not exist; beta's forums stay beta's.
    home = api_client(beta, beta_admin)
    for method, path in operations:
        response = as_json(home, method, path, body)
        assert response.status_code == 404, (method, path, response.status_code)
    beta_teacher = member(beta, "prof@beta.test", Role.INSTRUCTOR)
    beta_course = course_taught_by(beta, beta_teacher, code="B 1")
    response = as_json(
        api_client(beta, beta_teacher),
        "post",
        f"{API}/courses/{beta_course.pk}/discussions/",
        {"title": "Beta's"},
    )
    assert response.status_code == 201
    assert (
        world.clients["admin"].get(f"{API}/discussions/{response.json()['id']}/").status_code == 404
    )
    assert _in(world.institution, lambda: Forum.objects.count()) == 1
    assert _in(world.institution, lambda: Post.objects.get(pk=post_id).deleted_at) is None


# --- data rights and course copy -----------------------------------------------------


def _section(name: str):
    return next(s for s in user_data_sections() if s.name == name)


def test_export_and_erasure_of_a_users_discussions(world):
    forum_id = _forum_id(world, allow_anonymous=True)
    thread_id = _post_id(world, "stu0", forum_id, title="Mine", is_anonymous=True)
    reply_id = _reply_id(world, "stu1", thread_id)
    own_reply = _reply_id(world, "stu0", reply_id, content="<p>Yes</p>")
    _vote(world, "stu0", reply_id, "up")
    _vote(world, "stu1", reply_id, "up")
    _vote(world, "stu0", thread_id, "down")
    section = _section("discussions")
    student = world.users["stu0"]

    exported = _in(world.institution, lambda: section.export(student))
    json.dumps(exported)  # serialisable
    assert {p["id"] for p in exported["posts"]} == {thread_id, own_reply}
    assert {(v["post_id"], v["vote"]) for v in exported["votes"]} == {
        (reply_id, "up"),
        (thread_id, "down"),
    }

    def erase():
        section.erase(student, keep_academic_records=True)

    _in(world.institution, erase)
    thread, reply, mine = (_stored(world, i) for i in (thread_id, reply_id, own_reply))
    assert thread.author_id is None and mine.author_id is None
    assert "Mine" not in thread.title and "Yes" not in mine.content
    assert (reply.upvotes, reply.downvotes) == (1, 0)
    assert (thread.upvotes, thread.downvotes) == (0, 0)
    assert _in(world.institution, lambda: PostVote.objects.filter(user=student).count()) == 0
    assert thread.reply_count == 1 and reply.author_id == world.users["stu1"].pk
    shown = world.clients["stu1"].get(f"{API}/posts/{thread_id}/").json()
    assert shown["author"] is None and shown["is_deleted"] is False
    assert _in(world.institution, lambda: section.export(student)) == {"posts": [], "votes": []}


def test_course_copy_copies_forums_not_posts(world):
    forum_id = _forum_id(world, require_moderation=True)
    _post_id(world, "instructor", forum_id)
    body = {
        "term": "Fall 2027",
        "academic_year": 2027,
        "start_date": "2027-08-31",
        "end_date": "2027-12-14",
    }
    response = as_json(
        world.clients["instructor"], "post", f"{API}/courses/{world.course.pk}/copy/", body
    )
    assert response.status_code == 201, response.content
    copied = world.clients["instructor"].get(f"{API}/courses/{response.json()['id']}/discussions/")
    rows = copied.json()["results"]
    assert [(r["title"], r["require_moderation"], r["post_count"]) for r in rows] == [
        ("General", True, 0)
    ]
