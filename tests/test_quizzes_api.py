"""The quizzes API through the tenant router: quizzes and questions for the
roles allowed and refused, attempts with their limits, the server's clock,
fixed shuffles, automatic and manual grading, what a student may see of
answer keys and scores (checked on the JSON text), statistics, the gradebook
and course copy."""

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, User
from tenant_apps.content.models import ContentItem, Module
from tenant_apps.courses.models import (
    Course,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentType,
)
from tenant_apps.grading.models import Grade, GradeItem, GradeRevision
from tenant_apps.grading.services import item_grades_release
from tenant_apps.quizzes.models import Attempt, Question, Quiz

from .api_helpers import admin_of, api_client, as_json, course_taught_by, error_code, member

pytestmark = pytest.mark.django_db

API = "/api/v1"
EXPLANATION = "Because-the-capital-is-SECRET-EXPLANATION"
ACCEPTED = "Lutetia-Parisiorum-SECRET"
FULL_WIDTH_LUTETIA = "".join(chr(ord(c) + 0xFEE0) for c in "Lutetia")


def _enroll(institution, course: Course, user: User, role=CourseRole.STUDENT, **fields):
    with tenant_context(institution):
        Enrollment.objects.create(
            course=course, user=user, role=role, enrolled_at=timezone.now(), **fields
        )
    connection.set_schema_to_public()


@dataclass
class World:
    institution: object
    course: Course
    users: dict
    clients: dict

    def client(self, name):
        return self.clients[name]


@pytest.fixture
def world(alpha, beta) -> World:
    instructor = member(alpha, "prof@alpha.test", Role.INSTRUCTOR)
    course = course_taught_by(alpha, instructor)
    other_course = course_taught_by(alpha, instructor, code="CS 999")
    users = {"instructor": instructor, "admin": admin_of(alpha)}
    for n in range(3):
        users[f"stu{n}"] = member(alpha, f"stu{n}@alpha.test")
        _enroll(alpha, course, users[f"stu{n}"])
    users["ta"] = member(alpha, "ta@alpha.test", Role.TA)
    _enroll(alpha, course, users["ta"], CourseRole.TA)
    users["grader"] = member(alpha, "grader@alpha.test", Role.TA)
    _enroll(alpha, course, users["grader"], CourseRole.GRADER)
    users["waitlisted"] = member(alpha, "wait@alpha.test")
    _enroll(alpha, course, users["waitlisted"], enrollment_type=EnrollmentType.WAITLIST)
    users["other_ta"] = member(alpha, "otherta@alpha.test", Role.TA)
    _enroll(alpha, other_course, users["other_ta"], CourseRole.TA)
    users["other_student"] = member(alpha, "otherstu@alpha.test")
    _enroll(alpha, other_course, users["other_student"])
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    clients["beta_admin"] = api_client(beta, admin_of(beta))
    return World(alpha, course, users, clients)


def _in(world):
    return tenant_context(world.institution)


