"""Celery tasks of files: thin callers of services, run in the schema of the
institution they were sent to."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def files_expired_purge() -> int:
    """Files past their `expires_at` leave storage and the usage count."""
    return services.files_expired_purge()
