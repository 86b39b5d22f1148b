"""Submissions through the tenant router: drafts, attempts and their limit,
content per submission type, files through the files service, lateness on
the institution's clock (across DST changes), double clicks (with and without
an Idempotency-Key, from real threads), who sees which submission, archived
courses, and lists without a query per row."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from conceptspro.api import ApplicationError
from tenant_apps.assignments import lateness, services
from tenant_apps.assignments.models import Assignment, Submission
from tenant_apps.courses.models import Course, CourseStatus
from tenant_apps.files.models import StoredFile
from tenant_apps.files.services import files_expired_purge, files_for_submission

from .api_helpers import admin_of, api_client, as_json, at_once, error_code
from .conftest import make_institution
from .test_assignments_api import (
    World,
    assignment_body,
    build_world,
    create_assignment,
    in_tenant,
    iso,
)


@pytest.fixture
def world(alpha) -> World:
    return build_world(alpha)


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
NEW_YORK = ZoneInfo("America/New_York")


def submit_url(assignment) -> str:
    return f"/api/v1/assignments/{assignment['id']}/submit/"


def submit(client, assignment, **body):
    return as_json(client, "post", submit_url(assignment), body)


def upload(client, name="essay.pdf", data=PDF, course=None) -> str:
    fields = {"file": SimpleUploadedFile(name, data)}
    if course is not None:
        fields["course_id"] = str(course.pk)
    response = client.post("/api/v1/files/upload/", fields)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def sub_url(submission: dict) -> str:
    return f"/api/v1/submissions/{submission['id']}/"


def rows(institution, **filters) -> list[Submission]:
    return in_tenant(
        institution,
        lambda: list(Submission.objects.filter(**filters).order_by("submission_number")),
    )


# --- submitting -----------------------------------------------------------------


def test_a_student_submits_and_only_they_and_the_staff_see_it(world):
    assignment = create_assignment(world)
    response = submit(world.client("stu0"), assignment, text="My essay")
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == sub_url(body)
    assert (body["status"], body["submission_number"], body["is_late"], body["days_late"]) == (
        "submitted",
        1,
        False,
        0,
    )
    assert body["student"]["id"] == str(world.users["stu0"].pk) and body["grade"] is None
    for who in ("stu0", "instructor", "ta", "grader", "admin"):
        assert world.client(who).get(sub_url(body)).status_code == 200, who
    for who in ("stu1", "other_ta", "other_student", "waitlisted"):
        assert world.client(who).get(sub_url(body)).status_code == 404, who
    submit(world.client("stu1"), assignment, text="Theirs")
    listing = f"/api/v1/assignments/{assignment['id']}/submissions/"
    mine = world.client("stu0").get(listing).json()
    assert [r["text"] for r in mine["results"]] == ["My essay"]
    staff = world.client("ta").get(listing).json()
    assert sorted(r["text"] for r in staff["results"]) == ["My essay", "Theirs"]
    filtered = world.client("ta").get(listing, {"student": str(world.users["stu1"].pk)}).json()
    assert [r["text"] for r in filtered["results"]] == ["Theirs"]


@pytest.mark.parametrize("who", ["instructor", "ta", "grader", "admin"])
def test_staff_cannot_submit(world, who):
    assignment = create_assignment(world)
    assert submit(world.client(who), assignment, text="x").status_code == 403
    assert rows(world.institution) == []


@pytest.mark.parametrize("who", ["other_student", "other_ta", "waitlisted"])
def test_outsiders_cannot_submit(world, who):
    assignment = create_assignment(world)
    assert submit(world.client(who), assignment, text="x").status_code == 404
    assert rows(world.institution) == []


def test_an_unpublished_assignment_takes_no_submission(world):
    assignment = create_assignment(world, is_published=False)
    assert submit(world.client("stu0"), assignment, text="x").status_code == 404


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("text", {"url": "https://example.com/"}, "url"),
        ("text", {"text": "   "}, "text"),
        ("url", {"text": "words"}, "text"),
        ("url", {"url": "ftp://example.com/x"}, "url"),
        ("file", {}, "file_ids"),
        ("multiple", {}, "non_field_errors"),
    ],
)
def test_content_must_be_what_the_submission_type_takes(world, kind, body, field):
    assignment = create_assignment(world, submission_type=kind)
    response = submit(world.client("stu0"), assignment, **body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert rows(world.institution) == []


def test_resubmissions_are_numbered_and_stop_at_the_limit(world):
    assignment = create_assignment(world, max_submissions=2)
    c = world.client("stu0")
    assert submit(c, assignment, text="first").status_code == 201
    assert submit(c, assignment, text="second").status_code == 201
    response = submit(c, assignment, text="third")
    assert response.status_code == 409 and error_code(response) == "submission_limit_reached"
    kept = rows(world.institution)
    assert [(s.submission_number, s.text) for s in kept] == [(1, "first"), (2, "second")]


def test_no_limit_when_max_submissions_is_null(world):
    assignment = create_assignment(world, max_submissions=None)
    for n in range(4):
        assert submit(world.client("stu0"), assignment, text=f"try {n}").status_code == 201
    assert [s.submission_number for s in rows(world.institution)] == [1, 2, 3, 4]


# --- drafts ---------------------------------------------------------------------


def test_a_draft_is_saved_changed_and_then_submitted_as_is(world):
    assignment = create_assignment(world, max_submissions=2)
    c = world.client("stu0")
    first = submit(c, assignment, text="rough", is_draft=True)
    assert first.status_code == 201, first.content
    draft = first.json()
    assert (draft["status"], draft["submission_number"], draft["submitted_at"]) == (
        "draft",
        None,
        None,
    )
    again = submit(c, assignment, url="https://example.com/me", is_draft=True)
    assert again.status_code == 200 and again.json()["id"] == draft["id"], "one draft"
    assert again.json()["text"] == "rough", "fields left out are kept"
    response = as_json(c, "patch", sub_url(draft), {"text": "polished"})
    assert response.status_code == 200 and response.json()["text"] == "polished"

    response = submit(c, assignment)
    assert response.status_code == 201, response.content
    attempt = response.json()
    assert attempt["id"] == draft["id"]
    assert (attempt["status"], attempt["submission_number"], attempt["text"], attempt["url"]) == (
        "submitted",
        1,
        "polished",
        "https://example.com/me",
    )
    response = as_json(c, "patch", sub_url(attempt), {"text": "sneaky"})
    assert response.status_code == 409 and error_code(response) == "submission_not_editable"
    response = c.delete(sub_url(attempt))
    assert response.status_code == 409 and error_code(response) == "submission_not_deletable"
    assert rows(world.institution)[0].text == "polished"


def test_the_owner_deletes_a_draft_others_may_not_touch_it(world):
    assignment = create_assignment(world)
    draft = submit(world.client("stu0"), assignment, text="x", is_draft=True).json()
    assert as_json(world.client("ta"), "patch", sub_url(draft), {"text": "y"}).status_code == 403
    assert world.client("instructor").delete(sub_url(draft)).status_code == 403
    for who in ("stu1", "other_ta", "other_student"):
        assert as_json(world.client(who), "patch", sub_url(draft), {"text": "y"}).status_code == 404
        assert world.client(who).delete(sub_url(draft)).status_code == 404
    assert world.client("stu0").delete(sub_url(draft)).status_code == 204
    assert rows(world.institution) == []


# --- lateness -------------------------------------------------------------------


def test_a_late_submission_records_days_late_and_its_penalty(world):
    due = timezone.now() - timedelta(hours=30)
    assignment = create_assignment(world, due_at=iso(due), late_penalty_per_day="15")
    body = submit(world.client("stu0"), assignment, text="late").json()
    assert (body["is_late"], body["days_late"], body["late_penalty_percent"]) == (
        True,
        2,
        "30.00",
    )


def test_late_work_refused_when_the_assignment_takes_none(world):
    due = timezone.now() - timedelta(minutes=1)
    assignment = create_assignment(world, due_at=iso(due), allow_late_submission=False)
    response = submit(world.client("stu0"), assignment, text="late")
    assert response.status_code == 409
    assert error_code(response) == "late_submission_not_allowed"
    assert rows(world.institution) == []


def test_submissions_close_after_max_late_days_saying_when(world):
    due = timezone.now() - timedelta(hours=30)
    assignment = create_assignment(world, due_at=iso(due), max_late_days=1)
    response = submit(world.client("stu0"), assignment, text="too late")
    assert response.status_code == 409 and error_code(response) == "submission_closed"
    error = response.json()["error"]
    closed = datetime.fromisoformat(error["closed_at"])
    assert abs((closed - due - timedelta(days=1)).total_seconds()) < 1
    assert error["closed_at"][:16] in error["message"]


@pytest.mark.parametrize(
    ("due", "at", "expected"),
    [
        # Fall back (1 Nov 2026): 24.5 real hours, 23.5 on the wall clock.
        (datetime(2026, 10, 31, 23, 0), datetime(2026, 11, 1, 22, 30), 1),
        (datetime(2026, 10, 31, 23, 0), datetime(2026, 11, 1, 23, 30), 2),
        # Spring forward (8 Mar 2026): 23.5 real hours, 24.5 on the wall clock.
        (datetime(2026, 3, 7, 23, 0), datetime(2026, 3, 8, 23, 30), 2),
        (datetime(2026, 3, 7, 23, 0), datetime(2026, 3, 8, 22, 30), 1),
        (datetime(2026, 3, 7, 23, 0), datetime(2026, 3, 7, 23, 0), 0),
    ],
)
def test_days_late_count_wall_clock_days_across_dst(due, at, expected):
    due_at = due.replace(tzinfo=NEW_YORK).astimezone(ZoneInfo("UTC"))
    moment = at.replace(tzinfo=NEW_YORK).astimezone(ZoneInfo("UTC"))
    assert lateness.days_late(due_at=due_at, at=moment, zone=NEW_YORK) == expected


def test_the_service_counts_days_in_the_institutions_time_zone(alpha, world):
    alpha.timezone = "America/New_York"
    alpha.save()
    due = datetime(2026, 10, 31, 23, 0, tzinfo=NEW_YORK)
    assignment = create_assignment(world, due_at=iso(due), max_late_days=1)
    with tenant_context(alpha):
        row = Assignment.objects.get(pk=assignment["id"])
        student = world.users["stu0"]
        content = services.SubmissionContent(text="x")
        at = datetime(2026, 11, 1, 22, 30, tzinfo=NEW_YORK)  # 24.5 h later in real time
        submission, _ = services.submission_submit(
            assignment=row, student=student, content=content, now=at
        )
        assert submission.days_late == 1, "one wall-clock day, not two"
        with pytest.raises(ApplicationError) as refused:
            services.submission_submit(
                assignment=row,
                student=student,
                content=services.SubmissionContent(text="y"),
                now=datetime(2026, 11, 1, 23, 30, tzinfo=NEW_YORK),
            )
        assert refused.value.code == "submission_closed"
        assert refused.value.extra["closed_at"] == "2026-11-01T23:00:00-05:00"
    connection.set_schema_to_public()


# --- files ----------------------------------------------------------------------


def test_files_are_submitted_private_to_the_student_and_the_staff(world):
    assignment = create_assignment(world, submission_type="file", allowed_file_types=["pdf"])
    file_id = upload(world.client("stu0"))
    response = submit(world.client("stu0"), assignment, file_ids=[file_id, file_id])
    assert response.status_code == 201, response.content
    body = response.json()
    assert [f["id"] for f in body["files"]] == [file_id]
    stored = in_tenant(world.institution, lambda: StoredFile.objects.get(pk=file_id))
    assert (stored.course_id, stored.access_level) == (world.course.pk, "private")
    for who in ("stu0", "ta", "instructor"):
        assert world.client(who).get(f"/api/v1/files/{file_id}/").status_code == 200, who
        files = world.client(who).get(sub_url(body) + "files/")
        assert files.status_code == 200, who
        assert [f["id"] for f in files.json()] == [file_id]
        assert "sig=" in files.json()[0]["download_url"]
    for who in ("stu1", "other_ta"):
        assert world.client(who).get(f"/api/v1/files/{file_id}/").status_code == 404, who
        assert world.client(who).get(sub_url(body) + "files/").status_code == 404, who


def test_submitted_files_are_held_as_submitted_a_drafts_are_not(world):
    """A student cannot pull a file out of a submitted attempt (delete or
    expiry); a draft's file stays theirs to delete."""
    assignment = create_assignment(
        world, submission_type="file", allowed_file_types=["pdf"], max_submissions=2
    )
    c = world.client("stu0")
    in_draft = upload(c, name="draft.pdf")
    assert submit(c, assignment, file_ids=[in_draft], is_draft=True).status_code == 201
    submitted = upload(c, name="final.pdf")
    assert submit(c, assignment, file_ids=[submitted]).status_code == 201
    # The draft became the attempt with the request's files; the draft's own
    # file is no longer in any submission and may go.
    assert c.delete(f"/api/v1/files/{in_draft}/").status_code == 204
    refused = c.delete(f"/api/v1/files/{submitted}/")
    assert refused.status_code == 409
    assert error_code(refused) == "file_held"
    assert world.client("admin").delete(f"/api/v1/files/{submitted}/").status_code == 409

    def expire_and_purge():
        StoredFile.objects.filter(pk=submitted).update(expires_at=timezone.now())
        return files_expired_purge()

    assert in_tenant(world.institution, expire_and_purge) == 0
    assert world.client("ta").get(f"/api/v1/files/{submitted}/").status_code == 200


