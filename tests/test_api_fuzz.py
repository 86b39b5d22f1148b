"""Schemathesis against the live OpenAPI schema of an institution's API:
generated requests, valid and invalid, to every /api/v1/ operation, signed in
as the institution's admin and again as a student. No answer may be a 500,
and every answer must be as the schema documents it: its status, content type
and body. Half of the path parameters name real objects (courses, published
and archived, with their material; a file, an import, an invitation), so the
handlers' bodies answer, not only their 404s.

How it runs: Django's WSGI handler in the test's own thread, so every request
shares the test's database connection and transaction (the `db` fixture), and
each request runs in a savepoint that is rolled back afterwards: examples do
not pile data up or see each other's, a request that signs the caller out does
not sign the next example out, and nothing survives the test. Bounded: a few
examples per operation (the whole run takes well under a minute). For a
deeper run, raise EXAMPLES_PER_OPERATION locally (admin 100, student 25: ~4
minutes).
"""

import traceback
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, connection, transaction
from django.test import override_settings
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenant_apps.grading.api import GradeInput, grade_item_for, grade_save

from .api_helpers import admin_of, api_client, as_json, member
from .conftest import host_client

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"

HOST = "alpha.localhost"
API = "/api/v1"
KNOWN_ID_PROBABILITY = 0.5
# The admin reaches every handler's body; a student mostly meets refusals.
EXAMPLES_PER_OPERATION = {"admin": 15, "student": 5}

# Every operation: no 500, and an answer as documented: a status the schema
# lists, its content type and a body its schema accepts (unmatched /api/ paths
# answer JSON too: urls_tenant.handler404).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def schemathesis_config(examples: int, known_ids: dict[str, list[str]]) -> SchemathesisConfig:
    """The schema's own examples, then `examples` generated requests per
    operation. Not the coverage phase (it walks every boundary of every field
    deterministically: thorough, but unbounded) nor the stateful one (it
    follows links the schema does not declare). A path parameter is, half of
    the time, the id of a real object (`known_ids`, by location.name), so
    requests reach the handlers' bodies and not only their 404s."""
    return SchemathesisConfig.from_dict(
        {
            "generation": {"max-examples": examples},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": False},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "dictionaries": {
                key.replace(".", "-"): {"values": values} for key, values in known_ids.items()
            },
            "parameters": {
                key: {"dictionary": key.replace(".", "-"), "probability": KNOWN_ID_PROBABILITY}
                for key in known_ids
            },
        }
    )


@pytest.fixture
def wsgi_app(db, tmp_path):
    """Django's own WSGI handler: all middleware, the tenant router included.
    Tracebacks of 500s go to stderr, which pytest shows with a failure."""

    def show(sender, request=None, **kwargs):
        traceback.print_exc()

    got_request_exception.connect(show)
    try:
        with override_settings(MEDIA_ROOT=tmp_path):  # uploads land in the test's tmp dir
            yield WSGIHandler()
    finally:
        got_request_exception.disconnect(show)


