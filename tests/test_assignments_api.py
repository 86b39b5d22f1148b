"""The assignments API through the tenant router: create, read, change,
publish and delete assignments, each for the role allowed, the roles refused
(nothing changes) and another institution's users; the gradebook column kept
in step; archived courses; course copy; lists without a query per row.

The `world` fixture and helpers here are shared by the submissions tests."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenant_apps.accounts.models import Role
from tenant_apps.assignments.copying import assignments_copy
from tenant_apps.assignments.models import Assignment, Submission
from tenant_apps.content.models import ContentItem, Module
from tenant_apps.courses.copying import CopyContext
from tenant_apps.courses.models import (
    Course,
    CourseRole,
    CourseStatus,
    EnrollmentType,
)
from tenant_apps.grading.models import AssignmentGroup, GradeItem, Rubric

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

pytestmark = pytest.mark.django_db


@dataclass
class World:
    institution: object
    course: Course
    other_course: Course
    users: dict
    clients: dict

    def client(self, name: str):
        return self.clients[name]


def build_world(institution, *, students: int = 3) -> World:
    """A published course with its instructor, students, a TA and a grader;
    another course with its own TA and student; the institution's admin."""
    slug = institution.slug
    instructor = member(institution, f"prof@{slug}.test", Role.INSTRUCTOR)
    course = course_taught_by(institution, instructor)
    other_teacher = member(institution, f"other@{slug}.test", Role.INSTRUCTOR)
    other_course = course_taught_by(institution, other_teacher, code="CS 202")
    users = {"instructor": instructor, "admin": admin_of(institution)}
    for n in range(students):
        users[f"stu{n}"] = member(institution, f"stu{n}@{slug}.test")
        enroll(institution, course, users[f"stu{n}"])
    users["ta"] = member(institution, f"ta@{slug}.test", Role.TA)
    enroll(institution, course, users["ta"], CourseRole.TA)
    users["grader"] = member(institution, f"grader@{slug}.test", Role.TA)
    enroll(institution, course, users["grader"], CourseRole.GRADER)
    users["waitlisted"] = member(institution, f"wait@{slug}.test")
    enroll(institution, course, users["waitlisted"], enrollment_type=EnrollmentType.WAITLIST)
    users["other_ta"] = member(institution, f"ota@{slug}.test", Role.TA)
    enroll(institution, other_course, users["other_ta"], CourseRole.TA)
    users["other_student"] = member(institution, f"ostu@{slug}.test")
    enroll(institution, other_course, users["other_student"])
    clients = {name: api_client(institution, user) for name, user in users.items()}
    return World(institution, course, other_course, users, clients)


@pytest.fixture
def world(alpha) -> World:
    return build_world(alpha)


def iso(moment) -> str:
    return moment.isoformat()


def course_url(course) -> str:
    return f"/api/v1/courses/{course.pk}/assignments/"


def assignment_body(**overrides) -> dict:
    return {
        "title": "Essay 1",
        "points": "100",
        "due_at": iso(timezone.now() + timedelta(days=7)),
        "submission_type": "multiple",
        "is_published": True,
        **overrides,
    }


def create(client, course, **overrides):
    return as_json(client, "post", course_url(course), assignment_body(**overrides))


def create_assignment(world: World, **overrides) -> dict:
    response = create(world.client("instructor"), world.course, **overrides)
    assert response.status_code == 201, response.content
    return response.json()


def grade_item(institution, assignment_id) -> GradeItem:
    return in_tenant(
        institution,
        lambda: GradeItem.objects.get(kind="assignment", source_id=assignment_id),
    )


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["title"] for row in response.json()["results"]]


# --- create -----------------------------------------------------------------------


