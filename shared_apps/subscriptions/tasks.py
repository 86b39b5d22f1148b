"""Celery tasks of billing: thin callers of the services."""

from celery import shared_task

from . import services


@shared_task
def subscriptions_housekeeping() -> dict:
    """Hourly (beat): expired local trials become past due; paid sign-ups never
    paid release their address. Idempotent."""
    return services.subscriptions_housekeeping()
