"""Failure modes found in review, each proven fixed through the real paths."""

import json
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_exists, tenant_context

from provisioning import schemas, services
from shared_apps.institutions import routing
from shared_apps.institutions.models import Institution
from tenant_apps.accounts.models import User

from .conftest import host_client, lock_held_elsewhere, make_institution, pending_institution


def test_migrate_schemas_passes_over_institutions_without_a_schema(db):
    pending_institution("still-pending")
    failed = pending_institution("failed-early")
    failed.status = Institution.Status.FAILED
    failed.save()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    assert not schema_exists("still_pending")
    assert not schema_exists("failed_early")


def test_a_deleted_institution_stops_routing_at_once(db, django_capture_on_commit_callbacks):
    institution = make_institution("gone-u")
    assert host_client("gone-u.localhost").get("/").status_code == 200  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        services.institution_delete(institution=institution, confirm_slug="gone-u")
    assert host_client("gone-u.localhost").get("/").status_code == 404


def test_a_row_without_its_schema_never_routes(db, alpha):
    with connection.cursor() as cursor:
        cursor.execute("ALTER SCHEMA alpha RENAME TO alpha_elsewhere")
    # Public's own accounts table must never answer for the missing schema.
    assert host_client("alpha.localhost").get("/api/v1/users/me/").status_code == 404


def test_a_stale_row_written_to_the_cache_after_an_invalidation_is_not_served(
    alpha, monkeypatch, django_capture_on_commit_callbacks
):
    real_schema_exists = routing.schema_exists

    def suspend_meanwhile(name):
        # Between this request's database read and its cache write, another
        # request suspends the institution and invalidates the cache.
        with django_capture_on_commit_callbacks(execute=True):
            services.institution_suspend(institution=Institution.objects.get(pk=alpha.pk))
        monkeypatch.setattr(routing, "schema_exists", real_schema_exists)
        return real_schema_exists(name)

    monkeypatch.setattr(routing, "schema_exists", suspend_meanwhile)
    assert host_client("alpha.localhost").get("/").status_code == 200  # read before the change
    assert host_client("alpha.localhost").get("/").status_code == 403  # not the stale entry


def test_an_export_holds_no_sessions_and_no_password_hashes(alpha, alpha_client):
    with tenant_context(alpha):
        admin = User.objects.get()
        alpha_client.force_login(admin)
    connection.set_schema_to_public()
    name = services.institution_export(institution=alpha)
    from django.core.files.storage import default_storage

    with default_storage.open(name) as exported:
        document = json.load(exported)
    default_storage.delete(name)
    models = {record["model"] for record in document["data"]}
    assert "sessions.session" not in models
    assert "contenttypes.contenttype" not in models
    users = [r["fields"] for r in document["data"] if r["model"] == "accounts.user"]
    assert [u["email"] for u in users] == ["admin@alpha.test"]
    assert "password" not in users[0]


def test_health_remembers_a_missing_worker_instead_of_waiting_each_time(
    db, public_client, monkeypatch
):
    from conceptspro.celery import app

    pings = []
    ping = app.control.ping
    monkeypatch.setattr(app.control, "ping", lambda **kw: pings.append(kw) or ping(**kw))
    first = public_client.get("/health/")
    assert first.status_code == 503
    second = public_client.get("/health/")
    assert second.status_code == 503
    assert second.json()["checks"]["celery_worker"] == first.json()["checks"]["celery_worker"]
    assert second.json()["checks"]["celery_worker"]["status"] == "down"
    assert len(pings) == 1  # the waiting ping is not repeated


def test_liveness_needs_no_dependency(db, public_client):
    with CaptureQueriesContext(connection) as queries:
        response = public_client.get("/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(queries) == 0


def test_sessions_ask_the_server_to_notice_vanished_clients(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW client_connection_check_interval")
        assert cursor.fetchone()[0] == "5s"


def test_a_second_provisioning_of_the_same_institution_does_not_wait_or_interfere(
    committed_db,
):
    institution = pending_institution("busy-lock-u")
    with lock_held_elsewhere(f"provisioning:institution:{institution.id}"):
        # Had it waited for the lock, it would have finished (ACTIVE) once the
        # holder gave up after 30 s; it answers at once, leaving it pending.
        result = services.institution_provision(institution_id=institution.id)
        assert result.status == Institution.Status.PENDING
        assert not schema_exists("busy_lock_u")
    services.institution_provision(institution_id=institution.id)
    institution.refresh_from_db()
    assert institution.status == Institution.Status.ACTIVE


def test_delete_waits_for_a_running_provisioning(committed_db):
    institution = make_institution("wait-del-u")
    done = threading.Event()

    def delete():
        try:
            services.institution_delete(institution=institution, confirm_slug="wait-del-u")
            done.set()
        finally:
            connections.close_all()

    with lock_held_elsewhere(f"provisioning:institution:{institution.id}"):
        deleter = threading.Thread(target=delete)
        deleter.start()
        assert not done.wait(0.5), "delete went ahead while provisioning held the lock"
        assert schema_exists("wait_del_u")
    deleter.join(20)
    assert done.is_set()
    assert not schema_exists("wait_del_u")


def test_two_provisionings_building_a_missing_template_both_succeed(committed_db, monkeypatch):
    monkeypatch.setattr(schemas, "_verified_template_state", None)
    schemas.schema_drop(schemas.TEMPLATE_SCHEMA)
    first, second = pending_institution("tpl-one"), pending_institution("tpl-two")
    errors = []

    def provision(institution):
        try:
            services.institution_provision(institution_id=institution.id, method="template")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=provision, args=(i,)) for i in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for institution in (first, second):
        institution.refresh_from_db()
        assert institution.status == Institution.Status.ACTIVE
    assert schemas.schema_migration_state(schemas.TEMPLATE_SCHEMA) is not None


@pytest.mark.parametrize("wait", [True, False])
def test_a_lock_whose_release_fails_is_released_by_ending_the_session(committed_db, wait):
    key = "test:broken-release"
    with schemas.advisory_lock(key, wait=wait):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            first_backend = cursor.fetchone()[0]
        connection.connection.close()  # the connection dies under the lock
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), pg_try_advisory_lock(hashtext(%s))", [key])
        backend, acquired = cursor.fetchone()
        cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
    assert backend != first_backend
    assert acquired
