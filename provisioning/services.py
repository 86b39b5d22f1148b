"""Institution lifecycle: create, provision, suspend, reactivate, export, delete.

Provisioning runs as named steps. Each step is idempotent (it checks what is
already there) and the schema step is one transaction, so after a failure at
any point a retry picks up where it stopped and finishes the institution.
"""

import json
import time
from collections.abc import Callable
from datetime import timedelta

import structlog
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import (
    get_public_schema_name,
    schema_context,
    schema_exists,
    tenant_context,
)

from shared_apps.institutions.models import (
    Domain,
    Institution,
    SuspensionCause,
    schema_name_for_slug,
)
from shared_apps.plans.models import Interval, Plan
from shared_apps.plans.selectors import plan_default
from shared_apps.subscriptions.services import subscription_start
from tenant_apps.accounts.api import Role, user_ensure

from .models import ProvisioningJob
from .pool import pool_claim
from .schemas import (
    advisory_lock,
    schema_create_by_migrations,
    schema_create_from_template,
    schema_drop,
    template_ensure,
)

log = structlog.get_logger(__name__)

DEFAULT_INSTITUTION_SETTINGS = {
    "timezone": "UTC",
    "locale": "en-US",
    "self_registration": False,
    "password_login": True,
    "require_mfa_for_staff": False,
}


def institution_create(
    *,
    name: str,
    slug: str,
    admin_email: str,
    admin_password: str,
    admin_first_name: str = "",
    admin_last_name: str = "",
    plan: Plan | None = None,
    timezone: str = "UTC",
    interval: str = Interval.MONTH,
    awaiting_payment: bool = False,
    enqueue: bool = True,
) -> Institution:
    """Record a new institution (status pending) and queue its provisioning.

    `awaiting_payment`: the address is held (status awaiting_payment) and
    nothing is provisioned until `institution_payment_received`.

    Raises ValidationError with errors by field; nothing is stored then.
    """
    slug = slug.strip().lower()
    errors: dict[str, list[ValidationError]] = {}
    institution = Institution(
        name=name.strip(),
        slug=slug,
        schema_name=schema_name_for_slug(slug),
        plan=plan or plan_default(),
        timezone=timezone,
        status=Institution.Status.AWAITING_PAYMENT
        if awaiting_payment
        else Institution.Status.PENDING,
    )
    try:
        institution.full_clean(exclude=["schema_name"], validate_unique=False)
    except ValidationError as exc:
        errors.update(exc.error_dict)
    if "slug" not in errors and (
        Institution.objects.filter(schema_name=institution.schema_name).exists()
        or schema_exists(institution.schema_name)
    ):
        errors["slug"] = [ValidationError("This address is taken.", code="taken")]
    try:
        validate_email(admin_email)
    except ValidationError as exc:
        errors["admin_email"] = [exc]
    try:
        validate_password(admin_password)
    except ValidationError as exc:
        errors["admin_password"] = [exc]
    if errors:
        raise ValidationError(errors)

    password_hash = make_password(admin_password)  # slow by design: outside the transaction
    try:
        with transaction.atomic():
            institution.save()
            if institution.plan is not None:
                subscription_start(
                    institution=institution, plan=institution.plan, interval=interval
                )
            ProvisioningJob.objects.create(
                institution=institution,
                admin_email=admin_email,
                admin_first_name=admin_first_name.strip() or "Institution",
                admin_last_name=admin_last_name.strip() or "Administrator",
                admin_password_hash=password_hash,
            )
    except IntegrityError as exc:
        # Another sign-up took the same address between our check and our insert.
        raise ValidationError(
            {"slug": [ValidationError("This address is taken.", code="taken")]}
        ) from exc
    if enqueue and not awaiting_payment:
        provisioning_requeue(institution=institution)
    log.info("institution.created", slug=slug, institution_id=str(institution.id))
    return institution


SchemaMethod = str  # "auto" (pool, else template), "template" or "migrations"


def _step_schema(institution: Institution, job: ProvisioningJob, method: SchemaMethod) -> None:
    # The schema is created in one transaction, so if it exists it is complete.
    if schema_exists(institution.schema_name):
        return
    if method == "auto" and pool_claim(schema_name=institution.schema_name):
        job.schema_source = ProvisioningJob.SchemaSource.POOL
        from .tasks import pool_top_up

        # Refill now rather than at the next beat, so a burst of sign-ups keeps
        # finding ready schemas; a top-up already running makes this a no-op.
        transaction.on_commit(pool_top_up.delay)
    elif method == "migrations":
        schema_create_by_migrations(institution.schema_name)  # inside the step's transaction
        job.schema_source = ProvisioningJob.SchemaSource.MIGRATIONS
    else:
        schema_create_from_template(institution.schema_name)
        job.schema_source = ProvisioningJob.SchemaSource.TEMPLATE


