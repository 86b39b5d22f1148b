"""Suspend, reactivate, export and delete run as Celery tasks (applied in
process here: the queue itself is covered in test_celery.py)."""

import json

from django.core.files.storage import default_storage
from django_tenants.utils import schema_exists

from provisioning import tasks
from shared_apps.institutions.models import Institution

from .conftest import host_client, make_institution


def test_suspend_and_reactivate_tasks_change_what_the_subdomain_serves(
    alpha, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.suspend_institution.apply(args=[str(alpha.id), "unpaid"]).get() == "suspended"
    alpha.refresh_from_db()
    assert alpha.status_reason == "unpaid" and alpha.suspended_at is not None
    assert host_client("alpha.localhost").get("/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.reactivate_institution.apply(args=[str(alpha.id)]).get() == "active"
    assert host_client("alpha.localhost").get("/").status_code == 200


def test_export_task_writes_the_institutions_data(alpha):
    name = tasks.export_institution.apply(args=[str(alpha.id)]).get()
    with default_storage.open(name) as exported:
        document = json.load(exported)
    default_storage.delete(name)
    assert document["institution"]["slug"] == "alpha"
    assert [r["fields"]["email"] for r in document["data"] if r["model"] == "accounts.user"] == [
        "admin@alpha.test"
    ]


def test_delete_task_exports_drops_and_is_safe_to_retry(db):
    institution = make_institution("theta")
    name = tasks.delete_institution.apply(args=[str(institution.id), "theta"]).get()
    assert name.startswith("platform/exports/theta-")
    assert not schema_exists("theta")
    assert not Institution.objects.filter(slug="theta").exists()
    # A redelivered message finds nothing left to do.
    assert tasks.delete_institution.apply(args=[str(institution.id), "theta"]).get() == ""
    default_storage.delete(name)


def test_delete_task_without_the_right_confirmation_deletes_nothing(alpha):
    result = tasks.delete_institution.apply(args=[str(alpha.id), "not-alpha"])
    assert result.failed()
    assert schema_exists("alpha")
    assert Institution.objects.filter(slug="alpha").exists()
