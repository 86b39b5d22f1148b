"""Review of issue 7's flows (notifications, analytics, calendar, jobs, data
rights): each test here shows one defect found in review, failing until it is
fixed."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.announcements import services as announcement_services
from tenant_apps.assignments.models import Assignment
from tenant_apps.courses.models import Course

from .api_helpers import api_client, as_json
from .test_assignments_api import build_world, create_assignment, in_tenant
from .test_notification_events import notified
from .test_notification_events import world as events_world  # noqa: F401 -- a fixture
from .test_reminders import excuse as _excuse

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _due_ago(world, assignment: dict, ago: timedelta) -> None:
    with tenant_context(world.institution):
        Assignment.objects.filter(pk=assignment["id"]).update(due_at=timezone.now() - ago)
    connection.set_schema_to_public()


# --- analytics ------------------------------------------------------------------------


def test_an_excused_student_is_not_missing_the_assignment_in_analytics(alpha):
    """Analytics counts a student excused in the gradebook, who rightly never
    submitted, as *missing* the assignment: in the per-student list (and so
    flags them at risk for "missing_assignments"), in the assignment's
    statistics, and in the course's completion. The reminders already treat an
    excused student as owing nothing (assignments_due_with_students_pending);
    the instructor's at-risk list should not send them chasing students who
    were let off."""
    world = build_world(alpha, students=2)
    essays = [create_assignment(world, title=f"Essay {n}") for n in (1, 2)]
    stu0 = world.users["stu0"]
    for essay in essays:
        _excuse(world, essay, stu0)
        _due_ago(world, essay, DAY)
    instructor = world.client("instructor")
    base = f"/api/v1/analytics/courses/{world.course.pk}"

    students = instructor.get(f"{base}/students/")
    assert students.status_code == 200, students.content
    row = next(r for r in students.json()["results"] if r["user"]["id"] == str(stu0.pk))
    assert row["submissions"]["missing"] == 0, row
    assert "missing_assignments" not in row["at_risk_reasons"], row

    stats = instructor.get(f"{base}/assignments/")
    assert stats.status_code == 200, stats.content
    for assignment in stats.json()["results"]:
        assert assignment["excused"] == 1
        assert assignment["missing"] == 1, "stu1 owes it; stu0 was excused"


# --- announcements --------------------------------------------------------------------


def test_students_hear_of_an_announcement_once_its_draft_course_is_published(events_world):  # noqa: F811
    """An announcement published while its course is still a draft claims
    `notified_at` at once (announcement_notify_if_visible) and tells only the
    staff, as the students may not read it yet. When the course is published
    the announcement becomes visible to them (selectors.visible_to_students
    does not look at when the course opened), but `notified_at` is already
    set, so neither a request nor the minutely job ever tells them: the
    announcements posted while preparing a course (the welcome, the syllabus
    note) reach no student. The model's rule is "notified when it first
    becomes visible"; for students that is the course's publication."""
    world = events_world
    alpha, course = world["alpha"], world["course"]
    in_tenant(alpha, lambda: Course.objects.filter(pk=course.pk).update(status="draft"))
    client = api_client(alpha, world["instructor"])
    made = as_json(
        client,
        "post",
        f"/api/v1/courses/{course.pk}/announcements/",
        {"title": "Welcome", "content": "Read the syllabus.", "is_published": True},
    )
    assert made.status_code == 201, made.content
    assert [e for e, _ in notified(alpha)] == ["ta@alpha.test"]

    published = as_json(client, "patch", f"/api/v1/courses/{course.pk}/", {"status": "published"})
    assert published.status_code == 200, published.content
    in_tenant(alpha, lambda: announcement_services.announcements_due_notify())

    students = {f"stu{n}@alpha.test" for n in range(4)}
    told = {email for email, _ in notified(alpha)}
    assert students <= told, f"students never told: {sorted(students - told)}"
