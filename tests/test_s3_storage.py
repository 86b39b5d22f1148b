"""S3 storage keeps each institution under its key prefix: tested against a
real S3-compatible server (moto's) on loopback, through boto3 over HTTP."""

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django_tenants.utils import tenant_context

from conceptspro.storage import TenantS3Storage

from .peers.s3 import CREDENTIALS, s3_client, s3_server

BUCKET = "conceptspro-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    with s3_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture
def s3_storage(s3_endpoint):
    return TenantS3Storage(bucket_name=BUCKET, endpoint_url=s3_endpoint, **CREDENTIALS)


def _keys(s3_endpoint) -> list[str]:
    listing = s3_client(s3_endpoint).list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_files_land_under_each_institutions_prefix_in_the_bucket(
    alpha, beta, s3_storage, s3_endpoint
):
    with tenant_context(alpha):
        alpha_name = s3_storage.save("notes/syllabus.txt", ContentFile(b"alpha"))
    with tenant_context(beta):
        beta_name = s3_storage.save("notes/syllabus.txt", ContentFile(b"beta"))
    assert alpha_name == "institutions/alpha/notes/syllabus.txt"
    assert beta_name == "institutions/beta/notes/syllabus.txt"
    assert _keys(s3_endpoint) == [alpha_name, beta_name]
    with tenant_context(alpha), s3_storage.open(alpha_name) as f:
        assert f.read() == b"alpha"
    with tenant_context(alpha):
        url = s3_storage.url(alpha_name)
    assert "institutions/alpha/notes/syllabus.txt" in url
    assert "Signature=" in url or "X-Amz-Signature=" in url


def test_another_institutions_keys_cannot_be_addressed(alpha, beta, s3_storage, s3_endpoint):
    with tenant_context(beta):
        beta_name = s3_storage.save("grades.csv", ContentFile(b"secret"))
    with tenant_context(alpha):
        for attempt in (beta_name, "institutions/alpha/../beta/grades.csv"):
            with pytest.raises(SuspiciousFileOperation):
                s3_storage.open(attempt)
            with pytest.raises(SuspiciousFileOperation):
                s3_storage.delete(attempt)
            with pytest.raises(SuspiciousFileOperation):
                s3_storage.url(attempt)
    assert beta_name in _keys(s3_endpoint)
