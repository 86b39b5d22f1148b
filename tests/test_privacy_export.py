"""Data exports through the tenant router: a user exports their own data, an
admin exports a user's; a worker (run in process) builds the zip, which is
read back here: README, profile.json, one file per registered section and
the user's files, nothing of anyone else's nor of another institution.
Who may ask, who may download, one export at a time, expiry, and the data
policy's endpoint."""

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import storages
from django.urls import resolve
from django.utils import timezone

from tenant_apps.activity.models import ActivityLog, ActivityType
from tenant_apps.announcements.models import Announcement
from tenant_apps.audit.models import AuditEvent, AuditEventType
from tenant_apps.notifications.models import Notification, NotificationKind
from tenant_apps.privacy import services
from tenant_apps.privacy.models import DataExport, DataPolicy, ExportStatus
from tenant_apps.privacy.registry import _sections, user_data_section_register, user_data_sections
from tenant_apps.quizzes.models import Attempt, AttemptStatus, Question, Quiz, Response

from .api_helpers import admin_of, api_client, as_json, error_code, member
from .conftest import host_client
from .test_assignments_api import World, build_world, create_assignment, in_tenant
from .test_files_s3 import s3_endpoint, s3_storage  # noqa: F401 (fixtures)
from .test_submissions_api import submit, upload

pytestmark = pytest.mark.django_db

MY_EXPORTS = "/api/v1/users/me/data-exports/"
POLICY = "/api/v1/institution/data-policy/"


def user_exports_url(user) -> str:
    return f"/api/v1/users/{user.pk}/data-exports/"


@dataclass
class Lived:
    """What one student left in the institution."""

    submission_text: str
    submission_id: str
    submitted_file: str
    notes_file: str
    grade_id: str
    attempt_id: str
    essay_answer: str


def lived_in(world: World, who: str) -> Lived:
    """`who` uploads notes, submits an essay with a file (graded and
    released), keeps a draft, reads an announcement, takes a quiz and leaves
    activity: a bit of everything the sections export."""
    client = world.client(who)
    user = world.users[who]
    notes = upload(client, name=f"notes-{who}.pdf")
    essay_file = upload(client, name=f"essay-{who}.pdf")
    assignment = create_assignment(world, title=f"Essay for {who}")
    slug = world.institution.slug
    text = f"The essay of {who} at {slug}, secret-{who}-{slug}"
    submission = submit(client, assignment, text=text, file_ids=[essay_file])
    assert submission.status_code == 201, submission.content
    submission = submission.json()
    other = create_assignment(world, title=f"Second for {who}")
    draft = submit(client, other, text=f"draft of {who}", is_draft=True)
    assert draft.status_code in (200, 201), draft.content
    graded = as_json(
        world.client("instructor"),
        "post",
        f"/api/v1/submissions/{submission['id']}/grade/",
        {"points_earned": "88", "feedback": f"Good work {who}"},
    )
    assert graded.status_code == 200, graded.content
    grade_id = graded.json()["id"]
    released = world.client("instructor").post(f"/api/v1/grades/{grade_id}/release/")
    assert released.status_code == 200, released.content

    def rows():
        announcement = Announcement.objects.create(
            course=world.course,
            author=world.users["instructor"],
            title=f"Welcome {who}",
            content="Hello",
            is_published=True,
            publish_at=timezone.now() - timedelta(minutes=1),
        )
        ActivityLog.objects.create(
            user=user,
            activity_type=ActivityType.VIEW_COURSE,
            course_id=world.course.pk,
            ip_address="203.0.113.7",
            user_agent=f"browser-of-{who}",
        )
        quiz = Quiz.objects.create(
            course=world.course,
            title=f"Quiz for {who}",
            points=Decimal("5"),
            end_date=timezone.now() + timedelta(days=3),
            is_published=True,
        )
        question = Question.objects.create(
            quiz=quiz, type="essay", text="Explain.", points=Decimal("5"), position=1
        )
        attempt = Attempt.objects.create(
            quiz=quiz,
            student=user,
            attempt_number=1,
            started_at=timezone.now() - timedelta(minutes=10),
            deadline_at=timezone.now() + timedelta(hours=1),
            submitted_at=timezone.now() - timedelta(minutes=1),
            status=AttemptStatus.NEEDS_GRADING,
            question_order=[str(question.pk)],
        )
        answer = f"answer-of-{who}-at-{slug}"
        Response.objects.create(attempt=attempt, question=question, answer=answer)
        return announcement, attempt, answer

    announcement, attempt, answer = in_tenant(world.institution, rows)
    read = client.post(f"/api/v1/announcements/{announcement.pk}/mark-read/")
    assert read.status_code == 200, read.content
    return Lived(
        submission_text=text,
        submission_id=submission["id"],
        submitted_file=essay_file,
        notes_file=notes,
        grade_id=grade_id,
        attempt_id=str(attempt.pk),
        essay_answer=answer,
    )


