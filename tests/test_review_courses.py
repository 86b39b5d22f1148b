"""Review of courses, enrollment and content: regressions for the defects found
(each test failed before its fix) and probes of malformed input that must stay
a 4xx, never a 500."""

from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, User
from tenant_apps.content import services as content_services
from tenant_apps.content.models import ContentItem, Module
from tenant_apps.courses import services
from tenant_apps.courses.models import Course, Enrollment, EnrollmentStatus, EnrollmentType

from .api_helpers import admin_of, api_client, as_json, error_code, member

API = "/api/v1/courses/"


@contextmanager
def in_tenant(institution):
    with tenant_context(institution):
        yield
    connection.set_schema_to_public()


@pytest.fixture
def people(alpha):
    users = {
        "admin": admin_of(alpha),
        "teacher": member(alpha, "r-teacher@alpha.test", Role.INSTRUCTOR),
        "ta": member(alpha, "r-ta@alpha.test", Role.TA),
        "ann": member(alpha, "r-ann@alpha.test"),
        "bob": member(alpha, "r-bob@alpha.test"),
        "cy": member(alpha, "r-cy@alpha.test"),
    }
    return users, {name: api_client(alpha, user) for name, user in users.items()}


def make_course(alpha, instructor, **fields) -> Course:
    values = {
        "code": "REV 1",
        "title": "Review",
        "term": "Fall 2026",
        "academic_year": 2026,
        "start_date": date(2026, 9, 1),
        "end_date": date(2026, 12, 15),
        "status": "published",
        **fields,
    }
    with in_tenant(alpha):
        return services.course_create(actor=instructor, **values)


def add(alpha, course, user, **fields) -> Enrollment:
    with in_tenant(alpha):
        return services.enrollment_add(course=course, user=user, **fields)


def seats(alpha, course) -> int:
    with in_tenant(alpha):
        return Course.objects.get(pk=course.pk).current_enrollment


def state(alpha, course, user) -> tuple[str, str] | None:
    with in_tenant(alpha):
        e = Enrollment.objects.filter(course=course, user=user).first()
        return None if e is None else (e.status, e.enrollment_type)


def soft_delete_user(alpha, user) -> None:
    with in_tenant(alpha):
        User.objects.filter(pk=user.pk).update(deleted_at=timezone.now(), is_active=False)


# --- A soft-deleted user's seat ------------------------------------------------------


def test_staff_can_drop_a_deleted_users_enrollment_and_free_the_seat(alpha, people):
    users, clients = people
    course = make_course(alpha, users["teacher"], max_enrollment=1)
    add(alpha, course, users["ann"])
    add(alpha, course, users["bob"])  # waitlisted
    soft_delete_user(alpha, users["ann"])

    response = as_json(
        clients["teacher"], "post", f"{API}{course.pk}/unenroll/", {"user_id": str(users["ann"].pk)}
    )

    assert response.status_code == 200, response.content
    assert state(alpha, course, users["ann"])[0] == EnrollmentStatus.DROPPED
    assert state(alpha, course, users["bob"]) == ("enrolled", "regular")
    assert seats(alpha, course) == 1


def test_a_freed_seat_skips_waitlisted_accounts_that_are_gone(alpha, people):
    users, clients = people
    course = make_course(alpha, users["teacher"], max_enrollment=1)
    add(alpha, course, users["ann"])
    add(alpha, course, users["bob"])  # waitlisted first
    add(alpha, course, users["cy"])  # waitlisted second
    soft_delete_user(alpha, users["bob"])

    response = as_json(clients["ann"], "post", f"{API}{course.pk}/unenroll/", {})

    assert response.status_code == 200, response.content
    assert state(alpha, course, users["cy"]) == ("enrolled", "regular")
    assert state(alpha, course, users["bob"]) == ("enrolled", "waitlist")
    assert seats(alpha, course) == 1


# --- Course copy with far-future module dates -----------------------------------------


def test_module_dates_past_2200_are_refused_so_a_copy_cannot_overflow(alpha, people):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    response = as_json(
        clients["teacher"],
        "post",
        f"{API}{course.pk}/modules/",
        {"title": "Far", "publish_at": "9999-12-01T00:00:00Z"},
    )
    assert response.status_code == 400, response.content
    assert "publish_at" in response.json()["error"]["fields"]
    with in_tenant(alpha):
        assert not Module.objects.filter(course=course).exists()