def test_file_rules_are_enforced(world):
    c = world.client("stu0")
    docx_only = create_assignment(world, submission_type="file", allowed_file_types=["docx"])
    pdf = upload(c)
    response = submit(c, docx_only, file_ids=[pdf])
    assert response.status_code == 400 and error_code(response) == "file_type_not_allowed"
    assert "file_ids" in response.json()["error"]["fields"]

    small = create_assignment(world, submission_type="file", max_file_size_mb=1)
    big = upload(c, name="notes.txt", data=b"a" * (1024 * 1024 + 1))
    response = submit(c, small, file_ids=[big])
    assert response.status_code == 400 and error_code(response) == "file_too_large"

    someone_elses = upload(world.client("stu1"))
    other_course = upload(world.client("other_student"), course=world.other_course)
    any_type = create_assignment(world, submission_type="file")
    for file_id in (someone_elses, other_course, "not-a-uuid"):
        response = submit(c, any_type, file_ids=[file_id])
        assert response.status_code == 400, file_id
    assert rows(world.institution) == []


def test_the_service_checks_the_sniffed_type_as_well_as_the_name(alpha, world):
    def check():
        student = world.users["stu0"]
        renamed = StoredFile.objects.create(
            original_name="essay.pdf",
            stored_name="x.txt",
            file_path="files/x.txt",
            mime_type="text/plain",
            file_size_bytes=10,
            sha256="0" * 64,
            uploader=student,
        )
        with pytest.raises(ApplicationError) as refused:
            files_for_submission(
                user=student,
                file_ids=[renamed.pk],
                course=world.course,
                allowed_types=["pdf"],
                max_bytes=1000,
            )
        assert refused.value.code == "file_type_not_allowed"
        accepted = files_for_submission(
            user=student, file_ids=[renamed.pk], course=world.course, allowed_types=[], max_bytes=10
        )
        assert accepted == [renamed]

    in_tenant(alpha, check)


