"""Every write to stored files: upload, delete, attach to a course, count a
download; the institution's storage usage, and the plan's count of it, move
in the same transaction."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from conceptspro.storage import scoped_name
from shared_apps.plans.api import LimitKind, limit_check, usage_release, usage_reserve

from . import content_types, policies
from .models import AccessLevel, StorageUsage, StoredFile


def storage_quota_check(*, bytes_needed: int) -> None:
    """Refuse (403 `plan_limit_reached`) an upload the plan's storage has no
    room for, before its bytes are written. Only a check: `files_store`
    reserves the room once the bytes are in storage, so the plan's usage row
    is locked for the commit and not for the whole upload."""
    limit_check(kind=LimitKind.STORAGE_BYTES, adding=bytes_needed)


def _usage_add(*, bytes_delta: int, count_delta: int) -> None:
    """Moves the single usage row with F() (no read-modify-write), creating
    it on an institution's first upload."""
    change = {
        "bytes_used": F("bytes_used") + bytes_delta,
        "file_count": F("file_count") + count_delta,
        "updated_at": timezone.now(),
    }
    if not StorageUsage.objects.filter(pk=1).update(**change):
        StorageUsage.objects.get_or_create(pk=1)
        StorageUsage.objects.filter(pk=1).update(**change)


@dataclass(frozen=True)
class CheckedUpload:
    """An upload whose size and type were checked; nothing stored yet."""

    upload: object
    original_name: str
    file_type: content_types.FileType
    scan: content_types.Scan