def _later(**delta) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def _create_quiz(world, **fields) -> dict:
    body = {"title": "Capitals", "end_date": _later(days=7), "is_published": True, **fields}
    response = as_json(
        world.client("instructor"), "post", f"{API}/courses/{world.course.pk}/quizzes/", body
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _add_question(world, quiz_id, **body) -> dict:
    response = as_json(
        world.client("instructor"), "post", f"{API}/quizzes/{quiz_id}/questions/", body
    )
    assert response.status_code == 201, response.json()
    return response.json()


@dataclass
class Exam:
    """A quiz of every question type, with the stored option ids by label."""

    quiz: dict
    single: dict
    multiple: dict
    true_false: dict
    short: dict
    essay: dict

    def option(self, question: dict, text: str) -> str:
        return next(o["id"] for o in question["options"] if o["text"] == text)


def _exam(world, *, essay: bool = True, **quiz_fields) -> Exam:
    quiz = _create_quiz(world, **quiz_fields)
    qid = quiz["id"]
    single = _add_question(
        world,
        qid,
        type="single_choice",
        text="Capital of France?",
        points="2",
        options=[{"id": "a", "text": "Lyon"}, {"id": "b", "text": "Paris"}],
        correct="b",
        explanation=EXPLANATION,
    )
    multiple = _add_question(
        world,
        qid,
        type="multiple_choice",
        text="Which are French cities?",
        points="4",
        options=[
            {"id": "a", "text": "Nice"},
            {"id": "b", "text": "Turin"},
            {"id": "c", "text": "Lille"},
            {"id": "d", "text": "Basel"},
        ],
        correct=["a", "c"],
    )
    true_false = _add_question(
        world, qid, type="true_false", text="Paris is in France.", points="1", correct=True
    )
    short = _add_question(
        world,
        qid,
        type="short_answer",
        text="Latin name of Paris?",
        points="3",
        correct=[ACCEPTED, "Lutèce"],
    )
    essay_q = None
    if essay:
        essay_q = _add_question(world, qid, type="essay", text="Why Paris?", points="10")
    quiz = world.client("instructor").get(f"{API}/quizzes/{qid}/").json()
    return Exam(quiz, single, multiple, true_false, short, essay_q)


def _start(world, who, quiz_id):
    return world.client(who).post(f"{API}/quizzes/{quiz_id}/attempt/")


def _answer(world, who, attempt_id, answers: dict):
    body = {"answers": [{"question_id": k, "answer": v} for k, v in answers.items()]}
    return as_json(world.client(who), "put", f"{API}/quiz-attempts/{attempt_id}/answers/", body)


def _submit(world, who, attempt_id):
    return world.client(who).post(f"{API}/quiz-attempts/{attempt_id}/submit/")


def _questions(attempt: dict) -> dict:
    return {q["question_id"]: q for q in attempt["questions"]}


def _grade_of(world, quiz_id, student) -> Grade | None:
    with _in(world):
        grade = (
            Grade.objects.select_related("item")
            .filter(item__source_id=quiz_id, student=student)
            .first()
        )
    connection.set_schema_to_public()
    return grade


def _release(world, quiz_id):
    with _in(world):
        item_grades_release(item=GradeItem.objects.get(source_id=quiz_id), actor=None)
    connection.set_schema_to_public()


def _age_attempt(world, attempt_id, **fields):
    """Moves an attempt's clock: its deadline (or start) into the past."""
    with _in(world):
        Attempt.objects.filter(pk=attempt_id).update(**fields)
    connection.set_schema_to_public()


# --- quizzes and the gradebook --------------------------------------------------------


def test_an_instructor_creates_a_quiz_with_its_gradebook_column(world):
    exam = _exam(world, posting_policy="automatic")
    quiz = exam.quiz
    assert quiz["points"] == "20.00" and quiz["question_count"] == 5
    assert quiz["posting_policy"] == "automatic"
    with _in(world):
        item = GradeItem.objects.get(pk=quiz["grade_item_id"])
        assert (item.kind, item.points_possible, item.is_published) == ("quiz", 20, True)
        assert item.due_at.isoformat() == Quiz.objects.get(pk=quiz["id"]).end_date.isoformat()
    connection.set_schema_to_public()

    # Option ids the author gave are labels: stored ids are random.
    assert {o["id"] for o in exam.single["options"]}.isdisjoint({"a", "b"})
    assert exam.single["correct"] == exam.option(exam.single, "Paris")
    assert sorted(exam.multiple["correct"]) == sorted(
        [exam.option(exam.multiple, "Nice"), exam.option(exam.multiple, "Lille")]
    )

    response = as_json(
        world.client("instructor"),
        "patch",
        f"{API}/quiz-questions/{exam.essay['id']}/",
        {"points": "5"},
    )
    assert response.status_code == 200
    changed = world.client("instructor").get(f"{API}/quizzes/{quiz['id']}/").json()
    assert changed["points"] == "15.00"
    with _in(world):
        assert GradeItem.objects.get(pk=quiz["grade_item_id"]).points_possible == 15
    connection.set_schema_to_public()


def test_a_retried_create_with_the_same_key_makes_one_quiz(world):
    body = {"title": "Once", "end_date": _later(days=1)}
    url = f"{API}/courses/{world.course.pk}/quizzes/"
    first = as_json(world.client("instructor"), "post", url, body, HTTP_IDEMPOTENCY_KEY="k1")
    again = as_json(world.client("instructor"), "post", url, body, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    with _in(world):
        assert Quiz.objects.filter(title="Once").count() == 1
    connection.set_schema_to_public()


def test_the_posting_policy_changes_on_the_gradebook_column(world):
    quiz = _create_quiz(world)
    assert quiz["posting_policy"] == "manual"
    response = as_json(
        world.client("instructor"),
        "patch",
        f"{API}/quizzes/{quiz['id']}/",
        {"posting_policy": "automatic", "title": "Renamed"},
    )
    assert response.json()["posting_policy"] == "automatic"
    with _in(world):
        item = GradeItem.objects.get(pk=quiz["grade_item_id"])
        assert (item.posting_policy, item.title) == ("automatic", "Renamed")
    connection.set_schema_to_public()


def test_students_see_published_quizzes_and_staff_see_all(world):
    published = _create_quiz(world, title="Open")
    draft = _create_quiz(world, title="Draft", is_published=False)
    listed = world.client("stu0").get(f"{API}/courses/{world.course.pk}/quizzes/").json()
    assert [q["id"] for q in listed["results"]] == [published["id"]]
    assert world.client("stu0").get(f"{API}/quizzes/{draft['id']}/").status_code == 404
    staff = world.client("ta").get(f"{API}/courses/{world.course.pk}/quizzes/").json()
    assert {q["id"] for q in staff["results"]} == {published["id"], draft["id"]}


def test_malformed_quizzes_and_questions_are_400_with_fields(world):
    url = f"{API}/courses/{world.course.pk}/quizzes/"
    c = world.client("instructor")
    end = _later(days=3)
    cases = [
        ({"title": "T"}, "end_date"),
        ({"title": "T", "end_date": end, "start_date": _later(days=4)}, "end_date"),
        ({"title": "T", "end_date": end, "show_correct_answers": "after_date"}, None),
        ({"title": "T", "end_date": end, "attempt_limit": 0}, "attempt_limit"),
        ({"title": "T", "end_date": end, "module_id": str(world.course.pk)}, "module_id"),
        ({"title": "T", "end_date": end, "points": "5"}, "points"),
        ({"title": "T", "end_date": end, "posting_policy": "sometimes"}, "posting_policy"),
    ]
    for body, field in cases:
        response = as_json(c, "post", url, body)
        assert response.status_code == 400, (body, response.content)
        if field:
            assert field in response.json()["error"]["fields"], body
    quiz = _create_quiz(world)
    qurl = f"{API}/quizzes/{quiz['id']}/questions/"
    two = [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]
    bad_questions = [
        {"type": "single_choice", "text": "Q", "points": "1", "options": two, "correct": "z"},
        {"type": "single_choice", "text": "Q", "points": "1", "options": two[:1], "correct": "a"},
        {"type": "multiple_choice", "text": "Q", "points": "1", "options": two, "correct": []},
        {"type": "true_false", "text": "Q", "points": "1", "correct": "yes"},
        {"type": "true_false", "text": "Q", "points": "1", "options": two, "correct": True},
        {"type": "short_answer", "text": "Q", "points": "1", "correct": ["  "]},
        {"type": "essay", "text": "Q", "points": "1", "correct": "x"},
        {"type": "essay", "text": "Q", "points": "-1"},
        {"type": "essay", "text": " ", "points": "1"},
        {
            "type": "single_choice",
            "text": "Q",
            "points": "1",
            "options": [{"id": "a", "text": "A"}, {"id": "a", "text": "B"}],
            "correct": "a",
        },
    ]
    for body in bad_questions:
        response = as_json(c, "post", qurl, body)
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["fields"], body
    assert world.client("instructor").get(f"{API}/quizzes/{quiz['id']}/").json()["points"] == (
        "0.00"
    )


def test_deleting_a_quiz_takes_it_out_of_the_gradebook(world):
    quiz = _create_quiz(world)
    response = world.client("instructor").delete(f"{API}/quizzes/{quiz['id']}/")
    assert response.status_code == 204
    assert world.client("instructor").get(f"{API}/quizzes/{quiz['id']}/").status_code == 404
    with _in(world):
        assert GradeItem.objects.get(pk=quiz["grade_item_id"]).deleted_at is not None
    connection.set_schema_to_public()


def test_an_archived_course_refuses_quiz_writes(world):
    exam = _exam(world, essay=False)
    with _in(world):
        Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.ARCHIVED)
    connection.set_schema_to_public()
    c = world.client("instructor")
    for response in (
        as_json(c, "post", f"{API}/courses/{world.course.pk}/quizzes/", {"title": "T"}),
        as_json(c, "patch", f"{API}/quizzes/{exam.quiz['id']}/", {"title": "New"}),
        as_json(c, "patch", f"{API}/quiz-questions/{exam.single['id']}/", {"text": "New"}),
        c.delete(f"{API}/quizzes/{exam.quiz['id']}/"),
    ):
        assert response.status_code in (400, 409), response.content
    body = {"title": "T", "end_date": _later(days=1)}
    response = as_json(c, "post", f"{API}/courses/{world.course.pk}/quizzes/", body)
    assert response.status_code == 409 and error_code(response) == "course_archived"
    # Staff still see it; students do not see an archived course's material.
    assert c.get(f"{API}/quizzes/{exam.quiz['id']}/").json()["title"] == "Capitals"


# --- attempts: limits, windows, the server's clock ------------------------------------


def test_a_student_starts_resumes_and_is_held_to_the_attempt_limit(world):
    exam = _exam(world, essay=False, attempt_limit=2)
    qid = exam.quiz["id"]
    first = _start(world, "stu0", qid)
    assert first.status_code == 201
    attempt = first.json()
    assert attempt["attempt_number"] == 1 and attempt["status"] == "in_progress"
    again = _start(world, "stu0", qid)
    assert again.status_code == 200 and again.json()["id"] == attempt["id"]
    assert _submit(world, "stu0", attempt["id"]).status_code == 200
    second = _start(world, "stu0", qid)
    assert second.status_code == 201 and second.json()["attempt_number"] == 2
    _submit(world, "stu0", second.json()["id"])
    third = _start(world, "stu0", qid)
    assert third.status_code == 409 and error_code(third) == "attempt_limit_reached"
    # Other students have their own attempts.
    assert _start(world, "stu1", qid).status_code == 201


def test_unlimited_attempts(world):
    exam = _exam(world, essay=False, attempt_limit=None)
    for number in range(1, 5):
        attempt = _start(world, "stu0", exam.quiz["id"]).json()
        assert attempt["attempt_number"] == number
        _submit(world, "stu0", attempt["id"])


def test_starting_outside_the_window_or_an_empty_quiz_is_refused(world):
    not_yet = _exam(world, essay=False, start_date=_later(days=1), end_date=_later(days=2))
    response = _start(world, "stu0", not_yet.quiz["id"])
    assert response.status_code == 409 and error_code(response) == "quiz_not_open"
    closed = _exam(world, essay=False)
    with _in(world):
        Quiz.objects.filter(pk=closed.quiz["id"]).update(
            end_date=timezone.now() - timedelta(minutes=1)
        )
    connection.set_schema_to_public()
    response = _start(world, "stu0", closed.quiz["id"])
    assert response.status_code == 409 and error_code(response) == "quiz_closed"
    empty = _create_quiz(world)
    response = _start(world, "stu0", empty["id"])
    assert response.status_code == 409 and error_code(response) == "quiz_empty"
    with _in(world):
        assert not Attempt.objects.exists()
    connection.set_schema_to_public()


def test_the_deadline_is_the_time_limit_capped_at_the_end_date(world):
    timed = _exam(world, essay=False, time_limit_minutes=30)
    attempt = _start(world, "stu0", timed.quiz["id"]).json()
    with _in(world):
        row = Attempt.objects.get(pk=attempt["id"])
        assert row.deadline_at == row.started_at + timedelta(minutes=30)
    connection.set_schema_to_public()
    assert 0 < attempt["seconds_remaining"] <= 30 * 60

    tight = _exam(world, essay=False, time_limit_minutes=600, end_date=_later(minutes=20))
    attempt = _start(world, "stu0", tight.quiz["id"]).json()
    with _in(world):
        row = Attempt.objects.get(pk=attempt["id"])
        assert row.deadline_at == Quiz.objects.get(pk=tight.quiz["id"]).end_date
    connection.set_schema_to_public()


def test_an_answer_after_the_deadline_is_refused_and_the_attempt_closes_with_what_was_saved(
    world,
):
    exam = _exam(world, essay=False, time_limit_minutes=10, posting_policy="automatic")
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    paris = exam.option(exam.single, "Paris")
    assert _answer(world, "stu0", attempt["id"], {exam.single["id"]: paris}).status_code == 200
    _age_attempt(world, attempt["id"], deadline_at=timezone.now() - timedelta(seconds=1))

    late = _answer(world, "stu0", attempt["id"], {exam.true_false["id"]: True})
    assert late.status_code == 409 and error_code(late) == "attempt_closed"
    closed = world.client("stu0").get(f"{API}/quiz-attempts/{attempt['id']}/").json()
    assert closed["status"] == "graded" and closed["score"] == "2.00"
    assert _questions(closed)[exam.true_false["id"]]["answer"] is None
    with _in(world):
        row = Attempt.objects.get(pk=attempt["id"])
        assert row.submitted_at == row.deadline_at
    connection.set_schema_to_public()
    assert _grade_of(world, exam.quiz["id"], world.users["stu0"]).points_earned == 2


def test_reading_an_attempt_past_its_deadline_closes_it(world):
    exam = _exam(world, essay=False, time_limit_minutes=5)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    _age_attempt(world, attempt["id"], deadline_at=timezone.now() - timedelta(seconds=1))
    listed = world.client("ta").get(f"{API}/quizzes/{exam.quiz['id']}/attempts/").json()
    assert listed["results"][0]["status"] == "graded"
    assert listed["results"][0]["score"] == "0.00"


def test_the_sweep_closes_overdue_attempts_in_every_institution(world, celery_eager):
    from shared_apps.institutions.tasks import for_each_institution
    from tenant_apps.quizzes import tasks  # noqa: F401  (registers the task, as a worker's autodiscovery does)

    exam = _exam(world, essay=False, time_limit_minutes=5)
    overdue = _start(world, "stu0", exam.quiz["id"]).json()
    running = _start(world, "stu1", exam.quiz["id"]).json()
    _age_attempt(world, overdue["id"], deadline_at=timezone.now() - timedelta(seconds=1))

    for_each_institution.apply(args=["tenant_apps.quizzes.tasks.attempts_overdue_close"]).get()

    with _in(world):
        assert Attempt.objects.get(pk=overdue["id"]).status == "graded"
        assert Attempt.objects.get(pk=running["id"]).status == "in_progress"
    connection.set_schema_to_public()


def test_the_close_task_leaves_attempts_that_are_not_due(world):
    from tenant_apps.quizzes.tasks import attempt_close_due

    exam = _exam(world, essay=False, time_limit_minutes=5)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    with _in(world):
        assert attempt_close_due(attempt["id"]) is False
        Attempt.objects.filter(pk=attempt["id"]).update(deadline_at=timezone.now())
        assert attempt_close_due(attempt["id"]) is True
        assert attempt_close_due(attempt["id"]) is False  # already closed
        assert Attempt.objects.get(pk=attempt["id"]).status == "graded"
    connection.set_schema_to_public()


def test_without_backtracking_an_answered_question_is_locked(world):
    exam = _exam(world, essay=False, allow_backtracking=False)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    first = _answer(world, "stu0", attempt["id"], {exam.true_false["id"]: True})
    assert _questions(first.json())[exam.true_false["id"]]["locked"] is True
    same = _answer(world, "stu0", attempt["id"], {exam.true_false["id"]: True})
    assert same.status_code == 200
    changed = _answer(
        world, "stu0", attempt["id"], {exam.true_false["id"]: False, exam.short["id"]: "x"}
    )
    assert changed.status_code == 409 and error_code(changed) == "answer_locked"
    current = world.client("stu0").get(f"{API}/quiz-attempts/{attempt['id']}/").json()
    assert _questions(current)[exam.true_false["id"]]["answer"] is True
    assert _questions(current)[exam.short["id"]]["answer"] is None, "nothing of it was saved"


def test_answers_that_do_not_fit_their_questions_are_400(world):
    exam = _exam(world, essay=True)
    other = _exam(world, essay=False)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    cases = [
        {exam.single["id"]: "not-an-option"},
        {exam.single["id"]: ["x"]},
        {exam.multiple["id"]: "a"},
        {exam.true_false["id"]: "true"},
        {exam.short["id"]: 5},
        {exam.essay["id"]: "x" * 50_001},
        {other.single["id"]: other.option(other.single, "Paris")},
    ]
    for answers in cases:
        response = _answer(world, "stu0", attempt["id"], answers)
        assert response.status_code == 400, (answers, response.content)
    bad = as_json(
        world.client("stu0"),
        "put",
        f"{API}/quiz-attempts/{attempt['id']}/answers/",
        {"answers": [{"question_id": exam.single["id"]}]},
    )
    assert bad.status_code == 400
    twice = as_json(
        world.client("stu0"),
        "put",
        f"{API}/quiz-attempts/{attempt['id']}/answers/",
        {
            "answers": [
                {"question_id": exam.true_false["id"], "answer": True},
                {"question_id": exam.true_false["id"], "answer": False},
            ]
        },
    )
    assert twice.status_code == 400


def test_an_answer_can_be_cleared_while_backtracking_is_allowed(world):
    exam = _exam(world, essay=False)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    _answer(world, "stu0", attempt["id"], {exam.short["id"]: "Lutèce"})
    cleared = _answer(world, "stu0", attempt["id"], {exam.short["id"]: None}).json()
    assert _questions(cleared)[exam.short["id"]]["answer"] is None


# --- shuffling ------------------------------------------------------------------------


def test_shuffled_orders_are_fixed_per_attempt_and_differ_between_attempts(world):
    quiz = _create_quiz(world, shuffle_questions=True, shuffle_answers=True, attempt_limit=None)
    labels = [{"id": str(n), "text": f"Option {n}"} for n in range(6)]
    for n in range(6):
        _add_question(
            world,
            quiz["id"],
            type="single_choice",
            text=f"Q{n}",
            points="1",
            options=labels,
            correct="0",
        )
    orders = set()
    option_orders = set()
    for _ in range(6):
        attempt = _start(world, "stu0", quiz["id"]).json()
        again = world.client("stu0").get(f"{API}/quiz-attempts/{attempt['id']}/").json()
        order = [q["question_id"] for q in attempt["questions"]]
        assert [q["question_id"] for q in again["questions"]] == order
        assert [q["number"] for q in again["questions"]] == [1, 2, 3, 4, 5, 6]
        for shown, reread in zip(attempt["questions"], again["questions"], strict=True):
            assert shown["options"] == reread["options"]
            assert sorted(o["text"] for o in shown["options"]) == [o["text"] for o in labels]
        orders.add(tuple(order))
        option_orders.add(tuple(o["text"] for o in attempt["questions"][0]["options"]))
        _submit(world, "stu0", attempt["id"])
    # 6 attempts over 720 orders each: all alike by chance is (1/720)^5.
    assert len(orders) > 1 and len(option_orders) > 1


def test_unshuffled_quizzes_keep_the_authors_order(world):
    exam = _exam(world)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    ids = [exam.single["id"], exam.multiple["id"], exam.true_false["id"], exam.short["id"]]
    assert [q["question_id"] for q in attempt["questions"]] == [*ids, exam.essay["id"]]
    assert [o["text"] for o in attempt["questions"][1]["options"]] == [
        "Nice",
        "Turin",
        "Lille",
        "Basel",
    ]


# --- grading --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chosen", "points"),
    [
        (["Nice", "Lille"], "4.00"),
        (["Nice"], "2.00"),
        (["Nice", "Turin"], "0.00"),
        (["Nice", "Lille", "Turin"], "2.00"),
        (["Nice", "Lille", "Turin", "Basel"], "0.00"),
        (["Turin"], "0.00"),
        ([], "0.00"),
    ],
)
def test_multiple_answer_questions_earn_partial_credit(world, chosen, points):
    exam = _exam(world, essay=False)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    ids = [exam.option(exam.multiple, text) for text in chosen]
    _answer(world, "stu0", attempt["id"], {exam.multiple["id"]: ids})
    _submit(world, "stu0", attempt["id"])
    staff = world.client("ta").get(f"{API}/quiz-attempts/{attempt['id']}/").json()
    marked = _questions(staff)[exam.multiple["id"]]
    assert marked["points_earned"] == points
    assert marked["is_correct"] is (sorted(chosen) == ["Lille", "Nice"])


