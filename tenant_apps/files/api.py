"""What other apps may use of files: attach uploaded files to what they own
(announcements, submissions, messages), describe them in their own answers,
and let their own readers read them (file_read_grant_register)."""

from django.urls import reverse

from .downloads import download_url as file_download_url
from .models import AccessLevel, StoredFile
from .policies import file_read_grant_register
from .rest_api.v1.serializers import FileAttachmentOutput
from .selectors import live_files
from .services import (
    ACCEPTED_EXTENSIONS,
    file_ids_in_order,
    files_for_attachment,
    files_for_submission,
)


def file_output(file: StoredFile) -> dict:
    """A file's metadata as other apps embed it (attachments)."""
    return {
        "id": str(file.pk),
        "original_name": file.original_name,
        "mime_type": file.mime_type,
        "file_size_bytes": file.file_size_bytes,
        "access_level": file.access_level,
        "course_id": str(file.course_id) if file.course_id else None,
        "created_at": file.created_at.isoformat().replace("+00:00", "Z"),
    }


def file_download_path(file: StoredFile) -> str:
    """The API path that answers a reader with a redirect to a signed URL
    (GET /api/v1/files/{id}/download/)."""
    return reverse("files-download", kwargs={"pk": file.pk})


__all__ = [
    "ACCEPTED_EXTENSIONS",
    "AccessLevel",
    "FileAttachmentOutput",
    "StoredFile",
    "file_download_path",
    "file_download_url",
    "file_ids_in_order",
    "file_output",
    "file_read_grant_register",
    "files_for_attachment",
    "files_for_submission",
    "live_files",
]
