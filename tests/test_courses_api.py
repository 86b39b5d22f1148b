"""The courses API through the tenant router: create, list by who asks, read,
edit, status moves, soft delete and copy — each for the role allowed, a role
refused (nothing changes) and another institution's user."""

from datetime import date, timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role
from tenant_apps.courses import copying, services
from tenant_apps.courses.models import Course, CourseStatus, Enrollment

from .api_helpers import admin_of, api_client, as_json, error_code, member
from .conftest import host_client

API = "/api/v1/courses/"
_codes = count(1)


def make_course(institution, instructor, **fields) -> Course:
    values = {
        "code": f"CS {next(_codes)}",
        "title": "Algorithms",
        "term": "Fall 2026",
        "academic_year": 2026,
        "start_date": date(2026, 9, 1),
        "end_date": date(2026, 12, 15),
        **fields,
    }
    with tenant_context(institution):
        course = services.course_create(actor=instructor, **values)
    connection.set_schema_to_public()
    return course


def enroll(institution, course, user, **fields) -> Enrollment:
    with tenant_context(institution):
        enrollment = services.enrollment_add(course=course, user=user, **fields)
    connection.set_schema_to_public()
    return enrollment


def reload(institution, course) -> Course:
    with tenant_context(institution):
        course = Course.objects.get(pk=course.pk)
    connection.set_schema_to_public()
    return course


def course_count(institution) -> int:
    with tenant_context(institution):
        total = Course.objects.count()
    connection.set_schema_to_public()
    return total


def new_course_body(**fields) -> dict:
    return {
        "code": "BIO 200",
        "title": "Cell biology",
        "term": "Spring 2027",
        "academic_year": 2027,
        "start_date": "2027-01-15",
        "end_date": "2027-05-10",
        **fields,
    }


@pytest.fixture
def people(alpha):
    """Alpha's admin, two instructors, a TA, a student; clients for each."""
    users = {
        "admin": admin_of(alpha),
        "teacher": member(alpha, "teacher@alpha.test", Role.INSTRUCTOR),
        "other_teacher": member(alpha, "other@alpha.test", Role.INSTRUCTOR),
        "ta": member(alpha, "ta@alpha.test", Role.TA),
        "student": member(alpha, "student@alpha.test"),
    }
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    return users, clients


@pytest.fixture
def beta_admin_client(beta):
    return api_client(beta, admin_of(beta))


def beta_token_on_alpha(beta):
    token = api_client(beta, admin_of(beta)).defaults["HTTP_AUTHORIZATION"]
    return host_client("alpha.localhost", HTTP_AUTHORIZATION=token)


# --- Create ----------------------------------------------------------------------------