def _step_domain(institution: Institution, job: ProvisioningJob, method: SchemaMethod) -> None:
    Domain.objects.get_or_create(
        domain=f"{institution.slug}.{settings.BASE_DOMAIN}",
        defaults={"tenant": institution, "is_primary": True},
    )


def _step_admin(institution: Institution, job: ProvisioningJob, method: SchemaMethod) -> None:
    with tenant_context(institution):
        user_ensure(
            email=job.admin_email,
            first_name=job.admin_first_name,
            last_name=job.admin_last_name,
            role=Role.ADMIN,
            password_hash=job.admin_password_hash or None,
        )


def _step_settings(institution: Institution, job: ProvisioningJob, method: SchemaMethod) -> None:
    institution.settings = {**DEFAULT_INSTITUTION_SETTINGS, **institution.settings}
    institution.save(update_fields=["settings", "updated_at"])


def _step_activate(institution: Institution, job: ProvisioningJob, method: SchemaMethod) -> None:
    institution.status = Institution.Status.ACTIVE
    institution.status_reason = ""
    institution.activated_at = institution.activated_at or timezone.now()
    institution.save(update_fields=["status", "status_reason", "activated_at", "updated_at"])
    job.admin_password_hash = ""
    job.finished_at = timezone.now()


Step = Callable[[Institution, ProvisioningJob, SchemaMethod], None]
STEPS: list[tuple[str, Step]] = [
    ("schema", _step_schema),
    ("domain", _step_domain),
    ("admin", _step_admin),
    ("settings", _step_settings),
    ("activate", _step_activate),
]


def institution_provision(*, institution_id, method: SchemaMethod = "auto") -> Institution | None:
    """Run (or resume) provisioning; the institution ends active, or failed with a reason.

    A no-op when another worker is provisioning the same institution (a
    redelivered message, a watchdog re-queue): that worker holds its lock.
    """
    with advisory_lock(_institution_lock(institution_id), wait=False) as acquired:
        institution = Institution.objects.filter(pk=institution_id).first()
        if institution is None:  # deleted while its provisioning waited in the queue
            log.warning("institution.provisioning_skipped", institution_id=str(institution_id))
            return None
        if not acquired:
            log.info("institution.provisioning_in_progress", slug=institution.slug)
            return institution
        if institution.status == Institution.Status.ACTIVE:
            return institution
        # Built or migrated here, committed, before any step's transaction.
        template_ensure()
        job = institution.provisioning_job
        job.attempts += 1
        job.last_error = ""
        job.save(update_fields=["attempts", "last_error"])
        _set_status(institution, Institution.Status.PROVISIONING, "")
        try:
            for name, step in STEPS:
                started = time.perf_counter()
                with transaction.atomic():
                    step(institution, job, method)
                    job.timings_ms[name] = round((time.perf_counter() - started) * 1000, 2)
                    if name not in job.steps_done:
                        job.steps_done.append(name)
                    job.save()
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            job.last_error = reason
            job.save(update_fields=["last_error"])
            _set_status(institution, Institution.Status.FAILED, reason)
            log.exception("institution.provisioning_failed", slug=institution.slug)
            raise
    log.info(
        "institution.provisioned",
        slug=institution.slug,
        source=job.schema_source,
        timings_ms=job.timings_ms,
    )
    return institution


def _institution_lock(institution_id) -> str:
    return f"provisioning:institution:{institution_id}"


