"""django-tenants' migrate_schemas, for our institution lifecycle.

- It migrates only schemas that exist: an institution still pending, or one
  whose provisioning failed before its schema step, has none yet.
- It also migrates the `_template` schema and the warm pool's schemas, so
  neither lags behind the institutions.
- It holds the provisioning locks meanwhile: no pool schema is claimed (renamed)
  under it, and no cold copy of the old template commits after the list of
  schemas to migrate was taken.

`-s SCHEMA` (one schema) and `--shared` behave as in django-tenants.
"""

from django.db import connection
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from provisioning.models import PoolSchema
from provisioning.schemas import (
    CLAIM_LOCK,
    POOL_LOCK,
    TEMPLATE_LOCK,
    TEMPLATE_SCHEMA,
    advisory_lock,
    schema_migrate,
    schema_migration_state,
)
from shared_apps.institutions.models import Institution


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options):
        if options.get("schema_name"):
            return super().handle(*args, **options)
        tenants_only = options.get("tenant") and not options.get("shared")
        if not tenants_only:
            super().handle(*args, **{**options, "shared": True, "tenant": False})
        if options.get("shared") and not options.get("tenant"):
            return None
        verbosity = int(options.get("verbosity", 1))
        with (
            advisory_lock(TEMPLATE_LOCK),
            advisory_lock(POOL_LOCK),
            advisory_lock(CLAIM_LOCK),
        ):
            for schema_name in _existing_tenant_schemas():
                if verbosity:
                    self.stdout.write(f"[{schema_name}] migrating")
                schema_migrate(schema_name, verbosity=max(verbosity - 1, 0), stdout=self.stdout)
            for entry in PoolSchema.objects.all():
                entry.migration_state = schema_migration_state(entry.schema_name) or ""
                entry.save(update_fields=["migration_state"])
        return None


def _existing_tenant_schemas() -> list[str]:
    """The template, pool and institution schemas that exist, template first."""
    wanted = [TEMPLATE_SCHEMA]
    wanted += PoolSchema.objects.values_list("schema_name", flat=True)
    wanted += (
        Institution.objects.exclude(schema_name="public")
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [wanted])
        existing = {row[0] for row in cursor.fetchall()}
    return [name for name in wanted if name in existing]
