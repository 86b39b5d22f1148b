"""Celery tasks of the scheduled jobs: thin callers, run in the schema of the
institution `for_each_institution` sent them to. Each is safe to run twice
(another beat, a retry): the ledger claims make the second one a no-op."""

from smtplib import SMTPException

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils.dateparse import parse_datetime

from . import digest, housekeeping, reminders

DATABASE_HICCUPS = (OperationalError, InterfaceError)


@shared_task(acks_late=True, autoretry_for=DATABASE_HICCUPS, max_retries=3)
def assignment_reminders_send() -> dict:
    """Every five minutes: reminders of assignments due within a day or an hour."""
    return reminders.assignment_reminders_send()


@shared_task(acks_late=True, autoretry_for=DATABASE_HICCUPS, max_retries=3)
def weekly_digest_queue(now: str | None = None) -> dict:
    """Hourly: on Monday morning in the institution's time zone, this week's
    digest, one email task per recipient. `now` (ISO 8601) replays a moment."""
    return digest.weekly_digest_queue(now=parse_datetime(now) if now else None)


@shared_task(
    acks_late=True,
    autoretry_for=(*DATABASE_HICCUPS, SMTPException, ConnectionError),
    retry_backoff=True,
    max_retries=5,
)
def weekly_digest_email_send(user_id: str, week: str, as_of: str) -> bool:
    """One member's weekly digest email, at most once per week."""
    return digest.weekly_digest_email_send(user_id=user_id, week=week, as_of=as_of)


@shared_task(acks_late=True, autoretry_for=DATABASE_HICCUPS, max_retries=3)
def expired_tokens_purge() -> dict:
    """Nightly: expired sessions, confirmation keys, invitations, idempotency keys."""
    return housekeeping.expired_tokens_purge()


@shared_task(acks_late=True, autoretry_for=DATABASE_HICCUPS, max_retries=3)
def activity_log_purge() -> dict:
    """Nightly: activity older than the data policy keeps, in batches."""
    return housekeeping.activity_log_purge()