@pytest.mark.parametrize(
    ("given", "right"),
    [
        ("lutetia-parisiorum-secret", True),
        ("  Lutetia-Parisiorum-SECRET  ", True),
        (FULL_WIDTH_LUTETIA + "-Parisiorum-SECRET", True),  # NFKC folds full-width letters
        ("LUTÈCE", True),
        ("Lutece", False),
        ("Lutetia Parisiorum", False),
    ],
)
def test_short_answers_match_after_normalising(world, given, right):
    exam = _exam(world, essay=False)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    _answer(world, "stu0", attempt["id"], {exam.short["id"]: given})
    _submit(world, "stu0", attempt["id"])
    staff = world.client("ta").get(f"{API}/quiz-attempts/{attempt['id']}/").json()
    assert _questions(staff)[exam.short["id"]]["is_correct"] is right


def test_case_sensitive_short_answers_and_collapsed_whitespace(world):
    quiz = _create_quiz(world, attempt_limit=None)
    question = _add_question(
        world,
        quiz["id"],
        type="short_answer",
        text="Symbol of sodium?",
        points="1",
        correct=["Na  Cl"],
        case_sensitive=True,
    )
    results = []
    for given in ("Na Cl", " Na\tCl ", "na cl", "NA CL"):
        attempt = _start(world, "stu0", quiz["id"]).json()
        _answer(world, "stu0", attempt["id"], {question["id"]: given})
        _submit(world, "stu0", attempt["id"])
        staff = world.client("ta").get(f"{API}/quiz-attempts/{attempt['id']}/").json()
        results.append(staff["questions"][0]["is_correct"])
    assert results == [True, True, False, False]


