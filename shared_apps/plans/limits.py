"""Plan limits: check, reserve and release what an institution uses against
what its plan allows (docs/decisions/0007-plans-billing-and-limits.md).

A reservation is one conditional UPDATE of the institution's usage row in the
public schema, run on the caller's connection inside the transaction that
creates what it counts: the limit (the institution's override, else its
plan's; NULL is unlimited) is read in the same statement, so a plan change
applies at once, and the row lock it takes makes concurrent creations in one
institution queue until the first one commits or rolls back. Zero rows
updated is the refusal, 403 `plan_limit_reached`.

This module talks SQL to the public tables rather than importing their
models: tenant apps reach it through `shared_apps.plans.api`, and
import-linter keeps them from depending on public-schema models even
indirectly. The tenant connection's search path is "<schema>, public"; the
tables are named with their schema all the same, so no tenant table could
ever shadow them. Every identifier put into SQL here comes from this module's
own constants, never from input (hence the `noqa: S608`).
"""

import json

from django.db import connection, models
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_exists
from rest_framework import status

from conceptspro.api import ApplicationError

PLAN_LIMIT_REACHED = "plan_limit_reached"
INSTITUTION_READ_ONLY = "institution_read_only"


class LimitKind(models.TextChoices):
    USERS = "users", "Users"
    COURSES = "courses", "Courses"
    STORAGE_BYTES = "storage_bytes", "Storage"


class PlanFeature(models.TextChoices):
    """The plan's feature names (shared_apps.plans.models.Feature; a test keeps
    them equal), labelled as a refusal says them. Here so that tenant apps
    need not import the models."""

    SSO = "sso", "single sign-on"
    ANALYTICS = "analytics", "analytics"
    CUSTOM_DOMAIN = "custom_domain", "a custom domain"
    API_ACCESS = "api_access", "API access"


# kind -> (usage column, limit column of the institution and of the plan)
_COLUMNS = {
    LimitKind.USERS: ("users", "max_users"),
    LimitKind.COURSES: ("courses", "max_courses"),
    LimitKind.STORAGE_BYTES: ("storage_bytes", "max_storage_bytes"),
}


def public_tables() -> tuple[str, str, str]:
    public = connection.ops.quote_name(get_public_schema_name())
    return (
        f"{public}.plans_institutionusage",
        f"{public}.institutions_institution",
        f"{public}.plans_plan",
    )


