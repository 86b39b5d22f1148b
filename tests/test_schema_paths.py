"""The cold path and the warm pool give exactly what migrations give, and the
pool hands each schema to one institution only."""

import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django_tenants.utils import schema_exists

from provisioning.catalog import schema_fingerprint
from provisioning.models import PoolSchema
from provisioning.pool import pool_claim, pool_top_up
from provisioning.schemas import (
    POOL_LOCK,
    TEMPLATE_SCHEMA,
    schema_create_by_migrations,
    schema_create_from_template,
    schema_drop,
    schema_migration_state,
)

from .conftest import lock_held_elsewhere, pending_institution


def test_cold_path_and_pool_give_the_same_catalog_and_rows_as_migrations(db):
    schema_create_by_migrations("eq_migrated")
    schema_create_from_template("eq_template")
    assert pool_top_up(size=1) == 1
    assert pool_claim(schema_name="eq_pool")

    reference = schema_fingerprint("eq_migrated")
    assert reference["tables"], "the reference schema has tables"
    assert any(rows for _, rows in reference["rows"]), "and seed rows"
    for name in ("eq_template", "eq_pool"):
        fingerprint = schema_fingerprint(name)
        for part, expected in reference.items():
            assert fingerprint[part] == expected, f"{name} differs from migrations in {part}"


def test_fingerprint_notices_a_difference(db):
    schema_create_from_template("fp_a")
    schema_create_from_template("fp_b")
    assert schema_fingerprint("fp_a") == schema_fingerprint("fp_b")
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX extra_idx ON fp_b.accounts_user (phone)")
    assert schema_fingerprint("fp_a")["indexes"] != schema_fingerprint("fp_b")["indexes"]


def test_a_failed_cold_copy_leaves_no_schema(db, monkeypatch):
    from provisioning import schemas

    real_render = schemas.CapturedSchema.render
    monkeypatch.setattr(
        schemas.CapturedSchema,
        "render",
        lambda self, name: real_render(self, name).replace("CREATE INDEX", "CREATE INDEXX", 1),
    )
    with pytest.raises(Exception, match="syntax error"):
        schema_create_from_template("broken_copy")
    assert not schema_exists("broken_copy")


def test_pool_is_topped_up_to_its_size_and_claims_empty_it(db):
    assert pool_top_up(size=2) == 2
    assert pool_top_up(size=2) == 0
    names = set(PoolSchema.objects.values_list("schema_name", flat=True))
    assert all(schema_exists(name) for name in names)

    assert pool_claim(schema_name="claimed_one")
    assert pool_claim(schema_name="claimed_two")
    assert not pool_claim(schema_name="claimed_three")
    assert PoolSchema.objects.count() == 0
    assert schema_exists("claimed_one") and schema_exists("claimed_two")
    assert not any(schema_exists(name) for name in names)


def test_migrate_schemas_also_migrates_template_and_pool(db):
    pool_top_up(size=1)
    entry = PoolSchema.objects.get()
    # A leaf migration, and a no-op in tenant schemas (a public-only app), so
    # re-applying it only records it again.
    lagging = _public_only_leaf_migration()
    with connection.cursor() as cursor:
        for schema in (entry.schema_name, TEMPLATE_SCHEMA):
            cursor.execute(
                f"DELETE FROM {schema}.django_migrations WHERE app = %s AND name = %s", lagging
            )
    call_command("migrate_schemas", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        for schema in (entry.schema_name, TEMPLATE_SCHEMA):
            cursor.execute(
                f"SELECT count(*) FROM {schema}.django_migrations WHERE app = %s AND name = %s",
                lagging,
            )
            assert cursor.fetchone()[0] == 1, f"{schema} was not migrated"
    entry.refresh_from_db()
    assert entry.migration_state == schema_migration_state(TEMPLATE_SCHEMA)


def _public_only_leaf_migration() -> tuple[str, str]:
    from django.apps import apps
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    public_only = {
        config.label
        for config in apps.get_app_configs()
        if config.name in settings.SHARED_APPS and config.name not in settings.TENANT_APPS
    }
    leaves = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes()
    return sorted(node for node in leaves if node[0] in public_only)[0]


def test_pool_schema_left_behind_by_a_migration_is_never_claimed(db):
    pool_top_up(size=1)
    stale = PoolSchema.objects.get()
    stale.migration_state = "an-old-state"
    stale.save()
    assert not pool_claim(schema_name="from_stale")
    assert pool_top_up(size=1) == 1  # replaces it
    assert not schema_exists(stale.schema_name)
    assert not PoolSchema.objects.filter(pk=stale.pk).exists()


def test_concurrent_claims_each_get_their_own_schema(committed_db):
    pool_top_up(size=2)
    pooled = set(PoolSchema.objects.values_list("schema_name", flat=True))
    results: dict[str, bool] = {}
    barrier = threading.Barrier(3)

    def claim(name):
        barrier.wait()
        try:
            results[name] = pool_claim(schema_name=name)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(f"race_{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(results.values()) == [False, True, True]
        winners = [name for name, won in results.items() if won]
        assert all(schema_exists(name) for name in winners)
        assert not any(schema_exists(name) for name in pooled)
    finally:
        for name in results:
            schema_drop(name)
        for entry in PoolSchema.objects.all():
            schema_drop(entry.schema_name)
            entry.delete()


def test_a_top_up_does_not_queue_behind_one_already_running(committed_db):
    with lock_held_elsewhere(POOL_LOCK):
        assert pool_top_up(size=1) == 0
        assert not PoolSchema.objects.exists()


@pytest.mark.queue
def test_after_a_signup_claims_a_schema_the_worker_refills_the_pool(celery_worker, settings):
    from provisioning import services

    pool_top_up(size=settings.PROVISIONING_POOL_SIZE)
    try:
        institution = pending_institution("pool-u")
        services.institution_provision(institution_id=institution.id)
        institution.refresh_from_db()
        assert institution.provisioning_job.schema_source == "pool"
        deadline = time.monotonic() + 20
        while PoolSchema.objects.count() < settings.PROVISIONING_POOL_SIZE:
            assert time.monotonic() < deadline, "the pool was not refilled"
            time.sleep(0.1)
    finally:
        for entry in PoolSchema.objects.all():
            schema_drop(entry.schema_name)
            entry.delete()
