"""The grading API through the tenant router: assignment groups, the grading
policy, rubrics, gradebook items and grades (posting, versions, history).
Every endpoint for the role allowed, the roles refused (a student, a grader
where posting is asked, a TA of another course) and another institution's
user. Items and grades are made through grading's own services, as the
assignments and quizzes apps do."""

import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from tenant_apps.accounts.models import Role, User
from tenant_apps.courses.models import Course, CourseRole, Enrollment
from tenant_apps.grading import services
from tenant_apps.grading.models import (
    AssignmentGroup,
    Grade,
    GradeItem,
    GradeRevision,
    GradingPolicy,
    Rubric,
)

from .api_helpers import (
    admin_of,
    api_client,
    as_json,
    course_taught_by,
    enroll,
    error_code,
    in_tenant,
    member,
)
from .conftest import make_institution

API = "/api/v1"


@dataclass
class World:
    institution: object
    course: Course
    other_course: Course
    instructor: User
    students: list
    ta: User
    grader: User
    clients: dict

    def item(self, title="Essay", points=10, **fields) -> GradeItem:
        values = {"is_published": True, **fields}
        return in_tenant(
            self.institution,
            lambda: services.grade_item_sync(
                kind="assignment",
                source_id=uuid.uuid4(),
                course=self.course,
                title=title,
                points_possible=points,
                **values,
            ),
        )

    def grade(self, item, student, points=None, *, release=False, late=None, **given) -> Grade:
        def work():
            grade = services.grade_save(
                item=GradeItem.objects.get(pk=item.pk),
                student=student,
                grader=self.instructor,
                given=services.GradeInput(points_earned=points, **given),
                late_penalty_percent=late,
                check_version=False,
            )
            if release:
                services.grades_release(grade_ids=[grade.pk], actor=self.instructor)
            return Grade.objects.get(pk=grade.pk)

        return in_tenant(self.institution, work)

    def group(self, name="Homework", weight=0) -> AssignmentGroup:
        return in_tenant(
            self.institution,
            lambda: services.assignment_group_create(
                course=self.course, name=name, weight=Decimal(weight)
            ),
        )

    def rubric(self) -> Rubric:
        return in_tenant(
            self.institution,
            lambda: services.rubric_create(course=self.course, title="Essay", criteria=CRITERIA),
        )


CRITERIA = [
    {
        "id": "thesis",
        "description": "Thesis",
        "points": "6",
        "ratings": [
            {"id": "strong", "description": "Strong", "points": "6"},
            {"id": "weak", "description": "Weak", "points": "2"},
        ],
    },
    {
        "id": "style",
        "description": "Style",
        "points": "4",
        "ratings": [{"id": "clear", "description": "Clear", "points": "4"}],
    },
]


def make_world(alpha, beta) -> World:
    """A course of alpha with three students, a TA and a grader; another
    course with its own TA and student; clients for each, and for an
    instructor of beta."""
    instructor = member(alpha, "prof@alpha.test", Role.INSTRUCTOR)
    course = course_taught_by(alpha, instructor)
    other_course = course_taught_by(alpha, instructor, code="CS 202")
    students = [member(alpha, f"stu{n}@alpha.test", last_name=f"S{n}") for n in range(3)]
    for student in students:
        enroll(alpha, course, student)
    ta = member(alpha, "ta@alpha.test", Role.TA)
    enroll(alpha, course, ta, CourseRole.TA)
    grader = member(alpha, "grader@alpha.test", Role.TA)
    enroll(alpha, course, grader, CourseRole.GRADER)
    other_ta = member(alpha, "other-ta@alpha.test", Role.TA)
    enroll(alpha, other_course, other_ta, CourseRole.TA)
    other_student = member(alpha, "other-stu@alpha.test")
    enroll(alpha, other_course, other_student)
    users = {
        "instructor": instructor,
        "admin": admin_of(alpha),
        "ta": ta,
        "grader": grader,
        "other_ta": other_ta,
        "other_student": other_student,
        **{f"stu{n}": s for n, s in enumerate(students)},
    }
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    clients["beta"] = api_client(beta, member(beta, "prof@beta.test", Role.INSTRUCTOR))
    return World(alpha, course, other_course, instructor, students, ta, grader, clients)


