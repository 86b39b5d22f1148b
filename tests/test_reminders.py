"""Assignment reminders, a day and an hour before the due time, through the
real Celery task (and beat's fan-out to every institution): only students
holding a seat who owe the assignment hear of it, each reminder once per due
time whatever runs twice or at once, a crashed run's reminders come with the
retry, and a moved due date reminds again."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role
from tenant_apps.courses.models import CourseStatus
from tenant_apps.grading import services as grading
from tenant_apps.grading.models import GradeItem
from tenant_apps.jobs import reminders
from tenant_apps.jobs import tasks as job_tasks
from tenant_apps.jobs.models import JobRun
from tenant_apps.notifications.models import Notification

from .api_helpers import as_json, at_once, course_taught_by, member
from .conftest import make_institution
from .test_assignments_api import build_world, create_assignment, enroll, in_tenant

TASK = "tenant_apps.jobs.tasks.assignment_reminders_send"
ALMOST_A_DAY = timedelta(hours=23, minutes=58)


def due_in(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


def run_task(institution) -> dict:
    """The beat task as a worker runs it in `institution`'s schema."""
    with tenant_context(institution):
        result = job_tasks.assignment_reminders_send.apply().get(disable_sync_subtasks=False)
    connection.set_schema_to_public()
    return result


def run_at(institution, moment) -> dict:
    """The same run as if beat fired at `moment` (later than now)."""
    return in_tenant(institution, lambda: reminders.assignment_reminders_send(now=moment))


def reminders_of(institution, **filters) -> list[Notification]:
    return in_tenant(
        institution,
        lambda: list(
            Notification.objects.filter(notification_type="assignment_due", **filters).order_by(
                "created_at", "user_id"
            )
        ),
    )


def excuse(world, assignment: dict, student) -> None:
    def work():
        item = GradeItem.objects.get(kind="assignment", source_id=assignment["id"])
        grading.grade_save(
            item=item,
            student=student,
            grader=world.users["instructor"],
            given=grading.GradeInput(points_earned=None, excused=True),
            check_version=False,
        )

    in_tenant(world.institution, work)


@contextmanager
def crashing_after_the_claim(institution):
    """A trigger that fails any update of the job ledger: a run dies after
    claiming and doing its work, before its transaction commits."""
    table = JobRun._meta.db_table
    with tenant_context(institution), connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION job_crash() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the worker crashed'; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER job_crash BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION job_crash()"
        )
    connection.set_schema_to_public()
    try:
        yield
    finally:
        with tenant_context(institution), connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER job_crash ON {table}")
            cursor.execute("DROP FUNCTION job_crash()")
        connection.set_schema_to_public()


@pytest.fixture
def world(alpha):
    return build_world(alpha, students=4)


# --- who hears of it -------------------------------------------------------------------


def test_a_day_before_only_the_students_who_owe_it_are_reminded(world):
    assignment = create_assignment(world, title="Essay 1", due_at=due_in(ALMOST_A_DAY))
    url = f"/api/v1/assignments/{assignment['id']}/submit/"
    assert as_json(world.client("stu0"), "post", url, {"text": "done"}).status_code == 201
    draft = as_json(world.client("stu1"), "post", url, {"text": "rough", "is_draft": True})
    assert draft.status_code == 201
    excuse(world, assignment, world.users["stu2"])
    # Nothing to remind of: a draft assignment, one due later, one deleted.
    create_assignment(world, title="Draft", is_published=False, due_at=due_in(ALMOST_A_DAY))
    create_assignment(world, title="Later", due_at=due_in(timedelta(days=2)))
    gone = create_assignment(world, title="Gone", due_at=due_in(ALMOST_A_DAY))
    assert world.client("instructor").delete(f"/api/v1/assignments/{gone['id']}/").status_code in (
        200,
        204,
    )

    result = run_task(world.institution)

    assert result == {"reminders_1d": 1, "reminders_1h": 0, "notifications": 2}
    sent = reminders_of(world.institution)
    # The draft does not count as submitted; the excused student owes nothing;
    # staff, the waitlisted and another course's student are not asked.
    assert {n.user_id for n in sent} == {world.users["stu1"].pk, world.users["stu3"].pk}
    first = sent[0]
    assert first.title == "Due in 1 day: Essay 1"
    assert first.link_url == f"/courses/{world.course.pk}/assignments/{assignment['id']}"
    assert first.metadata == {
        "course_id": str(world.course.pk),
        "assignment_id": assignment["id"],
        "due_at": in_tenant(
            world.institution,
            lambda: JobRun.objects.get(job="assignment_reminder_1d").period.split(":", 1)[1],
        ),
        "window": "1d",
    }
    assert "CS 101" in first.message and "Essay 1" in first.message
    run = in_tenant(world.institution, lambda: JobRun.objects.get())
    assert run.period.startswith(assignment["id"]) and run.result == {"students": 2}

    # The next beat, five minutes on, and a retried task: nothing again.
    assert run_task(world.institution)["notifications"] == 0
    assert run_at(world.institution, timezone.now() + timedelta(minutes=5))["notifications"] == 0
    assert len(reminders_of(world.institution)) == 2