def test_an_instructor_creates_a_course_and_teaches_it(alpha, people):
    users, clients = people
    response = as_json(
        clients["teacher"],
        "post",
        API,
        new_course_body(max_enrollment=30, credits="3.5", settings={"self_enrollment": True}),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["instructor"]["id"] == str(users["teacher"].pk)
    assert body["my_role"] == "instructor" and body["status"] == "draft"
    assert body["credits"] == "3.5" and body["current_enrollment"] == 0
    assert body["settings"] == {"self_enrollment": True, "ta_can_announce": False, "waitlist": True}
    assert response["Location"].endswith(f"/api/v1/courses/{body['id']}/")


@pytest.mark.parametrize("who", ["student", "ta"])
def test_students_and_tas_do_not_create_courses(alpha, people, who):
    _, clients = people
    before = course_count(alpha)
    response = as_json(clients[who], "post", API, new_course_body())
    assert response.status_code == 403 and error_code(response) == "permission_denied"
    assert course_count(alpha) == before


def test_only_admins_name_another_instructor(alpha, people):
    users, clients = people
    body = new_course_body(instructor_id=str(users["other_teacher"].pk))
    refused = as_json(clients["teacher"], "post", API, body)
    assert refused.status_code == 403
    created = as_json(clients["admin"], "post", API, body)
    assert created.status_code == 201
    assert created.json()["instructor"]["id"] == str(users["other_teacher"].pk)
    assert created.json()["my_role"] == "admin"

    student_as_teacher = as_json(
        clients["admin"], "post", API, new_course_body(instructor_id=str(users["student"].pk))
    )
    assert student_as_teacher.status_code == 400
    assert "instructor_id" in student_as_teacher.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"end_date": "2027-01-01"}, "end_date"),
        ({"enrollment_start": "2027-01-10", "enrollment_end": "2027-01-01"}, "enrollment_end"),
        ({"settings": {"self_enrollment": True, "colour": "red"}}, "settings"),
        ({"settings": {"self_enrollment": "sometimes"}}, "settings"),
        ({"status": "archived"}, "status"),
        ({"status": "open"}, "status"),
        ({"credits": "123.45"}, "credits"),
        ({"max_enrollment": -1}, "max_enrollment"),
        ({"code": ""}, "code"),
        ({"instructor_id": "not-a-uuid"}, "instructor_id"),
        ({"syllabus_url": "javascript:alert(1)"}, "syllabus_url"),
        ({"start_date": "9999-01-01", "end_date": "9999-02-01"}, "start_date"),
        ({"settings": ["self_enrollment"]}, "settings"),
    ],
)
def test_invalid_course_input_is_400_with_the_field(alpha, people, fields, bad_field):
    _, clients = people
    before = course_count(alpha)
    response = as_json(clients["teacher"], "post", API, new_course_body(**fields))
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid"
    assert bad_field in response.json()["error"]["fields"]
    assert course_count(alpha) == before