# --- archived course --------------------------------------------------------------


def test_an_archived_course_takes_no_submissions(alpha, world):
    assignment = create_assignment(world)
    draft = submit(world.client("stu0"), assignment, text="x", is_draft=True).json()
    in_tenant(
        alpha,
        lambda: Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.ARCHIVED),
    )
    # Students no longer see an archived course at all.
    assert submit(world.client("stu0"), assignment, text="x").status_code == 404
    with tenant_context(alpha):
        row = Assignment.objects.get(pk=assignment["id"])
        with pytest.raises(ApplicationError) as refused:
            services.submission_submit(
                assignment=row,
                student=world.users["stu0"],
                content=services.SubmissionContent(text="y"),
            )
        assert refused.value.code == "course_archived"
        with pytest.raises(ApplicationError) as refused:
            services.submission_delete(submission=Submission.objects.get(pk=draft["id"]))
        assert refused.value.code == "course_archived"
    connection.set_schema_to_public()


def test_another_institution_is_refused(world, beta):
    assignment = create_assignment(world)
    made = submit(world.client("stu0"), assignment, text="x").json()
    stray = api_client(beta, admin_of(beta))
    stray.defaults["HTTP_HOST"] = "alpha.localhost"
    home = api_client(beta, admin_of(beta))
    for method, path in [
        ("get", sub_url(made)),
        ("patch", sub_url(made)),
        ("delete", sub_url(made)),
        ("get", sub_url(made) + "files/"),
        ("post", sub_url(made) + "grade/"),
        ("post", submit_url(assignment)),
    ]:
        assert as_json(stray, method, path, {"text": "y"}).status_code == 401, path
        assert as_json(home, method, path, {"text": "y"}).status_code == 404, path
    assert [s.text for s in rows(world.institution)] == ["x"]