def test_a_full_exam_is_graded_on_submit_then_by_hand_and_feeds_the_gradebook(world):
    exam = _exam(world, posting_policy="automatic")
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    answers = {
        exam.single["id"]: exam.option(exam.single, "Paris"),
        exam.multiple["id"]: [exam.option(exam.multiple, "Nice")],
        exam.true_false["id"]: False,
        exam.short["id"]: "lutèce",
        exam.essay["id"]: "Because of the river.",
    }
    assert _answer(world, "stu0", attempt["id"], answers).status_code == 200
    submitted = _submit(world, "stu0", attempt["id"]).json()
    assert submitted["status"] == "needs_grading"
    assert "score" not in submitted
    assert _grade_of(world, exam.quiz["id"], world.users["stu0"]) is None

    queue = world.client("grader").get(f"{API}/courses/{world.course.pk}/quiz-grading-queue/")
    assert queue.status_code == 200
    (waiting,) = queue.json()["results"]
    assert waiting["answer"] == "Because of the river."
    assert waiting["student"]["id"] == str(world.users["stu0"].pk)

    url = f"{API}/quiz-responses/{waiting['response_id']}/grade/"
    too_many = as_json(world.client("grader"), "put", url, {"points": "10.5"})
    assert too_many.status_code == 400 and "points" in too_many.json()["error"]["fields"]
    graded = as_json(world.client("grader"), "put", url, {"points": "7", "feedback": "Good."})
    assert graded.status_code == 200
    assert graded.json()["attempt_status"] == "graded"
    assert graded.json()["attempt_score"] == "14.00"  # 2 + 2 + 0 + 3 + 7
    queue = world.client("grader").get(f"{API}/courses/{world.course.pk}/quiz-grading-queue/")
    assert queue.json()["count"] == 0

    grade = _grade_of(world, exam.quiz["id"], world.users["stu0"])
    assert grade.points_earned == Decimal("14.00") and grade.grader_id == world.users["grader"].pk
    assert str(grade.submission_id) == attempt["id"] and grade.released_at is not None
    mine = world.client("stu0").get(f"{API}/quiz-attempts/{attempt['id']}/").json()
    assert mine["score"] == "14.00" and mine["percentage"] == "70.00"
    assert _questions(mine)[exam.essay["id"]]["feedback"] == "Good."


