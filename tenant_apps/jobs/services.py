"""Claiming a scheduled job's period."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction

from .models import JobRun

# Ledger rows are kept this long, then purged by the nightly housekeeping. No
# period can come round again after it: a reminder's names a due date that has
# passed, the others a day or a week.
JOB_RUNS_KEPT = timedelta(days=180)


def job_period_claim(*, job: str, period: str) -> bool:
    """True if this caller is the one to run `job` for `period` in this
    institution; False if another run has it (done, or under way).

    The claim is a row inserted in the caller's transaction, which must be the
    one doing the job's work: a second run (another beat, a retried task)
    waits on the unique index until the first commits, then sees the conflict
    and skips; if the first rolls back (it failed), the second claims the
    period and does the work."""
    if not connection.in_atomic_block:
        raise RuntimeError("job_period_claim() must run inside the job's transaction")
    table = JobRun._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (job, period, started_at, result) "  # noqa: S608 - our table name
            "VALUES (%s, %s, now(), '{}'::jsonb) ON CONFLICT (job, period) DO NOTHING RETURNING id",
            [job, period],
        )
        return cursor.fetchone() is not None


def job_result_record(*, job: str, period: str, result: dict) -> None:
    """What the claimed run did (counts), for the operator and the tests."""
    JobRun.objects.filter(job=job, period=period).update(result=result)


@contextmanager
def job_period_resumable(*, job: str, period: str) -> Iterator[bool]:
    """For a job too big for one transaction, done in many short ones that are
    each harmless to repeat (a purge in batches). Yields True if this caller
    is to work on `period` now, False if it must skip:

    - while the block runs, this connection holds a session-level advisory lock
      on (institution, job); a second run (another beat) that cannot take it
      skips instead of doing the work beside the first;
    - the period is claimed in the ledger, and `job_period_finish` marks it
      finished; a later run for a finished period skips;
    - a run that died part way (an error, a lost worker: its connection and
      so its lock went with it) left the period claimed but not finished: its
      retry takes the lock and resumes, which the batches being repeatable
      makes safe. That is why the claim alone, committed before the first
      batch, cannot be the guard here as it is for one-transaction jobs."""
    key = f"{connection.schema_name}:job:{job}"
    # Inside a caller's transaction (a test's), the lock is that transaction's
    # and goes with it; the batches are then savepoints of it.
    session_lock = not connection.in_atomic_block
    lock = "pg_try_advisory_lock" if session_lock else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {lock}(hashtext(%s))", [key])
        locked = cursor.fetchone()[0]
    if not locked:
        yield False
        return
    try:
        with transaction.atomic():
            job_period_claim(job=job, period=period)
            finished = JobRun.objects.filter(job=job, period=period, result__finished=True).exists()
        yield not finished
    finally:
        if session_lock:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
            except DatabaseError:
                pass  # the connection is gone, and its lock with it


def job_progress(*, job: str, period: str) -> dict:
    """What a resumable run recorded so far (empty for a new period)."""
    run = JobRun.objects.filter(job=job, period=period).only("result").first()
    return dict(run.result) if run else {}


def job_period_finish(*, job: str, period: str, result: dict) -> None:
    """A resumable run's last word: its counts, and that the period is done."""
    job_result_record(job=job, period=period, result={**result, "finished": True})


def job_runs_purge(*, now: datetime) -> int:
    """Ledger rows older than JOB_RUNS_KEPT; how many went."""
    deleted, _ = JobRun.objects.filter(started_at__lt=now - JOB_RUNS_KEPT).delete()
    return deleted
