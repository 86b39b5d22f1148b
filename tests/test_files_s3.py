"""The files API with S3 storage, against a real S3-compatible server (moto's)
on loopback: uploads land under the institution's prefix, downloads redirect
to a presigned URL that the server honours, delete removes the object."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role
from tenant_apps.files.api import StoredFile

from .api_helpers import admin_of, api_client, member
from .peers.s3 import CREDENTIALS, s3_client, s3_server

pytestmark = pytest.mark.django_db

BUCKET = "conceptspro-files-test"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture
def s3_storage(s3_endpoint):
    """The default storage is S3 for the test (override_settings resets
    django's storage handler, so `storages["default"]` is built anew)."""
    backend = {
        "BACKEND": "conceptspro.storage.TenantS3Storage",
        "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": s3_endpoint, **CREDENTIALS},
    }
    with override_settings(STORAGES={**settings.STORAGES, "default": backend}):
        yield s3_endpoint


def _keys(endpoint) -> set[str]:
    listing = s3_client(endpoint).list_objects_v2(Bucket=BUCKET)
    return {o["Key"] for o in listing.get("Contents", [])}


def test_upload_download_and_delete_through_s3(
    alpha, beta, s3_storage, django_capture_on_commit_callbacks
):
    student = member(alpha, "s3stu@alpha.test", Role.STUDENT)
    client = api_client(alpha, student)
    before = _keys(s3_storage)

    response = client.post(
        "/api/v1/files/upload/",
        {"file": SimpleUploadedFile("Lab report.pdf", PDF, content_type="text/html")},
    )
    assert response.status_code == 201, response.content
    file_id = response.json()["id"]
    with tenant_context(alpha):
        key = StoredFile.objects.get(pk=file_id).file_path
    connection.set_schema_to_public()
    assert key.startswith("institutions/alpha/files/") and "Lab" not in key
    assert _keys(s3_storage) - before == {key}

    redirect = client.get(f"/api/v1/files/{file_id}/download/")
    assert redirect.status_code == 302
    url = redirect["Location"]
    assert url.startswith(f"{s3_storage}/{BUCKET}/{key}?")
    query = parse_qs(urlsplit(url).query)
    assert "Signature" in query or "X-Amz-Signature" in query
    if "X-Amz-Expires" in query:
        assert query["X-Amz-Expires"] == [str(settings.FILE_URL_SECONDS)]
    else:  # SigV2 query auth: an absolute expiry
        assert abs(int(query["Expires"][0]) - time.time() - settings.FILE_URL_SECONDS) < 10
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == PDF
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="Lab report.pdf"'
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403  # no signature

    beta_client = api_client(beta, admin_of(beta))
    assert beta_client.get(f"/api/v1/files/{file_id}/download/").status_code == 404
    outsider = api_client(alpha, member(alpha, "s3out@alpha.test", Role.STUDENT))
    assert outsider.get(f"/api/v1/files/{file_id}/download/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/v1/files/{file_id}/").status_code == 204
    assert key not in _keys(s3_storage)
    assert client.get(f"/api/v1/files/{file_id}/download/").status_code == 404
