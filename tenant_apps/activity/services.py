"""Recording activity."""

from datetime import datetime

from django.db import connection, transaction
from django.http import HttpRequest

from tenant_apps.audit.api import client_ip, client_user_agent

from .models import ActivityLog, ActivityType


def activity_record(
    *,
    user,
    activity_type: ActivityType | str,
    entity_type: str = "",
    entity_id=None,
    course_id=None,
    metadata: dict | None = None,
    request: HttpRequest | None = None,
) -> ActivityLog:
    """One row in the activity log. With `request`, the client's address (as
    the trusted proxies forwarded it) and user agent are kept too."""
    return ActivityLog.objects.create(
        user=user,
        activity_type=activity_type,
        entity_type=entity_type,
        entity_id=entity_id,
        course_id=course_id,
        metadata=metadata or {},
        ip_address=client_ip(request),
        user_agent=client_user_agent(request),
    )


@transaction.atomic
def activity_purge_batch(*, before: datetime, batch_size: int = 5000) -> int:
    """Delete up to `batch_size` of the oldest entries older than `before`, in
    one short transaction; how many went (fewer than `batch_size`: none are
    left). Rows another purge is deleting at the same moment are skipped
    (SKIP LOCKED), so two purges share the work instead of queueing. Repeating
    it is harmless: the retention purge loops over it."""
    table = ActivityLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN ("  # noqa: S608 - our table name
            f"SELECT id FROM {table} WHERE created_at < %s "
            "ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)",
            [before, batch_size],
        )
        return cursor.rowcount
