"""The warm pool: ready schemas, claimed by renaming.

Claiming is one transaction: lock a ready pool row (SKIP LOCKED, so concurrent
sign-ups each get their own), `ALTER SCHEMA ... RENAME`, delete the row. Either
the institution has its schema and the pool row is gone, or nothing changed.
"""

import uuid

from django.conf import settings
from django.db import connection, transaction

from .models import PoolSchema
from .schemas import (
    CLAIM_LOCK,
    POOL_LOCK,
    POOL_PREFIX,
    advisory_lock,
    quote,
    schema_create_from_template,
    schema_drop,
    template_ensure,
)


def pool_claim(*, schema_name: str) -> bool:
    """Give a ready pool schema the name `schema_name`; False when the pool is empty."""
    state = template_ensure()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Shared with other claims; unavailable while a migration runs, and
            # then the caller takes the cold path instead of waiting.
            cursor.execute("SELECT pg_try_advisory_xact_lock_shared(hashtext(%s))", [CLAIM_LOCK])
            if not cursor.fetchone()[0]:
                return False
        entry = (
            PoolSchema.objects.select_for_update(skip_locked=True)
            .filter(migration_state=state)
            .order_by("created_at")
            .first()
        )
        if entry is None:
            return False
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER SCHEMA {quote(entry.schema_name)} RENAME TO {quote(schema_name)}"
            )
        entry.delete()
    return True


def pool_top_up(*, size: int | None = None) -> int:
    """Bring the pool to `size` ready schemas; drops schemas left behind by a
    migration (their state no longer matches). Returns how many were added;
    0 at once if another top-up is running."""
    size = settings.PROVISIONING_POOL_SIZE if size is None else size
    added = 0
    with advisory_lock(POOL_LOCK, wait=False) as acquired:
        if not acquired:
            return 0
        state = template_ensure()
        for stale in PoolSchema.objects.exclude(migration_state=state):
            pool_discard(stale)
        missing = size - PoolSchema.objects.filter(migration_state=state).count()
        for _ in range(max(missing, 0)):
            name = f"{POOL_PREFIX}{uuid.uuid4().hex[:12]}"
            with transaction.atomic():
                schema_create_from_template(name)
                PoolSchema.objects.create(schema_name=name, migration_state=state)
            added += 1
    return added


def pool_discard(entry: PoolSchema) -> None:
    with transaction.atomic():
        schema_drop(entry.schema_name)
        entry.delete()
