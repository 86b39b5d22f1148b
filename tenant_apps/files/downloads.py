"""Short-lived signed download URLs, issued only after the access check.

On S3 the URL is the storage's own presigned URL. On local disk it is ours: a
URL of the content view carrying a TimestampSigner token bound to the
institution's schema and the file's id, valid for FILE_URL_SECONDS.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.files.storage import storages
from django.db import connection
from django.urls import reverse
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from .models import StoredFile

_SALT = "tenant_apps.files.content"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def _subject(file_id) -> str:
    return f"{connection.schema_name}/{file_id}"


def download_url(*, request, file: StoredFile) -> str:
    storage = storages["default"]
    if isinstance(storage, S3Storage):
        return storage.url(
            file.file_path,
            parameters={
                "ResponseContentDisposition": content_disposition_header(
                    as_attachment=True, filename=file.original_name
                ),
                "ResponseContentType": file.mime_type,
            },
            expire=settings.FILE_URL_SECONDS,
        )
    token = _signer().sign(_subject(file.pk))
    path = reverse("files-content", kwargs={"pk": file.pk})
    return request.build_absolute_uri(f"{path}?{urlencode({'sig': token})}")


def signature_valid(*, token: str, file_id) -> bool:
    """The token was issued for this file in this institution, and recently."""
    try:
        subject = _signer().unsign(token, max_age=settings.FILE_URL_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one
        return False
    return subject == _subject(file_id)