def test_a_blank_essay_scores_zero_and_does_not_wait(world):
    exam = _exam(world, posting_policy="automatic")
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    _answer(world, "stu0", attempt["id"], {exam.essay["id"]: "   "})
    assert _submit(world, "stu0", attempt["id"]).json()["status"] == "graded"


def test_submitting_twice_grades_once(world):
    exam = _exam(world, essay=False, posting_policy="automatic")
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    _answer(world, "stu0", attempt["id"], {exam.true_false["id"]: True})
    first = _submit(world, "stu0", attempt["id"]).json()
    second = _submit(world, "stu0", attempt["id"]).json()
    assert first == second and first["score"] == "1.00"
    with _in(world):
        assert GradeRevision.objects.filter(grade__item__source_id=exam.quiz["id"]).count() == 1
    connection.set_schema_to_public()


@pytest.mark.parametrize(
    ("policy", "kept"),
    [("keep_highest", "3.00"), ("keep_latest", "1.00"), ("average", "1.67")],
)
def test_the_scoring_policy_decides_the_kept_score(world, policy, kept):
    quiz = _create_quiz(world, attempt_limit=3, scoring_policy=policy)
    questions = [
        _add_question(world, quiz["id"], type="true_false", text=f"Q{n}", points="1", correct=True)
        for n in range(3)
    ]
    for right in (1, 3, 1):
        attempt = _start(world, "stu0", quiz["id"]).json()
        answers = {q["id"]: n < right for n, q in enumerate(questions)}
        _answer(world, "stu0", attempt["id"], answers)
        _submit(world, "stu0", attempt["id"])
    assert str(_grade_of(world, quiz["id"], world.users["stu0"]).points_earned) == kept


def test_a_new_scoring_policy_recomputes_kept_scores(world):
    quiz = _create_quiz(world, attempt_limit=2, scoring_policy="keep_highest")
    question = _add_question(
        world, quiz["id"], type="true_false", text="Q", points="5", correct=True
    )
    for answer in (True, False):
        attempt = _start(world, "stu0", quiz["id"]).json()
        _answer(world, "stu0", attempt["id"], {question["id"]: answer})
        _submit(world, "stu0", attempt["id"])
    assert _grade_of(world, quiz["id"], world.users["stu0"]).points_earned == 5
    response = as_json(
        world.client("instructor"),
        "patch",
        f"{API}/quizzes/{quiz['id']}/",
        {"scoring_policy": "keep_latest"},
    )
    assert response.status_code == 200
    assert _grade_of(world, quiz["id"], world.users["stu0"]).points_earned == 0


def test_questions_freeze_once_attempted(world):
    exam = _exam(world, essay=False)
    _start(world, "stu0", exam.quiz["id"])
    c = world.client("instructor")
    url = f"{API}/quiz-questions/{exam.single['id']}/"
    for response in (
        as_json(c, "patch", url, {"points": "9"}),
        as_json(c, "patch", url, {"correct": exam.option(exam.single, "Lyon")}),
        c.delete(url),
        as_json(
            c,
            "post",
            f"{API}/quizzes/{exam.quiz['id']}/questions/",
            {"type": "essay", "text": "More", "points": "1"},
        ),
        as_json(c, "patch", f"{API}/quizzes/{exam.quiz['id']}/", {"is_published": False}),
    ):
        assert response.status_code == 409 and error_code(response) == "quiz_has_attempts"
    fixed = as_json(c, "patch", url, {"text": "Capital of France (today)?"})
    assert fixed.status_code == 200 and fixed.json()["text"] == "Capital of France (today)?"
    with _in(world):
        assert Question.objects.get(pk=exam.single["id"]).points == 2
    connection.set_schema_to_public()


