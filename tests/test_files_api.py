"""The files API through the tenant router, on local disk: upload (types by
content, size limits, Idempotency-Key), metadata, download through a signed
URL, delete, storage usage; each for the roles allowed, the roles refused (and
nothing changes), and another institution's users."""

import hashlib
import io
import time
import types
import zipfile
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core import signing
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from conceptspro.api import ApplicationError
from tenant_apps.accounts.models import Role, User
from tenant_apps.courses.models import Course, CourseRole, CourseStatus, Enrollment
from tenant_apps.files.api import AccessLevel, StoredFile, file_output, files_for_attachment
from tenant_apps.files.models import StorageUsage

from .api_helpers import admin_of, api_client, course_taught_by, error_code, member
from .conftest import host_client

pytestmark = pytest.mark.django_db

UPLOAD = "/api/v1/files/upload/"
BULK = "/api/v1/files/upload/bulk/"
USAGE = "/api/v1/files/usage/"

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 32
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


DOCX = _zip("[Content_Types].xml", "_rels/.rels", "word/document.xml")
OLE_DOC = (
    bytes.fromhex("d0cf11e0a1b11ae1")
    + b"\x00" * 504
    + "Root Entry".encode("utf-16-le")
    + b"\x00" * 108
    + "WordDocument".encode("utf-16-le")
    + b"\x00" * 200
)


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _enroll(institution, course: Course, user: User, role=CourseRole.STUDENT) -> None:
    with tenant_context(institution):
        Enrollment.objects.create(course=course, user=user, role=role, enrolled_at=timezone.now())
    connection.set_schema_to_public()


@dataclass
class World:
    course: Course
    clients: dict
    users: dict


@pytest.fixture
def world(alpha) -> World:
    users = {
        "admin": admin_of(alpha),
        "instructor": member(alpha, "prof@alpha.test", Role.INSTRUCTOR),
        "student": member(alpha, "stu@alpha.test"),
        "classmate": member(alpha, "mate@alpha.test"),
        "ta": member(alpha, "ta@alpha.test", Role.TA),
        "outsider": member(alpha, "out@alpha.test"),
    }
    course = course_taught_by(alpha, users["instructor"])
    _enroll(alpha, course, users["student"])
    _enroll(alpha, course, users["classmate"])
    _enroll(alpha, course, users["ta"], CourseRole.TA)
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    return World(course=course, clients=clients, users=users)


def _upload(client, name="notes.pdf", content=PDF, headers=None, **data):
    return client.post(UPLOAD, {"file": _file(name, content), **data}, headers=headers)


def _row(institution, file_id) -> StoredFile:
    with tenant_context(institution):
        file = StoredFile.objects.get(pk=file_id)
    connection.set_schema_to_public()
    return file


def _count(institution) -> int:
    with tenant_context(institution):
        count = StoredFile.objects.count()
    connection.set_schema_to_public()
    return count


def _usage(institution) -> tuple[int, int]:
    with tenant_context(institution):
        usage = StorageUsage.objects.filter(pk=1).first()
    connection.set_schema_to_public()
    return (usage.bytes_used, usage.file_count) if usage else (0, 0)


def _exists(institution, key: str) -> bool:
    with tenant_context(institution):
        exists = storages["default"].exists(key)
    connection.set_schema_to_public()
    return exists


def _read_through_redirect(client, file_id):
    response = client.get(f"/api/v1/files/{file_id}/download/")
    assert response.status_code == 302, response.content
    return response, client.get(response["Location"])


# --- upload ---