def upload_check(*, upload, max_bytes: int | None = None) -> CheckedUpload:
    """Size, checksum and type of `upload`, or the refusal: 413
    `file_too_large`, 400 `empty_file`, 415 `unsupported_file_type`."""
    limit = settings.FILE_UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    name = content_types.clean_name(getattr(upload, "name", "") or "")
    try:
        found = content_types.scan(upload, max_bytes=limit)
    except content_types.TooLarge:
        raise file_too_large(limit) from None
    if found.size == 0:
        raise ApplicationError(
            "The file is empty.", code="empty_file", fields={"file": ["The file is empty."]}
        )
    file_type = content_types.file_type_for(upload, found, name=name)
    if file_type is None:
        raise ApplicationError(
            f"{name}: this kind of file is not accepted, or its name does not match its content.",
            code="unsupported_file_type",
            status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    return CheckedUpload(upload=upload, original_name=name, file_type=file_type, scan=found)


def file_too_large(limit: int) -> ApplicationError:
    return ApplicationError(
        f"The file is larger than the limit of {limit} bytes.",
        code="file_too_large",
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        extra={"max_bytes": limit},
    )


def _store(checked: CheckedUpload) -> tuple[str, str]:
    """Writes the bytes at a random name under the institution's prefix;
    returns (stored name, storage key)."""
    stored_name = f"{uuid.uuid4().hex}.{checked.file_type.extension}"
    key = storages["default"].save(f"files/{stored_name[:2]}/{stored_name}", checked.upload)
    return stored_name, key


def _remove_bytes(keys: list[str]) -> None:
    storage = storages["default"]
    for key in keys:
        storage.delete(key)


@transaction.atomic
def files_store(
    *,
    uploader,
    checked: list[CheckedUpload],
    course=None,
    access_level: str = AccessLevel.PRIVATE,
    expires_at=None,
) -> list[StoredFile]:
    """Stores checked uploads and their rows, all or none. Bytes go to storage
    before the usage rows are touched, so their locks are held only for the
    commit; if anything fails (a concurrent upload took the plan's last room:
    403 `plan_limit_reached`), the bytes written so far are removed."""
    bytes_needed = sum(c.scan.size for c in checked)
    storage_quota_check(bytes_needed=bytes_needed)
    written: list[str] = []
    try:
        files = []
        for item in checked:
            stored_name, key = _store(item)
            written.append(key)
            files.append(
                StoredFile(
                    original_name=item.original_name,
                    stored_name=stored_name,
                    file_path=key,
                    mime_type=item.file_type.mime_type,
                    file_size_bytes=item.scan.size,
                    sha256=item.scan.sha256,
                    uploader=uploader,
                    course=course,
                    access_level=access_level,
                    expires_at=expires_at,
                )
            )
        usage_reserve(kind=LimitKind.STORAGE_BYTES, amount=bytes_needed)
        StoredFile.objects.bulk_create(files)
        _usage_add(bytes_delta=bytes_needed, count_delta=len(files))
    except BaseException:
        _remove_bytes(written)
        raise
    return files


def file_upload(
    *, uploader, upload, course=None, access_level: str = AccessLevel.PRIVATE, expires_at=None
) -> StoredFile:
    """One upload: checked, then stored with its row (see files_store)."""
    checked = upload_check(upload=upload)
    return files_store(
        uploader=uploader,
        checked=[checked],
        course=course,
        access_level=access_level,
        expires_at=expires_at,
    )[0]


@transaction.atomic
def file_delete(*, file: StoredFile) -> StoredFile:
    """Soft delete: the row stays (deleted_at), usage shrinks now, the bytes
    leave storage once the transaction commits."""
    locked = StoredFile.objects.select_for_update().get(pk=file.pk)
    if locked.deleted_at is not None:
        return locked
    if locked.held:
        raise ApplicationError(
            "This file is part of a submitted assignment and is kept as submitted.",
            code="file_held",
            status=status.HTTP_409_CONFLICT,
        )
    locked.deleted_at = timezone.now()
    locked.save(update_fields=["deleted_at", "updated_at"])
    # The plan's row before the files app's own, the order uploads lock them
    # in too, so an upload and a delete at once cannot deadlock.
    usage_release(kind=LimitKind.STORAGE_BYTES, amount=locked.file_size_bytes)
    _usage_add(bytes_delta=-locked.file_size_bytes, count_delta=-1)
    key = scoped_name(locked.file_path)  # bound to this institution now, not at commit
    transaction.on_commit(lambda: _remove_bytes([key]), robust=True)
    return locked


def files_expired_purge(*, batch: int = 500) -> int:
    """Deletes (as `file_delete` does, one transaction each) the live files
    whose expiry has passed, at most `batch` a run; returns how many."""
    expired = StoredFile.objects.filter(
        deleted_at__isnull=True, held=False, expires_at__lte=timezone.now()
    ).order_by("expires_at")[:batch]
    for file in expired:
        file_delete(file=file)
    return len(expired)


def file_download_count(*, file: StoredFile) -> None:
    StoredFile.objects.filter(pk=file.pk).update(download_count=F("download_count") + 1)


def file_ids_in_order(file_ids) -> tuple[list[str], list[str]]:
    """The distinct file ids asked for, in order, and what was not an id."""
    wanted: list[str] = []
    invalid: list[str] = []
    for raw in file_ids:
        try:
            value = str(uuid.UUID(str(raw)))
        except (ValueError, TypeError, AttributeError):
            invalid.append(str(raw))
            continue
        if value not in wanted:
            wanted.append(value)
    return wanted, invalid


def files_for_attachment(*, user, file_ids: list, course) -> list[StoredFile]:
    """The live files `user` may attach to `course`, in the order asked:
    each one they uploaded, or shared in `course` (level `course` or `public`)
    and readable by them; none in another course. Attaching shares: a file in
    no course joins `course`, and a private one becomes level `course`.
    Otherwise 400 `invalid_attachment` naming the ids."""
    wanted, invalid = file_ids_in_order(file_ids)
    found = {
        str(f.pk): f
        for f in StoredFile.objects.select_for_update(of=("self",))
        .select_related("course")
        .filter(pk__in=wanted)
    }
    for file_id in wanted:
        file = found.get(file_id)
        usable = (
            file is not None
            and policies.is_live(file)
            and file.course_id in (None, course.pk)
            and (
                file.uploader_id == user.id
                or (
                    file.course_id == course.pk
                    and file.access_level != AccessLevel.PRIVATE
                    and policies.can_read_file(user, file)
                )
            )
        )
        if not usable:
            invalid.append(file_id)
    if invalid:
        raise ApplicationError(
            "Some attachments are not files you may attach to this course.",
            code="invalid_attachment",
            fields={"attachment_ids": [f"Not an attachable file: {i}." for i in invalid]},
        )
    for file in found.values():
        # Attaching shares: whoever may read the course may read its attachments.
        if file.course_id is None or file.access_level == AccessLevel.PRIVATE:
            file.course = course
            if file.access_level != AccessLevel.PUBLIC:
                file.access_level = AccessLevel.COURSE
            file.save(update_fields=["course", "access_level", "updated_at"])
    return [found[i] for i in wanted]


# Every type the files service accepts, by the mime type it stores.
_TYPES_BY_MIME = {
    kind.mime_type: kind
    for kind in vars(content_types).values()
    if isinstance(kind, content_types.FileType)
}
ACCEPTED_EXTENSIONS = frozenset(
    extension for kind in _TYPES_BY_MIME.values() for extension in kind.extensions
)


def _type_allowed(file: StoredFile, allowed: set[str]) -> bool:
    """The name's extension is allowed and is one the sniffed type may carry,
    so neither a renamed file nor a mislabelled one gets through."""
    extension = content_types.extension_of(file.original_name)
    kind = _TYPES_BY_MIME.get(file.mime_type)
    return extension in allowed and kind is not None and extension in kind.extensions


@transaction.atomic
def files_for_submission(
    *, user, file_ids: list, course, allowed_types, max_bytes: int, hold: bool = False
) -> list[StoredFile]:
    """The live files `user` uploaded (in no course or in `course`) for a
    submission to `course`, in the order asked, checked against the
    assignment's rules: extension in `allowed_types` (lowercase, no dots;
    empty allows every accepted type) by name and by content, at most
    `max_bytes` each. They join the course and stay private: only the
    uploader, admins and the course's teaching staff may read them, never
    another student. Refusals are 400 with `fields.file_ids`:
    `invalid_attachment`, `file_type_not_allowed`, `file_too_large`.
    `hold` (a submitted attempt, not a draft) keeps them as submitted: they
    no longer expire and cannot be deleted (409 `file_held`)."""
    wanted, invalid = file_ids_in_order(file_ids)
    found = {str(f.pk): f for f in StoredFile.objects.select_for_update().filter(pk__in=wanted)}
    invalid += [
        i
        for i in wanted
        if i not in found
        or not policies.is_live(found[i])
        or found[i].uploader_id != user.id
        or found[i].course_id not in (None, course.pk)
    ]
    if invalid:
        raise ApplicationError(
            "Some files are not files you uploaded for this course.",
            code="invalid_attachment",
            fields={"file_ids": [f"Not a file you may submit: {i}." for i in invalid]},
        )
    files = [found[i] for i in wanted]
    allowed = {str(t).lower().lstrip(".") for t in allowed_types}
    refused = [f for f in files if allowed and not _type_allowed(f, allowed)]
    if refused:
        raise ApplicationError(
            f"Only these file types are accepted: {', '.join(sorted(allowed))}.",
            code="file_type_not_allowed",
            fields={"file_ids": [f"{f.original_name}: type not allowed." for f in refused]},
            extra={"allowed_file_types": sorted(allowed)},
        )
    too_large = [f for f in files if f.file_size_bytes > max_bytes]
    if too_large:
        raise ApplicationError(
            f"Each file may be at most {max_bytes} bytes.",
            code="file_too_large",
            fields={"file_ids": [f"{f.original_name}: larger than the limit." for f in too_large]},
            extra={"max_bytes": max_bytes},
        )
    for file in files:
        if file.course_id is None or file.access_level != AccessLevel.PRIVATE or hold:
            file.course = course
            file.access_level = AccessLevel.PRIVATE
            file.held = file.held or hold
            file.expires_at = None if file.held else file.expires_at
            file.save(update_fields=["course", "access_level", "held", "expires_at", "updated_at"])
    return files