def test_instructor_creates_an_assignment_with_its_gradebook_column(world):
    response = create(
        world.client("instructor"),
        world.course,
        allowed_file_types=[".PDF", "Docx", "pdf"],
        late_penalty_per_day="10",
        max_late_days=3,
        max_submissions=None,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/assignments/{body['id']}/"
    assert body["allowed_file_types"] == ["pdf", "docx"]
    assert body["max_submissions"] is None, "null: unlimited"
    assert body["is_published"] and body["published_at"]
    assert body["posting_policy"] == "manual", "the gradebook's default"
    item = grade_item(world.institution, body["id"])
    assert str(item.pk) == body["grade_item_id"]
    assert (item.title, item.points_possible, item.is_published) == (
        "Essay 1",
        Decimal("100.00"),
        True,
    )
    assert item.due_at.isoformat().replace("+00:00", "Z")[:19] == body["due_at"][:19]


def test_admin_creates_with_group_rubric_module_and_posting_policy(world):
    def rows():
        module = Module.objects.create(course=world.course, title="Week 1", order_index=0)
        group = AssignmentGroup.objects.create(course=world.course, name="Essays", weight=40)
        rubric = Rubric.objects.create(
            course=world.course, title="R", criteria=[], points_possible=Decimal("10")
        )
        return module, group, rubric

    module, group, rubric = in_tenant(world.institution, rows)
    response = create(
        world.client("admin"),
        world.course,
        module_id=str(module.pk),
        group_id=str(group.pk),
        rubric_id=str(rubric.pk),
        posting_policy="automatic",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["module_id"], body["group_id"], body["rubric_id"]) == (
        str(module.pk),
        str(group.pk),
        str(rubric.pk),
    )
    item = grade_item(world.institution, body["id"])
    assert (item.group_id, item.rubric_id, item.posting_policy) == (
        group.pk,
        rubric.pk,
        "automatic",
    )


def test_links_to_another_course_are_refused(world):
    def rows():
        module = Module.objects.create(course=world.other_course, title="W", order_index=0)
        group = AssignmentGroup.objects.create(course=world.other_course, name="G")
        rubric = Rubric.objects.create(
            course=world.other_course, title="R", criteria=[], points_possible=Decimal("1")
        )
        return module, group, rubric

    module, group, rubric = in_tenant(world.institution, rows)
    for field, value in [
        ("module_id", module.pk),
        ("group_id", group.pk),
        ("rubric_id", rubric.pk),
    ]:
        response = create(world.client("instructor"), world.course, **{field: str(value)})
        assert response.status_code == 400, field
        assert field in response.json()["error"]["fields"]
    assert in_tenant(world.institution, lambda: Assignment.objects.count()) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"due_at": None}, "due_at"),
        ({"points": "-1"}, "points"),
        ({"late_penalty_per_day": "101"}, "late_penalty_per_day"),
        ({"allowed_file_types": ["exe"]}, "allowed_file_types"),
        ({"submission_type": "video"}, "submission_type"),
        ({"max_submissions": 0}, "max_submissions"),
        ({"max_file_size_mb": 0}, "max_file_size_mb"),
        ({"surprise": 1}, "surprise"),
        ({"settings": {"x": 1}}, "settings"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(world, overrides, field):
    body = assignment_body(**overrides)
    body = {k: v for k, v in body.items() if v is not None}
    response = as_json(world.client("instructor"), "post", course_url(world.course), body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize("who", ["ta", "grader", "stu0"])
def test_course_members_who_may_not_edit_get_403_and_nothing_is_created(world, who):
    response = create(world.client(who), world.course)
    assert response.status_code == 403
    assert in_tenant(world.institution, lambda: Assignment.objects.count()) == 0


@pytest.mark.parametrize("who", ["other_ta", "other_student"])
def test_people_of_another_course_get_404(world, who):
    assert create(world.client(who), world.course).status_code == 404
    assert world.client(who).get(course_url(world.course)).status_code == 404
    made = create_assignment(world)
    path = f"/api/v1/assignments/{made['id']}/"
    assert world.client(who).get(path).status_code == 404
    assert as_json(world.client(who), "patch", path, {"title": "x"}).status_code == 404
    assert world.client(who).delete(path).status_code == 404
    assert world.client(who).get(path + "submissions/").status_code == 404


# --- read -------------------------------------------------------------------------


def test_students_see_published_assignments_staff_see_all(world):
    create_assignment(world, title="Published")
    create_assignment(world, title="Draft", is_published=False)
    assert titles(world.client("stu0").get(course_url(world.course))) == ["Published"]
    for who in ("instructor", "ta", "grader", "admin"):
        assert sorted(titles(world.client(who).get(course_url(world.course)))) == [
            "Draft",
            "Published",
        ], who
    assert world.client("waitlisted").get(course_url(world.course)).status_code == 403


def test_a_draft_assignment_is_a_404_for_students(world):
    draft = create_assignment(world, is_published=False)
    path = f"/api/v1/assignments/{draft['id']}/"
    assert world.client("stu0").get(path).status_code == 404
    assert world.client("stu0").get(path + "submissions/").status_code == 404
    assert world.client("ta").get(path).status_code == 200


def test_closes_at_follows_the_late_policy(world):
    due = timezone.now() + timedelta(days=2)
    never = create_assignment(world, due_at=iso(due))
    refused = create_assignment(world, due_at=iso(due), allow_late_submission=False)
    limited = create_assignment(world, due_at=iso(due), max_late_days=3)
    assert never["closes_at"] is None
    assert refused["closes_at"][:19] == due.isoformat()[:19]
    closes = limited["closes_at"].replace("Z", "+00:00")
    assert (
        abs((timezone.datetime.fromisoformat(closes) - due - timedelta(days=3)).total_seconds())
        < 3600
    )


# --- change, publish, delete --------------------------------------------------------


def test_instructor_changes_and_publishes_and_the_column_follows(world):
    made = create_assignment(world, is_published=False)
    path = f"/api/v1/assignments/{made['id']}/"
    assert made["published_at"] is None
    response = as_json(
        world.client("instructor"),
        "patch",
        path,
        {"title": "Essay one", "points": "50", "is_published": True, "posting_policy": "automatic"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["published_at"] and body["title"] == "Essay one"
    item = grade_item(world.institution, made["id"])
    assert (item.title, item.points_possible, item.is_published, item.posting_policy) == (
        "Essay one",
        Decimal("50.00"),
        True,
        "automatic",
    )
    assert world.client("stu0").get(path).status_code == 200


def test_put_needs_the_required_fields(world):
    made = create_assignment(world)
    path = f"/api/v1/assignments/{made['id']}/"
    response = as_json(world.client("instructor"), "put", path, {"title": "Only a title"})
    assert response.status_code == 400
    assert {"points", "due_at"} <= set(response.json()["error"]["fields"])
    response = as_json(world.client("instructor"), "put", path, assignment_body(title="New"))
    assert response.status_code == 200 and response.json()["title"] == "New"


@pytest.mark.parametrize("who", ["ta", "grader", "stu0"])
def test_members_who_may_not_edit_cannot_change_or_delete(world, who):
    made = create_assignment(world)
    path = f"/api/v1/assignments/{made['id']}/"
    assert as_json(world.client(who), "patch", path, {"title": "x"}).status_code == 403
    assert world.client(who).delete(path).status_code == 403
    assert in_tenant(world.institution, lambda: Assignment.objects.get().title) == "Essay 1"


def test_an_assignment_with_submissions_cannot_be_unpublished(world):
    made = create_assignment(world)
    path = f"/api/v1/assignments/{made['id']}/"
    response = as_json(world.client("stu0"), "post", path + "submit/", {"text": "mine"})
    assert response.status_code == 201, response.content
    response = as_json(world.client("instructor"), "patch", path, {"is_published": False})
    assert response.status_code == 409
    assert error_code(response) == "assignment_has_submissions"


def test_delete_is_soft_and_takes_the_column_out_of_the_gradebook(world):
    made = create_assignment(world)
    path = f"/api/v1/assignments/{made['id']}/"
    assert world.client("instructor").delete(path).status_code == 204
    assert world.client("instructor").get(path).status_code == 404
    assert world.client("instructor").delete(path).status_code == 404
    assert grade_item(world.institution, made["id"]).deleted_at is not None
    assert in_tenant(world.institution, lambda: Assignment.objects.get().deleted_at) is not None


def test_an_archived_course_refuses_writes(world):
    made = create_assignment(world)
    path = f"/api/v1/assignments/{made['id']}/"
    in_tenant(
        world.institution,
        lambda: Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.ARCHIVED),
    )
    c = world.client("instructor")
    for response in (
        create(c, world.course),
        as_json(c, "patch", path, {"title": "x"}),
        c.delete(path),
    ):
        assert response.status_code == 409 and error_code(response) == "course_archived"
    assert c.get(path).status_code == 200


def test_another_institution_is_refused(world, beta):
    made = create_assignment(world)
    paths = [
        ("get", course_url(world.course)),
        ("post", course_url(world.course)),
        ("get", f"/api/v1/assignments/{made['id']}/"),
        ("patch", f"/api/v1/assignments/{made['id']}/"),
        ("delete", f"/api/v1/assignments/{made['id']}/"),
        ("get", f"/api/v1/assignments/{made['id']}/submissions/"),
        ("post", f"/api/v1/assignments/{made['id']}/submit/"),
    ]
    stray = api_client(beta, admin_of(beta))
    stray.defaults["HTTP_HOST"] = "alpha.localhost"
    home = api_client(beta, admin_of(beta))
    for method, path in paths:
        assert as_json(stray, method, path, assignment_body()).status_code == 401, path
        assert as_json(home, method, path, assignment_body()).status_code == 404, path
    assert in_tenant(world.institution, lambda: Assignment.objects.get().title) == "Essay 1"


# --- course copy ------------------------------------------------------------------


def test_course_copy_brings_assignments_with_dates_shifted_and_modules_remapped(world):
    module = in_tenant(
        world.institution,
        lambda: Module.objects.create(course=world.course, title="Week 1", order_index=0),
    )
    placed = create_assignment(
        world, title="Placed", module_id=str(module.pk), posting_policy="automatic"
    )
    create_assignment(world, title="Loose", is_published=False)
    gone = create_assignment(world, title="Deleted")
    world.client("instructor").delete(f"/api/v1/assignments/{gone['id']}/")
    submitted = as_json(
        world.client("stu0"), "post", f"/api/v1/assignments/{placed['id']}/submit/", {"text": "x"}
    )
    assert submitted.status_code == 201
    in_tenant(
        world.institution,
        lambda: ContentItem.objects.create(
            module=module,
            title="Do the essay",
            content_type="assignment",
            assignment_id=placed["id"],
            order_index=0,
        ),
    )

    response = as_json(
        world.client("instructor"),
        "post",
        f"/api/v1/courses/{world.course.pk}/copy/",
        {
            "term": "Spring 2027",
            "academic_year": 2027,
            "start_date": "2027-01-05",
            "end_date": "2027-05-01",
        },
    )
    assert response.status_code == 201, response.content
    copy_id = response.json()["id"]
    shift = date(2027, 1, 5) - date(2026, 9, 1)

    def check():
        copies = {a.title: a for a in Assignment.objects.filter(course_id=copy_id)}
        assert set(copies) == {"Placed", "Loose"}
        source = Assignment.objects.get(pk=placed["id"])
        copy = copies["Placed"]
        assert copy.due_at == source.due_at + shift
        new_module = Module.objects.get(course_id=copy_id)
        assert copy.module_id == new_module.pk
        assert not Submission.objects.filter(assignment__course_id=copy_id).exists()
        item = GradeItem.objects.get(kind="assignment", source_id=copy.pk)
        assert (item.course_id, item.posting_policy, item.due_at) == (
            copy.course_id,
            "automatic",
            copy.due_at,
        )
        assert copies["Loose"].is_published is False
        copied_item = ContentItem.objects.get(module=new_module)
        assert copied_item.assignment_id == copy.pk

    in_tenant(world.institution, check)


# --- lists: queries do not grow with rows -------------------------------------------


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(queries)


def test_the_assignment_list_does_not_query_per_row(world):
    for n in range(2):
        create_assignment(world, title=f"A{n}")
    few = {w: _queries(world.client(w), course_url(world.course)) for w in ("stu0", "ta")}
    for n in range(2, 10):
        create_assignment(world, title=f"A{n}")
    many = {w: _queries(world.client(w), course_url(world.course)) for w in ("stu0", "ta")}
    assert many == few


def test_the_copy_step_links_groups_and_rubrics_a_grading_step_copied(world):
    def rows():
        group = AssignmentGroup.objects.create(course=world.course, name="Essays")
        rubric = Rubric.objects.create(
            course=world.course, title="R", criteria=[], points_possible=Decimal("10")
        )
        return group, rubric

    group, rubric = in_tenant(world.institution, rows)
    made = create_assignment(world, group_id=str(group.pk), rubric_id=str(rubric.pk))
    loose = create_assignment(world, title="Loose", group_id=str(group.pk))
    target = course_taught_by(world.institution, world.users["instructor"], code="CS 101-B")

    def copy():
        new_group = AssignmentGroup.objects.create(course=target, name="Essays")
        new_rubric = Rubric.objects.create(
            course=target, title="R", criteria=[], points_possible=Decimal("10")
        )
        context = CopyContext(source=world.course, target=target, date_shift=timedelta(days=7))
        context.remember("assignment_group", group.pk, new_group.pk)
        context.remember("rubric", rubric.pk, new_rubric.pk)
        assignments_copy(context)
        copied = Assignment.objects.get(pk=context.id_map["assignment"][uuid.UUID(made["id"])])
        assert (copied.group_id, copied.rubric_id) == (new_group.pk, new_rubric.pk)
        item = GradeItem.objects.get(kind="assignment", source_id=copied.pk)
        assert (item.group_id, item.rubric_id) == (new_group.pk, new_rubric.pk)
        alone = CopyContext(source=world.course, target=target, date_shift=timedelta(0))
        assignments_copy(alone)
        bare = Assignment.objects.get(pk=alone.id_map["assignment"][uuid.UUID(loose["id"])])
        assert (bare.group_id, bare.rubric_id) == (None, None), "nothing to point at"

    in_tenant(world.institution, copy)
