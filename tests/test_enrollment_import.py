"""Bulk enrollment from a CSV file: a Celery job with a per-row report and a
dry run. One test goes through the real broker to a real worker; the others
run the task in process."""

import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role
from tenant_apps.courses.models import CourseEnrollmentImport

from .api_helpers import admin_of, api_client, error_code, member
from .conftest import make_institution
from .test_courses_api import beta_token_on_alpha, enroll, make_course, reload
from .test_enrollment import enrollments

API = "/api/v1/courses/"


def csv_file(text: str | bytes, name: str = "roster.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def upload(client, course, text, dry_run=False, **extra):
    return client.post(
        f"{API}{course.pk}/enrollments/import/",
        {"file": csv_file(text), "dry_run": "true" if dry_run else "false"},
        **extra,
    )


def import_count(institution) -> int:
    with tenant_context(institution):
        total = CourseEnrollmentImport.objects.count()
    connection.set_schema_to_public()
    return total


@pytest.fixture
def people(alpha):
    users = {
        "admin": admin_of(alpha),
        "teacher": member(alpha, "teacher@alpha.test", Role.INSTRUCTOR),
        "ta": member(alpha, "ta@alpha.test", Role.TA),
        "ann": member(alpha, "ann@alpha.test"),
        "bob": member(alpha, "bob@alpha.test"),
        "cy": member(alpha, "cy@alpha.test"),
        "gone": member(alpha, "gone@alpha.test", is_suspended=True),
    }
    return users, {name: api_client(alpha, user) for name, user in users.items()}


@pytest.fixture
def course(alpha, people):
    users, _ = people
    return make_course(alpha, users["teacher"], status="published", max_enrollment=1)


@pytest.fixture
def run_jobs(celery_eager, django_capture_on_commit_callbacks):
    """Requests whose queued tasks run in process once the request commits."""

    def run(method, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return method(*args, **kwargs)

    return run


ROSTER = (
    "Email,Role,Section\n"
    "ann@alpha.test,student,A\n"
    "BOB@alpha.test,,B\n"  # blank role: student; addresses are matched whatever their case
    "ta@alpha.test,ta,\n"
    "\n"
    "nobody@alpha.test,student,A\n"
    "cy@alpha.test,professor,A\n"
    "ann@alpha.test,student,A\n"
    "not-an-address,student,A\n"
    "gone@alpha.test,student,A\n"
    "teacher@alpha.test,grader,\n"
    "cy@alpha.test,student," + "S" * 51 + "\n"
)

EXPECTED = [
    (2, "ann@alpha.test", "enrolled"),
    (3, "BOB@alpha.test", "waitlisted"),
    (4, "ta@alpha.test", "enrolled"),
    (6, "nobody@alpha.test", "error"),
    (7, "cy@alpha.test", "error"),
    (8, "ann@alpha.test", "error"),
    (9, "not-an-address", "error"),
    (10, "gone@alpha.test", "error"),
    (11, "teacher@alpha.test", "already_enrolled"),
    (12, "cy@alpha.test", "error"),
]


def _report(client, course, job_id):
    response = client.get(f"{API}{course.pk}/enrollments/import/{job_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def test_an_import_enrolls_rows_and_reports_each(alpha, people, course, run_jobs):
    _, clients = people
    response = run_jobs(upload, clients["teacher"], course, ROSTER)
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "pending" and job["dry_run"] is False
    assert response["Location"].endswith(f"/enrollments/import/{job['id']}/")

    report = _report(clients["teacher"], course, job["id"])
    assert report["status"] == "done" and report["filename"] == "roster.csv"
    assert [(r["row"], r["email"], r["outcome"]) for r in report["rows"]] == EXPECTED
    assert report["counts"] == {"enrolled": 2, "waitlisted": 1, "already_enrolled": 1, "error": 6}
    messages = {r["row"]: r["message"] for r in report["rows"]}
    assert "No user" in messages[6] and "Role" in messages[7] and "row 2" in messages[8]
    assert enrollments(alpha, course) == {
        "ann@alpha.test": ("enrolled", "regular"),
        "bob@alpha.test": ("enrolled", "waitlist"),
        "ta@alpha.test": ("enrolled", "regular"),
    }
    assert reload(alpha, course).current_enrollment == 1

    again = run_jobs(upload, clients["teacher"], course, ROSTER)
    outcomes = [
        r["outcome"] for r in _report(clients["teacher"], course, again.json()["id"])["rows"]
    ]
    assert outcomes[:3] == ["already_enrolled"] * 3


def test_a_dry_run_reports_without_enrolling(alpha, people, course, run_jobs):
    _, clients = people
    enroll(alpha, course, people[0]["cy"])  # takes the only seat
    response = run_jobs(upload, clients["admin"], course, ROSTER, dry_run=True)
    assert response.status_code == 202
    report = _report(clients["admin"], course, response.json()["id"])
    assert report["status"] == "done" and report["dry_run"] is True
    outcomes = {r["row"]: r["outcome"] for r in report["rows"]}
    assert outcomes[2] == "waitlisted" and outcomes[4] == "enrolled"
    assert enrollments(alpha, course) == {"cy@alpha.test": ("enrolled", "regular")}
    assert reload(alpha, course).current_enrollment == 1


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"email,role\n" + b"x" * (1024 * 1024), 413, "file_too_large"),
        (
            "email\n" + "".join(f"p{i}@alpha.test\n" for i in range(5001)),
            413,
            "too_many_rows",
        ),
        (b"email\n\xff\xfe bad bytes\n", 400, "invalid_csv"),
        ("name,role\nann,student\n", 400, "invalid_csv"),
        ("", 400, "invalid_csv"),
        ('email\n"unterminated\x00\n', 400, "invalid_csv"),
    ],
)
def test_unusable_files_are_refused_up_front(alpha, people, course, data, status, code):
    _, clients = people
    response = upload(clients["teacher"], course, data)
    assert response.status_code == status, response.content
    assert error_code(response) == code
    assert import_count(alpha) == 0


