"""Enrollment through the API: self-enrollment and its window, staff enrolling
others, seats and the waitlist (also under 50 concurrent requests), dropping
and the promotion it triggers, the roster — each for the role allowed, a role
refused (nothing changes) and another institution's user."""

import threading
from datetime import date, timedelta

import pytest
from django.core import mail
from django.db import connection, connections
from django_tenants.utils import tenant_context

from conceptspro.api import ApplicationError
from tenant_apps.accounts.models import Role
from tenant_apps.courses import services
from tenant_apps.courses.models import Course, Enrollment

from .api_helpers import admin_of, api_client, as_json, error_code, member
from .conftest import make_institution
from .test_courses_api import beta_token_on_alpha, enroll, make_course, reload

API = "/api/v1/courses/"


def enrollments(institution, course) -> dict[str, tuple[str, str]]:
    """email -> (status, type) of every enrollment in the course."""
    with tenant_context(institution):
        rows = {
            e.user.email: (e.status, e.enrollment_type)
            for e in Enrollment.objects.filter(course=course).select_related("user")
        }
    connection.set_schema_to_public()
    return rows


@pytest.fixture
def people(alpha):
    users = {
        "admin": admin_of(alpha),
        "teacher": member(alpha, "teacher@alpha.test", Role.INSTRUCTOR),
        "ta": member(alpha, "ta@alpha.test", Role.TA),
        "ann": member(alpha, "ann@alpha.test"),
        "bob": member(alpha, "bob@alpha.test"),
        "cy": member(alpha, "cy@alpha.test"),
    }
    return users, {name: api_client(alpha, user) for name, user in users.items()}


@pytest.fixture
def open_course(alpha, people):
    """Published, self-enrollment on, two seats."""
    users, _ = people
    return make_course(
        alpha,
        users["teacher"],
        status="published",
        max_enrollment=2,
        settings={"self_enrollment": True},
    )


def _enroll(client, course, body=None, **headers):
    return as_json(client, "post", f"{API}{course.pk}/enroll/", body or {}, **headers)


def _drop(client, course, body=None):
    return as_json(client, "post", f"{API}{course.pk}/unenroll/", body or {})


# --- Self-enrollment -------------------------------------------------------------------


