"""The Celery app. Tasks run in the schema they were sent from (tenant-schemas-celery)."""

import os

import structlog
from celery.signals import task_prerun
from django_structlog.celery.steps import DjangoStructLogInitStep
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conceptspro.settings.local")

app = CeleryApp("conceptspro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Structured task logs (task id, parent request id) from django-structlog.
app.steps["worker"].add(DjangoStructLogInitStep)


@task_prerun.connect
def _bind_tenant_to_logs(task=None, **_):
    # tenant-schemas-celery switched the connection to the sender's schema just before.
    from django.db import connection

    structlog.contextvars.bind_contextvars(tenant=connection.schema_name, task=task.name)