def test_a_member_uploads_a_private_file_stored_at_a_random_name_under_the_prefix(alpha, world):
    response = _upload(world.clients["student"], name="My Notes (final).pdf")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["original_name"] == "My Notes (final).pdf"
    assert body["mime_type"] == "application/pdf"
    assert body["file_size_bytes"] == len(PDF)
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["access_level"] == "private"
    assert body["course_id"] is None
    assert body["uploader_id"] == str(world.users["student"].pk)
    row = _row(alpha, body["id"])
    assert row.file_path.startswith("institutions/alpha/files/")
    assert row.file_path.endswith(row.stored_name)
    assert "Notes" not in row.file_path and row.stored_name.endswith(".pdf")
    assert _exists(alpha, row.file_path)
    assert _usage(alpha) == (len(PDF), 1)


@pytest.mark.parametrize(
    ("name", "content", "mime_type"),
    [
        ("photo.JPG", JPEG, "image/jpeg"),
        ("diagram.png", PNG, "image/png"),
        ("lecture.mp4", MP4, "video/mp4"),
        (
            "essay.docx",
            DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("old.doc", OLE_DOC, "application/msword"),
        ("bundle.zip", _zip("a.txt", "b.txt"), "application/zip"),
        ("grades.csv", b"email,grade\nana@x.test,A\n", "text/csv"),
        ("solution.py", "print('héllo')\n".encode(), "text/plain"),
        ("README", b"plain words\n", "text/plain"),
    ],
)
def test_the_stored_type_is_the_sniffed_one(alpha, world, name, content, mime_type):
    response = _upload(world.clients["student"], name=name, content=content)
    assert response.status_code == 201, response.content
    assert response.json()["mime_type"] == mime_type


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("fake.pdf", b"just some text, not a PDF\n"),
        ("setup.pdf", EXE),
        ("setup.exe", EXE),
        ("cute.png", HTML),
        ("page.html", HTML),
        ("page.txt", HTML),
        ("logo.svg", SVG),
        ("logo.png", SVG),
        ("photo.png", JPEG),
        ("essay.docx", _zip("a.txt")),
        ("binary.txt", b"abc\x00def"),
        ("latin1.txt", "café".encode("latin-1")),
        (
            "movie.mkv",
            bytes.fromhex("1a45dfa3a34286810142f7810142f2810442f381084282") + b"\x88matroska",
        ),
    ],
)
def test_content_that_is_not_allowed_or_contradicts_its_name_is_refused(
    alpha, world, name, content
):
    response = _upload(world.clients["student"], name=name, content=content)
    assert response.status_code == 415, response.content
    assert error_code(response) == "unsupported_file_type"
    assert _count(alpha) == 0
    assert _usage(alpha) == (0, 0)


def test_a_file_over_the_limit_is_refused_with_the_limit(alpha, world):
    with override_settings(FILE_UPLOAD_MAX_BYTES=len(PDF) - 1):
        response = _upload(world.clients["student"])
    assert response.status_code == 413
    assert error_code(response) == "file_too_large"
    assert response.json()["error"]["max_bytes"] == len(PDF) - 1
    assert _count(alpha) == 0
    with override_settings(FILE_UPLOAD_MAX_BYTES=len(PDF)):
        assert _upload(world.clients["student"]).status_code == 201


def test_an_empty_file_or_malformed_fields_are_a_400(alpha, world):
    client = world.clients["student"]
    response = _upload(client, name="empty.txt", content=b"")
    assert (response.status_code, error_code(response)) == (400, "empty_file")
    assert client.post(UPLOAD, {}).status_code == 400
    for data in (
        {"access_level": "everyone"},
        {"course_id": "not-a-uuid"},
        {"access_level": "course"},  # a course level needs a course
        {"expires_at": "2001-01-01T00:00:00Z"},
    ):
        response = _upload(client, **data)
        assert response.status_code == 400, data
        assert error_code(response) == "invalid"
    assert _count(alpha) == 0


