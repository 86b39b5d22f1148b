"""Tasks go through the real broker to a real worker and run in the schema of
the institution they were sent from."""

import pytest
from celery import shared_task
from django.db import connection
from django_tenants.utils import tenant_context

from shared_apps.institutions.models import Institution
from tenant_apps.accounts.models import User

from .conftest import pending_institution, wait_for_status

pytestmark = pytest.mark.queue


@shared_task
def where_am_i() -> dict:
    """Reports the schema the worker ran it in and what it sees there."""
    return {
        "schema": connection.schema_name,
        "users": sorted(User.objects.values_list("email", flat=True)),
    }


def test_a_task_runs_in_the_schema_it_was_sent_from(celery_worker):
    alpha = Institution.objects.get(slug="alpha")
    beta = Institution.objects.get(slug="beta")
    with tenant_context(alpha):
        from_alpha = where_am_i.delay()
    with tenant_context(beta):
        from_beta = where_am_i.delay()
    from_public = where_am_i.apply_async()

    assert from_alpha.get(timeout=20) == {"schema": "alpha", "users": ["admin@alpha.test"]}
    assert from_beta.get(timeout=20) == {"schema": "beta", "users": ["admin@beta.test"]}
    # Operator staff live in the public schema's copy of the table; none exist here.
    assert from_public.get(timeout=20) == {"schema": "public", "users": []}


def test_signup_is_provisioned_by_the_worker_through_the_queue(celery_worker):
    institution = pending_institution("queue-u", enqueue=True)
    wait_for_status(institution, Institution.Status.ACTIVE)
    assert institution.schema_name == "queue_u"
    with tenant_context(institution):
        assert User.objects.get().email == "admin@queue-u.test"
