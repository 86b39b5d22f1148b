"""The analytics API through the tenant router: exact figures of a course
built by hand (submissions and grades through the API, past activity as log
rows with their times), orderings and filters, who may call each endpoint
(and another institution's users), the plan feature, bad input, and query
counts that do not grow with the course."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.plans.models import Plan
from shared_apps.subscriptions.services import subscription_change_plan
from tenant_apps.accounts.models import Role, User
from tenant_apps.activity.models import ActivityLog, ActivityType
from tenant_apps.assignments.models import Assignment
from tenant_apps.content.models import ContentItem, ContentProgress, Module
from tenant_apps.courses.models import (
    Course,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentType,
)

from .api_helpers import admin_of, api_client, as_json, course_taught_by, error_code, member
from .conftest import PASSWORD, host_client
from .test_assignments_api import World, build_world, create_assignment, enroll

pytestmark = pytest.mark.django_db

API = "/api/v1/analytics"
COURSE_ENDPOINTS = ("overview", "students", "content", "assignments")
SYSTEM = f"{API}/system/overview/"
DAY = timedelta(days=1)


def course_url(course, endpoint: str) -> str:
    return f"{API}/courses/{course.pk}/{endpoint}/"


def ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def log(institution, user, kind, *, ago=timedelta(0), course=None, entity_type="", entity=None):
    """A row of the activity log as it was written `ago`."""
    with tenant_context(institution):
        row = ActivityLog.objects.create(
            user=user,
            activity_type=kind,
            entity_type=entity_type,
            entity_id=entity,
            course_id=course.pk if course is not None else None,
        )
        ActivityLog.objects.filter(pk=row.pk).update(created_at=timezone.now() - ago)
    connection.set_schema_to_public()


# --- a course with known figures -----------------------------------------------------------


@dataclass
class Course7:
    world: World
    a1: dict
    a2: dict
    a3: dict
    a4: dict
    reading: ContentItem
    draft_item: ContentItem

    def client(self, name):
        return self.world.client(name)

    def user(self, name):
        return self.world.users[name]


def _submit(world, who, assignment, text="work"):
    url = f"/api/v1/assignments/{assignment['id']}/submit/"
    response = as_json(world.client(who), "post", url, {"text": text})
    assert response.status_code == 201, response.content
    return response.json()


def _grade(world, submission, **body):
    url = f"/api/v1/submissions/{submission['id']}/grade/"
    response = as_json(world.client("instructor"), "post", url, body)
    assert response.status_code == 200, response.content


def _due(world, assignment, ago: timedelta):
    with tenant_context(world.institution):
        Assignment.objects.filter(pk=assignment["id"]).update(due_at=timezone.now() - ago)
    connection.set_schema_to_public()


@pytest.fixture
def c7(alpha) -> Course7:
    """Six students (stu0..stu5) and four assignments:
    - A1 (due 3 days ago): stu0, stu1, stu4 on time, stu2 late; graded 90, 75.50, 80, 60.
    - A2 (due yesterday): stu0 on time, graded 40 of 50.
    - A3 (due in a week): stu1, excused.  A4: a draft.
    stu3 enrolled 30 days ago, last seen 20 days ago; stu5 enrolled now, never seen.
    Views: stu0 the reading today (through the API) and 2 days ago, the course
    10 days ago; stu1 the reading 5 days ago, A1 20 days ago; stu2 the course
    40 days ago; stu3 the course 20 days ago. Staff, waitlisted and another
    course's views are noise that must not count."""
    world = build_world(alpha, students=6)
    a1 = create_assignment(world, title="Essay 1")
    a2 = create_assignment(world, title="Essay 2", points="50")
    a3 = create_assignment(world, title="Essay 3")
    a4 = create_assignment(
        world,
        title="Project",
        is_published=False,
        due_at=(timezone.now() + 8 * DAY).isoformat(),
    )
    graded = {
        "stu0": _submit(world, "stu0", a1),
        "stu1": _submit(world, "stu1", a1),
        "stu4": _submit(world, "stu4", a1),
    }
    a2_stu0 = _submit(world, "stu0", a2)
    a3_stu1 = _submit(world, "stu1", a3)
    _due(world, a1, 3 * DAY)
    _due(world, a2, DAY)
    graded["stu2"] = _submit(world, "stu2", a1)  # late
    for who, points in (("stu0", "90"), ("stu1", "75.50"), ("stu4", "80"), ("stu2", "60")):
        _grade(world, graded[who], points_earned=points)
    _grade(world, a2_stu0, points_earned="40")
    _grade(world, a3_stu1, excused=True)

    institution, course = world.institution, world.course
    with tenant_context(institution):
        Enrollment.objects.filter(course=course, user=world.users["stu3"]).update(
            enrolled_at=timezone.now() - 30 * DAY
        )
        module = Module.objects.create(
            course=course, title="Week 1", order_index=0, is_published=True
        )
        reading, draft_item, _gone = (
            ContentItem.objects.create(
                module=module,
                title=title,
                content_type="link",
                content_url="https://example.org/x",
                order_index=n,
                is_published=title != "Draft",
                deleted_at=timezone.now() if title == "Gone" else None,
            )
            for n, title in enumerate(("Reading", "Draft", "Gone"))
        )
        progress = (("stu0", True, 120), ("stu1", False, 30), ("waitlisted", True, 999))
        for who, completed, seconds in progress:
            ContentProgress.objects.create(
                user=world.users[who],
                content=reading,
                is_completed=completed,
                completion_percentage=100 if completed else 50,
                time_spent_seconds=seconds,
            )
    connection.set_schema_to_public()

    assert world.client("stu0").get(f"/api/v1/contents/{reading.pk}/").status_code == 200
    assert world.client("instructor").get(f"/api/v1/contents/{reading.pk}/").status_code == 200
    assert world.client("waitlisted").get(f"/api/v1/courses/{course.pk}/").status_code == 200
    u = world.users
    content = {"entity_type": "content", "entity": reading.pk, "course": course}
    log(institution, u["stu0"], ActivityType.VIEW_CONTENT, ago=2 * DAY, **content)
    log(institution, u["stu0"], ActivityType.VIEW_COURSE, ago=10 * DAY, course=course)
    log(institution, u["stu1"], ActivityType.VIEW_CONTENT, ago=5 * DAY, **content)
    log(institution, u["stu1"], ActivityType.VIEW_ASSIGNMENT, ago=20 * DAY, course=course)
    log(institution, u["stu2"], ActivityType.VIEW_COURSE, ago=40 * DAY, course=course)
    log(institution, u["stu3"], ActivityType.VIEW_COURSE, ago=20 * DAY, course=course)
    log(institution, u["ta"], ActivityType.VIEW_CONTENT, ago=DAY, **content)
    log(institution, u["other_student"], ActivityType.VIEW_COURSE, course=world.other_course)
    log(institution, u["stu0"], ActivityType.LOGIN)  # no course
    return Course7(world, a1, a2, a3, a4, reading, draft_item)