def test_copying_a_course_whose_modules_open_late_does_not_overflow(alpha, people):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    with in_tenant(alpha):
        content_services.module_create(
            course=course,
            title="Late",
            unlock_at=datetime(2200, 12, 31, 23, 0, tzinfo=UTC),
        )
    response = as_json(
        clients["teacher"],
        "post",
        f"{API}{course.pk}/copy/",
        {
            "code": "REV 2",
            "term": "Far",
            "academic_year": 2200,
            "start_date": "2200-09-01",
            "end_date": "2200-12-01",
        },
    )
    assert response.status_code == 201, response.content


# --- Malformed input stays a 4xx ------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "?academic_year=99999999999999999999999",
        "?academic_year=NaN",
        "?academic_year=1e400",
        "?per_page=abc",
        "?page=abc",
        "?page=0",
        "?per_page=-5",
        "?ordering=evil",
        "?ordering=instructor__password",
        "?updated_since=0000-01-01T00:00:00Z",
        "?updated_since=10000-01-01T00:00:00Z",
        "?q=%00",
        "?term=%00",
        "?status=evil",
        "?mine=maybe",
    ],
)
def test_course_list_never_500s(alpha, people, query):
    users, clients = people
    make_course(alpha, users["teacher"])
    response = clients["admin"].get(f"{API}{query}")
    assert response.status_code in (200, 400, 404), response.content


@pytest.mark.parametrize(
    "query",
    [
        "?ordering=evil",
        "?q=%00",
        "?section=%00",
        "?updated_since=9999-12-31T23:59:59-05:00",
        "?updated_since=0001-01-01T00:00:00+05:00",
        "?role=god",
    ],
)
def test_roster_never_500s(alpha, people, query):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    add(alpha, course, users["ann"])
    response = clients["teacher"].get(f"{API}{course.pk}/students/{query}")
    assert response.status_code in (200, 400), response.content


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "not-a-uuid"},
        {"user_id": None},
        {"user_id": 12},
        {"enrollment_type": "waitlist"},
        {"enrollment_type": ["regular"]},
        {"section": "x" * 51, "user_id": "7d7e0f36-1e5c-4d43-9f3e-0d0f0b9c2c4a"},
        {"role": "ta"},
        [],
        "a string",
    ],
)
def test_enroll_input_is_validated(alpha, people, body):
    users, clients = people
    course = make_course(alpha, users["teacher"], settings={"self_enrollment": True})
    response = as_json(clients["teacher"], "post", f"{API}{course.pk}/enroll/", body)
    assert response.status_code == 400, response.content
    with in_tenant(alpha):
        assert not Enrollment.objects.filter(course=course).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"start_date": "0000-01-01"},
        {"start_date": "10000-01-01"},
        {"academic_year": 10**30},
        {"max_enrollment": 10**30},
        {"max_enrollment": -1},
        {"credits": "NaN"},
        {"credits": "Infinity"},
        {"credits": 1e308},
        {"settings": "x"},
        {"settings": None},
        {"settings": {"evil": True}},
        {"settings": {"waitlist": "maybe"}},
        {"title": "a\x00b"},
        {"syllabus_url": "javascript:alert(1)"},
        {"instructor_id": "nope"},
        {"status": "deleted"},
    ],
)
def test_course_edit_input_is_validated(alpha, people, body):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    response = as_json(clients["admin"], "patch", f"{API}{course.pk}/", body)
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    "body",
    [
        {"completion_percentage": 101},
        {"completion_percentage": "1e5"},
        {"completion_percentage": True},
        {"last_position": 2**63},
        {"time_spent_seconds_delta": -1},
        {"time_spent_seconds_delta": 10**40},
        {"completed": False},
        {"completed": "yes please"},
        {"user_id": "7d7e0f36-1e5c-4d43-9f3e-0d0f0b9c2c4a"},
    ],
)
def test_progress_input_is_validated(alpha, people, body):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    add(alpha, course, users["ann"])
    with in_tenant(alpha):
        module = content_services.module_create(course=course, title="W", is_published=True)
        item = content_services.content_item_create(
            actor=None,
            module=module,
            title="L",
            content_type="link",
            content_url="https://x.example/",
            is_published=True,
        )
    response = as_json(clients["ann"], "post", f"/api/v1/contents/{item.pk}/progress/", body)
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    "body",
    [
        {"module_id": "nope"},
        {"module_id": None},
        {"content_type": "exe"},
        {"content_url": "javascript:alert(1)"},
        {"video_url": "file:///etc/passwd"},
        {"duration_minutes": 10**20},
        {"title": None},
    ],
)
def test_content_edit_input_is_validated(alpha, people, body):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    with in_tenant(alpha):
        module = content_services.module_create(course=course, title="W", is_published=True)
        item = content_services.content_item_create(
            actor=None,
            module=module,
            title="L",
            content_type="link",
            content_url="https://x.example/",
        )
    response = as_json(clients["teacher"], "patch", f"/api/v1/contents/{item.pk}/", body)
    assert response.status_code == 400, response.content
    with in_tenant(alpha):
        assert ContentItem.objects.get(pk=item.pk).content_url == "https://x.example/"


