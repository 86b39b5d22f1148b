"""Creating, copying and dropping institution schemas.

Three ways to build a schema with every tenant table, fastest first:

- claim one from the warm pool (see pool.py): a rename;
- the cold path, `schema_create_from_template`: the `_template` schema's
  catalog, read once per migration state, replayed as one SQL batch in one
  transaction, with the template's seed rows (migration records, content
  types, permissions) and sequence positions copied server-side;
- the migrate path, `schema_create_by_migrations`: Django migrations replayed
  in the new schema. It is the reference: tests compare the other two to it.

The template itself is made and kept current by the migrate path, so the cold
path can never drift from migrations without the catalog test noticing.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.management import call_command
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django_tenants.utils import schema_exists

TEMPLATE_SCHEMA = "_template"
POOL_PREFIX = "_pool_"

# Advisory lock keys. TEMPLATE_LOCK: exclusive while the template or any schema
# is migrated; cold copies hold it shared for their transaction, so no copy of
# an old template can commit after a migration listed the schemas to migrate.
# POOL_LOCK: one top-up at a time. CLAIM_LOCK: claims hold it shared (try-only),
# migrations exclusive, so no pool schema is renamed under a running migration.
TEMPLATE_LOCK = "provisioning:template"
POOL_LOCK = "provisioning:pool"
CLAIM_LOCK = "provisioning:pool-claim"
_NEW = "\x00schema\x00"  # stands for the quoted new schema's name in a captured script


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


@contextmanager
def advisory_lock(key: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold a session-level PostgreSQL advisory lock for the block.

    Yields whether it was acquired: always True when waiting, and False
    without waiting when another session holds it. Session-level: use it
    outside transactions, on a connection nothing closes meanwhile.
    """
    function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(hashtext(%s))", [key])
        acquired = wait or cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
            except DatabaseError:
                # A dead connection or an aborted transaction: ending the
                # session is what releases its locks for the other workers.
                connection.close()


def schema_migration_state(schema_name: str) -> str | None:
    """A digest of the migrations applied in a schema; None if it has none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass(%s) IS NOT NULL", [f"{quote(schema_name)}.django_migrations"]
        )
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(
            f"SELECT string_agg(app || '.' || name, ',' ORDER BY app, name) "  # noqa: S608
            f"FROM {quote(schema_name)}.django_migrations"
        )
        applied = cursor.fetchone()[0] or ""
    return hashlib.sha256(applied.encode()).hexdigest()[:16]


def _has_unapplied_migrations(schema_name: str) -> bool:
    previous = connection.tenant
    connection.set_schema(schema_name, include_public=False)
    try:
        executor = MigrationExecutor(connection)
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    finally:
        connection.set_tenant(previous)


def schema_create_by_migrations(schema_name: str) -> None:
    """The reference path: an empty schema, then every migration replayed in it."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema_name)}")
    schema_migrate(schema_name)


def schema_migrate(schema_name: str, *, verbosity: int = 0, stdout=None) -> None:
    """Apply every pending migration in one schema.

    Like django-tenants' per-schema migration, but the connection stays open:
    the caller's advisory locks live on it.
    """
    previous = connection.tenant
    # The migration table must be created in this schema, not found in public.
    connection.set_schema(schema_name, include_public=False)
    MigrationRecorder(connection).ensure_schema()
    connection.set_schema(schema_name)
    try:
        call_command(
            MigrateCommand(),
            interactive=False,
            verbosity=verbosity,
            stdout=stdout,
            skip_checks=True,
        )
    finally:
        connection.set_tenant(previous)


def schema_drop(schema_name: str) -> None:
    with connection.cursor() as cursor:
        # Rows written earlier in this transaction may still have deferred
        # foreign-key checks queued, and PostgreSQL refuses to drop a table with
        # pending trigger events: run the checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema_name)} CASCADE")


_verified_template_state: str | None = None


def template_ensure() -> str:
    """Make sure `_template` exists with every migration applied; its state digest.

    Checked against the code's migrations once per process and per state; after
    that, one cheap query per call. When the template has to be built or
    migrated, call it outside a transaction (provisioning does, before its
    steps), so that the work is committed before the lock is released.
    """
    global _verified_template_state
    state = schema_migration_state(TEMPLATE_SCHEMA)
    if state is not None and state == _verified_template_state:
        return state
    with advisory_lock(TEMPLATE_LOCK):
        if not schema_exists(TEMPLATE_SCHEMA) or _has_unapplied_migrations(TEMPLATE_SCHEMA):
            schema_create_by_migrations(TEMPLATE_SCHEMA)
        state = schema_migration_state(TEMPLATE_SCHEMA)
    _verified_template_state = state
    return state


