"""What files holds of a person, for their data export and erasure: the
files they uploaded, with their bytes."""

from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from conceptspro.storage import scoped_name
from shared_apps.plans.api import LimitKind, usage_release
from tenant_apps.privacy.api import ExportFile

from . import policies
from .models import AccessLevel, StoredFile
from .services import _remove_bytes, _usage_add

ERASED_NAME = "erased"


def _uploaded(user):
    return StoredFile.objects.filter(uploader=user, deleted_at__isnull=True).order_by(
        "created_at", "id"
    )


def files_export(user) -> dict:
    return {
        "files": [
            {
                "id": f.pk,
                "original_name": f.original_name,
                "mime_type": f.mime_type,
                "file_size_bytes": f.file_size_bytes,
                "sha256": f.sha256,
                "course_id": f.course_id,
                "access_level": f.access_level,
                "created_at": f.created_at,
                "expires_at": f.expires_at,
                "in_export_as": f"files/{f.pk}/{f.original_name}",
            }
            for f in _uploaded(user)
            if policies.is_live(f)
        ]
    }


def _opener(key: str):
    return lambda: storages["default"].open(key, "rb")


def files_export_files(user):
    for f in _uploaded(user):
        if policies.is_live(f):
            yield ExportFile(path=f"{f.pk}/{f.original_name}", open=_opener(f.file_path))


def _file_remove(file: StoredFile) -> None:
    """As services.file_delete does, held or not: the row is marked deleted,
    usage shrinks now, the bytes leave storage on commit."""
    StoredFile.objects.filter(pk=file.pk).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
    usage_release(kind=LimitKind.STORAGE_BYTES, amount=file.file_size_bytes)
    _usage_add(bytes_delta=-file.file_size_bytes, count_delta=-1)
    key = scoped_name(file.file_path)
    transaction.on_commit(lambda: _remove_bytes([key]), robust=True)


def files_erase(user, *, keep_academic_records: bool) -> None:
    """Their private files go (bytes and usage), except, with the policy
    keeping records, those held by a submitted assignment. Files they shared
    in a course (course material, attachments) are the course's and stay.
    The names of their deleted files, which may name them, are cleared."""
    private = (
        StoredFile.objects.select_for_update()
        .filter(uploader=user, deleted_at__isnull=True, access_level=AccessLevel.PRIVATE)
        .order_by("pk")
    )
    if keep_academic_records:
        private = private.filter(held=False)
    for file in private:
        _file_remove(file)
    StoredFile.objects.filter(uploader=user, deleted_at__isnull=False).update(
        original_name=ERASED_NAME
    )