def test_no_reminder_in_a_course_that_is_not_published(world):
    create_assignment(world, due_at=due_in(ALMOST_A_DAY))
    in_tenant(
        world.institution,
        lambda: (
            type(world.course)
            .objects.filter(pk=world.course.pk)
            .update(status=CourseStatus.ARCHIVED)
        ),
    )
    assert run_task(world.institution)["notifications"] == 0
    assert reminders_of(world.institution) == []


def test_a_suspended_student_is_not_reminded(world):
    create_assignment(world, due_at=due_in(ALMOST_A_DAY))
    suspended = world.users["stu3"]
    in_tenant(
        world.institution,
        lambda: type(suspended).objects.filter(pk=suspended.pk).update(is_suspended=True),
    )
    run_task(world.institution)
    assert suspended.pk not in {n.user_id for n in reminders_of(world.institution)}
    assert len(reminders_of(world.institution)) == 4 - 1


# --- the two windows -------------------------------------------------------------------


def test_the_hour_before_follows_the_day_before_once_each(world):
    assignment = create_assignment(world, title="Lab", due_at=due_in(ALMOST_A_DAY))
    due = timezone.now() + ALMOST_A_DAY
    assert run_task(world.institution)["reminders_1d"] == 1

    # Beat every five minutes through the day: nothing until the last hour.
    for hours_left in (20, 5, 2):
        assert run_at(world.institution, due - timedelta(hours=hours_left))["notifications"] == 0
    assert run_at(world.institution, due - timedelta(minutes=59))["reminders_1h"] == 1
    assert run_at(world.institution, due - timedelta(minutes=54))["notifications"] == 0
    assert run_at(world.institution, due + timedelta(minutes=1))["notifications"] == 0

    for n in range(4):
        mine = reminders_of(world.institution, user=world.users[f"stu{n}"])
        assert [r.title for r in mine] == ["Due in 1 day: Lab", "Due in 1 hour: Lab"]
        assert [r.metadata["window"] for r in mine] == ["1d", "1h"]
        assert {r.metadata["assignment_id"] for r in mine} == {assignment["id"]}


def test_an_assignment_first_seen_in_its_last_hour_gets_only_the_hour_reminder(world):
    create_assignment(world, title="Quick", due_at=due_in(timedelta(minutes=30)))
    assert run_task(world.institution) == {
        "reminders_1d": 0,
        "reminders_1h": 1,
        "notifications": 4,
    }
    titles = {n.title for n in reminders_of(world.institution)}
    assert titles == {"Due in 30 minutes: Quick"}
    assert (
        in_tenant(
            world.institution, lambda: JobRun.objects.filter(job="assignment_reminder_1h").count()
        )
        == 1
    )
    assert not in_tenant(
        world.institution,
        lambda: JobRun.objects.filter(job="assignment_reminder_1d").exists(),
    )