def current_institution_id():
    """The id of the institution the connection is in (a request routed to
    it, or a `tenant_context`); a RuntimeError on the public schema."""
    tenant = getattr(connection, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        raise RuntimeError("plan limits apply inside an institution's schema only")
    return tenant.pk


def _columns(kind: str) -> tuple[str, str]:
    try:
        return _COLUMNS[LimitKind(kind)]
    except ValueError:
        raise ValueError(f"unknown limit kind: {kind!r}") from None


def _state(institution_id, kind: str) -> dict | None:
    """The usage, effective limit, plan name and read-only moment of one kind,
    or None while the institution has no usage row yet."""
    usage_table, institution_table, plan_table = public_tables()
    used, limit = _columns(kind)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT u.{used}, COALESCE(i.{limit}, p.{limit}), p.name, i.read_only_at
              FROM {usage_table} u
              JOIN {institution_table} i ON i.id = u.institution_id
              LEFT JOIN {plan_table} p ON p.id = i.plan_id
             WHERE u.institution_id = %s
            """,  # noqa: S608
            [institution_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return {"usage": row[0], "max": row[1], "plan": row[2] or "", "read_only_at": row[3]}


def _usage_row_ensure() -> None:
    """Create the usage row by measuring the institution once, so an
    institution that existed before its row starts from true counts."""
    # Imported here: metering reads the tenant apps' models, and the tenant
    # apps import this module.
    from .metering import usage_measure

    usage_measure(institution=connection.tenant)


def _quantity(kind: str, amount: int) -> str:
    if kind == LimitKind.STORAGE_BYTES:
        return filesizeformat(amount).replace("\xa0", " ")
    noun = {LimitKind.USERS: "user", LimitKind.COURSES: "course"}[LimitKind(kind)]
    return f"{amount} {noun}{'' if amount == 1 else 's'}"


def _limit_message(*, kind: str, state: dict, requested: int, pending: int) -> str:
    plan = f"Your plan ({state['plan']})" if state["plan"] else "Your institution's plan"
    allows = _quantity(kind, state["max"])
    if kind == LimitKind.STORAGE_BYTES:
        allows += " of storage"
    used = state["usage"]
    if kind == LimitKind.STORAGE_BYTES:
        in_use = f"{_quantity(kind, used)} {'is' if used == 1 else 'are'} in use"
    else:
        in_use = f"{used} {'is' if used == 1 else 'are'} in use"
    if pending:
        in_use += f" and {pending} more {'is' if pending == 1 else 'are'} invited"
    asked = ""
    if requested != 1 or kind == LimitKind.STORAGE_BYTES:
        asked = f", so {_quantity(kind, requested)} more would not fit"
    return (
        f"{plan} allows {allows}; {in_use}{asked}. Ask your institution's administrator to upgrade."
    )


def _limit_refusal(*, kind: str, state: dict, requested: int, pending: int = 0):
    limit = {
        "kind": str(kind),
        "max": state["max"],
        "usage": state["usage"],
        "requested": requested,
        "plan": state["plan"],
    }
    if pending:
        limit["pending"] = pending
    return ApplicationError(
        _limit_message(kind=kind, state=state, requested=requested, pending=pending),
        code=PLAN_LIMIT_REACHED,
        status=status.HTTP_403_FORBIDDEN,
        extra={"limit": limit},
    )


def read_only_refusal(*, name: str, read_only_at) -> ApplicationError:
    """What a write gets once an institution's grace period has run out."""
    return ApplicationError(
        f"{name or 'This institution'} is read-only: its subscription payment is "
        "overdue. You can still sign in and read everything; an administrator must "
        "update the payment details before anything can be changed.",
        code=INSTITUTION_READ_ONLY,
        status=status.HTTP_403_FORBIDDEN,
        extra={"read_only_at": read_only_at.isoformat()},
    )


def _refusal(kind: str, state: dict, requested: int) -> ApplicationError:
    read_only_at = state["read_only_at"]
    if read_only_at is not None and read_only_at <= timezone.now():
        name = getattr(getattr(connection, "tenant", None), "name", "")
        return read_only_refusal(name=name, read_only_at=read_only_at)
    return _limit_refusal(kind=kind, state=state, requested=requested)


def _reserved(institution_id, kind: str, amount: int) -> bool:
    """The conditional UPDATE: True if `amount` more fitted and were counted."""
    usage_table, institution_table, plan_table = public_tables()
    used, limit = _columns(kind)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {usage_table} u
               SET {used} = u.{used} + %(amount)s, updated_at = now()
              FROM {institution_table} i
              LEFT JOIN {plan_table} p ON p.id = i.plan_id
             WHERE u.institution_id = %(institution)s
               AND i.id = u.institution_id
               AND (i.read_only_at IS NULL OR i.read_only_at > now())
               AND (COALESCE(i.{limit}, p.{limit}) IS NULL
                    OR u.{used} + %(amount)s <= COALESCE(i.{limit}, p.{limit}))
            """,  # noqa: S608
            {"amount": amount, "institution": institution_id},
        )
        return cursor.rowcount == 1


def usage_reserve(*, kind: str, amount: int = 1) -> None:
    """Count `amount` more of `kind` for the current institution, or raise 403
    `plan_limit_reached` (`institution_read_only` once it is read-only).

    Call it inside the transaction that creates what it counts, before the
    rows are written (the first call in an institution measures it, and must
    not find the new rows already there). The usage row stays locked until
    that transaction ends: a concurrent creation waits, then sees the count
    this one left."""
    if amount <= 0:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("reserve inside the transaction that creates what it counts")
    institution_id = current_institution_id()
    if _reserved(institution_id, kind, amount):
        return
    state = _state(institution_id, kind)
    if state is None:
        _usage_row_ensure()
        if _reserved(institution_id, kind, amount):
            return
        state = _state(institution_id, kind)
    raise _refusal(kind, state, amount)


def usage_release(*, kind: str, amount: int = 1) -> None:
    """Count `amount` fewer of `kind` for the current institution (never below
    zero), in the transaction that deletes what it counts. Without a usage row
    there is nothing to release: its first measurement will count true."""
    if amount <= 0:
        return
    usage_table, _, _ = public_tables()
    used, _ = _columns(kind)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {usage_table}
               SET {used} = GREATEST({used} - %s, 0), updated_at = now()
             WHERE institution_id = %s
            """,  # noqa: S608
            [amount, current_institution_id()],
        )


