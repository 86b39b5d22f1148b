"""What other apps may use of files: attach uploaded files to what they own
(announcements, submissions) and describe them in their own answers."""

from .downloads import download_url as file_download_url
from .models import AccessLevel, StoredFile
from .rest_api.v1.serializers import FileAttachmentOutput
from .services import ACCEPTED_EXTENSIONS, files_for_attachment, files_for_submission


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


__all__ = [
    "ACCEPTED_EXTENSIONS",
    "AccessLevel",
    "FileAttachmentOutput",
    "StoredFile",
    "file_download_url",
    "file_output",
    "files_for_attachment",
    "files_for_submission",
]