# --- double clicks ----------------------------------------------------------------


@pytest.fixture
def committed_world(committed_db) -> World:
    return build_world(make_institution("subclick"), students=1)


def assignment_in(world: World, **overrides) -> dict:
    response = as_json(
        world.client("instructor"),
        "post",
        f"/api/v1/courses/{world.course.pk}/assignments/",
        assignment_body(**overrides),
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_double_click_makes_one_submission(committed_world):
    world = committed_world
    assignment = assignment_in(world, max_submissions=3)
    clients = [api_client(world.institution, world.users["stu0"]) for _ in range(2)]
    responses = at_once([lambda c=c: submit(c, assignment, text="same") for c in clients])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 201], [r.content for r in responses]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert len(rows(world.institution)) == 1

    # With an Idempotency-Key: one submission, the other answer replayed.
    key = {"HTTP_IDEMPOTENCY_KEY": "submit-twice"}
    responses = at_once(
        [
            lambda c=c: as_json(c, "post", submit_url(assignment), {"text": "other"}, **key)
            for c in clients
        ]
    )
    assert sorted(r.status_code for r in responses) == [201, 201], [r.content for r in responses]
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 1
    assert [s.text for s in rows(world.institution)] == ["same", "other"]


def test_a_repeated_submit_of_the_draft_answers_the_attempt(world):
    assignment = create_assignment(world)
    c = world.client("stu0")
    submit(c, assignment, text="draft text", is_draft=True)
    first = submit(c, assignment)
    second = submit(c, assignment)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(rows(world.institution)) == 1, "max_submissions 1 is not spent twice"


# --- lists: queries do not grow with rows -------------------------------------------


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(queries)


def test_the_submission_list_does_not_query_per_row(alpha):
    world = build_world(alpha, students=10)
    assignment = create_assignment(world, max_submissions=None)
    listing = f"/api/v1/assignments/{assignment['id']}/submissions/"

    def add(students):
        for n in students:
            c = world.client(f"stu{n}")
            file_id = upload(c, name=f"e{n}.pdf")
            response = submit(c, assignment, text=f"t{n}", file_ids=[file_id])
            assert response.status_code == 201, response.content
            grade = as_json(
                world.client("ta"),
                "post",
                sub_url(response.json()) + "grade/",
                {"points_earned": 5},
            )
            assert grade.status_code == 200, grade.content

    add(range(2))
    few = {w: _queries(world.client(w), listing) for w in ("stu0", "ta")}
    add(range(2, 10))
    many = {w: _queries(world.client(w), listing) for w in ("stu0", "ta")}
    assert many == few
    assert world.client("ta").get(listing).json()["count"] == 10
