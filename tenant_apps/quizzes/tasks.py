"""Celery tasks of quizzes: thin callers of services, by id, run in the schema
of the institution that queued them (tenant-schemas-celery)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services
from .models import Attempt


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3)
def attempt_close_due(attempt_id: str) -> bool:
    """Queued for an attempt's deadline: closes and grades it with what was
    saved. Idempotent: an attempt already closed, or not yet due (a worker
    whose clock runs early), is left alone; the sweep catches the latter."""
    attempt = Attempt.objects.filter(pk=attempt_id).first()
    return attempt is not None and services.attempt_close_if_overdue(attempt)


@shared_task(acks_late=True)
def attempts_overdue_close() -> int:
    """Beat's minutely sweep (through for_each_institution): attempts whose
    deadline passed without their task (farther than the task horizon when
    started, or a lost message) are closed."""
    return services.attempts_overdue_close()