def test_the_overview_of_a_course(c7):
    body = ok(c7.client("instructor").get(course_url(c7.world.course, "overview"), {"days": 7}))
    assert body["course_id"] == str(c7.world.course.pk)
    assert body["students"] == 6
    assert (body["active_students_7_days"], body["active_students_30_days"]) == (4, 5)
    assert body["window"]["days"] == 7
    assert (body["views"], body["submissions"], body["active_students"]) == (3, 6, 4)
    # Current totals 86.67, 75.50, 60.00, 80.00 (stu3 and stu5 have none).
    assert (body["average_current_grade"], body["graded_students"]) == ("75.54", 4)
    assert (body["published_assignments"], body["due_assignments"]) == (3, 2)
    assert body["assignment_completion_percent"] == "41.67"  # 5 of 6 x 2
    days = body["activity_per_day"]
    assert len(days) == 7
    today = timezone.now().date()
    assert [d["date"] for d in days] == [str(today - n * DAY) for n in range(6, -1, -1)]
    by_day = {d["date"]: (d["views"], d["submissions"], d["active_users"]) for d in days}
    assert by_day[str(today)] == (1, 6, 4)
    assert by_day[str(today - 2 * DAY)] == (1, 0, 1)
    assert by_day[str(today - 5 * DAY)] == (1, 0, 1)
    assert sum(v + s + a for v, s, a in by_day.values()) == 11 + 2 + 2

    month = ok(c7.client("ta").get(course_url(c7.world.course, "overview")))
    assert (month["window"]["days"], len(month["activity_per_day"])) == (30, 30)
    assert month["views"] == 6  # and not stu2's view of 40 days ago


