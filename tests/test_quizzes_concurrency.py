"""Quizzes under concurrency and through the real queue: parallel starts never
pass the attempt limit, parallel submits grade once, and the task queued for
an attempt's deadline closes it in a real worker, in the right schema."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role
from tenant_apps.courses.models import CourseRole, Enrollment
from tenant_apps.grading.models import Grade, GradeRevision
from tenant_apps.quizzes.models import Attempt

from .api_helpers import api_client, as_json, at_once, course_taught_by, member
from .conftest import make_institution

API = "/api/v1"


def _setup(slug: str, *, students: int, **quiz_fields):
    """An institution with a course, `students` enrolled students, and a
    published quiz of one true/false question; returns (institution, quiz id,
    student clients)."""
    institution = make_institution(slug)
    teacher = member(institution, f"teacher@{slug}.test", Role.INSTRUCTOR)
    course = course_taught_by(institution, teacher)
    users = [member(institution, f"s{n}@{slug}.test") for n in range(students)]
    with tenant_context(institution):
        for user in users:
            Enrollment.objects.create(
                course=course, user=user, role=CourseRole.STUDENT, enrolled_at=timezone.now()
            )
    connection.set_schema_to_public()
    instructor = api_client(institution, teacher)
    body = {
        "title": "Quiz",
        "end_date": (timezone.now() + timedelta(days=3)).isoformat(),
        "is_published": True,
        "posting_policy": "automatic",
        **quiz_fields,
    }
    quiz = as_json(instructor, "post", f"{API}/courses/{course.pk}/quizzes/", body).json()
    question = {"type": "true_false", "text": "Yes?", "points": "1", "correct": True}
    response = as_json(instructor, "post", f"{API}/quizzes/{quiz['id']}/questions/", question)
    assert response.status_code == 201, response.content
    return institution, quiz["id"], [api_client(institution, user) for user in users]


def test_parallel_starts_of_one_student_stay_within_the_limit(django_db_setup, committed_db):
    institution, quiz_id, (client,) = _setup("quizstart", students=1, attempt_limit=2)
    first = client.post(f"{API}/quizzes/{quiz_id}/attempt/").json()
    client.post(f"{API}/quiz-attempts/{first['id']}/submit/")

    responses = at_once([lambda: client.post(f"{API}/quizzes/{quiz_id}/attempt/")] * 8)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201], statuses
    assert len({r.json()["id"] for r in responses}) == 1
    with tenant_context(institution):
        assert Attempt.objects.filter(quiz_id=quiz_id).count() == 2
    connection.set_schema_to_public()
    client.post(f"{API}/quiz-attempts/{responses[0].json()['id']}/submit/")
    again = client.post(f"{API}/quizzes/{quiz_id}/attempt/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "attempt_limit_reached"


def test_many_students_start_at_once(django_db_setup, committed_db):
    institution, quiz_id, clients = _setup("quizmany", students=10)
    responses = at_once([lambda c=c: c.post(f"{API}/quizzes/{quiz_id}/attempt/") for c in clients])
    assert [r.status_code for r in responses] == [201] * 10
    with tenant_context(institution):
        assert Attempt.objects.filter(quiz_id=quiz_id).count() == 10
    connection.set_schema_to_public()


def test_parallel_submits_grade_once(django_db_setup, committed_db):
    institution, quiz_id, (client,) = _setup("quizsubmit", students=1)
    attempt = client.post(f"{API}/quizzes/{quiz_id}/attempt/").json()
    question_id = attempt["questions"][0]["question_id"]
    body = {"answers": [{"question_id": question_id, "answer": True}]}
    as_json(client, "put", f"{API}/quiz-attempts/{attempt['id']}/answers/", body)

    url = f"{API}/quiz-attempts/{attempt['id']}/submit/"
    responses = at_once([lambda: client.post(url)] * 8)

    assert [r.status_code for r in responses] == [200] * 8
    bodies = [r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies) and bodies[0]["score"] == "1.00"
    with tenant_context(institution):
        grade = Grade.objects.get(item__source_id=quiz_id)
        assert grade.version == 1 and grade.points_earned == 1
        assert GradeRevision.objects.filter(grade=grade).count() == 1
    connection.set_schema_to_public()


@pytest.mark.queue
def test_the_deadline_task_closes_the_attempt_in_a_worker(django_db_setup, celery_worker):
    soon = timezone.now() + timedelta(seconds=3)
    institution, quiz_id, (client,) = _setup(
        "quizclock", students=1, time_limit_minutes=30, end_date=soon.isoformat()
    )
    attempt = client.post(f"{API}/quizzes/{quiz_id}/attempt/").json()
    question_id = attempt["questions"][0]["question_id"]
    body = {"answers": [{"question_id": question_id, "answer": True}]}
    saved = as_json(client, "put", f"{API}/quiz-attempts/{attempt['id']}/answers/", body)
    assert saved.status_code == 200

    # Nobody reads the attempt: only the worker can close it.
    deadline = time.monotonic() + 30
    status = "in_progress"
    while time.monotonic() < deadline and status == "in_progress":
        time.sleep(0.2)
        with tenant_context(institution):
            status = Attempt.objects.get(pk=attempt["id"]).status
        connection.set_schema_to_public()
    assert status == "graded"
    with tenant_context(institution):
        row = Attempt.objects.get(pk=attempt["id"])
        assert row.score == 1 and row.submitted_at == row.deadline_at
        assert Grade.objects.get(item__source_id=quiz_id).points_earned == 1
    connection.set_schema_to_public()