@dataclass(frozen=True)
class CapturedSchema:
    """The template's catalog as one SQL script, for one migration state."""

    state: str
    script: str

    def render(self, schema_name: str) -> str:
        return self.script.replace(_NEW, quote(schema_name))


_captured: dict[str, CapturedSchema] = {}


def schema_create_from_template(schema_name: str) -> None:
    """The cold path: the template's tables, indexes, constraints and seed rows,
    created in one transaction. Either the whole schema exists afterwards or,
    after any failure, none of it does."""
    template_ensure()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s))", [TEMPLATE_LOCK])
        state = schema_migration_state(TEMPLATE_SCHEMA)  # current: read under the lock
        captured = _captured.get(state)
        if captured is None:
            captured = _captured[state] = capture_template(state)
        cursor.execute(captured.render(schema_name))
    # The script changed search_path for its transaction; django-tenants must set it again.
    connection.search_path_set_schemas = None


def capture_template(state: str) -> CapturedSchema:
    """Read the template schema's catalog into a replayable script."""
    with transaction.atomic(), connection.cursor() as cursor:
        # With only the template on the search path, the catalog's deparse
        # functions print names unqualified, so the script works in any schema.
        cursor.execute(f"SET LOCAL search_path TO {quote(TEMPLATE_SCHEMA)}")
        script = _Catalog(cursor, TEMPLATE_SCHEMA).script()
    connection.search_path_set_schemas = None
    return CapturedSchema(state=state, script=script)


class UnsupportedSchemaObject(Exception):
    """The template holds a kind of object the cold path does not copy."""