@pytest.fixture
def world(alpha) -> World:
    return build_world(alpha, students=2)


@pytest.fixture
def run_jobs(celery_eager, django_capture_on_commit_callbacks):
    """Requests whose queued tasks run in process once the request commits."""

    def run(method, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return method(*args, **kwargs)

    return run


def exports(institution, **filters) -> list[DataExport]:
    return in_tenant(
        institution, lambda: list(DataExport.objects.filter(**filters).order_by("created_at"))
    )


def download(client, export_id) -> zipfile.ZipFile:
    """The zip, streamed by the download endpoint (local disk storage; on S3
    it redirects to a presigned URL, see test_s3_export_is_a_presigned_redirect)."""
    response = client.get(f"/api/v1/data-exports/{export_id}/download/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def everything(archive: zipfile.ZipFile) -> str:
    return "\n".join(
        archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
    ).lower()


# --- a user exports their own data ----------------------------------------------------


def test_a_student_exports_their_own_data_and_nothing_of_anyone_else(world, beta, run_jobs):
    mine = lived_in(world, "stu0")
    theirs = lived_in(world, "stu1")
    beta_world = build_world(beta, students=1)
    beta_lived = lived_in(beta_world, "stu0")

    response = run_jobs(world.client("stu0").post, MY_EXPORTS)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == ExportStatus.QUEUED  # answered before the worker ran
    assert body["user_id"] == body["requested_by_id"] == str(world.users["stu0"].pk)

    listed = world.client("stu0").get(MY_EXPORTS).json()
    assert [e["id"] for e in listed["results"]] == [body["id"]]
    ready = listed["results"][0]
    assert ready["status"] == ExportStatus.READY
    assert ready["download_url"] == f"/api/v1/data-exports/{body['id']}/download/"
    assert ready["size_bytes"] > 0
    expires = timezone.datetime.fromisoformat(ready["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < expires - timezone.now() <= timedelta(days=7)

    archive = download(world.client("stu0"), body["id"])
    names = archive.namelist()
    sections = [s.name for s in user_data_sections()]
    assert names[:2] == ["README.txt", "profile.json"]
    for section in sections:
        assert f"{section}.json" in names
    readme = archive.read("README.txt").decode()
    for section in sections:
        assert f"{section}.json" in readme
    assert f"files/{mine.submitted_file}/essay-stu0.pdf" in names
    assert f"files/{mine.notes_file}/notes-stu0.pdf" in names
    assert archive.read(f"files/{mine.notes_file}/notes-stu0.pdf").startswith(b"%PDF")

    profile = json.loads(archive.read("profile.json"))
    assert profile["email"] == "stu0@alpha.test"
    assert profile["id"] == str(world.users["stu0"].pk)
    submissions = json.loads(archive.read("submissions.json"))["submissions"]
    assert {s["text"] for s in submissions} == {mine.submission_text, "draft of stu0"}
    grades = json.loads(archive.read("grades.json"))["grades"]
    assert [(g["score"], g["feedback"]) for g in grades] == [("88.00", "Good work stu0")]
    attempts = json.loads(archive.read("quiz_attempts.json"))["attempts"]
    assert [a["id"] for a in attempts] == [mine.attempt_id]
    assert attempts[0]["questions"][0]["answer"] == mine.essay_answer
    assert "score" not in attempts[0]  # not released: the export hides it as the quiz page does
    files = json.loads(archive.read("files.json"))["files"]
    assert {f["id"] for f in files} == {mine.submitted_file, mine.notes_file}
    reads = json.loads(archive.read("announcements.json"))["read"]
    assert [r["title"] for r in reads] == ["Welcome stu0"]
    activity = json.loads(archive.read("activity.json"))["activity"]
    assert "browser-of-stu0" in [a["user_agent"] for a in activity]
    courses = json.loads(archive.read("courses.json"))["enrollments"]
    assert [c["course"]["code"] for c in courses] == [world.course.code]

    text = everything(archive)
    for foreign in (
        "stu1@alpha.test",
        theirs.submission_text,
        theirs.essay_answer,
        "browser-of-stu1",
        theirs.notes_file,
        "secret-stu1-alpha",
        beta_lived.submission_text,
        beta_lived.essay_answer,
        "@beta.test",
    ):
        assert foreign.lower() not in text, foreign

    notices = in_tenant(
        world.institution,
        lambda: list(
            Notification.objects.filter(notification_type=NotificationKind.DATA_EXPORT_READY)
        ),
    )
    assert [(n.user_id, n.link_url) for n in notices] == [
        (world.users["stu0"].pk, f"/api/v1/data-exports/{body['id']}/download/")
    ]


def test_a_second_request_while_one_is_being_built_is_a_409(world):
    first = world.client("stu0").post(MY_EXPORTS)  # no worker ran: still queued
    assert first.status_code == 202
    again = world.client("stu0").post(MY_EXPORTS)
    assert again.status_code == 409 and error_code(again) == "export_in_progress"
    assert len(exports(world.institution)) == 1
    # Another user is not held up by it.
    assert world.client("stu1").post(MY_EXPORTS).status_code == 202


def test_a_build_that_died_does_not_block_a_new_request(world):
    assert world.client("stu0").post(MY_EXPORTS).status_code == 202
    in_tenant(
        world.institution,
        lambda: DataExport.objects.update(
            status=ExportStatus.RUNNING, started_at=timezone.now() - timedelta(hours=2)
        ),
    )
    assert world.client("stu0").post(MY_EXPORTS).status_code == 202
    assert [e.status for e in exports(world.institution)] == [
        ExportStatus.FAILED,
        ExportStatus.QUEUED,
    ]


def test_building_again_changes_nothing(world, run_jobs):
    export_id = run_jobs(world.client("stu0").post, MY_EXPORTS).json()["id"]
    before = exports(world.institution)[0]
    assert before.status == ExportStatus.READY
    again = in_tenant(world.institution, lambda: services.data_export_build(export_id=export_id))
    assert (again.file_key, again.finished_at) == (before.file_key, before.finished_at)
    count = in_tenant(
        world.institution,
        lambda: Notification.objects.filter(
            notification_type=NotificationKind.DATA_EXPORT_READY
        ).count(),
    )
    assert count == 1


def test_a_section_that_fails_fails_the_export_and_a_new_one_can_be_asked(world, run_jobs):
    def broken(user):
        raise ValueError("boom")

    user_data_section_register("broken_part", export=broken)
    try:
        response = run_jobs(world.client("stu0").post, MY_EXPORTS)
    finally:
        _sections.pop("broken_part")
    assert response.status_code == 202
    failed = exports(world.institution)[0]
    assert failed.status == ExportStatus.FAILED and failed.file_key == ""
    assert "broken_part" in failed.error
    body = world.client("stu0").get(MY_EXPORTS).json()["results"][0]
    assert body["download_url"] is None
    refused = world.client("stu0").get(f"/api/v1/data-exports/{failed.pk}/download/")
    assert refused.status_code == 409 and error_code(refused) == "export_not_ready"
    assert run_jobs(world.client("stu0").post, MY_EXPORTS).status_code == 202
    assert exports(world.institution)[1].status == ExportStatus.READY


# --- an admin exports a user's data ----------------------------------------------------


def test_an_admin_exports_a_users_data_and_both_are_notified(world, run_jobs):
    lived_in(world, "stu0")
    response = run_jobs(world.client("admin").post, user_exports_url(world.users["stu0"]))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["user_id"] == str(world.users["stu0"].pk)
    assert body["requested_by_id"] == str(world.users["admin"].pk)

    for who in ("admin", "stu0"):
        archive = download(world.client(who), body["id"])
        assert json.loads(archive.read("profile.json"))["email"] == "stu0@alpha.test"
    listed = world.client("admin").get(user_exports_url(world.users["stu0"])).json()
    assert [e["id"] for e in listed["results"]] == [body["id"]]
    assert world.client("stu0").get(MY_EXPORTS).json()["results"][0]["id"] == body["id"]

    notified = in_tenant(
        world.institution,
        lambda: sorted(
            Notification.objects.filter(
                notification_type=NotificationKind.DATA_EXPORT_READY
            ).values_list("user_id", "title")
        ),
    )
    assert sorted(notified) == sorted(
        [
            (world.users["stu0"].pk, "Your data export is ready"),
            (world.users["admin"].pk, "The data export of Stu0 Tester is ready"),
        ]
    )
    audited = in_tenant(
        world.institution,
        lambda: list(
            AuditEvent.objects.filter(event=AuditEventType.DATA_EXPORT_REQUESTED).values_list(
                "actor_id", "target_id"
            )
        ),
    )
    assert audited == [(world.users["admin"].pk, world.users["stu0"].pk)]


@pytest.mark.parametrize("who", ["stu1", "ta", "instructor", "grader"])
def test_only_admins_export_someone_elses_data(world, who):
    response = world.client(who).post(user_exports_url(world.users["stu0"]))
    assert response.status_code == 403
    assert world.client(who).get(user_exports_url(world.users["stu0"])).status_code == 403
    assert exports(world.institution) == []


def test_an_unknown_user_is_a_404(world):
    import uuid

    response = world.client("admin").post(f"/api/v1/users/{uuid.uuid4()}/data-exports/")
    assert response.status_code == 404
    assert exports(world.institution) == []


def test_only_the_user_and_the_requesting_admin_may_download(world, alpha, run_jobs):
    export_id = run_jobs(world.client("admin").post, user_exports_url(world.users["stu0"])).json()[
        "id"
    ]
    other_admin = member(alpha, "second-admin@alpha.test", "admin")
    url = f"/api/v1/data-exports/{export_id}/download/"
    for client in (
        world.client("stu1"),
        world.client("instructor"),
        api_client(alpha, other_admin),
    ):
        assert client.get(url).status_code == 404
    # The requester who is no longer an admin loses the download.
    in_tenant(
        alpha,
        lambda: (
            type(world.users["admin"])
            .objects.filter(pk=world.users["admin"].pk)
            .update(role="instructor")
        ),
    )
    assert world.client("admin").get(url).status_code == 404
    assert world.client("stu0").get(url).status_code == 200


def test_another_institution_never_sees_an_export(world, beta, run_jobs):
    export_id = run_jobs(world.client("stu0").post, MY_EXPORTS).json()["id"]
    beta_admin = api_client(beta, admin_of(beta))
    assert beta_admin.get(f"/api/v1/data-exports/{export_id}/download/").status_code == 404
    assert beta_admin.post(user_exports_url(world.users["stu0"])).status_code == 404
    assert beta_admin.get(MY_EXPORTS).json()["results"] == []
    # beta's token on alpha's host is refused before anything is read.
    on_alpha = host_client(
        "alpha.localhost", HTTP_AUTHORIZATION=beta_admin.defaults["HTTP_AUTHORIZATION"]
    )
    assert on_alpha.get(f"/api/v1/data-exports/{export_id}/download/").status_code == 401
    assert on_alpha.post(MY_EXPORTS).status_code == 401


def test_anonymous_callers_are_refused(world, alpha_client):
    assert alpha_client.get(MY_EXPORTS).status_code == 401
    assert alpha_client.post(MY_EXPORTS).status_code == 401
    assert exports(world.institution) == []


# --- signed content, expiry ------------------------------------------------------------


def test_an_expired_export_is_a_410_and_leaves_storage(world, run_jobs):
    export_id = run_jobs(world.client("stu0").post, MY_EXPORTS).json()["id"]
    export = exports(world.institution)[0]
    key = export.file_key
    assert in_tenant(world.institution, lambda: storages["default"].exists(key))
    in_tenant(
        world.institution,
        lambda: DataExport.objects.update(expires_at=timezone.now() - timedelta(seconds=1)),
    )
    url = f"/api/v1/data-exports/{export_id}/download/"
    response = world.client("stu0").get(url)
    assert response.status_code == 410 and error_code(response) == "export_expired"

    done = in_tenant(world.institution, lambda: run_jobs(services.data_exports_housekeeping))
    assert done["expired"] == 1
    export = exports(world.institution)[0]
    assert (export.status, export.file_key) == (ExportStatus.EXPIRED, "")
    assert not in_tenant(world.institution, lambda: storages["default"].exists(key))
    response = world.client("stu0").get(url)
    assert response.status_code == 410 and error_code(response) == "export_expired"
    listed = world.client("stu0").get(MY_EXPORTS).json()["results"][0]
    assert listed["status"] == ExportStatus.EXPIRED and listed["download_url"] is None


def test_housekeeping_fails_dead_builds_and_requeues_lost_ones(world, run_jobs):
    assert world.client("stu0").post(MY_EXPORTS).status_code == 202  # never reached a worker
    assert world.client("stu1").post(MY_EXPORTS).status_code == 202
    in_tenant(
        world.institution,
        lambda: (
            DataExport.objects.filter(user=world.users["stu0"]).update(
                created_at=timezone.now() - timedelta(minutes=20)
            ),
            DataExport.objects.filter(user=world.users["stu1"]).update(
                status=ExportStatus.RUNNING, started_at=timezone.now() - timedelta(hours=2)
            ),
        ),
    )
    done = in_tenant(world.institution, lambda: run_jobs(services.data_exports_housekeeping))
    assert (done["failed"], done["requeued"]) == (1, 1)
    statuses = {e.user_id: e.status for e in exports(world.institution)}
    assert statuses == {
        world.users["stu0"].pk: ExportStatus.READY,
        world.users["stu1"].pk: ExportStatus.FAILED,
    }


def test_a_download_of_a_queued_export_is_a_409_and_unknown_ids_404(world):
    export_id = world.client("stu0").post(MY_EXPORTS).json()["id"]
    response = world.client("stu0").get(f"/api/v1/data-exports/{export_id}/download/")
    assert response.status_code == 409 and error_code(response) == "export_not_ready"
    import uuid

    assert (
        world.client("stu0").get(f"/api/v1/data-exports/{uuid.uuid4()}/download/").status_code
        == 404
    )


def test_a_retried_request_with_the_same_key_makes_one_export(world):
    first = world.client("stu0").post(MY_EXPORTS, HTTP_IDEMPOTENCY_KEY="k-1")
    second = world.client("stu0").post(MY_EXPORTS, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 202
    assert second["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    assert len(exports(world.institution)) == 1


# --- routing ---------------------------------------------------------------------------


def test_the_users_paths_of_privacy_are_reached_past_the_accounts_include(world):
    pk = world.users["stu0"].pk
    assert resolve(f"/api/v1/users/{pk}/erase/").url_name == "user-erase"
    assert resolve(f"/api/v1/users/{pk}/data-exports/").url_name == "user-data-exports"
    assert resolve("/api/v1/users/me/data-exports/").url_name == "my-data-exports"
    assert resolve(f"/api/v1/users/{pk}/").url_name == "users-detail"
    assert resolve(POLICY).url_name == "data-policy"
    assert resolve("/api/v1/institution/security-policy/").url_name == "security-policy"
    # And through the tenant router: a student is refused by the erase view
    # itself (403), not by a missing route (404).
    response = as_json(world.client("stu0"), "post", f"/api/v1/users/{pk}/erase/", {})
    assert response.status_code == 403


# --- the data policy -------------------------------------------------------------------


def test_admins_read_and_change_the_data_policy(world):
    admin = world.client("admin")
    body = admin.get(POLICY).json()
    assert body == {
        "activity_retention_days": 365,
        "keep_academic_records": True,
        "updated_at": None,
    }
    changed = as_json(admin, "patch", POLICY, {"keep_academic_records": False})
    assert changed.status_code == 200, changed.content
    assert changed.json()["keep_academic_records"] is False
    assert changed.json()["activity_retention_days"] == 365
    put = as_json(
        admin, "put", POLICY, {"activity_retention_days": 30, "keep_academic_records": True}
    )
    assert put.status_code == 200 and put.json()["activity_retention_days"] == 30
    policy = in_tenant(world.institution, lambda: DataPolicy.objects.get(pk=1))
    assert (policy.activity_retention_days, policy.keep_academic_records) == (30, True)
    events = in_tenant(
        world.institution,
        lambda: AuditEvent.objects.filter(event=AuditEventType.DATA_POLICY_CHANGED).count(),
    )
    assert events == 2


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("put", {"keep_academic_records": False}, "activity_retention_days"),
        ("patch", {"activity_retention_days": 0}, "activity_retention_days"),
        ("patch", {"activity_retention_days": "soon"}, "activity_retention_days"),
        ("patch", {"activity_retention_days": 10**12}, "activity_retention_days"),
        ("patch", {"keep_academic_records": "perhaps"}, "keep_academic_records"),
        ("patch", {"unknown": 1}, "unknown"),
    ],
)
def test_bad_policies_are_400(world, method, body, field):
    response = as_json(world.client("admin"), method, POLICY, body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not in_tenant(world.institution, lambda: DataPolicy.objects.exists())


@pytest.mark.parametrize("who", ["stu0", "ta", "instructor"])
def test_only_admins_see_or_change_the_data_policy(world, who):
    assert world.client(who).get(POLICY).status_code == 403
    response = as_json(world.client(who), "patch", POLICY, {"keep_academic_records": False})
    assert response.status_code == 403
    assert not in_tenant(world.institution, lambda: DataPolicy.objects.exists())


# --- S3 ----------------------------------------------------------------------------------


def test_on_s3_the_zip_lands_under_the_prefix_and_the_download_is_a_presigned_redirect(
    world, request, run_jobs
):
    endpoint = request.getfixturevalue("s3_storage")  # after the world, with S3 as storage
    import requests

    from .test_files_s3 import _keys

    export_id = run_jobs(world.client("stu0").post, MY_EXPORTS).json()["id"]
    key = exports(world.institution)[0].file_key
    assert key == f"institutions/alpha/data-exports/{world.users['stu0'].pk}/{export_id}.zip"
    assert key in _keys(endpoint)
    redirect = world.client("stu0").get(f"/api/v1/data-exports/{export_id}/download/")
    assert redirect.status_code == 302 and redirect["Cache-Control"] == "no-store"
    fetched = requests.get(redirect["Location"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "application/zip"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")
    archive = zipfile.ZipFile(io.BytesIO(fetched.content))
    assert json.loads(archive.read("profile.json"))["email"] == "stu0@alpha.test"
    assert requests.get(redirect["Location"].split("?")[0], timeout=10).status_code == 403
