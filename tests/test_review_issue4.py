"""Regressions found reviewing files and announcements (issue 4): each test
failed before its fix, through HTTP on the tenant router."""

import io
import threading
import time
import zipfile

import pytest
from django.db import connections
from django.test import override_settings
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role
from tenant_apps.announcements.models import Announcement

from .api_helpers import admin_of, api_client, as_json, course_taught_by, error_code, member
from .conftest import make_institution
from .test_files_api import BULK, PDF, UPLOAD, _count, _file, _usage


@pytest.fixture
def student(alpha):
    return api_client(alpha, member(alpha, "stu@alpha.test"))


def _zip_declaring_version(version: int) -> bytes:
    """A ZIP whose central directory asks for a format version zipfile does
    not implement (it raises NotImplementedError, not BadZipFile)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    data = bytearray(buffer.getvalue())
    central = data.find(b"PK\x01\x02")
    data[central + 6] = version  # "version needed to extract"
    return bytes(data)


def test_a_zip_asking_for_an_unknown_format_version_is_refused_not_a_500(alpha, student):
    response = student.post(UPLOAD, {"file": _file("archive.zip", _zip_declaring_version(100))})
    assert response.status_code == 415, response.content
    assert error_code(response) == "unsupported_file_type"
    assert _count(alpha) == 0


def test_the_single_upload_refuses_a_request_carrying_more_than_one_file(alpha, student):
    """Before: every file part was read (and buffered) and all but the last
    silently dropped; 100 parts of FILE_UPLOAD_MAX_BYTES each were read."""
    response = student.post(UPLOAD, {"file": [_file("a.pdf", PDF), _file("b.pdf", PDF)]})
    assert response.status_code == 400, response.content
    assert error_code(response) == "too_many_files"
    assert _count(alpha) == 0
    extra = student.post(UPLOAD, {"file": _file("a.pdf", PDF), "other": _file("b.pdf", PDF)})
    assert extra.status_code == 400
    assert _count(alpha) == 0


def test_bulk_upload_refuses_more_files_than_it_takes_while_reading_them(alpha, student):
    """21 parts are refused by the upload handler as the 21st starts, with
    the limit in the error; 20 are fine."""
    files = [_file(f"f{n}.pdf", PDF) for n in range(21)]
    response = student.post(BULK, {"files": files})
    assert response.status_code == 400
    assert error_code(response) == "too_many_files"
    assert response.json()["error"]["max_files"] == 20
    assert _count(alpha) == 0
    with override_settings(FILE_UPLOAD_MAX_BYTES=len(PDF)):
        files = [_file(f"f{n}.pdf", PDF) for n in range(20)]
        ok = student.post(BULK, {"files": files})
    assert ok.status_code == 201, ok.content
    assert _usage(alpha) == (20 * len(PDF), 20)


# --- a change racing a delete ------------------------------------------------


@pytest.fixture
def racing(django_db_setup, committed_db):
    """An institution of its own whose rows other connections see (dropped
    afterwards by committed_db)."""
    institution = make_institution("hsixrace", method="template")
    instructor = member(institution, "prof@hsixrace.test", Role.INSTRUCTOR)
    course = course_taught_by(institution, instructor)
    client = api_client(institution, instructor)
    created = as_json(
        client,
        "post",
        f"/api/v1/courses/{course.pk}/announcements/",
        {"title": "Exam", "content": "Friday", "is_published": True},
    )
    assert created.status_code == 201, created.content
    return institution, client, created.json()["id"]


def test_a_change_that_waited_on_a_delete_is_a_404_not_a_500(racing):
    institution, client, announcement_id = racing
    locked, release = threading.Event(), threading.Event()
    answer = {}

    def delete_while_holding_the_row():
        try:
            with tenant_context(institution):
                from django.db import transaction
                from django.utils import timezone

                with transaction.atomic():
                    Announcement.objects.select_for_update().get(pk=announcement_id)
                    locked.set()
                    release.wait(10)
                    Announcement.objects.filter(pk=announcement_id).update(
                        deleted_at=timezone.now()
                    )
        finally:
            connections.close_all()

    def change():
        try:
            response = as_json(
                client, "patch", f"/api/v1/announcements/{announcement_id}/", {"title": "Moved"}
            )
            answer["status"] = response.status_code
        except Exception as error:  # the test client re-raises a view's exception
            answer["status"] = 500
            answer["error"] = repr(error)
        finally:
            connections.close_all()

    holder = threading.Thread(target=delete_while_holding_the_row)
    holder.start()
    assert locked.wait(10)
    changer = threading.Thread(target=change)
    changer.start()
    time.sleep(0.5)  # the PATCH passed its checks and waits on the row
    release.set()
    holder.join(10)
    changer.join(10)
    assert answer.get("status") == 404, answer
    with tenant_context(institution):
        assert Announcement.objects.get(pk=announcement_id).title == "Exam"


def test_storage_usage_before_any_upload_matches_its_schema(alpha):
    """Before: `updated_at` was null while the schema said a date-time."""
    admin = api_client(alpha, admin_of(alpha))
    response = admin.get("/api/v1/files/usage/")
    assert response.status_code == 200
    assert response.json() == {"bytes_used": 0, "file_count": 0, "updated_at": None}
    schema = admin.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    usage = schema["components"]["schemas"]["StorageUsageOutput"]["properties"]
    assert usage["updated_at"].get("nullable") is True