@contextmanager
def rolled_back_request():
    """One request inside the test's transaction, in a savepoint rolled back
    afterwards. Django closes "old" connections when a request starts and
    ends, which would close the test's own; the test client holds that off
    the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with transaction.atomic():
            try:
                yield
            finally:
                transaction.set_rollback(True)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(params=["admin", "student"])
def role(request) -> str:
    return request.param


@pytest.fixture
def student(alpha):
    return member(alpha, "fuzz@alpha.test")


@pytest.fixture
def caller(role, alpha, student) -> dict[str, str]:
    """The Authorization header of an alpha admin, or of an alpha student."""
    client = api_client(alpha, admin_of(alpha) if role == "admin" else student)
    return {"Authorization": client.defaults["HTTP_AUTHORIZATION"]}


@pytest.fixture
def known_ids(alpha, student, wsgi_app) -> dict[str, list[str]]:
    """Two courses the student is enrolled in, one published and one archived
    (its material frozen: 409s), each with a module, an item and an
    announcement; a course file, an enrollment import and an invitation. Made
    through the API by the admin: their ids (and a download signature), by
    parameter location and name."""
    admin = api_client(alpha, admin_of(alpha))

    def created(path, body, *, multipart: bool = False) -> dict:
        if multipart:
            response = admin.post(f"{API}{path}", body)
        else:
            response = as_json(admin, "post", f"{API}{path}", body)
        assert response.status_code in (201, 202), response.content
        return response.json()

    ids: dict[str, list[str]] = {}

    def quiz_with_attempts(course: str) -> list[str]:
        """A quiz with an essay question, a submitted attempt (its essay waits
        for grading) and one in progress: their ids, and the essay response's."""
        quiz = created(
            f"/courses/{course}/quizzes/",
            {
                "title": "Quiz",
                "end_date": "2099-01-01T00:00:00Z",
                "is_published": True,
                "attempt_limit": None,
            },
        )["id"]
        question = created(
            f"/quizzes/{quiz}/questions/", {"type": "essay", "text": "Why?", "points": "5"}
        )["id"]
        taker = api_client(alpha, student)
        submitted = taker.post(f"{API}/quizzes/{quiz}/attempt/").json()["id"]
        answers = {"answers": [{"question_id": question, "answer": "Because."}]}
        as_json(taker, "put", f"{API}/quiz-attempts/{submitted}/answers/", answers)
        essay = taker.post(f"{API}/quiz-attempts/{submitted}/submit/").json()
        running = taker.post(f"{API}/quizzes/{quiz}/attempt/").json()["id"]
        return [quiz, question, submitted, running, essay["questions"][0]["response_id"]]

    def gradebook_material(course: str, assignment: str) -> list[str]:
        """An assignment group, a rubric, the assignment's gradebook item and
        the student's grade for it (given through grading's services, as the
        assignments app gives one): their ids."""
        group = created(f"/courses/{course}/assignment-groups/", {"name": "Homework"})["id"]
        rating = {"description": "Good", "points": "5"}
        criteria = [{"description": "Thesis", "points": "5", "ratings": [rating]}]
        rubric = created(f"/courses/{course}/rubrics/", {"title": "R", "criteria": criteria})["id"]
        with tenant_context(alpha):
            item = grade_item_for(kind="assignment", source_id=assignment)
            given = GradeInput(points_earned=5, feedback="Fine")
            grade = grade_save(
                item=item, student=student, grader=None, given=given, check_version=False
            )
        connection.set_schema_to_public()
        return [group, rubric, str(item.pk), str(grade.pk)]

    def course_with_material(code: str) -> str:
        course = created(
            "/courses/",
            {
                "code": code,
                "title": "Fuzzing",
                "term": "fall",
                "academic_year": 2026,
                "start_date": "2026-09-01",
                "end_date": "2026-12-20",
                "status": "published",
                "settings": {"self_enrollment": True},
            },
        )["id"]
        created(f"/courses/{course}/enroll/", {"user_id": str(student.pk)})
        module = created(f"/courses/{course}/modules/", {"title": "Week 1"})["id"]
        content = created(
            f"/modules/{module}/contents/",
            {"title": "Reading", "content_type": "link", "content_url": "https://example.com/"},
        )["id"]
        announcement = created(
            f"/courses/{course}/announcements/",
            {"title": "Welcome", "content": "Hello.", "is_published": True},
        )["id"]
        assignment = created(
            f"/courses/{course}/assignments/",
            {
                "title": "Essay",
                "points": "10",
                "due_at": "2099-01-01T00:00:00Z",
                "submission_type": "text",
                "is_published": True,
                "max_submissions": None,
            },
        )["id"]
        response = as_json(
            api_client(alpha, student),
            "post",
            f"{API}/assignments/{assignment}/submit/",
            {"text": "My essay"},
        )
        assert response.status_code == 201, response.content
        submission = response.json()["id"]
        quiz_ids = quiz_with_attempts(course)
        grading_ids = gradebook_material(course, assignment)
        for key, value in [
            ("path.course_id", course),
            ("path.module_id", module),
            ("path.content_id", content),
            ("path.id", announcement),
            ("path.id", assignment),
            ("path.id", submission),
            *(("path.id", quiz_id) for quiz_id in quiz_ids),
            *(("path.id", grading_id) for grading_id in grading_ids),
        ]:
            ids.setdefault(key, []).append(value)
        return course

    course = course_with_material("FUZZ-101")
    archived = course_with_material("FUZZ-102")
    response = as_json(admin, "patch", f"{API}/courses/{archived}/", {"status": "archived"})
    assert response.status_code == 200, response.content
    upload = SimpleUploadedFile("notes.pdf", PDF, content_type="application/pdf")
    file = created(
        "/files/upload/",
        {"file": upload, "course_id": course, "access_level": "course"},
        multipart=True,
    )["id"]
    welcome = ids["path.id"][0]  # the published course's announcement
    response = as_json(
        admin, "patch", f"{API}/announcements/{welcome}/", {"attachment_ids": [file]}
    )
    assert response.status_code == 200, response.content
    csv = SimpleUploadedFile("roster.csv", b"email\nfuzz@alpha.test\n", content_type="text/csv")
    enrollment_import = created(
        f"/courses/{course}/enrollments/import/", {"file": csv}, multipart=True
    )["id"]
    invitation = created("/users/invitations/", {"email": "invited@alpha.test"})["id"]
    download = admin.get(f"{API}/files/{file}/download/")
    return ids | {
        "path.id": [*ids["path.id"], file, str(student.pk)],
        "path.import_id": [enrollment_import],
        "path.invitation_id": [invitation],
        # /files/{id}/content/ with this answers the file itself.
        "query.sig": parse_qs(urlsplit(download["Location"]).query)["sig"],
    }


@pytest.fixture
def api_schema(request, role, caller, known_ids, wsgi_app):
    """The schema as the institution's host serves it."""
    # schemathesis 4.32's lazy loader reads the pre-9 `Node._nodeid`; pytest 9
    # keeps the id in `_id` (the `nodeid` property) and has no such attribute.
    request.node._nodeid = request.node.nodeid
    response = host_client(HOST).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    config = schemathesis_config(EXAMPLES_PER_OPERATION[role], known_ids)
    schema = schemathesis.openapi.from_dict(response.json(), config=config)
    schema.app = wsgi_app
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


# Health checks about generation, not about the API: too_slow (requests go
# through the whole stack) and filter_too_much (an operation whose schema
# makes Hypothesis discard many drafts still gets its examples; zero valid
# examples would still fail, as Unsatisfiable).
@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_no_request_makes_the_api_fail(case, caller):
    with rolled_back_request():
        case.call_and_validate(base_url=f"http://{HOST}", headers=caller, checks=CHECKS)