def test_the_students_of_a_course(c7):
    body = ok(c7.client("instructor").get(course_url(c7.world.course, "students")))
    assert body["count"] == 6
    rows = {row["user"]["email"].split("@")[0]: row for row in body["results"]}
    assert list(rows) == [f"stu{n}" for n in range(6)]
    figures = {
        name: (
            row["views"],
            row["submissions"]["on_time"],
            row["submissions"]["late"],
            row["submissions"]["missing"],
            row["current_grade"],
            row["at_risk_reasons"],
        )
        for name, row in rows.items()
    }
    assert figures == {
        "stu0": (3, 2, 0, 0, "86.67", []),
        "stu1": (2, 2, 0, 1, "75.50", []),
        "stu2": (1, 0, 1, 1, "60.00", []),
        "stu3": (1, 0, 0, 2, None, ["inactive", "missing_assignments"]),
        "stu4": (0, 1, 0, 1, "80.00", []),
        "stu5": (0, 0, 0, 2, None, ["missing_assignments"]),
    }
    assert [name for name, row in rows.items() if row["at_risk"]] == ["stu3", "stu5"]
    assert rows["stu5"]["last_active_at"] is None and rows["stu5"]["letter"] is None
    assert rows["stu0"]["letter"]
    seen = timezone.now() - datetime.fromisoformat(rows["stu3"]["last_active_at"])
    assert 20 * DAY <= seen < 21 * DAY
    assert rows["stu0"]["user"]["id"] == str(c7.user("stu0").pk)


def _names(response) -> list[str]:
    return [row["user"]["email"].split("@")[0] for row in ok(response)["results"]]


def test_students_sort_and_filter(c7):
    client, url = c7.client("admin"), course_url(c7.world.course, "students")
    assert _names(client.get(url, {"ordering": "-grade"})) == [
        "stu0",
        "stu4",
        "stu1",
        "stu2",
        "stu3",
        "stu5",
    ]
    assert _names(client.get(url, {"ordering": "grade"}))[:4] == ["stu2", "stu1", "stu4", "stu0"]
    assert _names(client.get(url, {"ordering": "-views"})) == [
        "stu0",
        "stu1",
        "stu2",
        "stu3",
        "stu4",
        "stu5",
    ]
    recent_first = _names(client.get(url, {"ordering": "-last_active"}))
    assert recent_first[-2:] == ["stu3", "stu5"]
    assert _names(client.get(url, {"ordering": "last_active"}))[0] == "stu3"
    assert _names(client.get(url, {"ordering": "-missing"}))[:2] == ["stu3", "stu5"]
    assert _names(client.get(url, {"at_risk": "true"})) == ["stu3", "stu5"]
    assert len(_names(client.get(url, {"at_risk": "false"}))) == 4
    page = ok(client.get(url, {"per_page": 2, "page": 2, "ordering": "-grade"}))
    assert (page["count"], [r["user"]["email"] for r in page["results"]]) == (
        6,
        ["stu1@alpha.test", "stu2@alpha.test"],
    )


