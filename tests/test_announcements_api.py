"""The announcements API through the tenant router: each endpoint for the roles
allowed, the roles refused (nothing changes), and another institution's users;
scheduled publication and expiry by time, pinning, reads and their counts."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, User
from tenant_apps.announcements.models import Announcement, AnnouncementRead
from tenant_apps.courses.models import (
    Course,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentType,
)

from .api_helpers import admin_of, api_client, as_json, course_taught_by, error_code, member

pytestmark = pytest.mark.django_db


def _enroll(institution, course: Course, user: User, role=CourseRole.STUDENT, **fields):
    with tenant_context(institution):
        Enrollment.objects.create(
            course=course, user=user, role=role, enrolled_at=timezone.now(), **fields
        )
    connection.set_schema_to_public()


@dataclass
class World:
    course: Course
    instructor: User
    students: list
    ta: User
    grader: User
    waitlisted: User
    outsider: User
    clients: dict


@pytest.fixture
def world(alpha) -> World:
    instructor = member(alpha, "prof@alpha.test", Role.INSTRUCTOR)
    course = course_taught_by(alpha, instructor)
    students = [member(alpha, f"stu{n}@alpha.test") for n in range(3)]
    for student in students:
        _enroll(alpha, course, student)
    ta = member(alpha, "ta@alpha.test", Role.TA)
    _enroll(alpha, course, ta, CourseRole.TA)
    grader = member(alpha, "grader@alpha.test", Role.TA)
    _enroll(alpha, course, grader, CourseRole.GRADER)
    waitlisted = member(alpha, "wait@alpha.test")
    _enroll(alpha, course, waitlisted, enrollment_type=EnrollmentType.WAITLIST)
    outsider = member(alpha, "outsider@alpha.test")
    users = {
        "instructor": instructor,
        "admin": admin_of(alpha),
        "ta": ta,
        "grader": grader,
        "waitlisted": waitlisted,
        "outsider": outsider,
        **{f"stu{n}": s for n, s in enumerate(students)},
    }
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    return World(course, instructor, students, ta, grader, waitlisted, outsider, clients)


def _url(course) -> str:
    return f"/api/v1/courses/{course.pk}/announcements/"


def _create(client, course, **body):
    body = {"title": "Welcome", "content": "Hello **class**", "is_published": True, **body}
    return as_json(client, "post", _url(course), body)


def _count(institution, **filters) -> int:
    with tenant_context(institution):
        n = Announcement.objects.filter(**filters).count()
    connection.set_schema_to_public()
    return n


def _iso(moment) -> str:
    return moment.isoformat()


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


# --- create and read -------------------------------------------------------


def test_instructor_posts_and_students_read_it(world):
    c = world.clients
    response = _create(c["instructor"], world.course, content="# Week 1\n<b>raw</b> stays raw")
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/announcements/{body['id']}/"
    assert body["state"] == "published" and body["publish_at"], "published now"
    assert body["author"]["id"] == str(world.instructor.pk)
    assert body["content"] == "# Week 1\n<b>raw</b> stays raw", "stored as written"
    assert body["read_count"] == 0 and body["audience_count"] == 3
    assert body["attachments"] == []

    listed = c["stu0"].get(_url(world.course)).json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert row["id"] == body["id"] and row["is_read"] is False
    assert "read_count" not in row and "audience_count" not in row, "staff only"

    detail = c["stu0"].get(f"/api/v1/announcements/{body['id']}/")
    assert detail.status_code == 200 and detail.json()["title"] == "Welcome"


def test_admin_and_permitted_ta_may_post(alpha, world):
    assert _create(world.clients["admin"], world.course).status_code == 201
    response = _create(world.clients["ta"], world.course)
    assert response.status_code == 403 and error_code(response) == "permission_denied"

    with tenant_context(alpha):
        Course.objects.filter(pk=world.course.pk).update(settings={"ta_can_announce": True})
    connection.set_schema_to_public()
    response = _create(world.clients["ta"], world.course)
    assert response.status_code == 201
    assert response.json()["author"]["id"] == str(world.ta.pk)


@pytest.mark.parametrize(
    ("who", "status"),
    [("stu0", 403), ("grader", 403), ("ta", 403), ("waitlisted", 403), ("outsider", 404)],
)
def test_refused_roles_create_nothing(alpha, world, who, status):
    response = _create(world.clients[who], world.course, title="Not mine")
    assert response.status_code == status
    assert _count(alpha) == 0


def test_waitlisted_and_outsiders_do_not_see_the_list(world):
    _create(world.clients["instructor"], world.course)
    assert world.clients["waitlisted"].get(_url(world.course)).status_code == 403
    assert world.clients["outsider"].get(_url(world.course)).status_code == 404


def test_students_do_not_see_a_draft_course(alpha, world):
    _create(world.clients["instructor"], world.course)
    with tenant_context(alpha):
        Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.DRAFT)
    connection.set_schema_to_public()
    assert world.clients["stu0"].get(_url(world.course)).status_code == 404
    assert world.clients["ta"].get(_url(world.course)).status_code == 200


def test_malformed_input_is_400_with_fields(alpha, world):
    c = world.clients["instructor"]
    cases = [
        ({"title": "", "content": "x"}, "title"),
        ({"title": "x" * 256, "content": "x"}, "title"),
        ({"title": "T", "content": "   "}, "content"),
        ({"title": "T"}, "content"),
        ({"title": "T", "content": "x", "publish_at": "tomorrow"}, "publish_at"),
        ({"title": "T", "content": "x", "attachment_ids": "abc"}, "attachment_ids"),
        ({"title": "T", "content": "x", "attachment_ids": ["not-a-uuid"]}, "attachment_ids"),
        ({"title": "T", "content": "x", "author": "me"}, "author"),
        ({"title": "T", "content": "x", "is_pinned": "maybe"}, "is_pinned"),
    ]
    for body, field in cases:
        response = as_json(c, "post", _url(world.course), body)
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["fields"], body
    response = c.post(_url(world.course), "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert _count(alpha) == 0


def test_malformed_query_parameters_are_400(world):
    _create(world.clients["instructor"], world.course)
    c = world.clients["instructor"]
    for query in (
        {"ordering": "author__password"},
        {"updated_since": "yesterday"},
        {"page": "0"},
    ):
        response = c.get(_url(world.course), query)
        assert response.status_code in (400, 404), query  # DRF answers a bad page with 404
        assert response.json()["error"]["code"] in ("invalid", "not_found"), query
    assert c.get(_url(world.course), {"per_page": "1000"}).json()["per_page"] == 100


def test_expiry_must_follow_publication(alpha, world):
    now = timezone.now()
    c = world.clients["instructor"]
    response = _create(
        c, world.course, publish_at=_iso(now + timedelta(days=2)), expires_at=_iso(now)
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["fields"]
    # Published now: an expiry in the past is before publication.
    response = _create(c, world.course, expires_at=_iso(now - timedelta(hours=1)))
    assert response.status_code == 400
    assert _count(alpha) == 0
    # A publication time in the past is allowed.
    response = _create(c, world.course, publish_at=_iso(now - timedelta(days=3)))
    assert response.status_code == 201 and response.json()["state"] == "published"


def test_create_is_idempotent(alpha, world):
    c = world.clients["instructor"]
    key = {"HTTP_IDEMPOTENCY_KEY": "announce-1"}
    first = as_json(c, "post", _url(world.course), {"title": "T", "content": "x"}, **key)
    again = as_json(c, "post", _url(world.course), {"title": "T", "content": "x"}, **key)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert _count(alpha) == 1


# --- schedule, expiry, pinning ------------------------------------------------


def _scenario(world):
    """One announcement in each state, created through the API."""
    now = timezone.now()
    c = world.clients["instructor"]
    ids = {}
    for title, body in {
        "current": {"publish_at": _iso(now - timedelta(hours=1))},
        "current-expiring": {"expires_at": _iso(now + timedelta(days=1))},
        "scheduled": {"publish_at": _iso(now + timedelta(days=1))},
        "expired": {
            "publish_at": _iso(now - timedelta(days=3)),
            "expires_at": _iso(now - timedelta(days=1)),
        },
        "draft": {"is_published": False},
    }.items():
        response = _create(c, world.course, title=title, **body)
        assert response.status_code == 201, response.content
        ids[title] = response.json()["id"]
    return ids


def test_students_see_only_what_is_published_and_current(world):
    ids = _scenario(world)
    student = world.clients["stu1"]
    assert sorted(_titles(student.get(_url(world.course)))) == ["current", "current-expiring"]
    for hidden in ("scheduled", "expired", "draft"):
        assert student.get(f"/api/v1/announcements/{ids[hidden]}/").status_code == 404
        response = student.post(f"/api/v1/announcements/{ids[hidden]}/mark-read/")
        assert response.status_code == 404

    for staff in ("instructor", "ta", "grader", "admin"):
        rows = world.clients[staff].get(_url(world.course)).json()["results"]
        states = {row["title"]: row["state"] for row in rows}
        assert states == {
            "current": "published",
            "current-expiring": "published",
            "scheduled": "scheduled",
            "expired": "expired",
            "draft": "draft",
        }, staff

    instructor = world.clients["instructor"]
    assert _titles(instructor.get(_url(world.course) + "?state=scheduled")) == ["scheduled"]
    assert _titles(instructor.get(_url(world.course) + "?state=expired")) == ["expired"]
    assert _titles(student.get(_url(world.course) + "?state=draft")) == []
    assert instructor.get(_url(world.course) + "?state=bogus").status_code == 400


def test_a_scheduled_announcement_appears_when_its_time_comes(alpha, world):
    ids = _scenario(world)
    with tenant_context(alpha):  # the clock moves on: its publication time has passed
        Announcement.objects.filter(pk=ids["scheduled"]).update(
            publish_at=timezone.now() - timedelta(minutes=1),
            updated_at=timezone.now() - timedelta(hours=2),
        )
        Announcement.objects.filter(pk=ids["current"]).update(
            updated_at=timezone.now() - timedelta(hours=2)
        )
    connection.set_schema_to_public()
    student = world.clients["stu0"]
    assert "scheduled" in _titles(student.get(_url(world.course)))
    assert student.get(f"/api/v1/announcements/{ids['scheduled']}/").status_code == 200
    # A client syncing since an hour ago learns of it, though it was not changed.
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    response = student.get(_url(world.course), {"updated_since": since})
    assert sorted(_titles(response)) == ["current-expiring", "scheduled"]


def test_pinned_first_then_newest_publication(world):
    now = timezone.now()
    c = world.clients["instructor"]
    for title, days_ago, pinned in [("old", 5, False), ("pinned-old", 9, True), ("new", 1, False)]:
        response = _create(
            c,
            world.course,
            title=title,
            is_pinned=pinned,
            publish_at=_iso(now - timedelta(days=days_ago)),
        )
        assert response.status_code == 201
    assert _titles(world.clients["stu0"].get(_url(world.course))) == ["pinned-old", "new", "old"]
    pinned = world.clients["stu0"].get(_url(world.course), {"is_pinned": "true"})
    assert _titles(pinned) == ["pinned-old"]
    by_title = world.clients["stu0"].get(_url(world.course), {"ordering": "title"})
    assert _titles(by_title) == ["new", "old", "pinned-old"]


# --- update and delete ----------------------------------------------------------


def test_instructor_updates_and_publishing_a_draft_publishes_it_now(world):
    c = world.clients["instructor"]
    draft = _create(c, world.course, is_published=False).json()
    assert draft["state"] == "draft" and draft["publish_at"] is None
    url = f"/api/v1/announcements/{draft['id']}/"

    response = as_json(c, "patch", url, {"title": "Renamed", "is_published": True})
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Renamed"
    assert response.json()["state"] == "published" and response.json()["publish_at"]
    assert _titles(world.clients["stu0"].get(_url(world.course))) == ["Renamed"]

    response = as_json(c, "put", url, {"is_pinned": True, "content": "Changed"})
    assert response.status_code == 400 and "title" in response.json()["error"]["fields"]
    response = as_json(c, "put", url, {"title": "Put", "content": "Changed", "is_pinned": True})
    assert response.status_code == 200 and response.json()["is_pinned"] is True
    assert response.json()["state"] == "published", "what PUT leaves out is kept"

    too_early = _iso(timezone.now() - timedelta(days=400))
    response = as_json(c, "patch", url, {"expires_at": too_early})
    assert response.status_code == 400 and "expires_at" in response.json()["error"]["fields"]
    response = as_json(c, "patch", url, {"colour": "red"})
    assert response.status_code == 400 and "colour" in response.json()["error"]["fields"]


@pytest.mark.parametrize("who", ["stu0", "grader", "ta"])
def test_refused_roles_change_nothing(alpha, world, who):
    created = _create(world.clients["instructor"], world.course, title="Original").json()
    url = f"/api/v1/announcements/{created['id']}/"
    client = world.clients[who]
    assert as_json(client, "patch", url, {"title": "Hacked"}).status_code == 403
    assert as_json(client, "put", url, {"title": "Hacked", "content": "x"}).status_code == 403
    assert client.delete(url).status_code == 403
    assert _count(alpha, title="Original", deleted_at__isnull=True) == 1


def test_a_ta_changes_only_their_own(alpha, world):
    with tenant_context(alpha):
        Course.objects.filter(pk=world.course.pk).update(settings={"ta_can_announce": True})
    connection.set_schema_to_public()
    ta = world.clients["ta"]
    theirs = _create(ta, world.course, title="By the TA").json()
    instructors = _create(world.clients["instructor"], world.course, title="By prof").json()

    own = f"/api/v1/announcements/{theirs['id']}/"
    assert as_json(ta, "patch", own, {"title": "By the TA, edited"}).status_code == 200
    other = f"/api/v1/announcements/{instructors['id']}/"
    assert as_json(ta, "patch", other, {"title": "Mine now"}).status_code == 403
    assert ta.delete(other).status_code == 403
    assert _count(alpha, title="By prof") == 1
    assert ta.delete(own).status_code == 204
    # The instructor changes anyone's.
    assert as_json(world.clients["instructor"], "patch", other, {"title": "X"}).status_code == 200


def test_students_cannot_reach_drafts_to_change_them(alpha, world):
    draft = _create(world.clients["instructor"], world.course, is_published=False).json()
    url = f"/api/v1/announcements/{draft['id']}/"
    assert as_json(world.clients["stu0"], "patch", url, {"title": "X"}).status_code == 404
    assert world.clients["stu0"].delete(url).status_code == 404
    assert _count(alpha, title="Welcome", deleted_at__isnull=True) == 1


def test_delete_hides_it_from_everyone(alpha, world):
    created = _create(world.clients["instructor"], world.course).json()
    url = f"/api/v1/announcements/{created['id']}/"
    assert world.clients["instructor"].delete(url).status_code == 204
    for who in ("instructor", "stu0"):
        assert world.clients[who].get(url).status_code == 404
        assert _titles(world.clients[who].get(_url(world.course))) == []
    assert world.clients["instructor"].delete(url).status_code == 404
    assert _count(alpha) == 1, "a soft delete"


# --- reads ----------------------------------------------------------------------


def test_mark_read_and_read_counts(alpha, world):
    c = world.clients
    created = _create(c["instructor"], world.course).json()
    other = _create(c["instructor"], world.course, title="Second").json()
    mark = f"/api/v1/announcements/{created['id']}/mark-read/"

    first = c["stu0"].post(mark)
    assert first.status_code == 200, first.content
    assert first.json()["announcement_id"] == created["id"]
    again = c["stu0"].post(mark)
    assert again.status_code == 200
    assert again.json()["read_at"] == first.json()["read_at"], "the first read is kept"
    assert c["stu1"].post(mark).status_code == 200
    assert c["instructor"].post(mark).status_code == 200  # a teacher's read does not count

    rows = {row["title"]: row for row in c["instructor"].get(_url(world.course)).json()["results"]}
    assert (rows["Welcome"]["read_count"], rows["Welcome"]["audience_count"]) == (2, 3)
    assert (rows["Second"]["read_count"], rows["Second"]["audience_count"]) == (0, 3)
    detail = c["ta"].get(f"/api/v1/announcements/{created['id']}/").json()
    assert (detail["read_count"], detail["audience_count"]) == (2, 3)

    reads_url = f"/api/v1/announcements/{created['id']}/reads/"
    reads = c["instructor"].get(reads_url)
    assert reads.status_code == 200
    assert reads.json()["count"] == 2
    readers = {row["user"]["email"] for row in reads.json()["results"]}
    assert readers == {"stu0@alpha.test", "stu1@alpha.test"}
    assert c["grader"].get(reads_url).status_code == 200
    for who in ("stu0", "stu2"):
        response = c[who].get(reads_url)
        assert response.status_code == 403 and error_code(response) == "permission_denied"

    student_rows = c["stu0"].get(_url(world.course)).json()["results"]
    assert {row["title"]: row["is_read"] for row in student_rows} == {
        "Welcome": True,
        "Second": False,
    }
    assert _titles(c["stu0"].get(_url(world.course), {"unread": "true"})) == ["Second"]
    assert _titles(c["stu2"].get(_url(world.course), {"unread": "true"})) == [
        "Second",
        "Welcome",
    ]
    assert other["id"]

    # A student who drops out no longer counts, as a reader or in the audience.
    with tenant_context(alpha):
        Enrollment.objects.filter(user=world.students[1]).update(status=EnrollmentStatus.DROPPED)
    connection.set_schema_to_public()
    detail = c["instructor"].get(f"/api/v1/announcements/{created['id']}/").json()
    assert (detail["read_count"], detail["audience_count"]) == (1, 2)
    assert c["instructor"].get(reads_url).json()["count"] == 1


def test_refused_mark_read_records_nothing(alpha, world):
    created = _create(world.clients["instructor"], world.course).json()
    mark = f"/api/v1/announcements/{created['id']}/mark-read/"
    assert world.clients["waitlisted"].post(mark).status_code == 404
    assert world.clients["outsider"].post(mark).status_code == 404
    with tenant_context(alpha):
        assert AnnouncementRead.objects.count() == 0
    connection.set_schema_to_public()


# --- another institution, anonymous ---------------------------------------------


def test_another_institution_is_refused(alpha, beta, world):
    created = _create(world.clients["instructor"], world.course).json()
    ann = f"/api/v1/announcements/{created['id']}/"
    beta_admin = admin_of(beta)

    # A beta token on alpha's host is not a token there.
    stray = api_client(beta, beta_admin)
    stray.defaults["HTTP_HOST"] = "alpha.localhost"
    for method, path in [
        ("get", _url(world.course)),
        ("post", _url(world.course)),
        ("get", ann),
        ("patch", ann),
        ("delete", ann),
        ("post", ann + "mark-read/"),
        ("get", ann + "reads/"),
    ]:
        assert as_json(stray, method, path, {"title": "x"}).status_code == 401, (method, path)

    # On beta's own host, alpha's ids do not exist.
    home = api_client(beta, beta_admin)
    for method, path in [
        ("get", _url(world.course)),
        ("post", _url(world.course)),
        ("get", ann),
        ("patch", ann),
        ("delete", ann),
        ("post", ann + "mark-read/"),
        ("get", ann + "reads/"),
    ]:
        response = as_json(home, method, path, {"title": "x", "content": "y"})
        assert response.status_code == 404, (method, path)
    assert _count(alpha, title="Welcome", deleted_at__isnull=True) == 1
    with tenant_context(alpha):
        assert AnnouncementRead.objects.count() == 0
    connection.set_schema_to_public()


def test_anonymous_is_refused(alpha_client, world):
    assert alpha_client.get(_url(world.course)).status_code == 401


# --- query counts ---------------------------------------------------------------


def _list_queries(client, course) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url(course))
    assert response.status_code == 200
    return len(queries)


def test_the_list_does_not_query_per_row(alpha, world):
    def post(n):
        for i in range(n):
            file_id = _upload(world.clients["instructor"], world.course, name=f"f{i}.pdf")
            created = _create(
                world.clients["instructor"], world.course, title=f"A{i}", attachment_ids=[file_id]
            ).json()
            world.clients["stu0"].post(f"/api/v1/announcements/{created['id']}/mark-read/")

    post(2)
    few = {who: _list_queries(world.clients[who], world.course) for who in ("stu0", "instructor")}
    post(8)
    many = {who: _list_queries(world.clients[who], world.course) for who in ("stu0", "instructor")}
    assert _count(alpha) == 10
    assert many == few


# --- attachments ----------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _upload(client, course, name="syllabus.pdf", level="course") -> str:
    upload = SimpleUploadedFile(name, PDF, content_type="application/pdf")
    data = {"file": upload, "access_level": level}
    if course is not None:
        data["course_id"] = str(course.pk)
    response = client.post("/api/v1/files/upload/", data)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_attachments_are_embedded_and_students_download_them(alpha, world):
    c = world.clients
    file_id = _upload(c["instructor"], world.course)
    response = _create(c["instructor"], world.course, attachment_ids=[file_id, file_id])
    assert response.status_code == 201, response.content
    created = response.json()
    [attachment] = created["attachments"]
    assert attachment["id"] == file_id and attachment["original_name"] == "syllabus.pdf"
    assert attachment["mime_type"] == "application/pdf"

    listed = c["stu0"].get(_url(world.course)).json()["results"]
    assert [a["id"] for a in listed[0]["attachments"]] == [file_id]
    download = c["stu0"].get(f"/api/v1/files/{file_id}/download/")
    assert download.status_code == 302
    content = c["stu0"].get(download["Location"])
    assert content.status_code == 200
    assert b"".join(content.streaming_content) == PDF
    # A waitlisted student reads neither the announcement nor its file.
    assert c["waitlisted"].get(f"/api/v1/files/{file_id}/download/").status_code == 404

    url = f"/api/v1/announcements/{created['id']}/"
    cleared = as_json(c["instructor"], "patch", url, {"attachment_ids": []})
    assert cleared.status_code == 200 and cleared.json()["attachments"] == []
    again = as_json(c["instructor"], "patch", url, {"attachment_ids": [file_id]})
    assert [a["id"] for a in again.json()["attachments"]] == [file_id]

    # A deleted file is no longer shown as attached.
    assert c["instructor"].delete(f"/api/v1/files/{file_id}/").status_code == 204
    assert c["stu0"].get(url).json()["attachments"] == []


def test_only_attachable_files_are_attached(alpha, world):
    c = world.clients
    other_course = course_taught_by(alpha, world.instructor, code="CS 202")
    elsewhere = _upload(c["instructor"], other_course)
    students_own = _upload(c["stu0"], None, name="mine.pdf", level="private")
    for bad in (elsewhere, students_own, "0b7a5783-2c54-4622-b3e9-c6165d1c3236"):
        response = _create(c["instructor"], world.course, attachment_ids=[bad])
        assert response.status_code == 400, bad
        assert "attachment_ids" in response.json()["error"]["fields"]
    assert _count(alpha) == 0

    created = _create(c["instructor"], world.course).json()
    url = f"/api/v1/announcements/{created['id']}/"
    response = as_json(c["instructor"], "patch", url, {"attachment_ids": [elsewhere]})
    assert response.status_code == 400
    assert c["instructor"].get(url).json()["attachments"] == []