class _Catalog:
    def __init__(self, cursor, schema: str):
        self.cursor = cursor
        self.schema = schema

    def rows(self, sql: str) -> list[tuple]:
        self.cursor.execute(sql, {"schema": self.schema})
        return self.cursor.fetchall()

    def script(self) -> str:
        self._refuse_unsupported()
        parts = [f"CREATE SCHEMA {_NEW}", f"SET LOCAL search_path TO {_NEW}"]
        parts += self._sequences()
        parts += self._tables()
        parts += self._constraints(foreign=False)
        parts += self._indexes()
        parts += self._seed_rows()
        parts += self._sequence_positions()
        parts += self._constraints(foreign=True)
        parts += self._views()
        parts += self._triggers()
        return ";\n".join(parts) + ";\n"

    def _refuse_unsupported(self) -> None:
        found = self.rows(
            """
            SELECT 'function ' || p.proname FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(schema)s
            UNION ALL
            SELECT 'type ' || t.typname FROM pg_type t
              JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = %(schema)s AND t.typtype IN ('e', 'd', 'r', 'm')
            UNION ALL
            SELECT 'relation ' || c.relname FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %(schema)s AND c.relkind IN ('m', 'f', 'c')
            """
        )
        if found:
            names = ", ".join(row[0] for row in found)
            raise UnsupportedSchemaObject(
                f"The cold path does not copy these template objects yet: {names}. "
                "Teach provisioning/schemas.py to, and the catalog test will confirm it."
            )

    def _sequences(self) -> list[str]:
        # Sequences other than identity columns' own (those come with their tables).
        rows = self.rows(
            """
            SELECT quote_ident(c.relname), format_type(s.seqtypid, NULL), s.seqstart,
                   s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
              FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %(schema)s
               AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                WHERE d.objid = c.oid AND d.deptype = 'i')
             ORDER BY c.relname
            """
        )
        return [
            f"CREATE SEQUENCE {name} AS {typ} {_sequence_options(*options)}"
            for name, typ, *options in rows
        ]

    def _tables(self) -> list[str]:
        rows = self.rows(
            """
            SELECT quote_ident(c.relname), quote_ident(a.attname),
                   format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
                   CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
                        THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                                FROM pg_collation co
                                JOIN pg_namespace cn ON cn.oid = co.collnamespace
                               WHERE co.oid = a.attcollation) END,
                   s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                   quote_ident(sc.relname)
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_type t ON t.oid = a.atttypid
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              LEFT JOIN pg_depend dep ON a.attidentity <> '' AND dep.refobjid = c.oid
                   AND dep.refobjsubid = a.attnum AND dep.deptype = 'i'
                   AND dep.classid = 'pg_class'::regclass
              LEFT JOIN pg_class sc ON sc.oid = dep.objid
              LEFT JOIN pg_sequence s ON s.seqrelid = dep.objid
             WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')
               AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY c.relname, a.attnum
            """
        )
        tables: dict[str, list[str]] = {}
        for table, column, typ, notnull, default, identity, generated, collation, *seq in rows:
            definition = f"{column} {typ}"
            if collation:
                definition += f" COLLATE {collation}"
            if generated == "s":
                definition += f" GENERATED ALWAYS AS ({default}) STORED"
            elif default is not None:
                definition += f" DEFAULT {default}"
            if identity:
                kind = "ALWAYS" if identity == "a" else "BY DEFAULT"
                *options, seq_name = seq
                definition += (
                    f" GENERATED {kind} AS IDENTITY"
                    f" (SEQUENCE NAME {seq_name} {_sequence_options(*options)})"
                )
            if notnull:
                definition += " NOT NULL"
            tables.setdefault(table, []).append(definition)
        self.tables = tables
        return [f"CREATE TABLE {t} ({', '.join(cols)})" for t, cols in tables.items()]

    def _constraints(self, *, foreign: bool) -> list[str]:
        kinds = "('f')" if foreign else "('p', 'u', 'c', 'x')"
        rows = self.rows(
            f"""
            SELECT quote_ident(c.relname), quote_ident(con.conname),
                   pg_get_constraintdef(con.oid)
              FROM pg_constraint con
              JOIN pg_class c ON c.oid = con.conrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %(schema)s AND con.contype IN {kinds}
             ORDER BY c.relname, con.conname
            """  # noqa: S608
        )
        return [f"ALTER TABLE {t} ADD CONSTRAINT {name} {d}" for t, name, d in rows]

    def _indexes(self) -> list[str]:
        rows = self.rows(
            """
            SELECT pg_get_indexdef(i.indexrelid)
              FROM pg_index i
              JOIN pg_class ic ON ic.oid = i.indexrelid
              JOIN pg_namespace n ON n.oid = ic.relnamespace
             WHERE n.nspname = %(schema)s
               AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                                WHERE con.conindid = i.indexrelid
                                  AND con.conrelid = i.indrelid
                                  AND con.contype IN ('p', 'u', 'x'))
             ORDER BY ic.relname
            """
        )
        return [self._unqualified(row[0]) for row in rows]

    def _unqualified(self, definition: str) -> str:
        # pg_get_indexdef and pg_get_triggerdef always qualify the table name,
        # whatever the search path.
        self.cursor.execute("SELECT quote_ident(%s)", [self.schema])
        qualifier = f" ON {self.cursor.fetchone()[0]}."
        return definition.replace(qualifier, " ON ", 1)

    def _seed_rows(self) -> list[str]:
        statements = []
        template = quote(self.schema)
        for table in self.tables:
            self.cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608
            if not self.cursor.fetchone()[0]:
                continue
            columns = self.rows(
                f"""
                SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                  FROM pg_attribute a
                 WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0
                   AND NOT a.attisdropped AND a.attgenerated = ''
                """  # noqa: S608
            )[0][0]
            statements.append(
                f"INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE "  # noqa: S608
                f"SELECT {columns} FROM {template}.{table}"
            )
        return statements

    def _sequence_positions(self) -> list[str]:
        rows = self.rows(
            """
            SELECT quote_ident(sequencename), last_value
              FROM pg_sequences WHERE schemaname = %(schema)s AND last_value IS NOT NULL
             ORDER BY sequencename
            """
        )
        return [f"SELECT setval('{_NEW}.{name}', {last_value}, true)" for name, last_value in rows]

    def _views(self) -> list[str]:
        rows = self.rows(
            """
            SELECT quote_ident(c.relname), pg_get_viewdef(c.oid)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %(schema)s AND c.relkind = 'v' ORDER BY c.oid
            """
        )
        return [f"CREATE VIEW {name} AS {definition.rstrip(';')}" for name, definition in rows]

    def _triggers(self) -> list[str]:
        rows = self.rows(
            """
            SELECT pg_get_triggerdef(t.oid)
              FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = %(schema)s AND NOT t.tgisinternal ORDER BY t.tgname
            """
        )
        return [self._unqualified(row[0]) for row in rows]


def _sequence_options(start, increment, minimum, maximum, cache, cycle) -> str:
    return (
        f"START WITH {start} INCREMENT BY {increment} MINVALUE {minimum} "
        f"MAXVALUE {maximum} CACHE {cache} {'CYCLE' if cycle else 'NO CYCLE'}"
    )
