"""A schema's catalog as comparable data: tables, columns, constraints, indexes,
sequences, views, triggers and seed rows, with the schema's own name left out.

Two schemas built different ways (migrations, template copy, pool) must give
equal fingerprints; tests hold the fast paths to the migrate path with it.
"""

import re

from django.db import connection, transaction

# PostgreSQL's deparsed SQL is not a fixed point of its parser: a predicate that
# migrations wrote as `col IN ('a', 'b')` prints as `ANY ((ARRAY['a'::varchar,
# ...])::text[])`, and that text, replayed by the cold path, parses into the
# equivalent `ANY (ARRAY[('a'::varchar)::text, ...])`. Both spellings are
# brought to one form before comparing; the rows they admit are the same.
_ELEMENT_CAST = re.compile(r"\(('(?:[^']|'')*'::character varying)\)::text\b")
_ARRAY_CAST = re.compile(r"\((ARRAY\[[^\]]*\])\)::text\[\]")


def _canonical_array_casts(definition: str) -> str:
    return _ARRAY_CAST.sub(r"\1", _ELEMENT_CAST.sub(r"\1", definition))


_QUERIES = {
    "tables": """
        SELECT c.relname, c.relkind FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    """,
    "columns": """
        SELECT c.relname,
               -- the position among live columns: a migrated schema keeps dropped
               -- columns' numbers as gaps that a fresh copy does not have
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
               a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity,
               a.attgenerated, a.attcollation
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p', 'v')
           AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "constraints": """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid),
               con.condeferrable, con.condeferred, con.convalidated
          FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(s)s
    """,
    "indexes": """
        SELECT ic.relname, regexp_replace(pg_get_indexdef(i.indexrelid),
                                          ' ON [^ ]+\\.', ' ON '),
               i.indisunique, i.indisprimary
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_namespace n ON n.oid = ic.relnamespace
         WHERE n.nspname = %(s)s
    """,
    "sequences": """
        SELECT sequencename, data_type::text, start_value, min_value, max_value,
               increment_by, cycle, cache_size, last_value
          FROM pg_sequences WHERE schemaname = %(s)s
    """,
    "sequence_owners": """
        SELECT sc.relname, d.deptype, tc.relname, d.refobjsubid
          FROM pg_depend d
          JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
          JOIN pg_namespace n ON n.oid = sc.relnamespace
          JOIN pg_class tc ON tc.oid = d.refobjid
         WHERE n.nspname = %(s)s AND d.classid = 'pg_class'::regclass
           AND d.refclassid = 'pg_class'::regclass
    """,
    "views": """
        SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(s)s AND c.relkind = 'v'
    """,
    "triggers": """
        SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %(s)s AND NOT t.tgisinternal
    """,
}


def schema_fingerprint(schema_name: str) -> dict[str, list]:
    """Everything in the catalog about `schema_name`, sorted, plus its rows."""
    fingerprint: dict[str, list] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        # With only this schema on the search path, references inside it print
        # unqualified and references to any other schema print qualified.
        cursor.execute(f"SET LOCAL search_path TO {connection.ops.quote_name(schema_name)}")
        for name, sql in _QUERIES.items():
            cursor.execute(sql, {"s": schema_name})
            rows = cursor.fetchall()
            if name in ("indexes", "constraints"):
                rows = [
                    tuple(_canonical_array_casts(v) if isinstance(v, str) else v for v in row)
                    for row in rows
                ]
            fingerprint[name] = sorted(rows, key=repr)
        fingerprint["rows"] = _rows(cursor, schema_name)
    connection.search_path_set_schemas = None  # django-tenants sets it again
    return fingerprint


def _rows(cursor, schema_name: str) -> list:
    """Every table's rows; `django_migrations.applied` is when, not what, so it is left out."""
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname
        """,
        [schema_name],
    )
    rows = []
    schema = connection.ops.quote_name(schema_name)
    for (table,) in cursor.fetchall():
        quoted = connection.ops.quote_name(table)
        columns = "app, name" if table == "django_migrations" else "*"
        cursor.execute(f"SELECT {columns} FROM {schema}.{quoted}")  # noqa: S608
        rows.append((table, sorted(map(repr, cursor.fetchall()))))
    return rows
