"""Grading submissions through POST /submissions/{id}/grade/: who may grade
(the course's staff, not a student nor another course's TA), rubric scores
checked against the assignment's rubric, the course's letters, the late
penalty, grades hidden from students until released in every endpoint, and
two graders who race (versions, If-Match, 409)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tenant_apps.courses.models import Course, CourseStatus
from tenant_apps.grading.models import Grade, GradingPolicy, Rubric
from tenant_apps.grading.services import grades_release

from .api_helpers import api_client, as_json, at_once, error_code
from .conftest import make_institution
from .test_assignments_api import World, build_world, create_assignment, in_tenant, iso
from .test_grading_api import CRITERIA
from .test_submissions_api import assignment_in, submit


@pytest.fixture
def world(alpha) -> World:
    return build_world(alpha)


def grade_url(submission: dict) -> str:
    return f"/api/v1/submissions/{submission['id']}/grade/"


def grade(client, submission, **body):
    return as_json(client, "post", grade_url(submission), body)


def submitted(world: World, who="stu0", **overrides) -> tuple[dict, dict]:
    assignment = create_assignment(world, **overrides)
    response = submit(world.client(who), assignment, text="essay")
    assert response.status_code == 201, response.content
    return assignment, response.json()


def grades(institution) -> list[Grade]:
    return in_tenant(institution, lambda: list(Grade.objects.all()))


# --- who may grade ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["instructor", "ta", "grader", "admin"])
def test_the_course_staff_grade(world, who):
    _, submission = submitted(world)
    response = grade(world.client(who), submission, points_earned="88.5", feedback="Good")
    assert response.status_code == 200, response.content
    body = response.json()
    assert response["ETag"] == '"1"'
    assert (body["points_earned"], body["score"], body["feedback"], body["version"]) == (
        "88.50",
        "88.50",
        "Good",
        1,
    )
    assert body["submission_id"] == submission["id"]
    assert body["grader"]["id"] == str(world.users[who].pk)
    assert (body["percentage"], body["letter_grade"], body["released"]) == ("88.50", "B+", False)


def test_students_and_other_courses_staff_may_not_grade(world):
    _, submission = submitted(world)
    assert grade(world.client("stu0"), submission, points_earned=100).status_code == 403
    for who in ("stu1", "other_ta", "other_student", "waitlisted"):
        assert grade(world.client(who), submission, points_earned=100).status_code == 404, who
    assert grades(world.institution) == []


def test_a_draft_cannot_be_graded(world):
    assignment = create_assignment(world)
    draft = submit(world.client("stu0"), assignment, text="x", is_draft=True).json()
    response = grade(world.client("instructor"), draft, points_earned=1)
    assert response.status_code == 409 and error_code(response) == "submission_not_submitted"


def test_an_archived_course_is_not_graded(world):
    _, submission = submitted(world)
    in_tenant(
        world.institution,
        lambda: Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.ARCHIVED),
    )
    response = grade(world.client("instructor"), submission, points_earned=1)
    assert response.status_code == 409 and error_code(response) == "course_archived"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "points_earned"),
        ({"points_earned": "-1"}, "points_earned"),
        ({"points_earned": "x"}, "points_earned"),
        ({"points_earned": 1, "grade": "A"}, "grade"),
        ({"rubric_scores": [{"criterion_id": "thesis"}]}, "rubric_scores"),
    ],
)
def test_bad_grades_are_400(world, body, field):
    _, submission = submitted(world)
    response = grade(world.client("ta"), submission, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert grades(world.institution) == []


def test_excusing_needs_no_points(world):
    _, submission = submitted(world)
    response = grade(world.client("ta"), submission, excused=True)
    assert response.status_code == 200 and response.json()["excused"] is True


# --- rubric, letters, late penalty ----------------------------------------------------


def _rubric(world) -> Rubric:
    return in_tenant(
        world.institution,
        lambda: Rubric.objects.create(
            course=world.course, title="Essay", criteria=CRITERIA, points_possible=Decimal("10")
        ),
    )


def test_rubric_scores_are_checked_against_the_assignments_rubric(world):
    rubric = _rubric(world)
    _, submission = submitted(world, points="10", rubric_id=str(rubric.pk))
    c = world.client("ta")
    for bad in (
        [{"criterion_id": "nope", "points": 1}],
        [{"criterion_id": "thesis", "rating_id": "clear"}],
        [{"criterion_id": "style", "points": 5}],
        [{"criterion_id": "thesis", "points": 1}, {"criterion_id": "thesis", "points": 1}],
    ):
        response = grade(c, submission, rubric_scores=bad)
        assert response.status_code == 400 and error_code(response) == "invalid_rubric_scores"
    response = grade(
        c,
        submission,
        rubric_scores=[
            {"criterion_id": "thesis", "rating_id": "weak"},
            {"criterion_id": "style", "rating_id": "clear", "comments": "Crisp"},
        ],
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["points_earned"] == "6.00" and body["letter_grade"] == "F"  # 60%
    assert [s["rating_id"] for s in body["rubric_scores"]] == ["weak", "clear"]


def test_rubric_scores_without_a_rubric_are_refused(world):
    _, submission = submitted(world)
    response = grade(
        world.client("ta"), submission, rubric_scores=[{"criterion_id": "thesis", "points": 1}]
    )
    assert response.status_code == 400 and error_code(response) == "invalid_rubric_scores"


def test_the_letter_comes_from_the_courses_scheme(world):
    in_tenant(
        world.institution,
        lambda: GradingPolicy.objects.create(
            course=world.course, letter_scheme=[["Pass", 50], ["Fail", 0]]
        ),
    )
    _, submission = submitted(world)
    body = grade(world.client("ta"), submission, points_earned=55).json()
    assert body["letter_grade"] == "Pass"


def test_the_late_penalty_is_applied_at_grading_and_shown(world):
    due = timezone.now() - timedelta(hours=30)  # two days late
    _, submission = submitted(world, due_at=iso(due), late_penalty_per_day="10")
    assert submission["late_penalty_percent"] == "20.00"
    body = grade(world.client("ta"), submission, points_earned=90).json()
    assert (body["late_penalty_percent"], body["late_penalty_points"], body["score"]) == (
        "20.00",
        "20.00",
        "70.00",
    )
    staff_view = world.client("ta").get(f"/api/v1/submissions/{submission['id']}/").json()
    assert staff_view["grade"]["late_penalty_points"] == "20.00"


# --- what students see ------------------------------------------------------------------


def _student_sees(world, assignment, submission, who="stu0") -> list:
    """The grade as the student meets it in every endpoint that shows one."""
    c = world.client(who)
    detail = c.get(f"/api/v1/submissions/{submission['id']}/").json()
    listed = c.get(f"/api/v1/assignments/{assignment['id']}/submissions/").json()["results"]
    return [detail["grade"], *[r["grade"] for r in listed]]


def test_students_see_a_grade_only_once_released(world):
    assignment, submission = submitted(world)
    body = grade(world.client("ta"), submission, points_earned=70, feedback="See me").json()
    assert _student_sees(world, assignment, submission) == [None, None]
    detail = world.client("stu0").get(f"/api/v1/submissions/{submission['id']}/").json()
    assert detail["status"] == "submitted", "the status does not betray the grade"
    staff = world.client("instructor").get(f"/api/v1/submissions/{submission['id']}/").json()
    assert staff["grade"]["feedback"] == "See me"

    in_tenant(world.institution, lambda: grades_release(grade_ids=[body["id"]], actor=None))
    seen = _student_sees(world, assignment, submission)
    assert [g["feedback"] for g in seen] == ["See me", "See me"]
    assert seen[0]["score"] == "70.00" and seen[0]["released"] is True


def test_automatic_posting_shows_the_gradeat_once(world):
    assignment, submission = submitted(world, posting_policy="automatic")
    grade(world.client("ta"), submission, points_earned=70)
    assert [g["score"] for g in _student_sees(world, assignment, submission)] == ["70.00"] * 2


def test_a_student_never_sees_another_students_submission_or_grade(world):
    assignment, theirs = submitted(world, who="stu1", posting_policy="automatic")
    grade(world.client("ta"), theirs, points_earned=50)
    submit(world.client("stu0"), assignment, text="mine")
    c = world.client("stu0")
    assert c.get(f"/api/v1/submissions/{theirs['id']}/").status_code == 404
    listed = c.get(f"/api/v1/assignments/{assignment['id']}/submissions/").json()["results"]
    assert [r["student"]["id"] for r in listed] == [str(world.users["stu0"].pk)]
    assert [r["grade"] for r in listed] == [None]
    other = c.get(
        f"/api/v1/assignments/{assignment['id']}/submissions/",
        {"student": str(world.users["stu1"].pk)},
    ).json()
    assert other["count"] == 0


def test_a_grade_is_shown_with_the_attempt_it_was_given_for(world):
    assignment = create_assignment(world, max_submissions=2, posting_policy="automatic")
    first = submit(world.client("stu0"), assignment, text="one").json()
    grade(world.client("ta"), first, points_earned=40)
    second = submit(world.client("stu0"), assignment, text="two").json()
    listed = (
        world.client("stu0")
        .get(f"/api/v1/assignments/{assignment['id']}/submissions/")
        .json()["results"]
    )
    assert [(r["submission_number"], r["grade"] and r["grade"]["score"]) for r in listed] == [
        (1, "40.00"),
        (2, None),
    ]
    assert second["grade"] is None


# --- two graders ------------------------------------------------------------------------


def test_a_stale_version_is_a_409_and_loses_nothing(world):
    _, submission = submitted(world)
    ta, grader = world.client("ta"), world.client("grader")
    assert grade(ta, submission, points_earned=60).status_code == 200
    response = grade(grader, submission, points_earned=65)
    assert response.status_code == 409 and error_code(response) == "grade_conflict"
    assert response.json()["error"]["current_version"] == 1
    response = as_json(
        grader, "post", grade_url(submission), {"points_earned": 65}, HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200 and response["ETag"] == '"2"'
    response = grade(ta, submission, points_earned=61, version=1)
    assert response.status_code == 409 and error_code(response) == "grade_conflict"
    assert [g.points_earned for g in grades(world.institution)] == [Decimal("65.00")]
    response = as_json(ta, "post", grade_url(submission), {"points_earned": 1}, HTTP_IF_MATCH="x")
    assert response.status_code == 400


def test_two_graders_savingat_once_do_not_lose_an_update(committed_db):
    world = build_world(make_institution("gradeclash"), students=1)
    assignment = assignment_in(world)
    submission = submit(world.client("stu0"), assignment, text="essay").json()
    assert grade(world.client("ta"), submission, points_earned=50).status_code == 200
    graders = [api_client(world.institution, world.users[w]) for w in ("ta", "grader")]
    responses = at_once(
        [
            lambda c=c, n=n: grade(c, submission, points_earned=70 + n, version=1)
            for n, c in enumerate(graders)
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409], [r.content for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()
    kept = grades(world.institution)
    assert [(g.version, str(g.points_earned)) for g in kept] == [(2, winner["points_earned"])]


def test_updated_since_sees_grades_but_a_student_only_released_ones(world):
    assignment, submission = submitted(world)
    listing = f"/api/v1/assignments/{assignment['id']}/submissions/"
    since = {"updated_since": iso(timezone.now())}
    body = grade(world.client("ta"), submission, points_earned=70).json()
    assert world.client("ta").get(listing, since).json()["count"] == 1, "graded since"
    assert world.client("stu0").get(listing, since).json()["count"] == 0, "nothing to see yet"
    in_tenant(world.institution, lambda: grades_release(grade_ids=[body["id"]], actor=None))
    rows = world.client("stu0").get(listing, since).json()["results"]
    assert [r["grade"]["score"] for r in rows] == ["70.00"]
