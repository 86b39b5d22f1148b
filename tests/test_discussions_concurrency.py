"""Discussion counters under concurrency, on committed data: parallel replies,
views, votes and deletes leave `reply_count`, `view_count`, `upvotes` and
`downvotes` exactly equal to what the rows say."""

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role
from tenant_apps.courses.models import CourseRole, Enrollment
from tenant_apps.discussions.models import Post, PostStatus, PostVote

from .api_helpers import api_client, as_json, at_once, course_taught_by, member
from .conftest import make_institution

API = "/api/v1"


def _setup(slug: str, *, students: int):
    """An institution with a course, its instructor's client, `students`
    enrolled students' clients, and a forum with one thread."""
    institution = make_institution(slug)
    teacher = member(institution, f"teacher@{slug}.test", Role.INSTRUCTOR)
    course = course_taught_by(institution, teacher)
    users = [member(institution, f"s{n}@{slug}.test") for n in range(students)]
    with tenant_context(institution):
        Enrollment.objects.bulk_create(
            Enrollment(course=course, user=u, role=CourseRole.STUDENT, enrolled_at=timezone.now())
            for u in users
        )
    connection.set_schema_to_public()
    instructor = api_client(institution, teacher)
    forum = as_json(
        instructor, "post", f"{API}/courses/{course.pk}/discussions/", {"title": "General"}
    ).json()
    thread = as_json(
        instructor,
        "post",
        f"{API}/discussions/{forum['id']}/posts/",
        {"title": "Welcome", "content": "<p>Say hello</p>"},
    ).json()
    return institution, thread["id"], instructor, [api_client(institution, u) for u in users]


def _post(institution, post_id) -> Post:
    with tenant_context(institution):
        post = Post.objects.get(pk=post_id)
    connection.set_schema_to_public()
    return post


def _live_replies(institution, post_id) -> int:
    with tenant_context(institution):
        n = Post.objects.filter(
            parent_post_id=post_id, status=PostStatus.PUBLISHED, deleted_at__isnull=True
        ).count()
    connection.set_schema_to_public()
    return n


@pytest.mark.usefixtures("committed_db")
def test_twenty_replies_at_once_count_twenty():
    institution, thread_id, _, clients = _setup("discreplies", students=5)
    calls = [
        lambda c=clients[n % 5], n=n: as_json(
            c, "post", f"{API}/posts/{thread_id}/replies/", {"content": f"<p>Reply {n}</p>"}
        )
        for n in range(20)
    ]
    responses = at_once(calls)
    assert [r.status_code for r in responses] == [201] * 20
    assert _post(institution, thread_id).reply_count == 20 == _live_replies(institution, thread_id)


@pytest.mark.usefixtures("committed_db")
def test_replies_and_deletes_at_once_keep_the_count_exact():
    institution, thread_id, instructor, clients = _setup("discmixed", students=4)
    existing = [
        as_json(
            clients[n % 4], "post", f"{API}/posts/{thread_id}/replies/", {"content": "<p>x</p>"}
        ).json()["id"]
        for n in range(8)
    ]
    deletes = [lambda r=r: instructor.delete(f"{API}/posts/{r}/") for r in existing]
    replies = [
        lambda c=clients[n % 4]: as_json(
            c, "post", f"{API}/posts/{thread_id}/replies/", {"content": "<p>new</p>"}
        )
        for n in range(8)
    ]
    responses = at_once(deletes + replies)
    assert sorted(r.status_code for r in responses) == [201] * 8 + [204] * 8
    assert _post(institution, thread_id).reply_count == 8 == _live_replies(institution, thread_id)


@pytest.mark.usefixtures("committed_db")
def test_twenty_views_at_once_count_twenty():
    institution, thread_id, _, clients = _setup("discviews", students=4)
    calls = [lambda c=clients[n % 4]: c.get(f"{API}/posts/{thread_id}/") for n in range(20)]
    responses = at_once(calls)
    assert [r.status_code for r in responses] == [200] * 20
    assert sorted(r.json()["view_count"] for r in responses) == list(range(1, 21))
    assert _post(institution, thread_id).view_count == 20


@pytest.mark.usefixtures("committed_db")
def test_votes_at_once_match_the_votes_stored():
    institution, thread_id, _, clients = _setup("discvotes", students=10)
    url = f"{API}/posts/{thread_id}/vote/"
    # Ten students vote at once; one of them also changes their mind at once.
    calls = [
        lambda c=c, n=n: as_json(c, "post", url, {"vote": "up" if n % 3 else "down"})
        for n, c in enumerate(clients)
    ] + [lambda v=v: as_json(clients[0], "post", url, {"vote": v}) for v in ("up", "none") * 3]
    responses = at_once(calls)
    assert all(r.status_code == 200 for r in responses), [r.content for r in responses]
    post = _post(institution, thread_id)
    with tenant_context(institution):
        up = PostVote.objects.filter(post_id=thread_id, value="up").count()
        down = PostVote.objects.filter(post_id=thread_id, value="down").count()
        assert (
            PostVote.objects.filter(post_id=thread_id, user__email="s0@discvotes.test").count() <= 1
        )
    connection.set_schema_to_public()
    assert (post.upvotes, post.downvotes) == (up, down)
    assert 9 <= up + down <= 10  # s0's last word may have been "none"