@pytest.fixture
def world(alpha, beta) -> World:
    return make_world(alpha, beta)


def count(world, model, **filters) -> int:
    return in_tenant(world.institution, lambda: model.objects.filter(**filters).count())


# --- who may call what -----------------------------------------------------------------


@dataclass
class Objects:
    group: AssignmentGroup
    rubric: Rubric
    item: GradeItem
    draft: GradeItem
    released: Grade  # stu0's, released
    hidden: Grade  # stu1's, hidden


@pytest.fixture
def objects(world) -> Objects:
    group = world.group()
    rubric = world.rubric()
    item = world.item(group=group)
    draft = world.item("Draft", is_published=False)
    released = world.grade(item, world.students[0], 8, release=True)
    hidden = world.grade(item, world.students[1], 5)
    return Objects(group, rubric, item, draft, released, hidden)


def _cases():
    """(method, path, body, role, status) for every endpoint: the role allowed
    first, then the refused ones."""
    course = "/courses/{course}"
    cases = []

    def add(method, path, body, expectations):
        for role, expected in expectations.items():
            cases.append((method, path, body, role, expected))

    outsiders = {"other_ta": 404, "beta": 404}
    add("get", f"{course}/assignment-groups/", None, {"stu0": 200, **outsiders})
    add(
        "post",
        f"{course}/assignment-groups/",
        {"name": "Quizzes", "weight": "10"},
        {"instructor": 201, "admin": 201, "ta": 403, "stu0": 403, **outsiders},
    )
    add("get", "/assignment-groups/{group}/", None, {"stu0": 200, **outsiders})
    for method in ("put", "patch"):
        add(
            method,
            "/assignment-groups/{group}/",
            {"name": "Renamed"},
            {"instructor": 200, "ta": 403, "stu0": 403, **outsiders},
        )
    add(
        "delete",
        "/assignment-groups/{group}/",
        None,
        {"ta": 403, "stu0": 403, **outsiders, "instructor": 204},
    )
    add("get", f"{course}/grading-policy/", None, {"stu0": 200, **outsiders})
    add(
        "put",
        f"{course}/grading-policy/",
        {"weight_groups": True},
        {"instructor": 200, "ta": 403, "stu0": 403, **outsiders},
    )
    add("get", f"{course}/rubrics/", None, {"grader": 200, "stu0": 403, **outsiders})
    add(
        "post",
        f"{course}/rubrics/",
        {"title": "R", "criteria": CRITERIA},
        {"instructor": 201, "ta": 403, "stu0": 403, **outsiders},
    )
    add("get", "/rubrics/{rubric}/", None, {"ta": 200, "stu0": 404, **outsiders})
    add(
        "put",
        "/rubrics/{rubric}/",
        {"title": "R2", "criteria": CRITERIA},
        {"instructor": 200, "ta": 403, "stu0": 404, **outsiders},
    )
    add(
        "delete",
        "/rubrics/{rubric}/",
        None,
        {"ta": 403, "stu0": 404, **outsiders, "instructor": 204},
    )
    add("get", f"{course}/grade-items/", None, {"stu0": 200, "ta": 200, **outsiders})
    add("get", "/grade-items/{item}/", None, {"stu0": 200, **outsiders})
    add("get", "/grade-items/{draft}/", None, {"grader": 200, "stu0": 404})
    add(
        "patch",
        "/grade-items/{item}/",
        {"posting_policy": "automatic"},
        {"ta": 200, "grader": 403, "stu0": 403, **outsiders},
    )
    for action in ("release", "hide"):
        add(
            "post",
            f"/grade-items/{{item}}/{action}/",
            None,
            {"ta": 200, "instructor": 200, "grader": 403, "stu0": 403, **outsiders},
        )
    add(
        "get",
        "/grades/{released}/",
        None,
        {"grader": 200, "stu0": 200, "stu1": 404, **outsiders},
    )
    add("get", "/grades/{hidden}/", None, {"ta": 200, "stu1": 404, "stu0": 404, **outsiders})
    for method in ("put", "patch"):
        add(
            method,
            "/grades/{hidden}/",
            {"points_earned": "9", "version": 1},
            {"grader": 200, "stu1": 404, "stu0": 404, **outsiders},
        )
    add(
        "put",
        "/grades/{released}/",
        {"points_earned": "9", "version": 2},
        {"stu0": 403, "ta": 200},
    )
    for action in ("release", "hide"):
        add(
            "post",
            f"/grades/{{hidden}}/{action}/",
            None,
            {"ta": 200, "grader": 403, "stu1": 404, **outsiders},
        )
    add("get", "/grades/{released}/history/", None, {"grader": 200, "stu0": 403, **outsiders})
    add("get", f"{course}/grades/", None, {"grader": 200, "stu0": 403, **outsiders})
    add("get", f"{course}/grades/export/", None, {"ta": 200, "stu0": 403, **outsiders})
    add("get", "/users/me/grades/", None, {"stu0": 200, "other_ta": 200, "beta": 200})
    return cases