def test_content_engagement(c7):
    body = ok(c7.client("ta").get(course_url(c7.world.course, "content")))
    assert [row["title"] for row in body["results"]] == ["Reading", "Draft"]
    reading, draft = body["results"]
    assert reading["module"]["title"] == "Week 1"
    assert (
        reading["views"],
        reading["unique_viewers"],
        reading["started"],
        reading["completed"],
        reading["completion_percent"],
        reading["time_spent_seconds"],
    ) == (3, 2, 2, 1, "16.67", 150)
    assert (draft["views"], draft["completed"], draft["completion_percent"]) == (0, 0, "0.00")
    assert draft["is_published"] is False


def test_assignment_statistics(c7):
    body = ok(c7.client("instructor").get(course_url(c7.world.course, "assignments")))
    assert [row["title"] for row in body["results"]] == ["Essay 1", "Essay 2", "Essay 3", "Project"]
    keys = (
        "submitted",
        "on_time",
        "late",
        "missing",
        "graded",
        "excused",
        "score_mean",
        "score_median",
        "score_min",
        "score_max",
        "is_past_due",
    )
    figures = [tuple(row[k] for k in keys) for row in body["results"]]
    assert figures == [
        (4, 3, 1, 2, 4, 0, "76.38", "77.75", "60.00", "90.00", True),
        (1, 1, 0, 5, 1, 0, "40.00", "40.00", "40.00", "40.00", True),
        (1, 1, 0, 0, 1, 1, None, None, None, None, False),
        (0, 0, 0, 0, 0, 0, None, None, None, None, False),
    ]
    assert {row["students"] for row in body["results"]} == {6}
    assert body["results"][1]["points"] == "50.00"
    assert body["results"][3]["is_published"] is False


# --- who may call -----------------------------------------------------------------


EXPECTED = {
    "instructor": 200,
    "admin": 200,
    "ta": 200,
    "grader": 403,
    "stu0": 403,
    "waitlisted": 403,
    "other_ta": 404,
    "other_student": 404,
}


@pytest.fixture
def world(alpha) -> World:
    return build_world(alpha, students=2)


@pytest.mark.parametrize("endpoint", COURSE_ENDPOINTS)
@pytest.mark.parametrize("who", list(EXPECTED))
def test_who_may_see_a_courses_analytics(world, endpoint, who):
    expected = EXPECTED[who]
    if endpoint == "students" and who == "ta":
        expected = 403  # TAs see the class's figures, not each student's
    response = world.client(who).get(course_url(world.course, endpoint))
    assert response.status_code == expected, response.content
    if expected == 403:
        assert error_code(response) == "permission_denied"
    if expected == 404:
        assert error_code(response) == "not_found"


@pytest.mark.parametrize("endpoint", COURSE_ENDPOINTS)
def test_a_draft_course_is_hidden_from_its_students(world, endpoint):
    with tenant_context(world.institution):
        Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.DRAFT)
    connection.set_schema_to_public()
    assert world.client("stu0").get(course_url(world.course, endpoint)).status_code == 404
    assert world.client("instructor").get(course_url(world.course, endpoint)).status_code == 200


@pytest.mark.parametrize("endpoint", COURSE_ENDPOINTS)
def test_another_institution_sees_nothing(world, beta, endpoint):
    beta_admin = api_client(beta, admin_of(beta))
    beta_course = course_taught_by(beta, admin_of(beta), code="B 1")
    assert beta_admin.get(course_url(beta_course, endpoint)).status_code == 200
    # Alpha's course on beta's host, and beta's course on alpha's host: 404.
    assert beta_admin.get(course_url(world.course, endpoint)).status_code == 404
    alpha_admin = world.client("admin")
    assert alpha_admin.get(course_url(beta_course, endpoint)).status_code == 404
    # Beta's token on alpha's host: not signed in there.
    beta_admin.defaults["HTTP_HOST"] = "alpha.localhost"
    response = beta_admin.get(course_url(world.course, endpoint))
    assert response.status_code == 401


