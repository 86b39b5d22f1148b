"""CourseAccess, the one place course permissions are decided: a demoted
instructor, an inactive admin, and an archived course's frozen material,
through the HTTP API."""

import pytest
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, User
from tenant_apps.announcements.models import Announcement
from tenant_apps.content.models import Module
from tenant_apps.courses.models import Course
from tenant_apps.courses.policies import course_access

from .api_helpers import admin_of, api_client, as_json, error_code, member
from .test_review_courses import in_tenant, make_course


@pytest.fixture
def course(alpha):
    teacher = member(alpha, "ca-teacher@alpha.test", Role.INSTRUCTOR)
    return teacher, make_course(alpha, teacher, code="CA 1")


def test_an_instructor_demoted_to_student_loses_the_course(alpha, course):
    teacher, course = course
    client = api_client(alpha, teacher)
    assert client.get(f"/api/v1/courses/{course.pk}/").status_code == 200
    with in_tenant(alpha):
        User.objects.filter(pk=teacher.pk).update(role=Role.STUDENT)
    response = as_json(client, "patch", f"/api/v1/courses/{course.pk}/", {"title": "Mine"})
    assert response.status_code == 404
    modules = as_json(client, "post", f"/api/v1/courses/{course.pk}/modules/", {"title": "W1"})
    assert modules.status_code == 404
    with in_tenant(alpha):
        assert Course.objects.get(pk=course.pk).title == "Review"
        assert not Module.objects.filter(course=course).exists()


def test_an_inactive_admin_has_no_standing_in_a_course(alpha, course):
    _, course = course
    admin = admin_of(alpha)
    with tenant_context(alpha):
        admin.is_suspended = True
        assert not course_access(admin, Course.objects.get(pk=course.pk)).is_admin
        admin.is_suspended = False
        assert course_access(admin, Course.objects.get(pk=course.pk)).is_admin


def test_an_archived_courses_modules_and_announcements_are_frozen(alpha, course):
    teacher, course = course
    client = api_client(alpha, teacher)
    base = f"/api/v1/courses/{course.pk}"
    module = as_json(client, "post", f"{base}/modules/", {"title": "W1"}).json()
    announcement = as_json(
        client, "post", f"{base}/announcements/", {"title": "Hi", "content": "Welcome"}
    ).json()
    assert as_json(client, "patch", f"{base}/", {"status": "archived"}).status_code == 200

    refused = [
        as_json(client, "post", f"{base}/modules/", {"title": "W2"}),
        as_json(client, "patch", f"/api/v1/modules/{module['id']}/", {"title": "Changed"}),
        as_json(client, "delete", f"/api/v1/modules/{module['id']}/"),
        as_json(client, "post", f"{base}/announcements/", {"title": "Late", "content": "x"}),
        as_json(
            client, "patch", f"/api/v1/announcements/{announcement['id']}/", {"title": "Changed"}
        ),
        as_json(client, "delete", f"/api/v1/announcements/{announcement['id']}/"),
    ]
    assert [(r.status_code, error_code(r)) for r in refused] == [(409, "course_archived")] * 6
    with in_tenant(alpha):
        assert list(Module.objects.filter(course=course).values_list("title", "deleted_at")) == [
            ("W1", None)
        ]
        assert list(
            Announcement.objects.filter(course=course).values_list("title", "deleted_at")
        ) == [("Hi", None)]

    # Published again, it takes changes.
    assert as_json(client, "patch", f"{base}/", {"status": "published"}).status_code == 200
    assert as_json(client, "post", f"{base}/modules/", {"title": "W2"}).status_code == 201
