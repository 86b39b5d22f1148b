"""Every write of data rights: asking for an export and building it, the
exports' expiry, erasing a user, and the institution's data policy.

An erasure runs every registered section's `erase` in one transaction, the
account's section last (it anonymises the user row, ends their sessions and
frees their seat): either everything of the person goes, or nothing does.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.core.files import File
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from conceptspro.storage import scoped_name
from tenant_apps.accounts.api import Role, User
from tenant_apps.audit.api import AuditEventType, audit_record
from tenant_apps.notifications.api import (
    NotificationKind,
    notification_naming,
    notification_send,
)

from . import archive
from .models import ACTIVE_EXPORT_STATUSES, DataExport, DataPolicy, ExportStatus
from .policies import is_erased
from .registry import user_data_sections
from .selectors import data_policy

EXPORT_KEPT_FOR = timedelta(days=7)
# A build that has run this long without finishing is taken to have died
# with its worker: it no longer blocks a new request, and a redelivered
# message may take it over.
EXPORT_STALE_AFTER = timedelta(hours=1)
# A queued export no worker has started after this is sent to the queue again.
EXPORT_REQUEUE_AFTER = timedelta(minutes=10)


def download_path(export: DataExport) -> str:
    return f"/api/v1/data-exports/{export.pk}/download/"


def _not_found() -> ApplicationError:
    return ApplicationError("No such user.", code="not_found", status=status.HTTP_404_NOT_FOUND)


def _remove_from_storage(keys: list[str]) -> None:
    storage = storages["default"]
    for key in keys:
        storage.delete(key)


def _remove_on_commit(keys: list[str]) -> None:
    # Bound to this institution now, not when the callback runs.
    scoped = [scoped_name(key) for key in keys if key]
    if scoped:
        transaction.on_commit(lambda: _remove_from_storage(scoped), robust=True)


def _queue_build(export_id) -> None:
    from .tasks import data_export_build_task  # tasks call services: import here

    export_id = str(export_id)
    # robust: the export is recorded either way; housekeeping sends it again.
    transaction.on_commit(lambda: data_export_build_task.delay(export_id=export_id), robust=True)


def _stale_builds_fail(queryset) -> int:
    cutoff = timezone.now() - EXPORT_STALE_AFTER
    return queryset.filter(
        Q(status=ExportStatus.QUEUED, created_at__lt=cutoff)
        | Q(status=ExportStatus.RUNNING, started_at__lt=cutoff)
    ).update(
        status=ExportStatus.FAILED,
        error="The export was not finished in time; ask for a new one.",
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _in_progress() -> ApplicationError:
    return ApplicationError(
        "An export of this user's data is already being built; you will be notified "
        "when it is ready.",
        code="export_in_progress",
        status=status.HTTP_409_CONFLICT,
    )


@transaction.atomic
def data_export_request(*, user: User, requested_by: User, request=None) -> DataExport:
    """Queue an export of `user`'s data, asked for by themself or an admin.
    One at a time per user (409 `export_in_progress`); an erased user has no
    data to export (404)."""
    if is_erased(user):
        raise _not_found()
    _stale_builds_fail(DataExport.objects.filter(user=user))
    if DataExport.objects.filter(user=user, status__in=ACTIVE_EXPORT_STATUSES).exists():
        raise _in_progress()
    try:
        with transaction.atomic():
            export = DataExport.objects.create(user=user, requested_by=requested_by)
    except IntegrityError:  # another request queued one at the same moment
        raise _in_progress() from None
    if requested_by.pk != user.pk:
        audit_record(
            event=AuditEventType.DATA_EXPORT_REQUESTED,
            request=request,
            actor=requested_by,
            target=user,
            export_id=str(export.pk),
        )
    _queue_build(export.pk)
    return export


def data_export_build(*, export_id) -> DataExport | None:
    """Build the zip of a queued export, store it, mark it ready and notify
    the user (and the admin who asked). Safe to run twice: an export that is
    ready, failed, expired or being built by a live worker is left alone.

    The zip is written outside any transaction (it may take a while); the
    export is then locked to record the result, and if it was erased or taken
    over meanwhile the stored zip is removed again."""
    started = timezone.now()
    claimed = (
        DataExport.objects.filter(pk=export_id)
        .filter(
            Q(status=ExportStatus.QUEUED)
            | Q(status=ExportStatus.RUNNING, started_at__lt=started - EXPORT_STALE_AFTER)
        )
        .update(status=ExportStatus.RUNNING, started_at=started, error="", updated_at=started)
    )
    if not claimed:
        return DataExport.objects.filter(pk=export_id).first()
    export = DataExport.objects.select_related("user", "requested_by").get(pk=export_id)
    key = ""
    try:
        zipped, _ = archive.export_archive_write(export.user)
        with zipped:
            size = zipped.seek(0, 2)
            zipped.seek(0)
            key = storages["default"].save(
                f"data-exports/{export.user_id}/{export.pk}.zip", File(zipped)
            )
    except Exception as error:
        if key:
            _remove_from_storage([key])
        message = (
            str(error)
            if isinstance(error, archive.SectionFailed)
            else "The export could not be built; ask for a new one."
        )
        DataExport.objects.filter(pk=export_id, status=ExportStatus.RUNNING).update(
            status=ExportStatus.FAILED, error=message, finished_at=timezone.now()
        )
        raise
    return _export_finish(export_id=export_id, started=started, key=key, size=size)


@transaction.atomic
def _export_finish(*, export_id, started, key: str, size: int) -> DataExport | None:
    export = (
        DataExport.objects.select_for_update()
        .filter(pk=export_id, status=ExportStatus.RUNNING, started_at=started)
        .first()
    )
    if export is None:  # erased, or taken over by another worker meanwhile
        _remove_on_commit([key])
        return DataExport.objects.filter(pk=export_id).first()
    now = timezone.now()
    export.status = ExportStatus.READY
    export.file_key, export.size_bytes = key, size
    export.finished_at, export.expires_at = now, now + EXPORT_KEPT_FOR
    export.save(
        update_fields=[
            "status",
            "file_key",
            "size_bytes",
            "finished_at",
            "expires_at",
            "updated_at",
        ]
    )
    metadata = {"export_id": str(export.pk), "expires_at": export.expires_at.isoformat()}
    expiry = f"It can be downloaded until {export.expires_at:%Y-%m-%d %H:%M} UTC."
    notification_send(
        user_ids=[export.user_id],
        kind=NotificationKind.DATA_EXPORT_READY,
        title="Your data export is ready",
        message=expiry,
        link_url=download_path(export),
        metadata=metadata,
    )
    requester = export.requested_by_id
    if requester is not None and requester != export.user_id:
        who = export.user.get_full_name() or export.user.email
        notification_send(
            user_ids=[requester],
            kind=NotificationKind.DATA_EXPORT_READY,
            title=f"The data export of {who} is ready",
            message=expiry,
            link_url=download_path(export),
            # naming the exported person: their erasure unnames it
            metadata={
                **metadata,
                "user_id": str(export.user_id),
                **notification_naming(export.user_id, who),
            },
        )
    return export


def data_exports_housekeeping(*, batch: int = 500) -> dict[str, int]:
    """Hourly, in each institution: ready exports past `expires_at` leave
    storage (status `expired`), builds that died are marked failed, and queued
    exports no worker started are sent to the queue again."""
    now = timezone.now()
    expired = 0
    due = DataExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now)
    for export_id in list(due.order_by("expires_at").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            export = (
                DataExport.objects.select_for_update()
                .filter(pk=export_id, status=ExportStatus.READY)
                .first()
            )
            if export is None:
                continue
            _remove_on_commit([export.file_key])
            export.status, export.file_key = ExportStatus.EXPIRED, ""
            export.save(update_fields=["status", "file_key", "updated_at"])
            expired += 1
    failed = _stale_builds_fail(DataExport.objects.all())
    waiting = DataExport.objects.filter(
        status=ExportStatus.QUEUED, created_at__lt=now - EXPORT_REQUEUE_AFTER
    )
    requeued = 0
    for export_id in waiting.values_list("pk", flat=True)[:batch]:
        with transaction.atomic():
            _queue_build(export_id)
        requeued += 1
    return {"expired": expired, "failed": failed, "requeued": requeued}


# --- erasure ------------------------------------------------------------------------


def _live_admins():
    return User.objects.filter(
        role=Role.ADMIN, is_active=True, is_suspended=False, deleted_at__isnull=True
    )


@dataclass(frozen=True)
class Erasure:
    user: User
    kept_academic_records: bool
    sections: list[str]


@transaction.atomic
def user_erase(*, actor: User | None, user: User, confirm_email: str, request=None) -> Erasure:
    """Erase `user`: every registered section removes or anonymises what its
    app holds of them (with the data policy's `keep_academic_records`, grades
    and submissions stay, naming no one), then the account's section
    anonymises the user row, ends their sessions and tokens at once and frees
    their seat. Their data exports go too. Audited.

    `actor` is the admin doing it (None: an operator's command).
    `confirm_email` must be the user's address (400 `confirmation_mismatch`).
    Refused: oneself (409 `cannot_modify_self`), an erased user (409
    `already_erased`), the last active admin (409 `last_admin`)."""
    # Decided on the locked row: a second erasure (or a soft delete) at the
    # same time waits here and then finds the user erased (or deleted).
    target = User.objects.select_for_update().filter(pk=user.pk).first()
    if target is None:
        raise _not_found()
    if is_erased(target):
        raise ApplicationError(
            "This user has already been erased.",
            code="already_erased",
            status=status.HTTP_409_CONFLICT,
        )
    if actor is not None and actor.pk == target.pk:
        raise ApplicationError(
            "You cannot erase your own account.",
            code="cannot_modify_self",
            status=status.HTTP_409_CONFLICT,
        )
    if (confirm_email or "").strip().lower() != target.email:
        raise ApplicationError(
            "The confirmation does not match the user's email address.",
            code="confirmation_mismatch",
            fields={"confirm_email": ["Must be the address of the user being erased."]},
        )
    # Lock the admins' rows (as accounts does for demotions), so two admins
    # erasing each other at once cannot leave the institution without one.
    admins = set(_live_admins().select_for_update().values_list("pk", flat=True))
    if actor is not None and actor.pk not in admins:
        raise ApplicationError(
            "You are no longer an administrator of this institution.",
            code="permission_denied",
            status=status.HTTP_403_FORBIDDEN,
        )
    if target.pk in admins and not admins - {target.pk}:
        raise ApplicationError(
            "The institution's last active administrator cannot be erased.",
            code="last_admin",
            status=status.HTTP_409_CONFLICT,
        )
    keep = data_policy().keep_academic_records
    sections = [section for section in user_data_sections() if section.erase is not None]
    for section in sections:
        section.erase(target, keep_academic_records=keep)
    target.refresh_from_db()
    if not is_erased(target):  # never commit an erasure that left the person named
        raise RuntimeError("No section anonymised the user row; nothing was erased.")
    exports = DataExport.objects.filter(user=target)
    _remove_on_commit([key for key in exports.values_list("file_key", flat=True) if key])
    exports.delete()
    audit_record(
        event=AuditEventType.USER_ERASED,
        request=request,
        actor=actor,
        target=target,
        kept_academic_records=keep,
        sections=[section.name for section in sections],
    )
    return Erasure(
        user=target, kept_academic_records=keep, sections=[section.name for section in sections]
    )


# --- the data policy ----------------------------------------------------------------

POLICY_FIELDS = ("activity_retention_days", "keep_academic_records")


@transaction.atomic
def data_policy_update(*, actor: User, request=None, **changes) -> DataPolicy:
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"data_policy_update() got unexpected fields: {sorted(unknown)}")
    policy = DataPolicy.objects.select_for_update().get_or_create(pk=1)[0]
    changed = {k: v for k, v in changes.items() if getattr(policy, k) != v}
    for field, value in changed.items():
        setattr(policy, field, value)
    policy.save()
    if changed:
        audit_record(
            event=AuditEventType.DATA_POLICY_CHANGED, request=request, actor=actor, **changed
        )
    return policy
