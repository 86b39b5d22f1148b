"""The activity log records what members do, through the real flows: a
sign-in through the API and through the browser form, views of a course, a
content item and an assignment, an assignment submission and a quiz attempt
submission, each with its type, user, course, entity and the client's
address. Refused reads, failed sign-ins, drafts and repeated submits record
nothing."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.activity.models import ActivityLog, ActivityType
from tenant_apps.content.models import ContentItem, Module

from .api_helpers import as_json
from .conftest import PASSWORD, host_client
from .test_assignments_api import World, build_world, create_assignment, in_tenant
from .test_sso_oidc import (  # noqa: F401 -- pytest fixtures, used by name
    _create_provider,
    _sso_sign_in,
    alpha_admin,
    openid_provider,
)

pytestmark = pytest.mark.django_db

CLIENT = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "ActivityTest/1.0"}


@pytest.fixture
def world(alpha) -> World:
    return build_world(alpha)


def logged(institution, **filters) -> list[ActivityLog]:
    return in_tenant(
        institution, lambda: list(ActivityLog.objects.filter(**filters).order_by("created_at"))
    )


def _material(world: World) -> tuple[ContentItem, ContentItem]:
    """An open item and a draft item in a published module of the course."""
    with tenant_context(world.institution):
        module = Module.objects.create(
            course=world.course, title="Week 1", order_index=0, is_published=True
        )
        items = [
            ContentItem.objects.create(
                module=module,
                title=title,
                content_type="link",
                content_url="https://example.org/reading",
                order_index=n,
                is_published=published,
            )
            for n, (title, published) in enumerate((("Reading", True), ("Draft", False)))
        ]
    connection.set_schema_to_public()
    return items[0], items[1]


def test_an_api_sign_in_is_recorded_with_the_client(world):
    client = host_client("alpha.localhost")
    body = {"email": "stu0@alpha.test", "password": PASSWORD}
    response = client.post(
        "/api/v1/auth/login/", json.dumps(body), content_type="application/json", **CLIENT
    )
    assert response.status_code == 200, response.content
    [row] = logged(world.institution, activity_type=ActivityType.LOGIN)
    assert row.user_id == world.users["stu0"].pk
    assert (row.ip_address, row.user_agent) == ("203.0.113.7", "ActivityTest/1.0")
    assert (row.course_id, row.entity_id, row.metadata) == (None, None, {"method": "password"})


def test_a_failed_api_sign_in_records_nothing(world):
    client = host_client("alpha.localhost")
    body = {"email": "stu0@alpha.test", "password": "wrong-password"}
    response = client.post("/api/v1/auth/login/", json.dumps(body), content_type="application/json")
    assert response.status_code == 401
    assert logged(world.institution) == []


def test_a_browser_sign_in_is_recorded_with_the_client(world):
    client = host_client("alpha.localhost")
    refused = client.post("/accounts/login/", {"login": "stu1@alpha.test", "password": "nope"})
    assert refused.status_code == 200
    assert logged(world.institution) == []
    response = client.post(
        "/accounts/login/", {"login": "stu1@alpha.test", "password": PASSWORD}, **CLIENT
    )
    assert response.status_code == 302
    [row] = logged(world.institution, activity_type=ActivityType.LOGIN)
    assert row.user_id == world.users["stu1"].pk
    assert (row.ip_address, row.user_agent) == ("203.0.113.7", "ActivityTest/1.0")
    assert row.metadata == {"method": "password"}


def test_an_sso_sign_in_is_recorded(alpha, alpha_admin, openid_provider):  # noqa: F811
    assert _create_provider(alpha_admin, openid_provider).status_code == 201
    _sso_sign_in("ada")
    [row] = logged(alpha, activity_type=ActivityType.LOGIN)
    with tenant_context(alpha):
        assert row.user.email == "ada@alpha.test"
    connection.set_schema_to_public()
    assert row.metadata == {"method": "sso"} and row.ip_address == "127.0.0.1"


def test_course_and_content_views_are_recorded_for_successful_reads_only(world):
    item, draft = _material(world)
    student = world.client("stu0")
    assert student.get(f"/api/v1/contents/{item.pk}/", **CLIENT).status_code == 200
    assert student.get(f"/api/v1/courses/{world.course.pk}/", **CLIENT).status_code == 200
    # Refused reads: a draft item, another course, another course's item for its student.
    assert student.get(f"/api/v1/contents/{draft.pk}/").status_code == 404
    assert student.get(f"/api/v1/courses/{world.other_course.pk}/").status_code == 404
    outsider = world.client("other_student")
    assert outsider.get(f"/api/v1/contents/{item.pk}/").status_code == 404

    content, course = (
        logged(world.institution, activity_type=kind)
        for kind in (ActivityType.VIEW_CONTENT, ActivityType.VIEW_COURSE)
    )
    assert [(r.user_id, r.entity_type, r.entity_id, r.course_id) for r in content] == [
        (world.users["stu0"].pk, "content", item.pk, world.course.pk)
    ]
    assert [(r.user_id, r.entity_type, r.entity_id, r.course_id) for r in course] == [
        (world.users["stu0"].pk, "course", world.course.pk, world.course.pk)
    ]
    assert {r.ip_address for r in content + course} == {"203.0.113.7"}
    assert len(logged(world.institution)) == 2


def test_assignment_views_and_submissions_are_recorded(world):
    assignment = create_assignment(world)
    url = f"/api/v1/assignments/{assignment['id']}/"
    student = world.client("stu0")
    assert student.get(url, **CLIENT).status_code == 200
    # A draft is not a submission.
    draft = as_json(student, "post", f"{url}submit/", {"text": "a start", "is_draft": True})
    assert draft.status_code == 201, draft.content
    assert logged(world.institution, activity_type=ActivityType.SUBMIT_ASSIGNMENT) == []
    response = as_json(student, "post", f"{url}submit/", {"text": "My essay"}, **CLIENT)
    assert response.status_code == 201, response.content
    # The same click arriving again answers the same attempt and logs nothing more.
    again = as_json(student, "post", f"{url}submit/", {"text": "My essay"})
    assert again.status_code == 200

    [view] = logged(world.institution, activity_type=ActivityType.VIEW_ASSIGNMENT)
    [submitted] = logged(world.institution, activity_type=ActivityType.SUBMIT_ASSIGNMENT)
    for row in (view, submitted):
        assert (row.user_id, row.entity_type, str(row.entity_id), row.course_id) == (
            world.users["stu0"].pk,
            "assignment",
            assignment["id"],
            world.course.pk,
        )
        assert row.ip_address == "203.0.113.7"
    assert submitted.metadata == {"submission_id": response.json()["id"], "is_late": False}


def test_a_refused_submission_records_nothing(world):
    assignment = create_assignment(world, max_submissions=1)
    url = f"/api/v1/assignments/{assignment['id']}/submit/"
    assert as_json(world.client("stu0"), "post", url, {"text": "one"}).status_code == 201
    refused = as_json(world.client("stu0"), "post", url, {"text": "two"})
    assert refused.status_code == 409
    assert as_json(world.client("ta"), "post", url, {"text": "staff"}).status_code == 403
    assert len(logged(world.institution, activity_type=ActivityType.SUBMIT_ASSIGNMENT)) == 1


def test_a_quiz_attempt_submission_is_recorded_once(world):
    end = (timezone.now() + timedelta(days=7)).isoformat()
    instructor = world.client("instructor")
    quiz = as_json(
        instructor,
        "post",
        f"/api/v1/courses/{world.course.pk}/quizzes/",
        {"title": "Check", "end_date": end, "is_published": True},
    ).json()
    question = {"type": "true_false", "text": "Sky is blue.", "points": "1", "correct": True}
    added = as_json(instructor, "post", f"/api/v1/quizzes/{quiz['id']}/questions/", question)
    assert added.status_code == 201, added.content
    student = world.client("stu1")
    attempt = student.post(f"/api/v1/quizzes/{quiz['id']}/attempt/").json()
    submit = f"/api/v1/quiz-attempts/{attempt['id']}/submit/"
    assert student.post(submit, **CLIENT).status_code == 200
    assert student.post(submit).status_code == 200  # closed already: nothing new
    [row] = logged(world.institution, activity_type=ActivityType.SUBMIT_QUIZ)
    assert (row.user_id, row.entity_type, str(row.entity_id), row.course_id) == (
        world.users["stu1"].pk,
        "quiz",
        quiz["id"],
        world.course.pk,
    )
    assert (row.ip_address, row.metadata) == ("203.0.113.7", {"attempt_id": attempt["id"]})
