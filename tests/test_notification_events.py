"""The events that notify: grades released, announcements becoming visible,
and a seat from the waitlist. Each produces notifications for exactly the
right people (not the students of another course, not another institution's),
once, in one bulk INSERT; saving a hidden grade notifies nobody."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenant_apps.accounts.models import Role
from tenant_apps.announcements import services as announcement_services
from tenant_apps.announcements.models import Announcement
from tenant_apps.announcements.tasks import announcements_due_notify
from tenant_apps.courses.models import Course, CourseRole, EnrollmentType
from tenant_apps.grading import services as grading
from tenant_apps.grading.models import Grade, GradeItem, PostingPolicy
from tenant_apps.notifications.models import Notification

from .api_helpers import (
    admin_of,
    api_client,
    as_json,
    course_taught_by,
    enroll,
    in_tenant,
    member,
)

pytestmark = pytest.mark.django_db
API = "/api/v1"


def notified(institution, kind=None) -> list[tuple[str, str]]:
    """(email, title) of every notification, sorted."""

    def work():
        rows = Notification.objects.select_related("user")
        if kind:
            rows = rows.filter(notification_type=kind)
        return sorted((n.user.email, n.title) for n in rows)

    return in_tenant(institution, work)


@pytest.fixture
def world(alpha, beta):
    instructor = member(alpha, "prof@alpha.test", Role.INSTRUCTOR)
    course = course_taught_by(alpha, instructor)
    other = course_taught_by(alpha, instructor, code="CS 202")
    students = [member(alpha, f"stu{n}@alpha.test") for n in range(4)]
    for student in students:
        enroll(alpha, course, student)
    ta = member(alpha, "ta@alpha.test", Role.TA)
    enroll(alpha, course, ta, CourseRole.TA)
    waitlisted = member(alpha, "wait@alpha.test")
    enroll(alpha, course, waitlisted, enrollment_type=EnrollmentType.WAITLIST)
    elsewhere = member(alpha, "elsewhere@alpha.test")
    enroll(alpha, other, elsewhere)
    beta_teacher = member(beta, "prof@beta.test", Role.INSTRUCTOR)
    beta_course = course_taught_by(beta, beta_teacher)
    beta_student = member(beta, "stu0@beta.test")
    enroll(beta, beta_course, beta_student)
    return {
        "alpha": alpha,
        "beta": beta,
        "course": course,
        "other": other,
        "instructor": instructor,
        "students": students,
        "ta": ta,
        "waitlisted": waitlisted,
        "elsewhere": elsewhere,
        "beta_course": beta_course,
        "beta_student": beta_student,
    }


def item_of(institution, course, title, **fields) -> GradeItem:
    values = {"is_published": True, **fields}
    return in_tenant(
        institution,
        lambda: grading.grade_item_sync(
            kind="assignment",
            source_id=uuid.uuid4(),
            course=course,
            title=title,
            points_possible=10,
            **values,
        ),
    )


def grade(institution, item, student, grader, points=7) -> Grade:
    return in_tenant(
        institution,
        lambda: grading.grade_save(
            item=GradeItem.objects.get(pk=item.pk),
            student=student,
            grader=grader,
            given=grading.GradeInput(points_earned=points),
            check_version=False,
        ),
    )


# --- grades ---------------------------------------------------------------------------


def test_releasing_two_items_notifies_each_student_once_per_item_in_one_insert_each(world):
    alpha, course, students = world["alpha"], world["course"], world["students"]
    teacher = world["instructor"]
    essay = item_of(alpha, course, "Essay")
    quiz = item_of(alpha, course, "Quiz 1")
    other_item = item_of(alpha, world["other"], "Elsewhere")
    grades = {(i.pk, s.pk): grade(alpha, i, s, teacher) for i in (essay, quiz) for s in students}
    grade(alpha, other_item, world["elsewhere"], teacher)
    assert notified(alpha) == [], "saving hidden grades under manual posting notifies nobody"

    client = api_client(alpha, teacher)
    client.get(f"{API}/grade-items/{essay.pk}/")  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"{API}/grade-items/{essay.pk}/release/")
    assert response.status_code == 200 and response.json()["changed"] == 4
    inserts = [
        q for q in queries if q["sql"].startswith('INSERT INTO "notifications_notification"')
    ]
    assert len(inserts) == 1, "one bulk INSERT for the whole release"
    assert client.post(f"{API}/grade-items/{quiz.pk}/release/").json()["changed"] == 4
    assert client.post(f"{API}/grade-items/{essay.pk}/release/").json()["changed"] == 0

    expected = sorted(
        (s.email, f"Grade posted: {title}") for s in students for title in ("Essay", "Quiz 1")
    )
    assert notified(alpha) == expected
    rows = in_tenant(alpha, lambda: list(Notification.objects.all()))
    for row in rows:
        item = essay if row.title.endswith("Essay") else quiz
        assert row.notification_type == "grade_posted"
        assert row.link_url == f"/courses/{course.pk}/grades"
        assert row.metadata == {
            "course_id": str(course.pk),
            "item_id": str(item.pk),
            "grade_id": str(grades[(item.pk, row.user_id)].pk),
        }
    assert notified(world["beta"]) == []


def test_releasing_one_grade_notifies_only_its_student(world):
    alpha, teacher, students = world["alpha"], world["instructor"], world["students"]
    essay = item_of(alpha, world["course"], "Essay")
    first = grade(alpha, essay, students[0], teacher)
    grade(alpha, essay, students[1], teacher)
    client = api_client(alpha, teacher)
    assert client.post(f"{API}/grades/{first.pk}/release/").status_code == 200
    assert notified(alpha) == [("stu0@alpha.test", "Grade posted: Essay")]
    # Hiding and a refused release (a student) notify nobody more.
    client.post(f"{API}/grades/{first.pk}/hide/")
    student = api_client(alpha, students[1])
    assert student.post(f"{API}/grade-items/{essay.pk}/release/").status_code in (403, 404)
    assert len(notified(alpha)) == 1


def test_automatic_posting_notifies_when_the_grade_is_first_released(world):
    alpha, teacher, students = world["alpha"], world["instructor"], world["students"]
    auto = item_of(alpha, world["course"], "Auto", posting_policy=PostingPolicy.AUTOMATIC)
    grade(alpha, auto, students[0], teacher, points=5)
    assert notified(alpha) == [("stu0@alpha.test", "Grade posted: Auto")]
    grade(alpha, auto, students[0], teacher, points=6)  # a regrade: already visible
    assert len(notified(alpha)) == 1


def test_grades_of_an_unpublished_item_notify_nobody(world):
    alpha, teacher, students = world["alpha"], world["instructor"], world["students"]
    draft = item_of(alpha, world["course"], "Draft", is_published=False)
    auto_draft = item_of(
        alpha,
        world["course"],
        "Auto draft",
        is_published=False,
        posting_policy=PostingPolicy.AUTOMATIC,
    )
    grade(alpha, draft, students[0], teacher)
    grade(alpha, auto_draft, students[0], teacher)
    in_tenant(alpha, lambda: grading.item_grades_release(item=draft, actor=teacher))
    assert in_tenant(alpha, lambda: Grade.objects.filter(released_at__isnull=False).count()) == 2
    assert notified(alpha) == []


# --- announcements ----------------------------------------------------------------------


def _announce(world, client_user, **body):
    client = api_client(world["alpha"], client_user)
    response = as_json(
        client,
        "post",
        f"{API}/courses/{world['course'].pk}/announcements/",
        {"title": "Exam moved", "content": "To Friday.", **body},
    )
    assert response.status_code == 201, response.json()
    return client, response.json()["id"]


AUDIENCE = ["stu0", "stu1", "stu2", "stu3", "ta"]


def _emails(names):
    return sorted(f"{n}@alpha.test" for n in names)


def test_a_published_announcement_notifies_the_course_once(world):
    client, pk = _announce(world, world["instructor"], is_published=True)
    title = "CS 101: Exam moved"
    assert notified(world["alpha"]) == [(e, title) for e in _emails(AUDIENCE)]
    row = in_tenant(world["alpha"], lambda: Notification.objects.first())
    assert row.notification_type == "announcement" and row.message == "To Friday."
    assert row.metadata == {"course_id": str(world["course"].pk), "announcement_id": pk}
    assert row.link_url == f"/courses/{world['course'].pk}/announcements/{pk}"
    # Editing it, unpublishing and publishing it again: nobody is told again.
    url = f"{API}/announcements/{pk}/"
    assert as_json(client, "patch", url, {"content": "To Monday."}).status_code == 200
    assert as_json(client, "patch", url, {"is_published": False}).status_code == 200
    assert as_json(client, "patch", url, {"is_published": True}).status_code == 200
    assert len(notified(world["alpha"])) == len(AUDIENCE)
    assert notified(world["beta"]) == []


def test_a_tas_announcement_tells_the_instructor_not_the_ta(world):
    alpha, course = world["alpha"], world["course"]
    in_tenant(
        alpha,
        lambda: Course.objects.filter(pk=course.pk).update(settings={"ta_can_announce": True}),
    )
    _announce(world, world["ta"], is_published=True)
    assert [e for e, _ in notified(alpha)] == _emails(["prof", "stu0", "stu1", "stu2", "stu3"])


def test_a_draft_notifies_when_published(world):
    client, pk = _announce(world, world["instructor"])
    assert notified(world["alpha"]) == []
    as_json(client, "patch", f"{API}/announcements/{pk}/", {"is_published": True})
    assert len(notified(world["alpha"])) == len(AUDIENCE)


def test_a_scheduled_announcement_notifies_from_the_job_at_its_time(world):
    alpha = world["alpha"]
    later = timezone.now() + timedelta(hours=2)
    _, pk = _announce(world, world["instructor"], is_published=True, publish_at=later.isoformat())
    assert notified(alpha) == []
    assert in_tenant(alpha, announcements_due_notify) == 0, "not yet"

    # Its time comes (moved, not waited for).
    in_tenant(
        alpha,
        lambda: Announcement.objects.filter(pk=pk).update(
            publish_at=timezone.now() - timedelta(seconds=1)
        ),
    )
    assert in_tenant(alpha, announcements_due_notify) == 1
    assert in_tenant(alpha, announcements_due_notify) == 0
    assert [e for e, _ in notified(alpha)] == _emails(AUDIENCE)


def test_expired_and_deleted_announcements_never_notify(world):
    alpha = world["alpha"]
    client, pk = _announce(
        world,
        world["instructor"],
        is_published=True,
        publish_at=(timezone.now() + timedelta(hours=1)).isoformat(),
    )
    assert client.delete(f"{API}/announcements/{pk}/").status_code == 204
    now = timezone.now() + timedelta(hours=3)
    assert in_tenant(alpha, lambda: announcement_services.announcements_due_notify(now=now)) == 0
    _announce(
        world,
        world["instructor"],
        is_published=True,
        publish_at=(timezone.now() + timedelta(hours=1)).isoformat(),
        expires_at=(timezone.now() + timedelta(hours=2)).isoformat(),
    )
    assert in_tenant(alpha, lambda: announcement_services.announcements_due_notify(now=now)) == 0
    assert notified(alpha) == []


def test_an_unpublished_courses_students_are_not_told(world):
    alpha, course = world["alpha"], world["course"]
    in_tenant(alpha, lambda: Course.objects.filter(pk=course.pk).update(status="draft"))
    _announce(world, world["instructor"], is_published=True)
    assert [e for e, _ in notified(alpha)] == _emails(["ta"])


def test_a_draft_courses_announcement_reaches_its_students_once_it_is_published(world):
    """The staff are told at once, the students when the course is published
    (by the minutely job), and nobody twice."""
    alpha, course = world["alpha"], world["course"]
    in_tenant(alpha, lambda: Course.objects.filter(pk=course.pk).update(status="draft"))
    _announce(world, world["instructor"], is_published=True)
    assert in_tenant(alpha, announcements_due_notify) == 0, "the course is still a draft"
    in_tenant(alpha, lambda: Course.objects.filter(pk=course.pk).update(status="published"))
    assert in_tenant(alpha, announcements_due_notify) == 1
    assert in_tenant(alpha, announcements_due_notify) == 0
    assert [e for e, _ in notified(alpha)] == _emails(AUDIENCE)


# --- the waitlist ----------------------------------------------------------------------


def test_a_seat_from_the_waitlist_is_one_notification_and_one_email(
    world, celery_eager, django_capture_on_commit_callbacks
):
    alpha, course = world["alpha"], world["course"]
    in_tenant(
        alpha,
        lambda: Course.objects.filter(pk=course.pk).update(max_enrollment=4, current_enrollment=4),
    )
    mail.outbox.clear()
    leaver = api_client(alpha, world["students"][0])
    with django_capture_on_commit_callbacks(execute=True):
        response = as_json(leaver, "post", f"{API}/courses/{course.pk}/unenroll/", {})
    assert response.status_code == 200, response.json()
    [(email, title)] = notified(alpha, "enrollment_promoted")
    assert email == "wait@alpha.test" and title == "You are now enrolled in CS 101: Course CS 101"
    [message] = mail.outbox
    assert message.to == ["wait@alpha.test"] and message.subject == title
    assert f"http://alpha.localhost/courses/{course.pk}" in message.body
    assert notified(world["beta"]) == []


def test_the_admin_sees_no_one_elses_notifications(world):
    _announce(world, world["instructor"], is_published=True)
    admin = api_client(world["alpha"], admin_of(world["alpha"]))
    assert admin.get(f"{API}/notifications/").json()["results"] == []
    student = api_client(world["alpha"], world["students"][0])
    assert [n["title"] for n in student.get(f"{API}/notifications/").json()["results"]] == [
        "CS 101: Exam moved"
    ]
