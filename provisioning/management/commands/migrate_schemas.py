"""django-tenants' migrate_schemas, which also migrates the template and the
warm pool's schemas, so that neither lags behind the institutions' schemas."""

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.migration_executors import get_executor
from django_tenants.utils import schema_exists

from provisioning.models import PoolSchema
from provisioning.schemas import TEMPLATE_SCHEMA, schema_migration_state


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options):
        super().handle(*args, **options)
        # super() sets self.schema_name to "public" when none was named: read the option.
        if not self.sync_tenant or options.get("schema_name"):
            return
        extra = [TEMPLATE_SCHEMA] if schema_exists(TEMPLATE_SCHEMA) else []
        pool = list(PoolSchema.objects.all())
        extra += [entry.schema_name for entry in pool]
        if not extra:
            return
        executor = get_executor(codename=self.executor)(self.args, self.options)
        executor.run_migrations(tenants=extra)
        for entry in pool:
            entry.migration_state = schema_migration_state(entry.schema_name) or ""
            entry.save(update_fields=["migration_state"])