def test_an_unknown_course_and_no_token(world, alpha_client):
    missing = f"{API}/courses/{uuid.uuid4()}/overview/"
    assert world.client("admin").get(missing).status_code == 404
    assert alpha_client.get(course_url(world.course, "overview")).status_code == 401
    assert alpha_client.get(SYSTEM).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
        ({"days": "week"}, "days"),
        ({"days": "9" * 40}, "days"),
        ({"ordering": "email"}, "ordering"),
        ({"ordering": "x" * 5000}, "ordering"),
        ({"at_risk": "perhaps"}, "at_risk"),
    ],
)
def test_bad_query_parameters_are_400(world, params, field):
    endpoint = "overview" if field == "days" else "students"
    response = world.client("instructor").get(course_url(world.course, endpoint), params)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert field in response.json()["error"]["fields"]
    if field == "days":
        assert world.client("admin").get(SYSTEM, params).status_code == 400


# --- the plan feature ---------------------------------------------------------------


def plan_assign(institution, **fields) -> Plan:
    """A plan of its own for `institution`, assigned as the operator does."""
    plan = Plan.objects.create(code=f"tiny-{uuid.uuid4().hex[:8]}", name="Tiny", **fields)
    subscription_change_plan(institution=institution, plan=plan)
    return plan


def test_the_test_institutions_plan_includes_analytics(alpha):
    connection.set_schema_to_public()
    alpha.refresh_from_db()
    assert alpha.plan.features.get("analytics") is True


def test_analytics_needs_a_plan_that_includes_it(world, alpha):
    plan = plan_assign(alpha, features={"sso": True})
    urls = [course_url(world.course, e) for e in COURSE_ENDPOINTS] + [SYSTEM]
    for url in urls:
        response = world.client("admin").get(url)
        assert response.status_code == 403, url
        assert error_code(response) == "plan_limit_reached"
        assert response.json()["error"]["limit"] == {
            "kind": "feature",
            "feature": "analytics",
            "included": False,
            "plan": "Tiny",
        }
    # Those who may not see analytics anyway hear nothing about the plan.
    student = world.client("stu0").get(course_url(world.course, "overview"))
    assert error_code(student) == "permission_denied"
    assert error_code(world.client("instructor").get(SYSTEM)) == "permission_denied"
    # The plan gains analytics: the same requests go through at once.
    Plan.objects.filter(pk=plan.pk).update(features={"analytics": True})
    for url in urls:
        assert world.client("admin").get(url).status_code == 200, url


# --- the institution ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.STUDENT, 403), (Role.TA, 403), (Role.INSTRUCTOR, 403), (Role.ADMIN, 200)],
)
def test_only_admins_see_the_institution(alpha, role, status):
    user = member(alpha, f"{role}-x@alpha.test", role)
    assert api_client(alpha, user).get(SYSTEM).status_code == status


def test_another_institutions_admin_is_refused_the_institution(alpha, beta):
    beta_admin = api_client(beta, admin_of(beta))
    assert beta_admin.get(SYSTEM).status_code == 200
    beta_admin.defaults["HTTP_HOST"] = "alpha.localhost"
    assert beta_admin.get(SYSTEM).status_code == 401