@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), _cases())
def test_who_may_call(world, objects, method, path, body, role, expected):
    url = API + path.format(
        course=world.course.pk,
        group=objects.group.pk,
        rubric=objects.rubric.pk,
        item=objects.item.pk,
        draft=objects.draft.pk,
        released=objects.released.pk,
        hidden=objects.hidden.pk,
    )
    client = world.clients[role]
    response = client.get(url) if method == "get" else as_json(client, method, url, body)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["error"]["code"] in ("permission_denied", "not_found")


def test_refusals_change_nothing(world, objects):
    c = world.clients
    hidden = f"{API}/grades/{objects.hidden.pk}/"
    body = {"points_earned": "10", "version": 1}
    assert as_json(c["stu1"], "put", hidden, body).status_code == 404
    assert c["grader"].post(f"{hidden}release/").status_code == 403
    assert c["grader"].post(f"{API}/grade-items/{objects.item.pk}/release/").status_code == 403
    body = {"name": "X", "weight": "50"}
    url = f"{API}/courses/{world.course.pk}/assignment-groups/"
    assert as_json(c["ta"], "post", url, body).status_code == 403
    grade = in_tenant(world.institution, lambda: Grade.objects.get(pk=objects.hidden.pk))
    assert grade.points_earned == Decimal("5") and grade.released_at is None and grade.version == 1
    assert count(world, AssignmentGroup, course=world.course) == 1


# --- assignment groups --------------------------------------------------------------------


def test_groups_are_created_listed_changed_and_deleted(world):
    c = world.clients["instructor"]
    url = f"{API}/courses/{world.course.pk}/assignment-groups/"
    first = as_json(c, "post", url, {"name": "Homework", "weight": "40"}).json()
    second = as_json(c, "post", url, {"name": "Exams", "weight": "60"})
    assert second.status_code == 201 and second["Location"].endswith(f"{second.json()['id']}/")
    assert (first["position"], second.json()["position"]) == (0, 1)
    listed = world.clients["stu0"].get(url).json()
    assert [g["name"] for g in listed["results"]] == ["Homework", "Exams"]

    detail = f"{API}/assignment-groups/{first['id']}/"
    response = as_json(c, "patch", detail, {"weight": "55.5"})
    assert response.status_code == 200 and response.json()["weight"] == "55.50"
    item = world.item(group=AssignmentGroup(pk=first["id"], course=world.course))
    assert c.delete(detail).status_code == 204
    assert in_tenant(world.institution, lambda: GradeItem.objects.get(pk=item.pk).group_id) is None


@pytest.mark.parametrize(
    "body", [{"name": "X", "weight": "100.01"}, {"name": "X", "weight": "-1"}, {"weight": "5"}]
)
def test_group_input_is_checked(world, body):
    url = f"{API}/courses/{world.course.pk}/assignment-groups/"
    response = as_json(world.clients["instructor"], "post", url, body)
    assert response.status_code == 400 and error_code(response) == "invalid"


def test_group_unknown_key_refused(world):
    url = f"{API}/courses/{world.course.pk}/assignment-groups/"
    response = as_json(world.clients["instructor"], "post", url, {"name": "X", "colour": "red"})
    assert response.status_code == 400 and "colour" in response.json()["error"]["fields"]