def test_changing_a_question_type_needs_a_matching_key(world):
    exam = _exam(world, essay=False)
    url = f"{API}/quiz-questions/{exam.single['id']}/"
    c = world.client("instructor")
    assert as_json(c, "patch", url, {"type": "true_false"}).status_code == 400
    changed = as_json(c, "patch", url, {"type": "true_false", "correct": False})
    assert changed.status_code == 200
    assert changed.json()["options"] == [] and changed.json()["correct"] is False


def test_moving_the_end_date_earlier_pulls_in_running_deadlines(world):
    exam = _exam(world, essay=False)
    attempt = _start(world, "stu0", exam.quiz["id"]).json()
    new_end = timezone.now() + timedelta(hours=2)
    response = as_json(
        world.client("instructor"),
        "patch",
        f"{API}/quizzes/{exam.quiz['id']}/",
        {"end_date": new_end.isoformat()},
    )
    assert response.status_code == 200
    with _in(world):
        assert Attempt.objects.get(pk=attempt["id"]).deadline_at == new_end
    connection.set_schema_to_public()


# --- what students are shown ----------------------------------------------------------


def _secrets(exam: Exam) -> list[str]:
    return [EXPLANATION, ACCEPTED, "Lutèce", '"correct"', "is_correct", "points_earned"]


def _assert_no_secrets(body: bytes, exam: Exam):
    text = body.decode()
    for secret in _secrets(exam):
        assert secret not in text, secret
    # The right option's id is shown at most once, as one option among the others.
    assert text.count(exam.single["correct"]) <= 1


def test_answer_keys_never_reach_a_student_before_the_rules_allow(world):
    exam = _exam(world, show_correct_answers="never", posting_policy="automatic")
    qid = exam.quiz["id"]
    c = world.client("stu0")
    start = _start(world, "stu0", qid)
    attempt_id = start.json()["id"]
    lyon = exam.option(exam.single, "Lyon")
    saved = _answer(world, "stu0", attempt_id, {exam.single["id"]: lyon})
    for response in (
        start,
        saved,
        c.get(f"{API}/quiz-attempts/{attempt_id}/"),
        c.get(f"{API}/quizzes/{qid}/"),
        c.get(f"{API}/courses/{world.course.pk}/quizzes/"),
        c.get(f"{API}/quizzes/{qid}/attempts/"),
    ):
        assert response.status_code in (200, 201)
        _assert_no_secrets(response.content, exam)
    assert c.get(f"{API}/quizzes/{qid}/questions/").status_code == 403
    assert c.get(f"{API}/quiz-questions/{exam.single['id']}/").status_code == 404

    submitted = _submit(world, "stu0", attempt_id)
    _assert_no_secrets(submitted.content, exam)
    _assert_no_secrets(c.get(f"{API}/quiz-attempts/{attempt_id}/").content, exam)


def test_after_submission_the_key_shows_and_the_score_waits_for_release(world):
    exam = _exam(world, essay=False, show_correct_answers="after_submission")
    qid = exam.quiz["id"]
    attempt_id = _start(world, "stu0", qid).json()["id"]
    _answer(world, "stu0", attempt_id, {exam.single["id"]: exam.option(exam.single, "Paris")})
    in_progress = world.client("stu0").get(f"{API}/quiz-attempts/{attempt_id}/")
    assert EXPLANATION not in in_progress.content.decode()
    assert '"correct"' not in in_progress.content.decode()

    submitted = _submit(world, "stu0", attempt_id)
    body = submitted.json()
    text = submitted.content.decode()
    assert EXPLANATION in text and ACCEPTED in text and body["answers_visible"] is True
    # The grade is not released (manual posting): no score, no marks.
    assert "score" not in body and "percentage" not in body and body["score_visible"] is False
    assert "is_correct" not in text and "points_earned" not in text
    listed = world.client("stu0").get(f"{API}/quizzes/{qid}/attempts/").json()["results"]
    assert "score" not in listed[0]
    # Staff see the score at once.
    assert world.client("ta").get(f"{API}/quiz-attempts/{attempt_id}/").json()["score"] == "2.00"

    _release(world, qid)
    released = world.client("stu0").get(f"{API}/quiz-attempts/{attempt_id}/").json()
    assert released["score"] == "2.00" and released["percentage"] == "20.00"
    assert _questions(released)[exam.single["id"]]["is_correct"] is True
    listed = world.client("stu0").get(f"{API}/quizzes/{qid}/attempts/").json()["results"]
    assert listed[0]["score"] == "2.00"


def test_after_due_and_after_date_wait_for_their_time(world):
    due = _exam(world, essay=False, show_correct_answers="after_due", posting_policy="automatic")
    dated = _exam(
        world,
        essay=False,
        show_correct_answers="after_date",
        show_correct_answers_after=_later(days=1),
        posting_policy="automatic",
    )
    ids = {}
    for exam in (due, dated):
        attempt_id = _start(world, "stu0", exam.quiz["id"]).json()["id"]
        shown = _submit(world, "stu0", attempt_id)
        assert EXPLANATION not in shown.content.decode()
        assert shown.json()["score"] == "0.00", "released at once: automatic posting"
        assert "is_correct" not in shown.content.decode(), "marks would give the key away"
        ids[exam.quiz["id"]] = attempt_id
    past = timezone.now() - timedelta(minutes=1)
    with _in(world):
        Quiz.objects.filter(pk=due.quiz["id"]).update(end_date=past)
        Quiz.objects.filter(pk=dated.quiz["id"]).update(show_correct_answers_after=past)
    connection.set_schema_to_public()
    for attempt_id in ids.values():
        shown = world.client("stu0").get(f"{API}/quiz-attempts/{attempt_id}/")
        assert EXPLANATION in shown.content.decode()
        assert shown.json()["answers_visible"] is True


