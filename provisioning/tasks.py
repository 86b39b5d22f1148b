"""Celery tasks of the institution lifecycle: thin callers of services, by id."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from shared_apps.institutions.models import Institution

from . import pool, services


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def provision_institution(institution_id: str, method: str = "auto") -> str:
    institution = services.institution_provision(institution_id=institution_id, method=method)
    return institution.status if institution else "deleted"


@shared_task
def pool_top_up() -> int:
    return pool.pool_top_up()


@shared_task
def resume_stalled_provisioning(older_than_seconds: float = 120) -> list[str]:
    """Queue provisioning again for institutions whose worker died mid-way."""
    stalled = services.provisioning_stalled(older_than_seconds=older_than_seconds)
    for institution in stalled:
        services.provisioning_requeue(institution=institution)
    return [str(institution.id) for institution in stalled]


@shared_task(acks_late=True)
def suspend_institution(institution_id: str, reason: str = "") -> str:
    institution = Institution.objects.get(pk=institution_id)
    return services.institution_suspend(institution=institution, reason=reason).status


@shared_task(acks_late=True)
def reactivate_institution(institution_id: str) -> str:
    institution = Institution.objects.get(pk=institution_id)
    return services.institution_reactivate(institution=institution).status


@shared_task(acks_late=True)
def export_institution(institution_id: str) -> str:
    institution = Institution.objects.get(pk=institution_id)
    return services.institution_export(institution=institution)


@shared_task(acks_late=True)
def delete_institution(institution_id: str, confirm_slug: str) -> str:
    institution = Institution.objects.filter(pk=institution_id).first()
    if institution is None:  # a retried delete that already finished
        return ""
    return services.institution_delete(institution=institution, confirm_slug=confirm_slug)