def test_a_student_enrolls_themself(alpha, people, open_course):
    _, clients = people
    response = _enroll(clients["ann"], open_course, {"enrollment_type": "audit"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["role"], body["status"], body["enrollment_type"]) == (
        "student",
        "enrolled",
        "audit",
    )
    assert body["waitlisted"] is False and body["waitlist_position"] is None
    assert body["user"]["email"] == "ann@alpha.test"
    assert reload(alpha, open_course).current_enrollment == 1
    detail = clients["ann"].get(f"{API}{open_course.pk}/").json()
    assert detail["my_role"] == "student" and detail["my_enrollment"]["id"] == body["id"]

    again = _enroll(clients["ann"], open_course)
    assert again.status_code == 409 and error_code(again) == "already_enrolled"
    assert reload(alpha, open_course).current_enrollment == 1


def test_a_full_course_waitlists_students(alpha, people, open_course):
    _, clients = people
    assert _enroll(clients["ann"], open_course).json()["enrollment_type"] == "regular"
    assert _enroll(clients["bob"], open_course).json()["enrollment_type"] == "regular"
    third = _enroll(clients["cy"], open_course, {"enrollment_type": "audit"})
    assert third.status_code == 201
    body = third.json()
    assert body["enrollment_type"] == "waitlist" and body["requested_type"] == "audit"
    assert body["waitlisted"] is True and body["waitlist_position"] == 1
    assert reload(alpha, open_course).current_enrollment == 2
    assert clients["cy"].get(f"{API}{open_course.pk}/").json()["my_role"] == "waitlisted"


def test_without_waitlist_a_full_course_refuses(alpha, people):
    users, clients = people
    course = make_course(
        alpha,
        users["teacher"],
        status="published",
        max_enrollment=0,
        settings={"self_enrollment": True, "waitlist": False},
    )
    response = _enroll(clients["ann"], course)
    assert response.status_code == 409 and error_code(response) == "course_full"
    assert enrollments(alpha, course) == {}


@pytest.mark.parametrize(
    "window",
    [
        {"enrollment_end": date.today() - timedelta(days=1)},
        {"enrollment_start": date.today() + timedelta(days=1)},
    ],
)
def test_self_enrollment_respects_the_window(alpha, people, window):
    users, clients = people
    course = make_course(
        alpha, users["teacher"], status="published", settings={"self_enrollment": True}, **window
    )
    response = _enroll(clients["ann"], course)
    assert response.status_code == 409 and error_code(response) == "enrollment_closed"
    assert enrollments(alpha, course) == {}
    # Course staff are not held to the window.
    staff = _enroll(clients["teacher"], course, {"user_id": str(users["ann"].pk)})
    assert staff.status_code == 201


def test_self_enrollment_needs_the_course_to_allow_it(alpha, people):
    users, clients = people
    closed = make_course(alpha, users["teacher"], status="published")
    draft = make_course(alpha, users["teacher"], settings={"self_enrollment": True})
    # Students cannot see either course, so it does not exist for them.
    assert _enroll(clients["ann"], closed).status_code == 404
    assert _enroll(clients["ann"], draft).status_code == 404
    # An admin sees it, and is told why.
    refused = _enroll(clients["admin"], closed)
    assert refused.status_code == 403 and error_code(refused) == "self_enrollment_disabled"
    assert enrollments(alpha, closed) == {} and enrollments(alpha, draft) == {}


def test_self_enrollment_input_is_checked(alpha, people, open_course):
    _, clients = people
    for body, field in (
        ({"enrollment_type": "waitlist"}, "enrollment_type"),
        ({"enrollment_type": "vip"}, "enrollment_type"),
        ({"role": "ta"}, "role"),
        ({"section": "A"}, "section"),
    ):
        response = _enroll(clients["ann"], open_course, body)
        assert response.status_code == 400 and field in response.json()["error"]["fields"]
    assert enrollments(alpha, open_course) == {}


def test_enroll_is_idempotent_with_a_key(alpha, people, open_course):
    _, clients = people
    first = _enroll(clients["ann"], open_course, HTTP_IDEMPOTENCY_KEY="enroll-1")
    again = _enroll(clients["ann"], open_course, HTTP_IDEMPOTENCY_KEY="enroll-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert reload(alpha, open_course).current_enrollment == 1


# --- Staff enrolling others ------------------------------------------------------------


def test_the_instructor_enrolls_students_tas_and_graders(alpha, people):
    users, clients = people
    course = make_course(alpha, users["teacher"], max_enrollment=1)  # a draft
    url_body = {"user_id": str(users["ann"].pk), "section": "A1"}
    response = _enroll(clients["teacher"], course, url_body)
    assert response.status_code == 201 and response.json()["section"] == "A1"
    ta = _enroll(clients["admin"], course, {"user_id": str(users["ta"].pk), "role": "ta"})
    assert ta.status_code == 201 and ta.json()["role"] == "ta"
    grader = _enroll(
        clients["teacher"], course, {"user_id": str(users["bob"].pk), "role": "grader"}
    )
    assert grader.status_code == 201
    # Staff hold no seat, so the one seat is still Ann's and the next student waits.
    assert _enroll(clients["teacher"], course, {"user_id": str(users["cy"].pk)}).json()[
        "waitlisted"
    ]
    assert reload(alpha, course).current_enrollment == 1
    teaches = _enroll(clients["admin"], course, {"user_id": str(users["teacher"].pk)})
    assert teaches.status_code == 409 and error_code(teaches) == "already_enrolled"
    unknown = _enroll(
        clients["teacher"], course, {"user_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert unknown.status_code == 400 and "user_id" in unknown.json()["error"]["fields"]


def test_others_may_not_enroll_people(alpha, beta, people, open_course):
    users, clients = people
    enroll(alpha, open_course, users["ta"], role="ta")
    body = {"user_id": str(users["bob"].pk)}
    student = _enroll(clients["ann"], open_course, body)
    assert student.status_code == 403 and error_code(student) == "permission_denied"
    assert _enroll(clients["ta"], open_course, body).status_code == 403
    assert _enroll(beta_token_on_alpha(beta), open_course, body).status_code == 401
    beta_admin = api_client(beta, admin_of(beta))
    assert _enroll(beta_admin, open_course, body).status_code == 404
    assert _enroll(beta_admin, open_course).status_code == 404
    assert set(enrollments(alpha, open_course)) == {"ta@alpha.test"}


def test_a_dropped_student_comes_back_on_the_same_row(alpha, people, open_course):
    _, clients = people
    first = _enroll(clients["ann"], open_course).json()
    dropped = _drop(clients["ann"], open_course)
    assert dropped.status_code == 200
    assert dropped.json()["status"] == "dropped" and dropped.json()["drop_date"]
    assert reload(alpha, open_course).current_enrollment == 0
    back = _enroll(clients["ann"], open_course)
    assert back.status_code == 201
    assert back.json()["id"] == first["id"] and back.json()["status"] == "enrolled"
    assert back.json()["drop_date"] is None
    assert reload(alpha, open_course).current_enrollment == 1


# --- Dropping and the waitlist ---------------------------------------------------------


def test_a_drop_promotes_the_first_waitlisted_and_emails_them(
    alpha, people, open_course, celery_eager, django_capture_on_commit_callbacks
):
    _, clients = people
    for name in ("ann", "bob"):
        _enroll(clients[name], open_course)
    _enroll(clients["cy"], open_course, {"enrollment_type": "audit"})
    dee = member(alpha, "dee@alpha.test")
    _enroll(api_client(alpha, dee), open_course)  # second on the waitlist
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = _drop(clients["ann"], open_course)
    assert response.status_code == 200
    assert enrollments(alpha, open_course) == {
        "ann@alpha.test": ("dropped", "regular"),
        "bob@alpha.test": ("enrolled", "regular"),
        "cy@alpha.test": ("enrolled", "audit"),
        "dee@alpha.test": ("enrolled", "waitlist"),
    }
    assert reload(alpha, open_course).current_enrollment == 2
    [message] = mail.outbox
    assert message.to == ["cy@alpha.test"]
    assert open_course.code in message.subject and "auditor" in message.body
    assert "http://alpha.localhost/" in message.body
    detail = clients["cy"].get(f"{API}{open_course.pk}/").json()
    assert detail["my_role"] == "student"
    dee_detail = api_client(alpha, dee).get(f"{API}{open_course.pk}/").json()
    assert dee_detail["my_enrollment"]["waitlist_position"] == 1


def test_dropping_a_waitlisted_student_frees_no_seat(
    alpha, people, open_course, celery_eager, django_capture_on_commit_callbacks
):
    _, clients = people
    for name in ("ann", "bob", "cy"):
        _enroll(clients[name], open_course)
    with django_capture_on_commit_callbacks(execute=True):
        assert _drop(clients["cy"], open_course).status_code == 200
    assert reload(alpha, open_course).current_enrollment == 2
    assert mail.outbox == []


def test_more_seats_promote_the_waitlist(
    alpha, people, open_course, celery_eager, django_capture_on_commit_callbacks
):
    _, clients = people
    for name in ("ann", "bob", "cy"):
        _enroll(clients[name], open_course)
    with django_capture_on_commit_callbacks(execute=True):
        response = as_json(
            clients["teacher"], "patch", f"{API}{open_course.pk}/", {"max_enrollment": 5}
        )
    assert response.json()["current_enrollment"] == 3
    assert enrollments(alpha, open_course)["cy@alpha.test"] == ("enrolled", "regular")
    assert [m.to for m in mail.outbox] == [["cy@alpha.test"]]


def test_the_instructor_drops_someone_and_others_may_not(alpha, beta, people, open_course):
    users, clients = people
    _enroll(clients["ann"], open_course)
    _enroll(clients["bob"], open_course)
    body = {"user_id": str(users["ann"].pk)}
    assert _drop(clients["bob"], open_course, body).status_code == 403
    assert _drop(beta_token_on_alpha(beta), open_course, body).status_code == 401
    assert _drop(api_client(beta, admin_of(beta)), open_course, body).status_code == 404
    assert enrollments(alpha, open_course)["ann@alpha.test"][0] == "enrolled"

    response = _drop(clients["teacher"], open_course, body)
    assert response.status_code == 200 and response.json()["status"] == "dropped"
    again = _drop(clients["teacher"], open_course, body)
    assert again.status_code == 409 and error_code(again) == "not_enrolled"
    assert _drop(clients["cy"], open_course).status_code == 409


# --- Roster ----------------------------------------------------------------------------


def test_course_staff_see_the_roster(alpha, people, open_course):
    users, clients = people
    enroll(alpha, open_course, users["ta"], role="ta")
    enroll(alpha, open_course, users["ann"], section="A")
    enroll(alpha, open_course, users["bob"], section="B")
    enroll(alpha, open_course, users["cy"])  # waitlisted
    url = f"{API}{open_course.pk}/students/"
    for who in ("teacher", "ta", "admin"):
        response = clients[who].get(url)
        assert response.status_code == 200, who
        assert response.json()["count"] == 4
    rows = clients["teacher"].get(f"{url}?role=student&ordering=last_name,email").json()["results"]
    assert [r["user"]["email"] for r in rows] == [
        "ann@alpha.test",
        "bob@alpha.test",
        "cy@alpha.test",
    ]
    assert {
        r["user"]["email"] for r in clients["ta"].get(f"{url}?section=A").json()["results"]
    } == {"ann@alpha.test"}
    waitlist = clients["ta"].get(f"{url}?enrollment_type=waitlist").json()["results"]
    assert [(r["user"]["email"], r["waitlisted"]) for r in waitlist] == [("cy@alpha.test", True)]
    assert clients["ta"].get(f"{url}?q=bob").json()["count"] == 1
    page = clients["teacher"].get(f"{url}?per_page=3")
    assert len(page.json()["results"]) == 3 and 'rel="next"' in page["Link"]
    for bad in ("?status=gone", "?section=%00", "?ordering=password"):
        assert clients["teacher"].get(f"{url}{bad}").status_code == 400, bad


def test_the_roster_is_refused_to_students_and_outsiders(alpha, beta, people, open_course):
    users, clients = people
    enroll(alpha, open_course, users["ann"])
    url = f"{API}{open_course.pk}/students/"
    student = clients["ann"].get(url)
    assert student.status_code == 403 and error_code(student) == "permission_denied"
    other_instructor = member(alpha, "elsewhere@alpha.test", Role.INSTRUCTOR)
    hidden = make_course(alpha, users["teacher"])
    assert api_client(alpha, other_instructor).get(f"{API}{hidden.pk}/students/").status_code == 404
    assert beta_token_on_alpha(beta).get(url).status_code == 401
    assert api_client(beta, admin_of(beta)).get(url).status_code == 404


def test_the_roster_costs_the_same_queries_for_any_size(alpha, people, open_course):
    from django.test.utils import CaptureQueriesContext

    users, clients = people
    url = f"{API}{open_course.pk}/students/"
    enroll(alpha, open_course, users["ann"])
    clients["teacher"].get(url)
    with CaptureQueriesContext(connection) as few:
        clients["teacher"].get(url)
    for i in range(10):
        enroll(alpha, open_course, member(alpha, f"extra{i}@alpha.test"))
    with CaptureQueriesContext(connection) as many:
        assert clients["teacher"].get(url).json()["count"] == 11
    assert len(many) == len(few)


# --- Concurrency -----------------------------------------------------------------------


def test_fifty_parallel_enrolls_fill_thirty_seats_exactly(committed_db):
    institution = make_institution("seatsone")
    teacher = member(institution, "teacher@seatsone.test", Role.INSTRUCTOR)
    course = make_course(
        institution,
        teacher,
        status="published",
        max_enrollment=30,
        settings={"self_enrollment": True},
    )
    students = [member(institution, f"s{i}@seatsone.test") for i in range(50)]
    clients = [api_client(institution, student) for student in students]
    start = threading.Barrier(len(clients))
    statuses = [None] * len(clients)

    def enroll_one(index):
        try:
            start.wait(timeout=30)
            statuses[index] = _enroll(clients[index], course).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enroll_one, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [201] * 50
    with tenant_context(institution):
        types = [e.enrollment_type for e in Enrollment.objects.filter(course=course)]
        seats = Course.objects.get(pk=course.pk).current_enrollment
    connection.set_schema_to_public()
    assert (types.count("regular"), types.count("waitlist"), seats) == (30, 20, 30)


def test_services_refuse_a_deleted_course(alpha, people, open_course):
    users, _ = people
    with tenant_context(alpha):
        services.course_soft_delete(course=open_course)
        with pytest.raises(ApplicationError):
            services.enrollment_add(course=open_course, user=users["ann"])
