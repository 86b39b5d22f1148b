"""Celery tasks of courses: thin callers of services, by id. They run in the
schema of the institution that queued them (tenant-schemas-celery)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3)
def enrollment_import_run_task(import_id: str) -> str:
    """Run a queued CSV enrollment import; a finished one is left alone, so a
    redelivered message enrolls nobody twice."""
    job = services.enrollment_import_run(import_id=import_id)
    return job.status if job is not None else "missing"
