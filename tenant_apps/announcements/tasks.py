"""Celery tasks of announcements: thin callers of services. They run in the
schema of the institution that queued them (tenant-schemas-celery)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3)
def announcements_due_notify() -> int:
    """Beat's minutely sweep (through for_each_institution): announcements
    whose publication time has come are announced to their course, each once
    however often this runs."""
    return services.announcements_due_notify()