def test_archived_course_refuses_grading_changes(world):
    in_tenant(
        world.institution,
        lambda: Course.objects.filter(pk=world.course.pk).update(status="archived"),
    )
    url = f"{API}/courses/{world.course.pk}/assignment-groups/"
    response = as_json(world.clients["admin"], "post", url, {"name": "X"})
    assert response.status_code == 409 and error_code(response) == "course_archived"


# --- the grading policy -------------------------------------------------------------------


def test_policy_defaults_then_custom_scheme_gives_letters(world):
    c = world.clients["instructor"]
    url = f"{API}/courses/{world.course.pk}/grading-policy/"
    default = world.clients["stu0"].get(url).json()
    assert default["is_default_scheme"] and default["weight_groups"] is False
    assert default["letter_scheme"][0] == {"letter": "A", "minimum": "94.00"}

    scheme = [{"letter": "Fail", "minimum": "0"}, {"letter": "Pass", "minimum": "60"}]
    response = as_json(c, "put", url, {"weight_groups": True, "letter_scheme": scheme})
    assert response.status_code == 200, response.content
    assert response.json()["letter_scheme"] == [
        {"letter": "Pass", "minimum": "60.00"},
        {"letter": "Fail", "minimum": "0.00"},
    ]
    item = world.item()
    grade = world.grade(item, world.students[0], 6)
    body = world.clients["ta"].get(f"{API}/grades/{grade.pk}/").json()
    assert body["percentage"] == "60.00" and body["letter_grade"] == "Pass"


@pytest.mark.parametrize(
    ("scheme", "field"),
    [
        ([{"letter": "A", "minimum": "90"}, {"letter": "A", "minimum": "0"}], "letter"),
        ([{"letter": "A", "minimum": "90"}, {"letter": "B", "minimum": "90"}], "minimum"),
        ([{"letter": "A", "minimum": "90"}], "letter_scheme"),
        ([{"letter": "A", "minimum": "190"}, {"letter": "F", "minimum": "0"}], "minimum"),
    ],
)
def test_policy_scheme_is_checked(world, scheme, field):
    url = f"{API}/courses/{world.course.pk}/grading-policy/"
    body = {"weight_groups": False, "letter_scheme": scheme}
    response = as_json(world.clients["instructor"], "put", url, body)
    assert response.status_code == 400, response.content
    assert any(field in key for key in response.json()["error"]["fields"])
    assert count(world, GradingPolicy, course=world.course) == 0


# --- rubrics ---------------------------------------------------------------------------------


def test_rubric_scores_are_checked_against_the_rubric(world):
    c = world.clients["instructor"]
    created = as_json(
        c, "post", f"{API}/courses/{world.course.pk}/rubrics/", {"title": "R", "criteria": CRITERIA}
    )
    assert created.status_code == 201 and created.json()["points_possible"] == "10.00"
    rubric = in_tenant(world.institution, lambda: Rubric.objects.get(pk=created.json()["id"]))
    item = world.item(rubric=rubric)
    grade = world.grade(item, world.students[0], 1)
    url = f"{API}/grades/{grade.pk}/"
    scores = [{"criterion_id": "thesis", "rating_id": "weak"}, {"criterion_id": "style"}]
    response = as_json(c, "patch", url, {"rubric_scores": scores, "version": 1})
    assert response.status_code == 400 and error_code(response) == "invalid_rubric_scores"
    scores[1]["points"] = "3.5"
    response = as_json(c, "patch", url, {"rubric_scores": scores, "version": 1})
    assert response.status_code == 200, response.content
    assert response.json()["points_earned"] == "5.50"
    for bad in (
        [{"criterion_id": "nope", "points": "1"}],
        [{"criterion_id": "style", "points": "5"}],
        [{"criterion_id": "thesis", "rating_id": "clear"}],
    ):
        response = as_json(c, "patch", url, {"rubric_scores": bad, "version": 2})
        assert response.status_code == 400 and error_code(response) == "invalid_rubric_scores"