def provisioning_stalled(*, older_than_seconds: float = 120) -> list[Institution]:
    """Institutions pending or provisioning for a while that no worker holds.

    A worker holds the institution's advisory lock while it provisions; a
    worker that died (killed, out of memory, machine lost) lost its database
    session and so its lock. Those institutions need their provisioning queued
    again.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    candidates = Institution.objects.filter(
        status__in=[Institution.Status.PENDING, Institution.Status.PROVISIONING],
        updated_at__lte=cutoff,
    )
    # Not re-queued again while an earlier re-queue may still wait in a backlog.
    candidates = candidates.exclude(provisioning_job__last_queued_at__gt=cutoff)
    stalled = []
    for institution in candidates:
        with advisory_lock(_institution_lock(institution.id), wait=False) as nobody_on_it:
            if nobody_on_it:
                stalled.append(institution)
    return stalled


def institution_payment_received(*, institution: Institution) -> Institution:
    """The first payment of a paid sign-up: provisioning starts. A no-op for an
    institution past that point (a replayed or late event)."""
    updated = Institution.objects.filter(
        pk=institution.pk, status=Institution.Status.AWAITING_PAYMENT
    ).update(status=Institution.Status.PENDING, updated_at=timezone.now())
    institution.refresh_from_db()
    if updated:
        provisioning_requeue(institution=institution)
    return institution


def provisioning_requeue(*, institution: Institution) -> None:
    """Queue provisioning (again) and remember when."""
    from .tasks import provision_institution

    ProvisioningJob.objects.filter(institution=institution).update(last_queued_at=timezone.now())
    transaction.on_commit(lambda: provision_institution.delay(str(institution.id)))


def _set_status(institution: Institution, status: str, reason: str) -> None:
    institution.status = status
    institution.status_reason = reason
    institution.save(update_fields=["status", "status_reason", "updated_at"])


def institution_suspend(
    *,
    institution: Institution,
    reason: str = "",
    cause: str = SuspensionCause.OPERATOR,
) -> Institution:
    """Nothing is deleted: the subdomain answers the suspended page until reactivated."""
    institution.status = Institution.Status.SUSPENDED
    institution.status_reason = reason
    institution.suspension_cause = cause
    institution.suspended_at = timezone.now()
    institution.save(
        update_fields=["status", "status_reason", "suspension_cause", "suspended_at", "updated_at"]
    )
    log.info("institution.suspended", slug=institution.slug, cause=cause)
    return institution


def institution_reactivate(*, institution: Institution) -> Institution:
    if institution.status != Institution.Status.SUSPENDED:
        raise ValidationError(
            "Only a suspended institution can be reactivated.", code="not_suspended"
        )
    institution.status = Institution.Status.ACTIVE
    institution.status_reason = ""
    institution.suspension_cause = ""
    institution.suspended_at = None
    institution.save(
        update_fields=["status", "status_reason", "suspension_cause", "suspended_at", "updated_at"]
    )
    log.info("institution.reactivated", slug=institution.slug)
    return institution


def _tenant_app_labels() -> list[str]:
    from django.apps import apps

    return [
        config.label
        for config in apps.get_app_configs()
        if config.name in settings.TENANT_APPS and config.models_module is not None
    ]


# Live session keys would let the file's holder sign in as anyone; content types
# and permissions are rebuilt by migrations.
EXPORT_EXCLUDES = ["sessions", "contenttypes", "auth.permission"]


def institution_export(*, institution: Institution) -> str:
    """Write the institution's data (every tenant app's rows) as JSON to storage.

    Returns the storage name. The file lives under the platform's prefix so it
    outlives the institution's schema.
    """
    from io import StringIO

    buffer = StringIO()
    with tenant_context(institution):
        call_command(
            "dumpdata",
            *_tenant_app_labels(),
            *[f"--exclude={excluded}" for excluded in EXPORT_EXCLUDES],
            stdout=buffer,
            indent=None,
        )
    records = json.loads(buffer.getvalue() or "[]")
    for record in records:
        # Credentials never leave in an export, whoever ends up holding the file.
        record["fields"].pop("password", None)
    document = {
        "institution": {
            "id": str(institution.id),
            "name": institution.name,
            "slug": institution.slug,
            "settings": institution.settings,
        },
        "exported_at": timezone.now().isoformat(),
        "data": records,
    }
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    with schema_context(get_public_schema_name()):  # the platform's prefix, not the tenant's
        name = default_storage.save(
            f"exports/{institution.slug}-{stamp}.json",
            ContentFile(json.dumps(document).encode()),
        )
    log.info("institution.exported", slug=institution.slug, export=name)
    return name


def institution_delete(*, institution: Institution, confirm_slug: str) -> str:
    """Export, then drop the schema and the institution's rows. Returns the export's name."""
    if confirm_slug != institution.slug:
        raise ValidationError(
            "Type the institution's address to confirm deletion.", code="confirmation_mismatch"
        )
    # Not while a worker provisions it: that could leave an orphan schema behind.
    with advisory_lock(_institution_lock(institution.id)):
        export_name = (
            institution_export(institution=institution)
            if schema_exists(institution.schema_name)
            else ""
        )
        with transaction.atomic():
            schema_drop(institution.schema_name)
            institution.delete()
    log.info("institution.deleted", slug=institution.slug, export=export_name)
    return export_name
