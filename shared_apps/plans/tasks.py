"""Celery tasks of usage metering: the nightly recount of every institution,
one task per institution so that one slow or broken schema holds up no other."""

from celery import shared_task
from django.db import InterfaceError, OperationalError, connection
from django_tenants.utils import schema_exists

from shared_apps.institutions.models import Institution

from .metering import usage_measure

# Institutions with a schema to count: a suspended one still holds its data.
MEASURED_STATUSES = (Institution.Status.ACTIVE, Institution.Status.SUSPENDED)


@shared_task
def usage_measure_all() -> int:
    """Beat, nightly: queue a recount of each active or suspended institution;
    returns how many were queued. Safe to run twice: a recount is idempotent."""
    connection.set_schema_to_public()  # the recounts run from the public schema
    ids = list(
        Institution.objects.filter(status__in=MEASURED_STATUSES).values_list("pk", flat=True)
    )
    for institution_id in ids:
        usage_measure_one.delay(str(institution_id))
    return len(ids)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def usage_measure_one(institution_id: str) -> bool:
    """Recount one institution (nightly, or the operator's "measure now");
    False if it is gone or has no schema any more."""
    institution = Institution.objects.filter(pk=institution_id).first()
    if institution is None or not schema_exists(institution.schema_name):
        return False
    usage_measure(institution=institution)
    return True