@pytest.mark.parametrize(
    "criteria",
    [
        [],
        [{"description": "X", "points": "0", "ratings": [{"description": "", "points": "0"}]}],
        [{"description": "X", "points": "2", "ratings": [{"description": "", "points": "3"}]}],
        [{"description": "X", "points": "2", "ratings": []}],
    ],
)
def test_rubric_criteria_are_checked(world, criteria):
    url = f"{API}/courses/{world.course.pk}/rubrics/"
    body = {"title": "R", "criteria": criteria}
    response = as_json(world.clients["instructor"], "post", url, body)
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert count(world, Rubric) == 0


def test_rubric_in_use_needs_force_and_keeps_given_scores(world):
    rubric = world.rubric()
    item = world.item(rubric=rubric)
    scores = [{"criterion_id": "thesis", "rating_id": "strong"}]
    grade = world.grade(item, world.students[0], rubric_scores=scores)
    assert grade.points_earned == Decimal("6")
    c = world.clients["instructor"]
    url = f"{API}/rubrics/{rubric.pk}/"
    changed = [{**CRITERIA[1], "id": "new"}]
    response = as_json(c, "put", url, {"title": "R", "criteria": changed})
    assert response.status_code == 409 and error_code(response) == "rubric_in_use"
    same = as_json(c, "put", url, {"title": "Renamed", "criteria": CRITERIA})
    assert same.status_code == 200, "the same criteria may be renamed"
    forced = as_json(c, "put", url, {"title": "R", "criteria": changed, "force": True})
    assert forced.status_code == 200 and forced.json()["points_possible"] == "4.00"
    kept = in_tenant(world.institution, lambda: Grade.objects.get(pk=grade.pk))
    assert kept.rubric_scores[0]["criterion_id"] == "thesis" and kept.score == Decimal("6")


def test_rubric_used_by_an_item_cannot_be_deleted(world):
    rubric = world.rubric()
    item = world.item(rubric=rubric)
    c = world.clients["instructor"]
    response = c.delete(f"{API}/rubrics/{rubric.pk}/")
    assert response.status_code == 409 and error_code(response) == "rubric_in_use"
    in_tenant(world.institution, lambda: GradeItem.objects.filter(pk=item.pk).update(rubric=None))
    assert c.delete(f"{API}/rubrics/{rubric.pk}/").status_code == 204
    assert c.get(f"{API}/rubrics/{rubric.pk}/").status_code == 404
    listed = c.get(f"{API}/courses/{world.course.pk}/rubrics/").json()
    assert listed["count"] == 0


# --- gradebook items and posting ------------------------------------------------------------


def test_students_see_published_items_only(world):
    world.item("Published")
    world.item("Draft", is_published=False)
    url = f"{API}/courses/{world.course.pk}/grade-items/"
    student = [i["title"] for i in world.clients["stu0"].get(url).json()["results"]]
    staff = [i["title"] for i in world.clients["grader"].get(url).json()["results"]]
    assert student == ["Published"] and sorted(staff) == ["Draft", "Published"]


def test_automatic_posting_shows_new_grades_and_old_ones_only_when_asked(world):
    item = world.item()
    old = world.grade(item, world.students[0], 7)
    c = world.clients["ta"]
    url = f"{API}/grade-items/{item.pk}/"
    response = as_json(c, "patch", url, {"posting_policy": "automatic"})
    assert response.status_code == 200 and response.json()["posting_policy"] == "automatic"
    assert world.clients["stu0"].get(f"{API}/grades/{old.pk}/").status_code == 404
    new = world.grade(item, world.students[1], 9)
    assert world.clients["stu1"].get(f"{API}/grades/{new.pk}/").json()["released"] is True

    body = {"posting_policy": "automatic", "release_hidden": True}
    assert as_json(c, "patch", url, body).status_code == 200
    assert world.clients["stu0"].get(f"{API}/grades/{old.pk}/").status_code == 200
    body = {"posting_policy": "manual", "colour": "red"}
    assert as_json(c, "patch", url, body).status_code == 400