def test_a_student_never_sees_another_students_attempt(world):
    exam = _exam(world, essay=False, show_correct_answers="after_submission")
    attempt_id = _start(world, "stu0", exam.quiz["id"]).json()["id"]
    _submit(world, "stu0", attempt_id)
    other = world.client("stu1")
    assert other.get(f"{API}/quiz-attempts/{attempt_id}/").status_code == 404
    assert _submit(world, "stu1", attempt_id).status_code == 404
    assert _answer(world, "stu1", attempt_id, {}).status_code == 404
    listed = other.get(f"{API}/quizzes/{exam.quiz['id']}/attempts/").json()
    assert listed["count"] == 0


# --- statistics -----------------------------------------------------------------------


def test_statistics_per_question_in_a_few_queries(world):
    exam = _exam(world, attempt_limit=None)
    url = f"{API}/quizzes/{exam.quiz['id']}/statistics/"
    paris, lyon = exam.option(exam.single, "Paris"), exam.option(exam.single, "Lyon")
    nice, lille = exam.option(exam.multiple, "Nice"), exam.option(exam.multiple, "Lille")

    def take(who, answers):
        attempt_id = _start(world, who, exam.quiz["id"]).json()["id"]
        _answer(world, who, attempt_id, answers)
        _submit(world, who, attempt_id)

    take("stu0", {exam.single["id"]: paris, exam.multiple["id"]: [nice, lille]})
    world.client("ta").get(url)
    with CaptureQueriesContext(connection) as few:
        assert world.client("ta").get(url).status_code == 200
    tf = exam.true_false["id"]
    take("stu1", {exam.single["id"]: lyon, exam.multiple["id"]: [nice], tf: True})
    take("stu1", {exam.single["id"]: paris, exam.true_false["id"]: False})
    take("stu2", {exam.essay["id"]: "An essay."})
    _start(world, "stu0", exam.quiz["id"])  # in progress: not counted
    with CaptureQueriesContext(connection) as many:
        stats = world.client("ta").get(url).json()
    assert len(many) == len(few)

    assert stats["attempt_count"] == 4 and stats["graded_attempt_count"] == 3
    by_id = {q["question_id"]: q for q in stats["questions"]}
    single = by_id[exam.single["id"]]
    counts = (single["response_count"], single["answered_count"], single["correct_count"])
    assert counts == (4, 3, 2) and single["correct_ratio"] == 0.5
    assert {o["text"]: o["count"] for o in single["options"]} == {"Paris": 2, "Lyon": 1}
    multiple = by_id[exam.multiple["id"]]
    assert {o["text"]: o["count"] for o in multiple["options"]} == {
        "Nice": 2,
        "Turin": 0,
        "Lille": 1,
        "Basel": 0,
    }
    assert multiple["average_points"] == "1.50"  # (4 + 2 + 0 + 0) / 4
    true_false = by_id[exam.true_false["id"]]
    assert {o["id"]: o["count"] for o in true_false["options"]} == {"true": 1, "false": 1}
    essay = by_id[exam.essay["id"]]
    assert essay["options"] is None and essay["graded_count"] == 3  # blank ones score 0


# --- course copy ----------------------------------------------------------------------


def test_course_copy_brings_quizzes_and_questions_with_dates_shifted(world):
    with _in(world):
        module = Module.objects.create(course=world.course, title="Week 1", order_index=0)
    connection.set_schema_to_public()
    exam = _exam(world, module_id=str(module.pk), posting_policy="automatic")
    with _in(world):
        ContentItem.objects.create(
            module=module,
            title="Take it",
            content_type="quiz",
            quiz_id=exam.quiz["id"],
            order_index=0,
        )
    connection.set_schema_to_public()
    _create_quiz(world, title="Draft", is_published=False)
    gone = _create_quiz(world, title="Gone")
    world.client("instructor").delete(f"{API}/quizzes/{gone['id']}/")
    _start(world, "stu0", exam.quiz["id"])
    response = as_json(
        world.client("instructor"),
        "post",
        f"{API}/courses/{world.course.pk}/copy/",
        {
            "term": "Spring 2027",
            "academic_year": 2027,
            "start_date": "2027-01-05",
            "end_date": "2027-05-01",
        },
    )
    assert response.status_code == 201, response.json()
    copy_id = response.json()["id"]
    quizzes = world.client("instructor").get(f"{API}/courses/{copy_id}/quizzes/").json()
    by_title = {q["title"]: q for q in quizzes["results"]}
    assert set(by_title) == {"Capitals", "Draft"}
    copied = by_title["Capitals"]
    assert copied["points"] == "20.00" and copied["question_count"] == 5
    assert copied["is_published"] is True and by_title["Draft"]["is_published"] is False
    assert copied["posting_policy"] == "automatic" and copied["grade_item_id"]
    with _in(world):
        source = Quiz.objects.get(pk=exam.quiz["id"])
        target = Quiz.objects.get(pk=copied["id"])
        shift = Course.objects.get(pk=copy_id).start_date - world.course.start_date
        assert target.end_date == source.end_date + shift
        assert target.module.course_id == target.course_id and target.module.title == "Week 1"
        assert not Attempt.objects.filter(quiz=target).exists()
        assert [q.text for q in target.questions.all()] == [q.text for q in source.questions.all()]
        assert target.questions.get(type="single_choice").correct == exam.single["correct"]
        linked = ContentItem.objects.get(module__course_id=copy_id, title="Take it")
        assert linked.quiz_id == target.pk, "the copied item points at the copied quiz"
    connection.set_schema_to_public()


# --- roles and endpoints --------------------------------------------------------------


@pytest.fixture
def scene(world):
    """A published exam with a submitted attempt of stu0 whose essay waits."""
    exam = _exam(world)
    attempt_id = _start(world, "stu0", exam.quiz["id"]).json()["id"]
    _answer(world, "stu0", attempt_id, {exam.essay["id"]: "My essay."})
    _submit(world, "stu0", attempt_id)
    running = _start(world, "stu1", exam.quiz["id"]).json()["id"]
    with _in(world):
        essay = Attempt.objects.get(pk=attempt_id).responses.get(question_id=exam.essay["id"])
    connection.set_schema_to_public()
    return {
        "exam": exam,
        "attempt": attempt_id,
        "running": running,
        "response": str(essay.pk),
    }