def test_an_idempotency_key_makes_a_retried_upload_create_one_file(alpha, world):
    client = world.clients["student"]
    first = _upload(client, headers={"Idempotency-Key": "upload-1"})
    again = _upload(client, headers={"Idempotency-Key": "upload-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert _count(alpha) == 1
    assert _usage(alpha) == (len(PDF), 1)


def test_the_same_key_with_other_bytes_under_the_same_name_is_refused(alpha, world):
    client = world.clients["student"]
    other = PDF.replace(b"Catalog", b"Catalag")
    assert len(other) == len(PDF)
    assert _upload(client, headers={"Idempotency-Key": "upload-2"}).status_code == 201
    again = _upload(client, content=other, headers={"Idempotency-Key": "upload-2"})
    assert (again.status_code, error_code(again)) == (422, "idempotency_key_reused")
    assert _count(alpha) == 1


def test_course_uploads_follow_the_callers_standing_in_the_course(alpha, world):
    course_id = str(world.course.pk)
    student, outsider = world.clients["student"], world.clients["outsider"]
    ok = _upload(student, course_id=course_id)
    assert ok.status_code == 201 and ok.json()["course_id"] == course_id
    assert _upload(student, course_id=course_id, access_level="course").status_code == 403
    assert _upload(student, course_id=course_id, access_level="public").status_code == 403
    assert _upload(outsider, course_id=course_id).status_code == 404
    assert _upload(student, access_level="public").status_code == 403
    for staff in ("instructor", "ta", "admin"):
        response = _upload(world.clients[staff], course_id=course_id, access_level="course")
        assert response.status_code == 201, staff
    assert _upload(world.clients["instructor"], access_level="public").status_code == 201
    assert _count(alpha) == 5


def test_a_draft_course_takes_no_student_uploads(alpha, world):
    draft = course_taught_by(
        alpha, world.users["instructor"], code="CS 999", status=CourseStatus.DRAFT
    )
    _enroll(alpha, draft, world.users["outsider"])
    assert _upload(world.clients["outsider"], course_id=str(draft.pk)).status_code == 404
    assert _count(alpha) == 0


def test_bulk_upload_stores_all_files_or_none(alpha, world):
    client = world.clients["student"]
    good = client.post(BULK, {"files": [_file("a.pdf", PDF), _file("b.png", PNG)]})
    assert good.status_code == 201, good.content
    assert [f["mime_type"] for f in good.json()] == ["application/pdf", "image/png"]
    assert _usage(alpha) == (len(PDF) + len(PNG), 2)

    bad = client.post(
        BULK, {"files": [_file("c.pdf", PDF), _file("x.png", HTML), _file("y.svg", SVG)]}
    )
    assert bad.status_code == 415
    assert error_code(bad) == "unsupported_file_type"
    assert [m[:3] for m in bad.json()["error"]["fields"]["files"]] == ["#1:", "#2:"]
    assert _count(alpha) == 2
    assert _usage(alpha) == (len(PDF) + len(PNG), 2)
    assert client.post(BULK, {}).status_code == 400


# --- metadata and download ---


def test_the_uploader_downloads_through_a_short_lived_signed_url(alpha, world):
    client = world.clients["student"]
    file_id = _upload(client, name='rapport "final" é.pdf').json()["id"]
    redirect, content = _read_through_redirect(client, file_id)
    assert redirect["Location"].startswith(
        f"http://alpha.localhost/api/v1/files/{file_id}/content/"
    )
    assert "sig=" in redirect["Location"]
    assert content.status_code == 200
    assert b"".join(content.streaming_content) == PDF
    assert content["Content-Type"] == "application/pdf"
    assert content["X-Content-Type-Options"] == "nosniff"
    assert content["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''rapport%20%22final%22%20%C3%A9.pdf" in content["Content-Disposition"]
    assert _row(alpha, file_id).download_count == 1
    assert client.get(f"/api/v1/files/{file_id}/").json()["download_count"] == 1


def test_a_signed_url_works_without_a_token_but_not_tampered_moved_or_expired(
    alpha, beta, world, monkeypatch
):
    client = world.clients["student"]
    file_id = _upload(client).json()["id"]
    other_id = _upload(client, name="other.png", content=PNG).json()["id"]
    location = client.get(f"/api/v1/files/{file_id}/download/")["Location"]
    path, _, query = location.removeprefix("http://alpha.localhost").partition("?")
    anonymous = host_client("alpha.localhost")
    assert anonymous.get(f"{path}?{query}").status_code == 200

    tampered = query[:-2] + ("AA" if not query.endswith("AA") else "BB")
    assert anonymous.get(f"{path}?{tampered}").status_code == 403
    assert anonymous.get(path).status_code == 403
    other_path = path.replace(file_id, other_id)
    assert anonymous.get(f"{other_path}?{query}").status_code == 403
    assert host_client("beta.localhost").get(f"{path}?{query}").status_code == 403

    later = time.time() + 301
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: later))
    response = anonymous.get(f"{path}?{query}")
    assert (response.status_code, error_code(response)) == (403, "permission_denied")


def test_read_access_follows_the_files_level_and_the_course(alpha, world):
    c = world.clients
    course_id = str(world.course.pk)
    own_private = _upload(c["student"]).json()["id"]
    private_in_course = _upload(c["student"], course_id=course_id).json()["id"]
    course_file = _upload(c["instructor"], course_id=course_id, access_level="course").json()["id"]
    public_file = _upload(c["instructor"], access_level="public").json()["id"]
    readers = {
        own_private: {"student", "admin"},
        private_in_course: {"student", "admin", "instructor", "ta"},
        course_file: {"student", "classmate", "admin", "instructor", "ta"},
        public_file: set(world.clients),
    }
    for file_id, allowed in readers.items():
        for name, client in c.items():
            expected = 200 if name in allowed else 404
            assert client.get(f"/api/v1/files/{file_id}/").status_code == expected, (file_id, name)
            download = client.get(f"/api/v1/files/{file_id}/download/")
            assert download.status_code == (302 if name in allowed else 404), (file_id, name)
    assert _row(alpha, own_private).download_count == 2


def test_an_expired_file_is_gone(alpha, world):
    file_id = _upload(world.clients["student"]).json()["id"]
    with tenant_context(alpha):
        StoredFile.objects.filter(pk=file_id).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    connection.set_schema_to_public()
    assert world.clients["student"].get(f"/api/v1/files/{file_id}/").status_code == 404
    assert world.clients["admin"].get(f"/api/v1/files/{file_id}/download/").status_code == 404


def test_expired_files_are_purged_in_every_institution_by_the_beat_task(
    alpha, beta, world, celery_eager
):
    from shared_apps.institutions.tasks import for_each_institution
    from tenant_apps.files import tasks  # noqa: F401  (registers the task, as a worker's autodiscovery does)

    kept = _upload(world.clients["student"]).json()["id"]
    expired = _upload(world.clients["student"]).json()["id"]
    beta_expired = _upload(api_client(beta, admin_of(beta))).json()["id"]
    for institution, file_id in ((alpha, expired), (beta, beta_expired)):
        with tenant_context(institution):
            StoredFile.objects.filter(pk=file_id).update(
                expires_at=timezone.now() - timedelta(seconds=1)
            )
    connection.set_schema_to_public()
    keys = {file_id: _row(alpha, file_id).file_path for file_id in (kept, expired)}
    assert _usage(alpha) == (2 * len(PDF), 2)

    assert (
        for_each_institution.apply(args=["tenant_apps.files.tasks.files_expired_purge"]).get() >= 2
    )

    assert _row(alpha, expired).deleted_at is not None
    assert _row(beta, beta_expired).deleted_at is not None
    assert _row(alpha, kept).deleted_at is None
    assert _usage(alpha) == (len(PDF), 1)
    assert _usage(beta) == (0, 0)
    assert _exists(alpha, keys[kept])


def test_another_institutions_users_cannot_reach_a_file(alpha, beta, world):
    file_id = _upload(world.clients["student"], access_level="private").json()["id"]
    public_id = _upload(world.clients["instructor"], access_level="public").json()["id"]
    beta_admin = admin_of(beta)
    with_beta_token_on_alpha = host_client(
        "alpha.localhost",
        HTTP_AUTHORIZATION=api_client(beta, beta_admin).defaults["HTTP_AUTHORIZATION"],
    )
    for path in (f"/api/v1/files/{file_id}/", f"/api/v1/files/{file_id}/download/", USAGE):
        assert with_beta_token_on_alpha.get(path).status_code == 401
    assert with_beta_token_on_alpha.delete(f"/api/v1/files/{file_id}/").status_code == 401
    beta_client = api_client(beta, beta_admin)
    for target in (file_id, public_id):
        assert beta_client.get(f"/api/v1/files/{target}/").status_code == 404
        assert beta_client.get(f"/api/v1/files/{target}/download/").status_code == 404
        assert beta_client.delete(f"/api/v1/files/{target}/").status_code == 404
    assert beta_client.get(USAGE).json() == {"bytes_used": 0, "file_count": 0, "updated_at": None}
    assert _row(alpha, file_id).deleted_at is None


def test_anonymous_callers_are_refused(alpha, world):
    anonymous = host_client("alpha.localhost")
    assert anonymous.post(UPLOAD, {"file": _file("a.pdf", PDF)}).status_code == 401
    assert anonymous.get("/api/v1/files/").status_code == 401
    assert _count(alpha) == 0


# --- delete and usage ---


def test_the_uploader_deletes_a_file_its_bytes_go_on_commit_and_usage_shrinks(
    alpha, world, django_capture_on_commit_callbacks
):
    client = world.clients["student"]
    file_id = _upload(client).json()["id"]
    png_id = _upload(client, name="b.png", content=PNG).json()["id"]
    key = _row(alpha, file_id).file_path
    assert _usage(alpha) == (len(PDF) + len(PNG), 2)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/v1/files/{file_id}/").status_code == 204
    assert _row(alpha, file_id).deleted_at is not None
    assert not _exists(alpha, key)
    assert _usage(alpha) == (len(PNG), 1)
    assert client.get(f"/api/v1/files/{file_id}/").status_code == 404
    assert client.delete(f"/api/v1/files/{file_id}/").status_code == 404
    assert world.clients["admin"].get(f"/api/v1/files/{file_id}/download/").status_code == 404
    assert [f["id"] for f in client.get("/api/v1/files/").json()["results"]] == [png_id]


def test_who_may_delete_a_course_file(alpha, world):
    c = world.clients
    course_id = str(world.course.pk)
    file_id = _upload(c["ta"], course_id=course_id, access_level="course").json()["id"]
    for name, expected in (("classmate", 403), ("student", 403), ("outsider", 404)):
        response = c[name].delete(f"/api/v1/files/{file_id}/")
        assert response.status_code == expected, name
    assert _row(alpha, file_id).deleted_at is None
    assert c["instructor"].delete(f"/api/v1/files/{file_id}/").status_code == 204
    other = _upload(c["student"]).json()["id"]
    assert c["admin"].delete(f"/api/v1/files/{other}/").status_code == 204
    assert _usage(alpha) == (0, 0)


def test_storage_usage_is_for_admins(alpha, world):
    _upload(world.clients["student"])
    response = world.clients["admin"].get(USAGE)
    assert response.status_code == 200
    assert (response.json()["bytes_used"], response.json()["file_count"]) == (len(PDF), 1)
    for name in ("student", "instructor", "ta"):
        assert world.clients[name].get(USAGE).status_code == 403


# --- list ---


def test_members_list_their_own_files_and_admins_every_file(alpha, world):
    c = world.clients
    mine = _upload(c["student"], course_id=str(world.course.pk)).json()["id"]
    loose = _upload(c["student"], name="b.png", content=PNG).json()["id"]
    theirs = _upload(c["classmate"]).json()["id"]
    listed = c["student"].get("/api/v1/files/").json()
    assert {f["id"] for f in listed["results"]} == {mine, loose}
    in_course = c["student"].get("/api/v1/files/", {"course_id": str(world.course.pk)}).json()
    assert [f["id"] for f in in_course["results"]] == [mine]
    every = c["admin"].get("/api/v1/files/", {"ordering": "created_at"}).json()
    assert [f["id"] for f in every["results"]] == [mine, loose, theirs]
    future = (timezone.now() + timedelta(minutes=5)).isoformat()
    assert c["admin"].get("/api/v1/files/", {"updated_since": future}).json()["count"] == 0
    assert c["admin"].get("/api/v1/files/", {"updated_since": "yesterday"}).status_code == 400


# --- for other apps: attachments ---


def test_files_for_attachment_attaches_own_loose_files_and_refuses_others(alpha, world):
    c = world.clients
    loose = _upload(c["instructor"]).json()["id"]
    course_file = _upload(c["ta"], course_id=str(world.course.pk), access_level="course").json()
    theirs = _upload(c["student"]).json()["id"]
    other_course = course_taught_by(alpha, world.users["instructor"], code="CS 202")
    elsewhere = _upload(c["instructor"], course_id=str(other_course.pk)).json()["id"]
    instructor = world.users["instructor"]
    with tenant_context(alpha):
        course = Course.objects.get(pk=world.course.pk)
        files = files_for_attachment(
            user=instructor, file_ids=[loose, course_file["id"], loose], course=course
        )
        assert [str(f.pk) for f in files] == [loose, course_file["id"]]
        attached = StoredFile.objects.get(pk=loose)
        assert (attached.course_id, attached.access_level) == (course.pk, AccessLevel.COURSE)
        assert file_output(attached)["course_id"] == str(course.pk)
        for bad in ([theirs], [elsewhere], ["nope"], [loose, theirs]):
            with pytest.raises(ApplicationError) as refused:
                files_for_attachment(user=instructor, file_ids=bad, course=course)
            assert refused.value.code == "invalid_attachment"
            assert refused.value.status == 400
            assert "attachment_ids" in refused.value.fields
        assert StoredFile.objects.get(pk=theirs).course_id is None
    connection.set_schema_to_public()


def test_the_list_costs_the_same_queries_for_more_files(alpha, world):
    client = world.clients["admin"]

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/files/").status_code == 200
        return len(captured)

    _upload(world.clients["student"])
    few = queries_for_list()
    for n in range(4):
        _upload(world.clients["classmate"], course_id=str(world.course.pk), name=f"{n}.pdf")
    assert queries_for_list() == few


def test_attaching_shares_a_file_with_the_course_but_never_a_students_private_one(alpha, world):
    """A student's private file in the course is readable by the staff, but
    attaching it would show its name to every student: refused. The staff's
    own private course file becomes readable by the course once attached."""
    c = world.clients
    course_id = str(world.course.pk)
    students_private = _upload(c["student"], course_id=course_id).json()["id"]
    own_private = _upload(c["instructor"], course_id=course_id).json()["id"]
    assert c["classmate"].get(f"/api/v1/files/{own_private}/").status_code == 404
    with tenant_context(alpha):
        course = Course.objects.get(pk=world.course.pk)
        with pytest.raises(ApplicationError) as refused:
            files_for_attachment(
                user=world.users["instructor"], file_ids=[students_private], course=course
            )
        assert refused.value.code == "invalid_attachment"
        files_for_attachment(user=world.users["instructor"], file_ids=[own_private], course=course)
    connection.set_schema_to_public()
    assert _row(alpha, students_private).access_level == AccessLevel.PRIVATE
    assert _row(alpha, own_private).access_level == AccessLevel.COURSE
    _, content = _read_through_redirect(c["classmate"], own_private)
    assert content.status_code == 200
