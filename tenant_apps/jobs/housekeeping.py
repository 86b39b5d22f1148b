"""Nightly housekeeping in each institution: expired sign-in material and
idempotency keys, and activity older than the data policy keeps.

`expired_tokens_purge` is small: one transaction holds its claim (job
"expired_tokens_purge", period the UTC day) and its deletes, so a second run
skips and a failed one leaves the day to its retry.

`activity_log_purge` may face millions of rows, so it deletes in batches of
one short transaction each rather than one transaction that would hold its
locks (and the table's bloat) for minutes. Its claim cannot then sit in the
work's transaction: it is a resumable run (`job_period_resumable`). An
advisory lock keeps a second run of the day out while one is under way; a run
that dies part way leaves the day claimed but unfinished, and its retry
deletes what is left. Deleting "older than the cutoff" is harmless to repeat,
and each batch commits its rows and the running count together.
"""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tenant_apps.accounts.api import expired_credentials_purge
from tenant_apps.activity.api import activity_purge_batch
from tenant_apps.idempotency.api import idempotency_records_expired_purge
from tenant_apps.privacy.api import data_policy

from .periods import day_period
from .services import (
    job_period_claim,
    job_period_finish,
    job_period_resumable,
    job_progress,
    job_result_record,
    job_runs_purge,
)

ACTIVITY_PURGE_BATCH = 5000


def expired_tokens_purge(*, now: datetime | None = None) -> dict:
    """Today's purge of expired sessions (API tokens), email confirmation keys,
    long-closed invitations, idempotency keys and old ledger rows."""
    now = now or timezone.now()
    job, day = "expired_tokens_purge", day_period(now)
    with transaction.atomic():
        if not job_period_claim(job=job, period=day):
            return {"skipped": True}
        result = expired_credentials_purge(now=now)
        result["idempotency_keys"] = idempotency_records_expired_purge()
        result["job_runs"] = job_runs_purge(now=now)
        job_result_record(job=job, period=day, result=result)
    return result


def activity_log_purge(
    *, now: datetime | None = None, batch_size: int = ACTIVITY_PURGE_BATCH
) -> dict:
    """Today's purge of activity older than the data policy's retention."""
    now = now or timezone.now()
    job, day = "activity_log_purge", day_period(now)
    with job_period_resumable(job=job, period=day) as run:
        if not run:
            return {"skipped": True}
        retention_days = data_policy().activity_retention_days
        cutoff = now - timedelta(days=retention_days)
        counts = {
            "retention_days": retention_days,
            "cutoff": cutoff.astimezone(UTC).isoformat(),
            "deleted": job_progress(job=job, period=day).get("deleted", 0),
        }
        while True:
            with transaction.atomic():
                deleted = activity_purge_batch(before=cutoff, batch_size=batch_size)
                counts["deleted"] += deleted
                job_result_record(job=job, period=day, result=counts)
            if deleted < batch_size:
                break
        job_period_finish(job=job, period=day, result=counts)
    return {**counts, "finished": True}