def _endpoints(world, scene) -> list[tuple[str, str, str, object, str, int, dict]]:
    """(name, method, path, body, allowed role, its status, refused roles with statuses)."""
    exam = scene["exam"]
    quiz, course = exam.quiz["id"], world.course.pk
    quiz_body = {"title": "New", "end_date": _later(days=2)}
    question_body = {"type": "essay", "text": "Q", "points": "1"}
    outsiders = {"other_ta": 404, "other_student": 404, "beta_admin": 404}
    return [
        ("list quizzes", "get", f"/courses/{course}/quizzes/", None, "stu0", 200,
         {"waitlisted": 403, **outsiders}),
        ("create quiz", "post", f"/courses/{course}/quizzes/", quiz_body, "instructor", 201,
         {"stu0": 403, "ta": 403, **outsiders}),
        ("get quiz", "get", f"/quizzes/{quiz}/", None, "stu0", 200,
         {"waitlisted": 404, **outsiders}),
        ("update quiz", "patch", f"/quizzes/{quiz}/", {"title": "X"}, "instructor", 200,
         {"stu0": 403, "ta": 403, **outsiders}),
        ("list questions", "get", f"/quizzes/{quiz}/questions/", None, "ta", 200,
         {"stu0": 403, **outsiders}),
        ("get question", "get", f"/quiz-questions/{exam.single['id']}/", None, "grader", 200,
         {"stu0": 404, **outsiders}),
        ("edit question", "patch", f"/quiz-questions/{exam.single['id']}/", {"text": "Y"},
         "admin", 200, {"stu0": 404, "ta": 403, **outsiders}),
        ("start attempt", "post", f"/quizzes/{quiz}/attempt/", None, "stu2", 201,
         {"instructor": 403, "ta": 403, "waitlisted": 404, **outsiders}),
        ("list attempts", "get", f"/quizzes/{quiz}/attempts/", None, "ta", 200, outsiders),
        ("get attempt", "get", f"/quiz-attempts/{scene['attempt']}/", None, "stu0", 200,
         {"stu1": 404, **outsiders}),
        ("save answers", "put", f"/quiz-attempts/{scene['running']}/answers/",
         {"answers": []}, "stu1", 200, {"stu0": 404, "ta": 403, "instructor": 403, **outsiders}),
        ("submit", "post", f"/quiz-attempts/{scene['running']}/submit/", None, "stu1", 200,
         {"stu0": 404, "ta": 403, **outsiders}),
        ("statistics", "get", f"/quizzes/{quiz}/statistics/", None, "grader", 200,
         {"stu0": 403, **outsiders}),
        ("grading queue", "get", f"/courses/{course}/quiz-grading-queue/", None, "ta", 200,
         {"stu0": 403, **outsiders}),
        ("grade response", "put", f"/quiz-responses/{scene['response']}/grade/",
         {"points": "1"}, "grader", 200, {"stu0": 403, "stu1": 404, **outsiders}),
        ("add question", "post", f"/quizzes/{quiz}/questions/", question_body, "instructor",
         409, {"stu0": 403, "ta": 403, **outsiders}),
        ("delete question", "delete", f"/quiz-questions/{exam.single['id']}/", None,
         "instructor", 409, {"stu0": 404, "ta": 403, **outsiders}),
        ("delete quiz", "delete", f"/quizzes/{quiz}/", None, "instructor", 204,
         {"stu0": 403, "ta": 403, **outsiders}),
    ]  # fmt: skip


def _call(world, who, method, path, body):
    client = world.client(who)
    if body is None:
        return getattr(client, method)(f"{API}{path}")
    return as_json(client, method, f"{API}{path}", body)


def _state(world) -> str:
    """Everything quizzes keep, to check a refused call changed nothing."""
    with _in(world):
        rows = [
            list(model.objects.order_by("pk").values())
            for model in (Quiz, Question, Attempt, Grade)
        ]
    connection.set_schema_to_public()
    return json.dumps(rows, default=str)


def test_every_endpoint_refuses_the_wrong_roles_and_changes_nothing(world, scene):
    for name, method, path, body, _, _, refused in _endpoints(world, scene):
        before = _state(world)
        for who, expected in refused.items():
            response = _call(world, who, method, path, body)
            assert response.status_code == expected, (name, who, response.content)
        assert _state(world) == before, name


def test_every_endpoint_works_for_its_allowed_role(world, scene):
    for name, method, path, body, who, expected, _ in _endpoints(world, scene):
        response = _call(world, who, method, path, body)
        assert response.status_code == expected, (name, who, response.content)


def test_another_institutions_token_is_refused_on_this_host(world, beta, scene):
    from .conftest import host_client

    token = world.client("beta_admin").defaults["HTTP_AUTHORIZATION"]
    stranger = host_client("alpha.localhost", HTTP_AUTHORIZATION=token)
    assert stranger.get(f"{API}/quizzes/{scene['exam'].quiz['id']}/").status_code == 401


def test_a_ta_sees_every_attempt_and_a_student_only_theirs(world, scene):
    staff = world.client("ta").get(f"{API}/quizzes/{scene['exam'].quiz['id']}/attempts/").json()
    assert staff["count"] == 2
    assert all("score" in row for row in staff["results"])
    filtered = world.client("ta").get(
        f"{API}/quizzes/{scene['exam'].quiz['id']}/attempts/",
        {"student_id": str(world.users["stu1"].pk)},
    )
    assert [r["id"] for r in filtered.json()["results"]] == [scene["running"]]
    own = world.client("stu0").get(f"{API}/quizzes/{scene['exam'].quiz['id']}/attempts/").json()
    assert [r["id"] for r in own["results"]] == [scene["attempt"]]
    bad = world.client("ta").get(
        f"{API}/quizzes/{scene['exam'].quiz['id']}/attempts/", {"ordering": "score"}
    )
    assert bad.status_code == 400


def test_a_student_cannot_grade_their_own_essay(world, scene):
    response = as_json(
        world.client("stu0"),
        "put",
        f"{API}/quiz-responses/{scene['response']}/grade/",
        {"points": "10"},
    )
    assert response.status_code == 403 and error_code(response) == "permission_denied"
    assert _grade_of(world, scene["exam"].quiz["id"], world.users["stu0"]) is None


def test_grading_an_in_progress_attempt_is_refused(world, scene):
    exam = scene["exam"]
    _answer(world, "stu1", scene["running"], {exam.essay["id"]: "Draft"})
    with _in(world):
        response_id = (
            Attempt.objects.get(pk=scene["running"]).responses.get(question_id=exam.essay["id"]).pk
        )
    connection.set_schema_to_public()
    response = as_json(
        world.client("ta"), "put", f"{API}/quiz-responses/{response_id}/grade/", {"points": "1"}
    )
    assert response.status_code == 409 and error_code(response) == "attempt_in_progress"
