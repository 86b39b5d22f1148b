"""Celery tasks of privacy: thin callers of services, by id, run in the
schema of the institution that queued them."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def data_export_build_task(export_id: str) -> str:
    """Build a queued export; a finished one is left alone, so a redelivered
    message builds nothing twice."""
    export = services.data_export_build(export_id=export_id)
    return export.status if export is not None else "missing"


@shared_task(acks_late=True)
def data_exports_housekeeping() -> dict:
    """Expired exports leave storage; dead builds fail; lost ones are requeued."""
    return services.data_exports_housekeeping()