def test_module_reorder_with_foreign_and_bogus_ids_is_400(alpha, people):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    other = make_course(alpha, users["teacher"], code="REV 9")
    with in_tenant(alpha):
        mine = content_services.module_create(course=course, title="A")
        theirs = content_services.module_create(course=other, title="B")
    url = f"{API}{course.pk}/modules/reorder/"
    for ids in ([str(mine.pk), str(theirs.pk)], [str(theirs.pk)], ["x"], [str(mine.pk)] * 2):
        response = as_json(clients["teacher"], "post", url, {"module_ids": ids})
        assert response.status_code == 400, (ids, response.content)
    with in_tenant(alpha):
        assert Module.objects.get(pk=theirs.pk).order_index == 0


def test_a_ta_cannot_enroll_drop_or_import(alpha, people):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    add(alpha, course, users["ta"], role="ta")
    add(alpha, course, users["ann"])
    ta = clients["ta"]
    r1 = as_json(ta, "post", f"{API}{course.pk}/enroll/", {"user_id": str(users["bob"].pk)})
    r2 = as_json(ta, "post", f"{API}{course.pk}/unenroll/", {"user_id": str(users["ann"].pk)})
    assert (r1.status_code, r2.status_code) == (403, 403)
    assert error_code(r1) == "permission_denied"
    assert state(alpha, course, users["bob"]) is None
    assert state(alpha, course, users["ann"]) == ("enrolled", EnrollmentType.REGULAR)


# --- One person, one role in a course -------------------------------------------------


def test_an_enrolled_user_is_not_made_the_instructor(alpha, people):
    users, clients = people
    course = make_course(alpha, users["teacher"])
    newcomer = member(alpha, "r-new-prof@alpha.test", Role.INSTRUCTOR)
    add(alpha, course, newcomer)
    assert seats(alpha, course) == 1

    response = as_json(
        clients["admin"], "patch", f"{API}{course.pk}/", {"instructor_id": str(newcomer.pk)}
    )

    assert response.status_code == 409, response.content
    assert error_code(response) == "already_enrolled"
    assert "instructor_id" in response.json()["error"]["fields"]
    with in_tenant(alpha):
        assert Course.objects.get(pk=course.pk).instructor_id == users["teacher"].pk
    # Once dropped, they may take the course over.
    as_json(clients["admin"], "post", f"{API}{course.pk}/unenroll/", {"user_id": str(newcomer.pk)})
    response = as_json(
        clients["admin"], "patch", f"{API}{course.pk}/", {"instructor_id": str(newcomer.pk)}
    )
    assert response.status_code == 200, response.content
    assert seats(alpha, course) == 0


def test_the_waitlist_position_passes_over_accounts_that_are_gone(alpha, people):
    users, clients = people
    course = make_course(
        alpha, users["teacher"], max_enrollment=1, settings={"self_enrollment": True}
    )
    add(alpha, course, users["ann"])
    add(alpha, course, users["bob"])  # waitlisted first
    soft_delete_user(alpha, users["bob"])
    response = as_json(clients["cy"], "post", f"{API}{course.pk}/enroll/", {})
    assert response.status_code == 201, response.content
    assert response.json()["waitlist_position"] == 1