def test_item_release_and_hide_post_every_grade_in_few_queries(world):
    item = world.item()
    for student in world.students:
        world.grade(item, student, 5)
    c = world.clients["instructor"]
    assert c.get(f"{API}/grade-items/{item.pk}/").status_code == 200  # warm: session, caches
    with CaptureQueriesContext(connection) as queries:
        response = c.post(f"{API}/grade-items/{item.pk}/release/")
    assert response.status_code == 200 and response.json()["changed"] == 3
    few = len(queries)
    assert c.post(f"{API}/grade-items/{item.pk}/release/").json()["changed"] == 0
    more = [member(world.institution, f"more{n}@alpha.test") for n in range(10)]
    for student in more:
        enroll(world.institution, world.course, student)
        world.grade(item, student, 5)
    hidden = c.post(f"{API}/grade-items/{item.pk}/hide/")
    assert hidden.json()["changed"] == 3, "the new grades were hidden already"
    with CaptureQueriesContext(connection) as queries:
        assert c.post(f"{API}/grade-items/{item.pk}/release/").json()["changed"] == 13
    assert len(queries) == few, "releasing 13 grades costs what releasing 3 does"
    revisions = count(world, GradeRevision, grade__item=item, action="released")
    assert revisions == 3 + 13
    assert count(world, Grade, item=item, released_at__isnull=False) == 13


# --- grades: versions, history, late penalties --------------------------------------------------


def test_grade_put_with_version_and_etag(world):
    item = world.item()
    grade = world.grade(item, world.students[0], 5, feedback="Good start")
    c = world.clients["grader"]
    url = f"{API}/grades/{grade.pk}/"
    got = c.get(url)
    assert got["ETag"] == '"1"'
    response = as_json(c, "put", url, {"points_earned": "7.5"}, HTTP_IF_MATCH=got["ETag"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert response["ETag"] == '"2"' and body["version"] == 2
    assert body["score"] == "7.50" and body["feedback"] == "", "PUT resets feedback"
    assert body["grader"]["id"] == str(world.grader.pk)

    response = as_json(c, "patch", url, {"feedback": "Better", "version": 2})
    assert response.json()["score"] == "7.50" and response.json()["feedback"] == "Better"
    assert response.json()["released"] is False, "manual posting: still hidden"


def test_a_stale_version_is_a_conflict_and_changes_nothing(world):
    item = world.item()
    grade = world.grade(item, world.students[0], 5)
    url = f"{API}/grades/{grade.pk}/"
    assert as_json(world.clients["ta"], "patch", url, {"points_earned": "6", "version": 1})
    response = as_json(world.clients["grader"], "patch", url, {"points_earned": "9", "version": 1})
    assert response.status_code == 409 and error_code(response) == "grade_conflict"
    assert response.json()["error"]["current_version"] == 2
    stored = in_tenant(world.institution, lambda: Grade.objects.get(pk=grade.pk))
    assert stored.points_earned == Decimal("6") and stored.version == 2
    stale = as_json(
        world.clients["grader"], "put", url, {"points_earned": "1"}, HTTP_IF_MATCH='"1"'
    )
    assert stale.status_code == 409


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"points_earned": "5"}, {}),
        ({"points_earned": "5"}, {"HTTP_IF_MATCH": "yesterday"}),
        ({"points_earned": "5", "version": 1}, {"HTTP_IF_MATCH": '"2"'}),
        ({"points_earned": "-1", "version": 1}, {}),
        ({"points_earned": "5", "version": 1, "grade": "A"}, {}),
        ({"late_penalty_percent": "101", "version": 1}, {}),
    ],
)
def test_grade_change_input_is_checked(world, body, headers):
    grade = world.grade(world.item(), world.students[0], 5)
    url = f"{API}/grades/{grade.pk}/"
    response = as_json(world.clients["instructor"], "patch", url, body, **headers)
    assert response.status_code == 400 and error_code(response) == "invalid"


def test_late_penalty_is_applied_shown_and_can_be_waived(world):
    item = world.item(points=20)
    grade = world.grade(item, world.students[0], 18, late=25)  # 25% of 20 = 5 off
    c = world.clients["instructor"]
    url = f"{API}/grades/{grade.pk}/"
    body = c.get(url).json()
    assert (body["points_earned"], body["late_penalty_percent"]) == ("18.00", "25.00")
    assert (body["late_penalty_points"], body["score"]) == ("5.00", "13.00")
    regraded = as_json(c, "patch", url, {"points_earned": "20", "version": 1}).json()
    assert regraded["score"] == "15.00", "a regrade keeps the submission's penalty"
    waived = as_json(c, "patch", url, {"late_penalty_percent": "0", "version": 2}).json()
    assert waived["score"] == "20.00" and waived["late_penalty_points"] == "0.00"


