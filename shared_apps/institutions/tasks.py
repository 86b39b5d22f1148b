"""Celery tasks that reach every institution from the public schema."""

from celery import current_app, shared_task
from django_tenants.utils import tenant_context

from .models import Institution


@shared_task
def for_each_institution(task_name: str) -> int:
    """Send `task_name` once into each active institution's schema (beat calls
    this for per-institution housekeeping). The task must be safe to run twice:
    nothing here stops a second beat from sending it again."""
    sent = 0
    for institution in Institution.objects.filter(status=Institution.Status.ACTIVE):
        with tenant_context(institution):  # tenant-schemas-celery sends the schema along
            current_app.signature(task_name).apply_async()
        sent += 1
    return sent
