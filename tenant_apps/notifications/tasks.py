"""Celery tasks of notifications: thin callers of delivery, by id. They run in
the schema of the institution that queued them (tenant-schemas-celery)."""

from anymail.exceptions import AnymailAPIError
from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import delivery


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3)
def notifications_deliver(notification_ids: list[str]) -> dict:
    """Push these notifications over WebSocket and queue their emails, each
    as its recipient's preferences say, each channel at most once."""
    return delivery.notifications_deliver(notification_ids=notification_ids)


# OSError covers SMTP's errors and a provider that cannot be reached.
@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError, OSError, AnymailAPIError),
    retry_backoff=30,
    max_retries=5,
)
def notification_email_send(notification_id: str) -> bool:
    """Email one notification to its recipient, once (False if already sent,
    or the recipient has no usable address)."""
    return delivery.notification_email_send(notification_id=notification_id)