def test_published_late_the_day_reminder_says_the_time_left(world):
    create_assignment(world, title="Late", due_at=due_in(timedelta(hours=5, minutes=10)))
    run_task(world.institution)
    assert {n.title for n in reminders_of(world.institution)} == {"Due in 6 hours: Late"}


def test_a_moved_due_date_reminds_again(world):
    assignment = create_assignment(world, title="Moving", due_at=due_in(timedelta(hours=20)))
    assert run_task(world.institution)["notifications"] == 4

    later = timezone.now() + timedelta(hours=22)
    url = f"/api/v1/assignments/{assignment['id']}/"
    moved = as_json(world.client("instructor"), "patch", url, {"due_at": later.isoformat()})
    assert moved.status_code == 200, moved.content

    assert run_task(world.institution)["notifications"] == 4
    assert run_task(world.institution)["notifications"] == 0
    mine = reminders_of(world.institution, user=world.users["stu0"])
    assert len(mine) == 2
    assert mine[0].metadata["due_at"] != mine[1].metadata["due_at"]
    assert (
        in_tenant(
            world.institution, lambda: JobRun.objects.filter(job="assignment_reminder_1d").count()
        )
        == 2
    )


# --- every institution -----------------------------------------------------------------


def test_beat_reminds_in_every_institution_each_of_its_own_students(alpha, beta, celery_eager):
    from shared_apps.institutions.tasks import for_each_institution

    worlds = {inst.slug: build_world(inst, students=2) for inst in (alpha, beta)}
    made = {
        slug: create_assignment(w, title=f"{slug} essay", due_at=due_in(ALMOST_A_DAY))
        for slug, w in worlds.items()
    }

    assert for_each_institution.apply(args=[TASK]).get() >= 2

    for slug, w in worlds.items():
        sent = reminders_of(w.institution)
        students = {w.users["stu0"].pk, w.users["stu1"].pk}
        assert {n.user_id for n in sent} == students
        assert {n.metadata["assignment_id"] for n in sent} == {made[slug]["id"]}
        assert {n.title for n in sent} == {f"Due in 1 day: {slug} essay"}


# --- twice at once, and a crash --------------------------------------------------------


def _course_with_students(slug: str, count: int):
    institution = make_institution(slug)
    teacher = member(institution, f"prof@{slug}.test", Role.INSTRUCTOR)
    course = course_taught_by(institution, teacher)
    students = [member(institution, f"s{n}@{slug}.test") for n in range(count)]
    for student in students:
        enroll(institution, course, student)
    from .api_helpers import api_client

    response = as_json(
        api_client(institution, teacher),
        "post",
        f"/api/v1/courses/{course.pk}/assignments/",
        {
            "title": "Race",
            "points": "10",
            "due_at": due_in(ALMOST_A_DAY),
            "submission_type": "text",
            "is_published": True,
        },
    )
    assert response.status_code == 201, response.content
    return institution, students


def test_two_beats_at_once_remind_each_student_once(django_db_setup, committed_db, celery_eager):
    institution, students = _course_with_students("remindrace", 6)

    results = at_once([lambda: run_task(institution)] * 4)

    assert sorted(r["notifications"] for r in results) == [0, 0, 0, 6]
    sent = reminders_of(institution)
    assert sorted(str(n.user_id) for n in sent) == sorted(str(s.pk) for s in students)
    assert in_tenant(institution, lambda: JobRun.objects.count()) == 1


def test_a_run_that_crashes_after_claiming_leaves_the_reminder_to_its_retry(
    django_db_setup, committed_db, celery_eager
):
    institution, _ = _course_with_students("remindcrash", 3)

    with crashing_after_the_claim(institution), pytest.raises(Exception, match="crashed"):
        run_task(institution)
    assert reminders_of(institution) == []
    assert in_tenant(institution, lambda: JobRun.objects.count()) == 0

    assert run_task(institution)["notifications"] == 3
    assert run_task(institution)["notifications"] == 0
    assert len(reminders_of(institution)) == 3