def test_excusing_and_history(world):
    item = world.item()
    grade = world.grade(item, world.students[0], 5)
    c = world.clients["instructor"]
    url = f"{API}/grades/{grade.pk}/"
    assert as_json(c, "patch", url, {"excused": True, "version": 1}).json()["excused"] is True
    assert c.post(f"{url}release/").json()["released"] is True
    assert c.post(f"{url}hide/").json()["released"] is False
    history = world.clients["ta"].get(f"{url}history/").json()
    actions = [(r["version"], r["action"]) for r in history["results"]]
    assert actions == [(4, "hidden"), (3, "released"), (2, "regraded"), (1, "graded")]
    assert history["results"][1]["actor"]["id"] == str(world.instructor.pk)
    assert history["results"][2]["excused"] is True


def test_a_student_sees_their_grade_only_once_released(world):
    item = world.item()
    grade = world.grade(item, world.students[0], 5, feedback="See me")
    url = f"{API}/grades/{grade.pk}/"
    assert world.clients["stu0"].get(url).status_code == 404
    world.clients["ta"].post(f"{url}release/")
    body = world.clients["stu0"].get(url).json()
    assert body["feedback"] == "See me" and body["score"] == "5.00"
    in_tenant(
        world.institution,
        lambda: GradeItem.objects.filter(pk=item.pk).update(is_published=False),
    )
    assert world.clients["stu0"].get(url).status_code == 404, "an unpublished item hides it"


def test_grading_a_dropped_student_is_refused(world):
    grade = world.grade(world.item(), world.students[0], 5)
    in_tenant(
        world.institution,
        lambda: Enrollment.objects.filter(user=world.students[0]).update(status="dropped"),
    )
    url = f"{API}/grades/{grade.pk}/"
    response = as_json(
        world.clients["instructor"], "patch", url, {"points_earned": 1, "version": 1}
    )
    assert response.status_code == 409 and error_code(response) == "not_a_student"


# --- two graders at once -------------------------------------------------------------------


def test_two_graders_saving_at_once_lose_no_update(django_db_setup, committed_db):
    """Two graders send the same version at the same moment, each through
    their own connection: one wins, the other gets 409, and both versions
    are in the history."""
    institution = make_institution("gradingrace")
    teacher = member(institution, "teacher@gradingrace.test", Role.INSTRUCTOR)
    course = course_taught_by(institution, teacher)
    student = member(institution, "student@gradingrace.test")
    enroll(institution, course, student)
    graders = [member(institution, f"g{n}@gradingrace.test", Role.TA) for n in range(2)]
    for grader in graders:
        enroll(institution, course, grader, CourseRole.GRADER)

    def setup():
        item = services.grade_item_sync(
            kind="quiz", source_id=uuid.uuid4(), course=course, title="Q", points_possible=10
        )
        given = services.GradeInput(points_earned=1)
        return services.grade_save(item=item, student=student, grader=teacher, given=given)

    grade = in_tenant(institution, setup)
    clients = [api_client(institution, grader) for grader in graders]
    start = threading.Barrier(2)
    answers = [None, None]

    def save(index):
        try:
            start.wait(timeout=30)
            body = {"points_earned": str(5 + index), "version": 1}
            answers[index] = as_json(clients[index], "put", f"{API}/grades/{grade.pk}/", body)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=save, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 409], [answer.content for answer in answers]
    winner = next(a for a in answers if a.status_code == 200).json()
    loser = next(a for a in answers if a.status_code == 409).json()
    assert loser["error"]["current_version"] == 2

    def stored():
        saved = Grade.objects.get(pk=grade.pk)
        return saved.points_earned, list(saved.revisions.values_list("version", flat=True))

    points, versions = in_tenant(institution, stored)
    assert points == Decimal(winner["points_earned"]) and sorted(versions) == [1, 2]