def limit_check(*, kind: str, adding: int, also_counting: int = 0) -> None:
    """Raise 403 `plan_limit_reached` unless `adding` more of `kind` fit beside
    the current usage and `also_counting` (what is promised but not counted
    yet: open invitations are seats). Nothing is reserved; the creation that
    follows later reserves (an invitation is checked here, its acceptance
    reserves)."""
    institution_id = current_institution_id()
    state = _state(institution_id, kind)
    if state is None:
        _usage_row_ensure()
        state = _state(institution_id, kind)
    read_only_at = state["read_only_at"]
    if read_only_at is not None and read_only_at <= timezone.now():
        raise _refusal(kind, state, adding)
    if adding <= 0 or state["max"] is None:
        return
    if state["usage"] + also_counting + adding > state["max"]:
        raise _limit_refusal(kind=kind, state=state, requested=adding, pending=also_counting)


def _plan_row(institution_id) -> tuple[str, str, dict]:
    """(plan code, plan name, features) of the institution; codes empty without a plan."""
    _, institution_table, plan_table = public_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT p.code, p.name, p.features
              FROM {institution_table} i
              LEFT JOIN {plan_table} p ON p.id = i.plan_id
             WHERE i.id = %s
            """,  # noqa: S608
            [institution_id],
        )
        code, name, features = cursor.fetchone()
    # Django's PostgreSQL backend hands jsonb back as text (JSONField decodes it).
    return code or "", name or "", json.loads(features) if features else {}


def _included(code: str, features: dict, feature: str) -> bool:
    # An institution without a plan is not limited: its limits are unlimited too.
    return not code or features.get(feature) is True


def feature_require(feature: str) -> None:
    """Raise 403 `plan_limit_reached` unless the current institution's plan
    includes `feature` (read fresh, so a plan change applies at once)."""
    feature = PlanFeature(feature)
    code, name, features = _plan_row(current_institution_id())
    if _included(code, features, feature):
        return
    raise ApplicationError(
        f"Your plan ({name}) does not include {feature.label}. "
        "Ask your institution's administrator to upgrade.",
        code=PLAN_LIMIT_REACHED,
        status=status.HTTP_403_FORBIDDEN,
        extra={
            "limit": {"kind": "feature", "feature": str(feature), "included": False, "plan": name}
        },
    )


def plan_limits_and_usage(institution=None) -> dict:
    """The plan, effective limits (None: unlimited), usage and features of
    `institution` (default: the one the connection is in), for pages and
    endpoints that show them. An institution without a usage row is measured
    first, if its schema exists; one not provisioned yet shows zero usage."""
    institution = institution or connection.tenant
    usage_table, institution_table, plan_table = public_tables()
    limits = ", ".join(f"COALESCE(i.{limit}, p.{limit})" for _, limit in _COLUMNS.values())
    query = f"""
        SELECT {limits}, u.users, u.courses, u.storage_bytes, u.measured_at,
               u.last_activity_at, u.institution_id IS NOT NULL
          FROM {institution_table} i
          LEFT JOIN {plan_table} p ON p.id = i.plan_id
          LEFT JOIN {usage_table} u ON u.institution_id = i.id
         WHERE i.id = %s
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(query, [institution.pk])
        row = cursor.fetchone()
    if not row[-1] and schema_exists(institution.schema_name):
        from .metering import usage_measure

        usage_measure(institution=institution)
        with connection.cursor() as cursor:
            cursor.execute(query, [institution.pk])
            row = cursor.fetchone()
    code, name, features = _plan_row(institution.pk)
    kinds = list(_COLUMNS)
    return {
        "plan": {"code": code, "name": name} if code else None,
        "limits": {str(kind): row[index] for index, kind in enumerate(kinds)},
        "usage": {str(kind): row[len(kinds) + index] or 0 for index, kind in enumerate(kinds)},
        "features": {feature: _included(code, features, feature) for feature in PlanFeature.values},
        "measured_at": row[6],
        "last_activity_at": row[7],
    }
