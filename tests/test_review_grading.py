"""Regressions found in review of assessment: days late around a clock
change, incremental gradebook pulls (a deleted item, a release racing the
pull's clock) and the quiz engine keeping a grader's excusal."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tenant_apps.assignments import lateness
from tenant_apps.grading import services

from .api_helpers import as_json, at_once
from .conftest import make_institution
from .test_gradebook_api import by_student, gradebook
from .test_grading_api import API, World, in_tenant, make_world
from .test_quizzes_api import _add_question, _answer, _create_quiz, _grade_of, _start, _submit
from .test_quizzes_api import world as quiz_world  # noqa: F401 (a fixture)

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def world(alpha, beta) -> World:
    return make_world(alpha, beta)


# --- days late across the hour that repeats when clocks go back -----------------------
# 2025-11-02: New York goes from 01:59 EDT back to 01:00 EST (06:00 UTC).


def test_a_submission_after_the_due_time_in_the_repeated_hour_is_late():
    due = datetime(2025, 11, 2, 5, 30, tzinfo=UTC)  # 01:30 EDT
    at = datetime(2025, 11, 2, 6, 10, tzinfo=UTC)  # 01:10 EST, 40 minutes later
    assert lateness.days_late(due_at=due, at=at, zone=NEW_YORK) == 1


def test_a_submission_before_the_due_time_in_the_repeated_hour_is_on_time():
    due = datetime(2025, 11, 2, 6, 10, tzinfo=UTC)  # 01:10 EST
    at = datetime(2025, 11, 2, 5, 40, tzinfo=UTC)  # 01:40 EDT, 30 minutes earlier
    assert lateness.days_late(due_at=due, at=at, zone=NEW_YORK) == 0


def test_wall_clock_days_still_count_across_the_change():
    due = datetime(2025, 11, 1, 3, 0, tzinfo=UTC)  # Oct 31, 23:00 EDT
    at = datetime(2025, 11, 3, 3, 30, tzinfo=UTC)  # Nov 2, 22:30 EST: 48.5 real hours
    assert lateness.days_late(due_at=due, at=at, zone=NEW_YORK) == 2


# --- incremental gradebook pulls ---------------------------------------------------------


def test_an_updated_pull_after_an_item_is_deleted_brings_everyones_new_totals(world):
    kept, gone = world.item("Kept", 10), world.item("Gone", 10)
    for student in world.students:
        world.grade(kept, student, 10)
        world.grade(gone, student, 0)
    as_of = gradebook(world)["as_of"]
    in_tenant(
        world.institution,
        lambda: services.grade_item_delete(kind=gone.kind, source_id=gone.source_id),
    )
    book = gradebook(world, f"?updated_since={as_of}")
    assert {row["current_total"] for row in by_student(gradebook(world)).values()} == {"100.00"}
    assert len(book["students"]) == 3, "every total moved"
    assert {row["current_total"] for row in book["students"]} == {"100.00"}


def test_a_release_that_starts_as_a_pull_reads_its_clock_is_in_the_next_pull(committed_db):
    """The pull's clock is read between the release taking its timestamp and
    its first statement (Django's execute_wrapper holds the release there):
    the next pull from `as_of` must still see the released cell."""
    world = make_world(make_institution("relclock"), make_institution("relclock2"))
    item = world.item("HW", 10)
    grade = world.grade(item, world.students[0], 7)
    pulled = []

    def pull_first(execute, sql, params, many, context):
        if not pulled and "FOR UPDATE" in sql:
            pulled.extend(at_once([lambda: gradebook(world)["as_of"]]))
        return execute(sql, params, many, context)

    with tenant_context(world.institution), connection.execute_wrapper(pull_first):
        assert services.grades_release(grade_ids=[grade.pk], actor=None) == 1
    connection.set_schema_to_public()
    (row,) = gradebook(world, f"?updated_since={pulled[0]}")["students"]
    assert row["grades"][str(item.pk)]["released"] is True


# --- the quiz engine and a grader's excusal -------------------------------------------------


def test_the_quiz_engine_keeps_a_graders_excusal(quiz_world):  # noqa: F811
    world = quiz_world
    quiz = _create_quiz(world, attempt_limit=2, posting_policy="automatic")
    question = _add_question(
        world, quiz["id"], type="true_false", text="Q", points="5", correct=True
    )
    stu0 = world.users["stu0"]
    for answer in (True, False):
        attempt = _start(world, "stu0", quiz["id"]).json()
        _answer(world, "stu0", attempt["id"], {question["id"]: answer})
        _submit(world, "stu0", attempt["id"])
        grade = _grade_of(world, quiz["id"], stu0)
        if answer:  # the instructor excuses stu0 after the first attempt
            body = {"excused": True, "version": grade.version}
            url = f"{API}/grades/{grade.pk}/"
            assert as_json(world.client("instructor"), "patch", url, body).status_code == 200
    grade = _grade_of(world, quiz["id"], stu0)
    assert grade.excused is True, "a new attempt does not undo the excusal"
    assert grade.points_earned == 5, "the kept score still follows the attempts"


# --- regrades under manual posting, and PATCH after the rubric changed ----------------------


def test_a_regrade_under_manual_posting_waits_for_release(world):
    """A released grade changed by a grader (who may not post) is not shown
    to the student until someone who may post releases it again; the student
    is never shown a score nobody released."""
    item = world.item()
    grade = world.grade(item, world.students[0], 6, release=True, feedback="Fine")
    student, grader = world.clients["stu0"], world.clients["grader"]
    assert student.get(f"{API}/grades/{grade.pk}/").json()["score"] == "6.00"

    url = f"{API}/grades/{grade.pk}/"
    body = {"points_earned": "9", "version": grade.version}
    changed = as_json(grader, "patch", url, body)
    assert changed.status_code == 200, changed.content
    assert changed.json()["released"] is False
    assert student.get(url).status_code == 404
    assert "9.00" not in student.get(f"{API}/users/me/grades/").content.decode()

    released = world.clients["ta"].post(f"{API}/grades/{grade.pk}/release/")
    assert released.status_code == 200, released.content
    assert student.get(url).json()["score"] == "9.00"


def test_an_unchanged_save_keeps_a_released_grade_released(world):
    item = world.item()
    grade = world.grade(item, world.students[0], 6, release=True, feedback="Fine")
    body = {"points_earned": "6", "version": grade.version}
    again = as_json(world.clients["grader"], "patch", f"{API}/grades/{grade.pk}/", body)
    assert again.status_code == 200 and again.json()["released"] is True


def test_patching_feedback_keeps_rubric_scores_given_before_the_rubric_left(world):
    rubric = world.rubric()
    item = world.item(rubric=rubric)
    scores = [{"criterion_id": "thesis", "rating_id": "strong"}]
    grade = world.grade(item, world.students[0], rubric_scores=scores)
    in_tenant(
        world.institution,
        lambda: services.grade_item_sync(
            kind=item.kind,
            source_id=item.source_id,
            course=world.course,
            title=item.title,
            points_possible=item.points_possible,
            is_published=True,
        ),
    )  # the assignment no longer uses a rubric
    body = {"feedback": "Well argued.", "version": grade.version}
    response = as_json(world.clients["instructor"], "patch", f"{API}/grades/{grade.pk}/", body)
    assert response.status_code == 200, response.content
    assert response.json()["score"] == "6.00"
    assert [s["criterion_id"] for s in response.json()["rubric_scores"]] == ["thesis"]
