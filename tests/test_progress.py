"""Progress through content: a student's reports (percentage never goes down,
time spent adds up safely and is capped, completion recorded once), their own
course summary, the staff's summary of every student in a constant number of
queries; refused roles and another institution."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shared_apps.institutions.models import Institution
from tenant_apps.accounts.models import Role, User
from tenant_apps.content import services
from tenant_apps.content.models import ContentProgress
from tenant_apps.courses.models import Course, CourseRole, CourseStatus

from .api_helpers import api_client, as_json, course_taught_by, error_code, member
from .test_content_api import (
    Material,
    World,
    build_material,
    build_world,
    enroll,
    in_tenant,
)


@pytest.fixture
def world(alpha) -> World:
    return build_world(alpha)


@pytest.fixture
def material(world) -> Material:
    return build_material(world)


def progress_url(item) -> str:
    return f"/api/v1/contents/{item.pk}/progress/"


def summary_url(course) -> str:
    return f"/api/v1/courses/{course.pk}/progress/"


def report(client, item, body, **headers):
    return as_json(client, "post", progress_url(item), body, **headers)


# --- one item ---


def test_a_students_reports_accumulate_and_never_go_back(world, material):
    client = world.client("student")
    blank = client.get(progress_url(material.video))
    assert blank.status_code == 200
    assert blank.json()["completion_percentage"] == 0 and blank.json()["updated_at"] is None

    first = report(
        client,
        material.video,
        {"completion_percentage": 40, "last_position": 300, "time_spent_seconds_delta": 120},
    )
    assert first.status_code == 200
    body = first.json()
    assert body["completion_percentage"] == 40 and body["last_position"] == 300
    assert body["time_spent_seconds"] == 120 and body["is_completed"] is False
    assert body["first_accessed_at"] is not None

    body = report(
        client, material.video, {"completion_percentage": 10, "time_spent_seconds_delta": 30}
    ).json()
    assert body["completion_percentage"] == 40, "the percentage never goes down"
    assert body["time_spent_seconds"] == 150

    body = report(client, material.video, {"time_spent_seconds_delta": 10**6}).json()
    assert body["time_spent_seconds"] == 150 + 3600, "one report counts for at most an hour"

    done = report(client, material.video, {"completed": True}).json()
    assert done["is_completed"] is True and done["completion_percentage"] == 100
    completed_at = done["completed_at"]
    again = report(client, material.video, {"completion_percentage": 100}).json()
    assert again["completed_at"] == completed_at, "completion is recorded once"
    assert client.get(progress_url(material.video)).json() == again

    by_percentage = report(client, material.link, {"completion_percentage": 100}).json()
    assert by_percentage["is_completed"] is True and by_percentage["completed_at"]


def test_progress_input_is_validated(world, material):
    client = world.client("student")
    for body, field in (
        ({"completion_percentage": 101}, "completion_percentage"),
        ({"completion_percentage": -1}, "completion_percentage"),
        ({"completion_percentage": "half"}, "completion_percentage"),
        ({"last_position": -5}, "last_position"),
        ({"time_spent_seconds_delta": -60}, "time_spent_seconds_delta"),
        ({"time_spent_seconds": 999}, "time_spent_seconds"),  # totals are not client-set
        ({"completed": False}, "completed"),
    ):
        response = report(client, material.video, body)
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"]
    assert report(client, material.video, [1, 2]).status_code == 400
    with in_tenant(world.institution):
        assert not ContentProgress.objects.exists()


def test_a_retried_report_with_the_same_key_counts_once(world, material):
    client = world.client("student")
    body = {"time_spent_seconds_delta": 60}
    for _ in range(3):
        response = report(client, material.video, body, HTTP_IDEMPOTENCY_KEY="beat-1")
        assert response.status_code == 200
    assert response.json()["time_spent_seconds"] == 60


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("instructor", 403),
        ("ta", 403),
        ("admin", 403),
        ("waitlisted", 404),
        ("outsider", 404),
        ("other_instructor", 404),
    ],
)
def test_only_seated_students_record_progress(world, material, role, status):
    client = world.client(role)
    assert report(client, material.video, {"completion_percentage": 50}).status_code == status
    assert client.get(progress_url(material.video)).status_code == status
    with in_tenant(world.institution):
        assert not ContentProgress.objects.exists()


def test_no_progress_on_items_a_student_cannot_open(world, material):
    client = world.client("student")
    for item in (
        material.locked_item,
        material.unpublished,
        material.draft_item,
        material.scheduled_item,
    ):
        assert report(client, item, {"completed": True}).status_code == 404, item.title
        assert client.get(progress_url(item)).status_code == 404
    with in_tenant(world.institution):
        assert not ContentProgress.objects.exists()


def test_another_institution_cannot_report(world, material, beta):
    beta_student = member(beta, "stu@beta.test")
    beta_client = api_client(beta, beta_student)
    assert report(beta_client, material.video, {"completed": True}).status_code == 404
    assert beta_client.get(summary_url(world.course)).status_code == 404
    beta_client.defaults["HTTP_HOST"] = "alpha.localhost"
    response = report(beta_client, material.video, {"completed": True})
    assert response.status_code == 401
    assert beta_client.get(summary_url(world.course)).status_code == 401
    with in_tenant(world.institution):
        assert not ContentProgress.objects.exists()


def test_concurrent_reports_all_count(django_db_setup, committed_db):
    """Twelve reports at once, each on its own connection: every delta is added
    and the highest percentage wins, whatever the order."""
    institution = Institution.objects.get(slug="alpha")
    instructor = member(institution, "race-prof2@alpha.test", Role.INSTRUCTOR)
    student = member(institution, "race-stu@alpha.test")
    course = course_taught_by(institution, instructor, code="RACE 2")
    try:
        enroll(institution, course, student)
        with in_tenant(institution):
            module = services.module_create(course=course, title="M", is_published=True)
            item = services.content_item_create(
                actor=None, module=module, title="Q", content_type="quiz", is_published=True
            )
        client = api_client(institution, student)
        barrier = threading.Barrier(12)
        statuses = []

        def post(n):
            try:
                barrier.wait()
                body = {"time_spent_seconds_delta": 10, "completion_percentage": 5 * n}
                statuses.append(report(client, item, body).status_code)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=post, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 12
        with in_tenant(institution):
            progress = ContentProgress.objects.get(user=student, content=item)
        assert progress.time_spent_seconds == 120
        assert progress.completion_percentage == 55
    finally:
        with in_tenant(institution):
            Course.objects.filter(pk=course.pk).delete()
            User.objects.filter(pk__in=[instructor.pk, student.pk]).delete()


# --- course summaries ---


def _complete(world, user, *items, seconds=60):
    with in_tenant(world.institution):
        for item in items:
            services.content_progress_record(
                user=user, item=item, completed=True, time_spent_seconds_delta=seconds
            )


def test_a_student_sees_their_own_summary(world, material):
    # Required and visible: video (Week 1) and the locked module's video; the
    # link is optional; unpublished, draft and scheduled items do not count.
    student = world.users["student"]
    _complete(world, student, material.video, material.link)
    response = world.client("student").get(summary_url(world.course))
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == str(student.pk)
    assert (body["required_count"], body["completed_count"], body["percent"]) == (2, 1, 50)
    assert body["time_spent_seconds"] == 120
    week, locked = body["modules"]
    assert (week["title"], week["required_count"], week["completed_count"]) == ("Week 1", 1, 1)
    assert week["percent"] == 100 and week["time_spent_seconds"] == 120
    assert (locked["title"], locked["locked"], locked["completed_count"]) == (
        "Locked week",
        True,
        0,
    )
    assert "secret.example" not in response.content.decode()

    # A student asking for someone else is refused; for themself it is fine.
    other = f"{summary_url(world.course)}?user_id={world.users['ta'].pk}"
    assert world.client("student").get(other).status_code == 403
    mine = f"{summary_url(world.course)}?user_id={student.pk}"
    assert world.client("student").get(mine).json()["completed_count"] == 1


def test_deleted_items_leave_the_summaries(world, material):
    student = world.users["student"]
    _complete(world, student, material.video)
    assert world.client("student").get(summary_url(world.course)).json()["completed_count"] == 1
    assert world.client("instructor").delete(f"/api/v1/contents/{material.video.pk}/").status_code
    body = world.client("student").get(summary_url(world.course)).json()
    assert (body["required_count"], body["completed_count"], body["time_spent_seconds"]) == (
        1,
        0,
        0,
    )
    roster = world.client("instructor").get(summary_url(world.course)).json()["results"]
    assert roster[0]["completed_count"] == 0 and roster[0]["required_count"] == 1


def test_staff_see_every_seated_students_totals(world, material):
    student = world.users["student"]
    second = member(world.institution, "amy@x.test", last_name="Aardvark")
    enroll(world.institution, world.course, second)
    _complete(world, student, material.video, seconds=30)
    _complete(world, second, material.video, material.locked_item, seconds=45)

    for role in ("instructor", "ta", "admin"):
        response = world.client(role).get(summary_url(world.course))
        assert response.status_code == 200, role
        body = response.json()
        assert body["count"] == 2  # the waitlisted student and the TA hold no seat
        rows = {row["user"]["email"]: row for row in body["results"]}
        assert rows["stu@x.test"]["completed_count"] == 1
        assert rows["stu@x.test"]["percent"] == 50
        assert rows["stu@x.test"]["time_spent_seconds"] == 30
        assert rows["amy@x.test"]["completed_count"] == 2
        assert rows["amy@x.test"]["percent"] == 100 and rows["amy@x.test"]["required_count"] == 2

    client = world.client("instructor")
    ordered = client.get(summary_url(world.course), {"ordering": "-completed_count"}).json()
    assert [r["user"]["email"] for r in ordered["results"]] == ["amy@x.test", "stu@x.test"]
    page = client.get(summary_url(world.course), {"per_page": 1})
    assert page.json()["count"] == 2 and len(page.json()["results"]) == 1
    assert 'rel="next"' in page["Link"]
    since = (timezone.now() + timedelta(hours=1)).isoformat()
    assert client.get(summary_url(world.course), {"updated_since": since}).json()["count"] == 0

    one = client.get(summary_url(world.course), {"user_id": str(second.pk)})
    assert one.status_code == 200 and one.json()["completed_count"] == 2
    assert len(one.json()["modules"]) == 2
    for user_id, status in (
        (world.users["waitlisted"].pk, 404),
        (world.users["ta"].pk, 404),
        ("not-a-uuid", 400),
    ):
        response = client.get(summary_url(world.course), {"user_id": str(user_id)})
        assert response.status_code == status, user_id
    assert client.get(summary_url(world.course), {"ordering": "password"}).status_code == 400


@pytest.mark.parametrize("role", ["waitlisted", "outsider", "other_instructor"])
def test_summary_is_404_to_those_outside_the_course(world, material, role):
    response = world.client(role).get(summary_url(world.course))
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_a_student_of_a_draft_course_has_no_summary(world, material):
    with in_tenant(world.institution):
        Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.DRAFT)
    assert world.client("student").get(summary_url(world.course)).status_code == 404


def test_the_staff_summary_costs_the_same_queries_for_3_or_10_students(world, material):
    client = world.client("instructor")

    def add_students(count, start):
        for n in range(start, start + count):
            user = member(world.institution, f"s{n}@x.test")
            enroll(world.institution, world.course, user)
            _complete(world, user, material.video, seconds=n)

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(summary_url(world.course))
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    add_students(2, 0)  # with the fixture's student: 3
    queries()  # the first request of a session warms per-token caches
    three, count = queries()
    assert count == 3
    add_students(7, 2)
    ten, count = queries()
    assert count == 10
    assert ten == three
    with CaptureQueriesContext(connection) as captured:
        assert world.client("student").get(summary_url(world.course)).status_code == 200
    assert len(captured) <= three + 2


def test_staff_enrolled_as_grader_see_the_roster_too(world, material):
    grader = member(world.institution, "grader@x.test", Role.TA)
    enroll(world.institution, world.course, grader, role=CourseRole.GRADER)
    response = api_client(world.institution, grader).get(summary_url(world.course))
    assert response.status_code == 200 and response.json()["count"] == 1
