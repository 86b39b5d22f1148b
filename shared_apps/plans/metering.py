"""Usage metering: recount what an institution uses from its own schema into
its usage row in the public schema, correcting whatever drift the counters
that `limits` moves may have gathered, and record its last activity.

The nightly task and the operator's "measure now" run it; `limits` runs it
once to create an institution's row.
"""

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import User
from tenant_apps.audit.models import AuditEvent
from tenant_apps.courses.models import Course
from tenant_apps.files.models import StoredFile

from .limits import public_tables


def usage_counts() -> dict:
    """What the institution whose schema the connection is in uses: active,
    not deleted accounts (a suspended one keeps its seat: it may come back),
    courses not deleted, bytes of live files, and the latest sign-in or
    audited event."""
    last_login = User.objects.aggregate(at=Max("last_login"))["at"]
    last_event = AuditEvent.objects.aggregate(at=Max("created_at"))["at"]
    return {
        "users": User.objects.filter(is_active=True, deleted_at__isnull=True).count(),
        "courses": Course.objects.filter(deleted_at__isnull=True).count(),
        "storage_bytes": StoredFile.objects.filter(deleted_at__isnull=True).aggregate(
            total=Sum("file_size_bytes")
        )["total"]
        or 0,
        "last_activity_at": max((at for at in (last_login, last_event) if at), default=None),
    }


@transaction.atomic
def usage_measure(*, institution):
    """Recount `institution`'s usage and store it; returns its InstitutionUsage.

    Idempotent. The usage row is locked before counting, in this transaction:
    a creation that reserved before us has committed by the time we count (we
    waited for its lock), and one that reserves after us waits and adds to
    our count, so a recount never loses a concurrent reservation.
    """
    usage_table, _, _ = public_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {usage_table} (institution_id, users, courses, storage_bytes, updated_at)
            VALUES (%s, 0, 0, 0, now())
            ON CONFLICT (institution_id) DO NOTHING
            """,  # noqa: S608
            [institution.pk],
        )
        cursor.execute(
            f"SELECT 1 FROM {usage_table} WHERE institution_id = %s FOR UPDATE",  # noqa: S608
            [institution.pk],
        )
    with tenant_context(institution):
        counts = usage_counts()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {usage_table}
               SET users = %s, courses = %s, storage_bytes = %s,
                   last_activity_at = %s, measured_at = %s, updated_at = now()
             WHERE institution_id = %s
            """,  # noqa: S608
            [
                counts["users"],
                counts["courses"],
                counts["storage_bytes"],
                counts["last_activity_at"],
                timezone.now(),
                institution.pk,
            ],
        )
    # Looked up by name: tenant apps reach this module through plans.api, and
    # must not depend on the public models, even indirectly (import-linter).
    return apps.get_model("plans", "InstitutionUsage").objects.get(pk=institution.pk)