def test_the_institution_overview(alpha):
    admin = admin_of(alpha)
    teacher = member(alpha, "teach@alpha.test", Role.INSTRUCTOR)
    s1, s2 = member(alpha, "s1@alpha.test"), member(alpha, "s2@alpha.test")
    member(alpha, "s3@alpha.test", is_suspended=True)
    s4 = member(alpha, "s4@alpha.test", is_active=False)
    member(alpha, "gone@alpha.test", deleted_at=timezone.now())
    ta = member(alpha, "ta@alpha.test", Role.TA)
    published = course_taught_by(alpha, teacher, code="P 1")
    draft = course_taught_by(alpha, teacher, code="D 1", status=CourseStatus.DRAFT)
    course_taught_by(alpha, teacher, code="A 1", status=CourseStatus.ARCHIVED)
    deleted = course_taught_by(alpha, teacher, code="X 1", deleted_at=timezone.now())
    enroll(alpha, published, s1)
    enroll(alpha, published, s2)
    enroll(alpha, published, ta, CourseRole.TA)
    enroll(alpha, published, s4, enrollment_type=EnrollmentType.WAITLIST)
    enroll(alpha, deleted, s1)
    enroll(alpha, draft, s2, status=EnrollmentStatus.DROPPED)

    login = host_client("alpha.localhost").post(
        "/api/v1/auth/login/",
        {"email": "s1@alpha.test", "password": PASSWORD},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    log(alpha, s2, ActivityType.LOGIN, ago=3 * DAY)
    log(alpha, admin, ActivityType.LOGIN, ago=10 * DAY)
    log(alpha, teacher, ActivityType.LOGIN, ago=40 * DAY)
    log(alpha, s2, ActivityType.VIEW_COURSE, course=published)
    log(alpha, s1, ActivityType.SUBMIT_ASSIGNMENT, ago=2 * DAY, course=published)
    log(alpha, s2, ActivityType.SUBMIT_QUIZ, ago=9 * DAY, course=published)

    body = ok(api_client(alpha, admin).get(SYSTEM, {"days": 7}))
    assert body["users"] == {
        "by_role": {"student": 2, "ta": 1, "instructor": 1, "admin": 1},
        "active": 5,
        "suspended": 1,
        "deactivated": 1,
    }
    assert (body["active_users_7_days"], body["active_users_30_days"]) == (2, 3)
    assert (body["logins"], body["views"], body["submissions"]) == (2, 1, 1)
    assert body["submissions_last_7_days"] == 1
    assert body["courses"] == {
        "by_status": {"draft": 1, "published": 1, "archived": 1},
        "total": 3,
    }
    assert body["enrollments"] == {"students": 2, "waitlisted": 1, "teaching_staff": 1}
    assert body["plan"]["code"] == "trial" and body["limits"]["users"] is not None
    assert set(body["usage"]) == {"users", "courses", "storage_bytes"}
    days = body["activity_per_day"]
    assert len(days) == 7
    today = days[-1]
    assert today["date"] == str(timezone.now().date())
    assert (today["logins"], today["views"], today["active_users"]) == (1, 1, 2)
    assert sum(d["logins"] for d in days) == 2

    month = ok(api_client(alpha, admin).get(SYSTEM))
    assert (month["logins"], month["submissions"], month["active_users_30_days"]) == (3, 2, 3)


# --- queries do not grow with the course ----------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _grow(world: World, n: int) -> None:
    """n more students with activity, progress and submissions, n more
    assignments and content items."""
    with tenant_context(world.institution):
        module = Module.objects.create(course=world.course, title="More", order_index=9)
        for i in range(n):
            user = User.objects.create_user(f"more{i}@alpha.test", PASSWORD, first_name="M")
            Enrollment.objects.create(course=world.course, user=user, enrolled_at=timezone.now())
            item = ContentItem.objects.create(
                module=module,
                title=f"Item {i}",
                content_type="link",
                content_url="https://example.org/",
                order_index=i,
            )
            ContentProgress.objects.create(user=user, content=item, is_completed=True)
            assignment = Assignment.objects.create(
                course=world.course,
                title=f"A {i}",
                points=10,
                due_at=timezone.now() - DAY,
                is_published=True,
            )
            assignment.submissions.create(
                student=user, status="submitted", submission_number=1, submitted_at=timezone.now()
            )
            for kind in (ActivityType.VIEW_CONTENT, ActivityType.SUBMIT_ASSIGNMENT):
                ActivityLog.objects.create(
                    user=user, activity_type=kind, course_id=world.course.pk, entity_id=item.pk
                )
    connection.set_schema_to_public()


def test_query_counts_do_not_grow_with_the_course(c7, django_assert_max_num_queries):
    client = c7.client("instructor")
    urls = [course_url(c7.world.course, e) for e in COURSE_ENDPOINTS]
    admin = c7.client("admin")
    before = [_queries(client, url) for url in urls] + [_queries(admin, SYSTEM)]
    _grow(c7.world, 30)
    after = [_queries(client, url) for url in urls] + [_queries(admin, SYSTEM)]
    assert after == before
    for url in urls:
        with django_assert_max_num_queries(25):
            client.get(url)