def test_the_import_needs_a_multipart_file(alpha, people, course):
    _, clients = people
    url = f"{API}{course.pk}/enrollments/import/"
    as_json = clients["teacher"].post(url, {"file": "x"}, content_type="application/json")
    assert as_json.status_code == 415
    missing = clients["teacher"].post(url, {"dry_run": "true"})
    assert missing.status_code == 400 and "file" in missing.json()["error"]["fields"]
    assert import_count(alpha) == 0


def test_others_may_not_import_or_read_reports(alpha, beta, people, course, run_jobs):
    users, clients = people
    enroll(alpha, course, users["ta"], role="ta")
    enroll(alpha, course, users["ann"])
    for who in ("ta", "ann"):
        refused = upload(clients[who], course, ROSTER)
        assert refused.status_code == 403 and error_code(refused) == "permission_denied"
    beta_admin = api_client(beta, admin_of(beta))
    assert upload(beta_admin, course, ROSTER).status_code == 404
    assert upload(beta_token_on_alpha(beta), course, ROSTER).status_code == 401
    assert import_count(alpha) == 0
    assert set(enrollments(alpha, course)) == {"ta@alpha.test", "ann@alpha.test"}

    job_id = run_jobs(upload, clients["teacher"], course, "email\nbob@alpha.test\n").json()["id"]
    url = f"{API}{course.pk}/enrollments/import/{job_id}/"
    assert clients["ta"].get(url).status_code == 403
    assert beta_admin.get(url).status_code == 404
    assert beta_token_on_alpha(beta).get(url).status_code == 401
    other = make_course(alpha, users["teacher"])
    assert (
        clients["teacher"].get(f"{API}{other.pk}/enrollments/import/{job_id}/").status_code == 404
    )


def test_an_import_is_idempotent_with_a_key(alpha, people, course, run_jobs):
    _, clients = people
    first = run_jobs(
        upload, clients["teacher"], course, "email\nann@alpha.test\n", HTTP_IDEMPOTENCY_KEY="imp"
    )
    again = run_jobs(
        upload, clients["teacher"], course, "email\nann@alpha.test\n", HTTP_IDEMPOTENCY_KEY="imp"
    )
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert import_count(alpha) == 1


def test_a_real_worker_runs_the_import(celery_worker):
    institution = make_institution("importone")
    teacher = member(institution, "teacher@importone.test", Role.INSTRUCTOR)
    for name in ("ann", "bob"):
        member(institution, f"{name}@importone.test")
    course = make_course(institution, teacher, max_enrollment=1)
    client = api_client(institution, teacher)
    response = upload(
        client, course, "email,role,section\nann@importone.test,student,A\nbob@importone.test,,\n"
    )
    assert response.status_code == 202, response.content

    deadline = time.monotonic() + 30
    while (report := _report(client, course, response.json()["id"]))["status"] != "done":
        assert report["status"] in ("pending", "running"), report
        assert time.monotonic() < deadline, "the worker never finished the import"
        time.sleep(0.1)
    assert [r["outcome"] for r in report["rows"]] == ["enrolled", "waitlisted"]
    assert enrollments(institution, course) == {
        "ann@importone.test": ("enrolled", "regular"),
        "bob@importone.test": ("enrolled", "waitlist"),
    }


def test_an_import_whose_message_was_lost_is_queued_again_when_polled(
    alpha, people, course, celery_eager, django_capture_on_commit_callbacks
):
    _, clients = people
    teacher = clients["teacher"]
    with django_capture_on_commit_callbacks(execute=False):  # the broker never got it
        job_id = upload(teacher, course, "email\nann@alpha.test\n").json()["id"]

    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert _report(teacher, course, job_id)["status"] == "pending"
    assert queued == []  # not stalled yet: a worker may simply be busy

    with tenant_context(alpha):
        CourseEnrollmentImport.objects.filter(pk=job_id).update(
            updated_at=timezone.now() - timedelta(minutes=3)
        )
    connection.set_schema_to_public()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        _report(teacher, course, job_id)
    assert len(queued) == 1
    assert _report(teacher, course, job_id)["status"] == "done"
    assert enrollments(alpha, course)["ann@alpha.test"] == ("enrolled", "regular")