def test_malformed_json_is_400(alpha, people):
    _, clients = people
    response = clients["teacher"].post(API, "{not json", content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "malformed_request"


def test_a_code_is_unique_per_term_among_live_courses(alpha, people):
    _, clients = people
    first = as_json(clients["teacher"], "post", API, new_course_body())
    assert first.status_code == 201
    again = as_json(clients["other_teacher"], "post", API, new_course_body())
    assert again.status_code == 409 and error_code(again) == "course_code_taken"
    assert "code" in again.json()["error"]["fields"]
    other_term = as_json(clients["teacher"], "post", API, new_course_body(term="Fall 2027"))
    assert other_term.status_code == 201

    assert clients["teacher"].delete(f"{API}{first.json()['id']}/").status_code == 204
    assert as_json(clients["other_teacher"], "post", API, new_course_body()).status_code == 201


def test_create_with_an_idempotency_key_creates_once(alpha, people):
    _, clients = people
    before = course_count(alpha)
    first = as_json(clients["teacher"], "post", API, new_course_body(), HTTP_IDEMPOTENCY_KEY="k1")
    again = as_json(clients["teacher"], "post", API, new_course_body(), HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert course_count(alpha) == before + 1


def test_another_institution_is_refused(alpha, beta, people, beta_admin_client):
    users, _ = people
    course = make_course(alpha, users["teacher"], status=CourseStatus.PUBLISHED)
    before = course_count(alpha)
    on_alpha = beta_token_on_alpha(beta)
    assert on_alpha.get(API).status_code == 401
    assert on_alpha.get(f"{API}{course.pk}/").status_code == 401
    assert on_alpha.delete(f"{API}{course.pk}/").status_code == 401
    assert as_json(on_alpha, "post", API, new_course_body()).status_code == 401
    assert course_count(alpha) == before
    assert beta_admin_client.get(f"{API}{course.pk}/").status_code == 404
    assert (
        as_json(beta_admin_client, "patch", f"{API}{course.pk}/", {"title": "x"}).status_code == 404
    )
    assert beta_admin_client.delete(f"{API}{course.pk}/").status_code == 404
    assert beta_admin_client.get(API).json()["count"] == 0
    assert reload(alpha, course).title == "Algorithms" and reload(alpha, course).deleted_at is None


def test_anonymous_is_401(alpha, alpha_client):
    assert alpha_client.get(API).status_code == 401


# --- List ------------------------------------------------------------------------------


@pytest.fixture
def catalogue(alpha, people):
    """Courses in every relation to the people: what each one should list."""
    users, _ = people
    teacher, student, ta = users["teacher"], users["student"], users["ta"]
    published = make_course(alpha, teacher, code="PUB", status=CourseStatus.PUBLISHED)
    draft = make_course(alpha, teacher, code="DRAFT")
    not_mine = make_course(alpha, users["other_teacher"], code="OTHER", status="published")
    full = make_course(alpha, users["other_teacher"], code="FULL", status="published")
    with tenant_context(alpha):
        services.course_update(course=full, max_enrollment=0)
    archived = make_course(alpha, teacher, code="OLD", status=CourseStatus.PUBLISHED)
    enroll(alpha, published, student)
    enroll(alpha, draft, student)
    enroll(alpha, full, student)  # waitlisted
    enroll(alpha, archived, student)
    enroll(alpha, not_mine, ta, role="ta")
    with tenant_context(alpha):
        services.course_update(course=archived, status=CourseStatus.ARCHIVED)
    connection.set_schema_to_public()
    return {"PUB": published, "DRAFT": draft, "OTHER": not_mine, "FULL": full, "OLD": archived}


def _listed(client, query="") -> dict[str, str]:
    response = client.get(f"{API}{query}")
    assert response.status_code == 200, response.content
    return {course["code"]: course["my_role"] for course in response.json()["results"]}


def test_each_role_lists_its_own_courses(alpha, people, catalogue):
    users, clients = people
    assert _listed(clients["student"]) == {"PUB": "student", "FULL": "waitlisted"}
    assert _listed(clients["teacher"]) == {
        "PUB": "instructor",
        "DRAFT": "instructor",
        "OLD": "instructor",
    }
    assert _listed(clients["ta"]) == {"OTHER": "ta"}
    assert _listed(clients["other_teacher"]) == {"OTHER": "instructor", "FULL": "instructor"}
    assert set(_listed(clients["admin"])) == {"PUB", "DRAFT", "OTHER", "FULL", "OLD"}
    assert _listed(clients["admin"], "?mine=true") == {}
    make_course(alpha, users["admin"], code="ADM")
    assert _listed(clients["admin"], "?mine=true") == {"ADM": "admin"}
    assert "ADM" not in _listed(clients["teacher"])


def test_list_filters_and_ordering(alpha, people, catalogue):
    _, clients = people
    teacher = clients["teacher"]
    assert set(_listed(teacher, "?status=draft")) == {"DRAFT"}
    assert set(_listed(teacher, "?q=pub")) == {"PUB"}
    assert set(_listed(teacher, "?term=Fall%202026&academic_year=2026")) == {"PUB", "DRAFT", "OLD"}
    assert _listed(teacher, "?term=Spring%202031") == {}
    mark = timezone.now().isoformat().replace("+", "%2B")
    far_east = "?updated_since=1784-12-03T08:31:03%2B21:34"  # beyond PostgreSQL's offsets
    assert set(_listed(teacher, far_east)) == {"PUB", "DRAFT", "OLD"}
    as_json(teacher, "patch", f"{API}{catalogue['PUB'].pk}/", {"title": "Touched"})
    assert set(_listed(teacher, f"?updated_since={mark}")) == {"PUB"}
    codes = [c["code"] for c in teacher.get(f"{API}?ordering=-code").json()["results"]]
    assert codes == ["PUB", "OLD", "DRAFT"]
    page = teacher.get(f"{API}?per_page=2&ordering=code")
    assert page.json()["count"] == 3 and len(page.json()["results"]) == 2
    assert 'rel="next"' in page["Link"]
    for bad in (
        "?status=open",
        "?academic_year=soon",
        "?updated_since=yesterday",
        "?q=%00",
        "?updated_since=0001-01-01T00:00%2B10:00",
    ):
        assert teacher.get(f"{API}{bad}").status_code == 400, bad


def test_the_catalog_lists_self_enrollable_courses_the_caller_is_not_in(
    alpha, beta, people, catalogue
):
    users, clients = people
    teacher = users["teacher"]
    open_ = make_course(alpha, teacher, code="OPEN", status="published")
    closed = make_course(alpha, teacher, code="SOON", status="published")
    hidden = make_course(alpha, teacher, code="HIDDEN")  # a draft
    with tenant_context(alpha):
        for course in (open_, closed, hidden, catalogue["PUB"]):
            services.course_update(course=course, settings={"self_enrollment": True})
        services.course_update(course=closed, enrollment_start=date(2999, 1, 1))
    connection.set_schema_to_public()

    def catalog(client, query=""):
        response = client.get(f"{API}catalog/{query}")
        assert response.status_code == 200, response.content
        return {c["code"]: c["my_role"] for c in response.json()["results"]}

    # PUB allows it too, but the student is in it already; the teacher teaches them all.
    assert catalog(clients["student"]) == {"OPEN": None, "SOON": None}
    assert catalog(clients["ta"]) == {"OPEN": None, "SOON": None, "PUB": None}
    assert catalog(clients["teacher"]) == {}
    assert catalog(clients["student"], "?q=open") == {"OPEN": None}

    # What it lists, the student can open and enroll in (the window permitting).
    assert clients["student"].get(f"{API}{open_.pk}/").status_code == 200
    enrolled = as_json(clients["student"], "post", f"{API}{open_.pk}/enroll/", {})
    assert enrolled.status_code == 201, enrolled.content
    assert catalog(clients["student"]) == {"SOON": None}
    soon = as_json(clients["student"], "post", f"{API}{closed.pk}/enroll/", {})
    assert (soon.status_code, error_code(soon)) == (409, "enrollment_closed")

    # Another institution's people never see alpha's catalog.
    assert beta_token_on_alpha(beta).get(f"{API}catalog/").status_code == 401
    beta_student = api_client(beta, member(beta, "cat@beta.test"))
    assert catalog(beta_student) == {}


def test_the_list_shows_seats(alpha, people, catalogue):
    _, clients = people
    results = clients["other_teacher"].get(f"{API}?q=FULL").json()["results"]
    full = next(course for course in results if course["code"] == "FULL")
    assert full["max_enrollment"] == 0 and full["current_enrollment"] == 0


def test_the_student_list_costs_the_same_queries_for_2_or_20_courses(alpha, people):
    users, clients = people
    student, client = users["student"], clients["student"]

    def queries_for_list() -> int:
        client.get(API)  # warm: token checks, routing cache
        with CaptureQueriesContext(connection) as queries:
            response = client.get(API)
        assert response.status_code == 200
        return len(queries), response.json()["count"]

    for _ in range(2):
        enroll(alpha, make_course(alpha, users["teacher"], status="published"), student)
    few, listed = queries_for_list()
    assert listed == 2
    for _ in range(18):
        enroll(alpha, make_course(alpha, users["teacher"], status="published"), student)
    many, listed = queries_for_list()
    assert listed == 20
    assert many == few, f"{few} queries for 2 courses, {many} for 20"


# --- Read, edit, delete ----------------------------------------------------------------


def test_detail_for_who_may_see_it(alpha, people, catalogue):
    _, clients = people
    published, draft = catalogue["PUB"], catalogue["DRAFT"]
    mine = clients["student"].get(f"{API}{published.pk}/")
    assert mine.status_code == 200
    assert mine.json()["my_role"] == "student"
    assert mine.json()["my_enrollment"]["status"] == "enrolled"
    waitlisted = clients["student"].get(f"{API}{catalogue['FULL'].pk}/").json()
    assert waitlisted["my_enrollment"]["waitlist_position"] == 1
    assert clients["student"].get(f"{API}{draft.pk}/").status_code == 404, "draft hidden"
    assert clients["student"].get(f"{API}{catalogue['OTHER'].pk}/").status_code == 404
    assert clients["ta"].get(f"{API}{catalogue['OTHER'].pk}/").json()["my_role"] == "ta"
    assert clients["teacher"].get(f"{API}{draft.pk}/").json()["my_enrollment"] is None
    assert clients["teacher"].get(f"{API}00000000-0000-0000-0000-000000000000/").status_code == 404


def test_the_instructor_and_admins_edit(alpha, people, catalogue):
    users, clients = people
    course = catalogue["DRAFT"]
    url = f"{API}{course.pk}/"
    response = as_json(
        clients["teacher"],
        "patch",
        url,
        {"title": "Advanced algorithms", "settings": {"ta_can_announce": True}},
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Advanced algorithms"
    assert response.json()["settings"]["ta_can_announce"] is True
    assert response.json()["settings"]["waitlist"] is True, "settings merge"
    response = as_json(
        clients["admin"], "put", url, {"instructor_id": str(users["other_teacher"].pk)}
    )
    assert response.status_code == 200
    assert response.json()["instructor"]["id"] == str(users["other_teacher"].pk)


def test_refused_editors_change_nothing(alpha, people, catalogue):
    users, clients = people
    url = f"{API}{catalogue['OTHER'].pk}/"
    assert as_json(clients["ta"], "patch", url, {"title": "Mine now"}).status_code == 403
    assert as_json(clients["teacher"], "patch", url, {"title": "Mine now"}).status_code == 404
    assert clients["ta"].delete(url).status_code == 403
    pub_url = f"{API}{catalogue['PUB'].pk}/"
    assert as_json(clients["student"], "patch", pub_url, {"title": "Mine now"}).status_code == 403
    assert clients["student"].delete(pub_url).status_code == 403
    stolen = as_json(
        clients["teacher"], "patch", pub_url, {"instructor_id": str(users["other_teacher"].pk)}
    )
    assert stolen.status_code == 403
    assert reload(alpha, catalogue["OTHER"]).title == "Algorithms"
    pub = reload(alpha, catalogue["PUB"])
    assert pub.title == "Algorithms" and pub.deleted_at is None
    assert pub.instructor_id == users["teacher"].pk


def test_edit_rechecks_dates_against_the_stored_course(alpha, people, catalogue):
    _, clients = people
    url = f"{API}{catalogue['DRAFT'].pk}/"
    response = as_json(clients["teacher"], "patch", url, {"end_date": "2026-08-01"})
    assert response.status_code == 400 and "end_date" in response.json()["error"]["fields"]
    taken = as_json(clients["teacher"], "patch", url, {"code": "PUB"})
    assert taken.status_code == 409 and error_code(taken) == "course_code_taken"


def test_status_moves(alpha, people):
    users, clients = people
    url = f"{API}{make_course(alpha, users['teacher']).pk}/"

    def move(status, **fields):
        return as_json(clients["teacher"], "patch", url, {"status": status, **fields})

    assert move("archived").status_code == 409, "draft cannot be archived"
    assert move("published").json()["status"] == "published"
    back = move("draft")
    assert back.status_code == 409 and error_code(back) == "invalid_status_transition"
    assert move("archived").json()["status"] == "archived"
    frozen = as_json(clients["teacher"], "patch", url, {"title": "Renamed"})
    assert frozen.status_code == 409 and error_code(frozen) == "course_archived"
    unchanged = as_json(clients["teacher"], "patch", url, {"title": "Algorithms"})
    assert unchanged.status_code == 200, "sending the current value is not a change"
    assert move("published").json()["status"] == "published"
    assert as_json(clients["teacher"], "patch", url, {"title": "Renamed"}).status_code == 200


def test_delete_is_soft_and_hides_the_course(alpha, people, catalogue):
    _, clients = people
    course = catalogue["PUB"]
    assert clients["teacher"].delete(f"{API}{course.pk}/").status_code == 204
    assert reload(alpha, course).deleted_at is not None
    assert clients["teacher"].get(f"{API}{course.pk}/").status_code == 404
    assert clients["student"].get(f"{API}{course.pk}/").status_code == 404
    assert "PUB" not in _listed(clients["admin"])
    assert clients["admin"].delete(f"{API}{course.pk}/").status_code == 404


# --- Copy ------------------------------------------------------------------------------


@pytest.fixture
def recorded_copy_step(monkeypatch):
    """A copy step, registered as an app would, recording what it was given."""
    seen = []

    def record(context):
        seen.append(context)

    monkeypatch.setattr(copying, "_steps", list(copying._steps))
    copying.course_copy_step_register(record, order=99)
    return seen


def test_copy_into_a_new_term(alpha, people, recorded_copy_step):
    users, clients = people
    source = make_course(
        alpha,
        users["teacher"],
        status=CourseStatus.PUBLISHED,
        enrollment_start=date(2026, 8, 1),
        enrollment_end=date(2026, 9, 15),
        max_enrollment=40,
        settings={"self_enrollment": True},
    )
    enroll(alpha, source, users["student"])
    body = {
        "term": "Fall 2027",
        "academic_year": 2027,
        "start_date": "2027-08-31",
        "end_date": "2027-12-14",
    }
    response = as_json(clients["teacher"], "post", f"{API}{source.pk}/copy/", body)
    assert response.status_code == 201, response.content
    copy = response.json()
    assert copy["status"] == "draft" and copy["code"] == source.code
    assert copy["copied_from"] == str(source.pk) and copy["current_enrollment"] == 0
    assert copy["enrollment_start"] == "2027-07-31" and copy["enrollment_end"] == "2027-09-14"
    assert copy["settings"]["self_enrollment"] is True and copy["max_enrollment"] == 40
    assert copy["instructor"]["id"] == str(users["teacher"].pk)
    [context] = recorded_copy_step
    assert context.source.pk == source.pk and str(context.target.pk) == copy["id"]
    assert context.date_shift == timedelta(days=364)
    with tenant_context(alpha):
        assert not Enrollment.objects.filter(course_id=copy["id"]).exists()

    same_term = as_json(
        clients["teacher"], "post", f"{API}{source.pk}/copy/", {**body, "term": source.term}
    )
    assert same_term.status_code == 409 and error_code(same_term) == "course_code_taken"
    bad = as_json(
        clients["teacher"], "post", f"{API}{source.pk}/copy/", {**body, "end_date": "2027-01-01"}
    )
    assert bad.status_code == 400 and "end_date" in bad.json()["error"]["fields"]


def test_copy_is_one_transaction_with_its_steps(alpha, people, monkeypatch):
    users, _ = people
    source = make_course(alpha, users["teacher"])

    def broken(context):
        raise RuntimeError("step failed")

    monkeypatch.setattr(copying, "_steps", list(copying._steps))
    copying.course_copy_step_register(broken, order=99)
    before = course_count(alpha)
    with tenant_context(alpha), pytest.raises(RuntimeError):
        services.course_copy(
            actor=users["teacher"],
            source=source,
            term="Fall 2030",
            academic_year=2030,
            start_date=date(2030, 9, 1),
            end_date=date(2030, 12, 1),
        )
    connection.set_schema_to_public()
    assert course_count(alpha) == before


def test_copy_is_refused_to_others_and_idempotent(alpha, beta, people, beta_admin_client):
    users, clients = people
    source = make_course(alpha, users["teacher"], status=CourseStatus.PUBLISHED)
    enroll(alpha, source, users["student"])
    url = f"{API}{source.pk}/copy/"
    body = {
        "term": "T2",
        "academic_year": 2027,
        "start_date": "2027-01-01",
        "end_date": "2027-02-01",
    }
    before = course_count(alpha)
    assert as_json(clients["student"], "post", url, body).status_code == 403
    assert as_json(clients["other_teacher"], "post", url, body).status_code == 404
    assert as_json(beta_admin_client, "post", url, body).status_code == 404
    assert as_json(beta_token_on_alpha(beta), "post", url, body).status_code == 401
    assert course_count(alpha) == before

    first = as_json(clients["admin"], "post", url, body, HTTP_IDEMPOTENCY_KEY="copy-1")
    again = as_json(clients["admin"], "post", url, body, HTTP_IDEMPOTENCY_KEY="copy-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert course_count(alpha) == before + 1
