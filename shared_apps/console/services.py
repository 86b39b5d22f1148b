"""The operator's actions on institutions.

Each one is atomic: it locks the institution's row (two operators, or an
operator and a Stripe webhook, acting at once take turns, and each sees the
state the other left), checks the state, acts through the owning app's
service, and writes the operator audit log row in the same transaction. A
refused action raises ValidationError (with a code) and writes nothing. Work
that runs long (exports, deletion) is queued once the transaction commits.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.db import IntegrityError, transaction

from provisioning import services as provisioning
from provisioning import tasks as provisioning_tasks
from shared_apps.institutions.models import Domain, Institution, SuspensionCause
from shared_apps.plans import tasks as plans_tasks
from shared_apps.plans.models import Feature, Plan
from shared_apps.subscriptions import services as subscriptions
from shared_apps.subscriptions.models import Subscription

from .models import OperatorAction, OperatorActionType
from .tasks import operator_action_result_record

TRIAL_EXTENSION_MAX_DAYS = 365
# Institutions that have a schema, and so data to export.
HAS_DATA = (Institution.Status.ACTIVE, Institution.Status.SUSPENDED)


def _locked(institution: Institution) -> Institution:
    """The institution's row, locked until the transaction ends. Its
    subscription's row is locked first: the order billing's webhook handling
    locks them in (shared_apps.subscriptions), so the two wait for each other
    instead of deadlocking."""
    list(Subscription.objects.select_for_update().filter(institution_id=institution.pk))
    return (
        Institution.objects.select_for_update(of=("self",))
        .select_related("plan")
        .get(pk=institution.pk)
    )


def _record(
    *, actor, action: str, institution: Institution, details: dict, ip_address: str | None
) -> OperatorAction:
    return OperatorAction.objects.create(
        actor=actor,
        actor_email=actor.email,
        action=action,
        institution=institution,
        institution_slug=institution.slug,
        institution_name=institution.name,
        details=details,
        ip_address=ip_address,
    )


@transaction.atomic
def institution_suspend(
    *, actor, institution: Institution, reason: str, ip_address: str | None = None
) -> Institution:
    """Suspends an active institution for the operator's own reason: its
    subdomain shows the suspended page; a payment does not lift it."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ValidationError("Say why.", code="required")})
    institution = _locked(institution)
    if institution.status != Institution.Status.ACTIVE:
        raise ValidationError(
            f"Only an active institution can be suspended; this one is "
            f"{institution.get_status_display().lower()}.",
            code="not_active",
        )
    provisioning.institution_suspend(
        institution=institution, reason=reason, cause=SuspensionCause.OPERATOR
    )
    _record(
        actor=actor,
        action=OperatorActionType.INSTITUTION_SUSPEND,
        institution=institution,
        details={"reason": reason},
        ip_address=ip_address,
    )
    return institution


@transaction.atomic
def institution_reactivate(
    *, actor, institution: Institution, ip_address: str | None = None
) -> Institution:
    """Lifts a suspension, whoever made it (the operator may overrule billing)."""
    institution = _locked(institution)
    before = {"cause": institution.suspension_cause, "reason": institution.status_reason}
    provisioning.institution_reactivate(institution=institution)  # refuses if not suspended
    _record(
        actor=actor,
        action=OperatorActionType.INSTITUTION_REACTIVATE,
        institution=institution,
        details={"suspension": before},
        ip_address=ip_address,
    )
    return institution


@transaction.atomic
def subscription_change_plan(
    *, actor, institution: Institution, plan: Plan, ip_address: str | None = None
) -> Subscription:
    institution = _locked(institution)
    previous = institution.plan
    if previous is not None and previous.pk == plan.pk:
        raise ValidationError(
            {"plan": ValidationError(f"Already on {plan.name}.", code="same_plan")}
        )
    subscription = subscriptions.subscription_change_plan(institution=institution, plan=plan)
    _record(
        actor=actor,
        action=OperatorActionType.SUBSCRIPTION_CHANGE_PLAN,
        institution=institution,
        details={"from": previous.code if previous else None, "to": plan.code},
        ip_address=ip_address,
    )
    return subscription


@transaction.atomic
def subscription_extend_trial(
    *, actor, institution: Institution, days: int, ip_address: str | None = None
) -> Subscription:
    if not 1 <= days <= TRIAL_EXTENSION_MAX_DAYS:
        raise ValidationError(
            {
                "days": ValidationError(
                    f"Give 1 to {TRIAL_EXTENSION_MAX_DAYS} days.", code="out_of_range"
                )
            }
        )
    institution = _locked(institution)
    before = Subscription.objects.filter(institution=institution).first()
    if before is None:
        raise ValidationError(
            "This institution has no subscription to extend.", code="no_subscription"
        )
    subscription = subscriptions.subscription_extend_trial(institution=institution, days=days)
    _record(
        actor=actor,
        action=OperatorActionType.SUBSCRIPTION_EXTEND_TRIAL,
        institution=institution,
        details={
            "days": days,
            "status_before": before.status,
            "trial_end_before": before.trial_end.isoformat() if before.trial_end else None,
            "trial_end": subscription.trial_end.isoformat(),
        },
        ip_address=ip_address,
    )
    return subscription


def _queue_on_commit(task, args: list, operator_action: OperatorAction, *, link=None) -> None:
    """Queue `task` once the action is committed, under the task id its audit
    row names."""
    task_id = operator_action.details["task_id"]
    transaction.on_commit(lambda: task.apply_async(args=args, task_id=task_id, link=link))


def _export_name_recorder(operator_action: OperatorAction):
    """Linked to an export or a deletion: what it returns (the export's name)
    is added to the action's audit row."""
    return operator_action_result_record.s(operator_action_id=operator_action.pk)


@transaction.atomic
def institution_export_start(
    *, actor, institution: Institution, ip_address: str | None = None
) -> OperatorAction:
    """Queues an export of the institution's data; the audit row gets the
    export's storage name when it is written."""
    institution = _locked(institution)
    if institution.status not in HAS_DATA:
        raise ValidationError(
            "There is nothing to export before provisioning has finished.", code="no_data"
        )
    action = _record(
        actor=actor,
        action=OperatorActionType.INSTITUTION_EXPORT,
        institution=institution,
        details={"task_id": str(uuid.uuid4())},
        ip_address=ip_address,
    )
    _queue_on_commit(
        provisioning_tasks.export_institution,
        [str(institution.pk)],
        action,
        link=_export_name_recorder(action),
    )
    return action


@transaction.atomic
def usage_measure_start(
    *, actor, institution: Institution, ip_address: str | None = None
) -> OperatorAction:
    """Queues a recount of the institution's usage from its schema now,
    rather than at the nightly run."""
    institution = _locked(institution)
    if institution.status not in HAS_DATA:
        raise ValidationError(
            "There is nothing to measure before provisioning has finished.", code="no_data"
        )
    action = _record(
        actor=actor,
        action=OperatorActionType.USAGE_MEASURE,
        institution=institution,
        details={"task_id": str(uuid.uuid4())},
        ip_address=ip_address,
    )
    _queue_on_commit(plans_tasks.usage_measure_one, [str(institution.pk)], action)
    return action


@transaction.atomic
def provisioning_retry(
    *, actor, institution: Institution, ip_address: str | None = None
) -> Institution:
    """Queues provisioning again for a failed institution; it resumes at the
    step that failed."""
    institution = _locked(institution)
    if institution.status != Institution.Status.FAILED:
        raise ValidationError(
            "Only a failed provisioning can be retried; this institution is "
            f"{institution.get_status_display().lower()}.",
            code="not_failed",
        )
    job = getattr(institution, "provisioning_job", None)
    provisioning.provisioning_requeue(institution=institution)
    _record(
        actor=actor,
        action=OperatorActionType.PROVISIONING_RETRY,
        institution=institution,
        details={
            "attempts": job.attempts if job else 0,
            "last_error": (job.last_error if job else institution.status_reason)[:1000],
        },
        ip_address=ip_address,
    )
    return institution


@transaction.atomic
def institution_delete_start(
    *, actor, institution: Institution, confirm_slug: str, ip_address: str | None = None
) -> OperatorAction:
    """Queues the deletion: an export first, then the schema and the rows go.

    An active institution is suspended at once, so that nobody writes between
    the export and the drop (what they wrote would be in neither). Stripe is
    told first, so that nobody pays for an institution that is gone: a paid
    sign-up's Checkout session is closed (refused, `checkout_not_closed`, when
    it cannot be: paid already, or Stripe unreachable), and a subscription
    Stripe bills is canceled (refused, 502 `billing_provider_error`, when
    Stripe refuses or cannot be reached). A refusal deletes nothing."""
    institution = _locked(institution)
    if confirm_slug.strip() != institution.slug:
        raise ValidationError(
            {
                "confirm_slug": ValidationError(
                    f"Type {institution.slug} exactly to confirm.", code="confirmation_mismatch"
                )
            }
        )
    status_before = institution.status
    if status_before == Institution.Status.AWAITING_PAYMENT and not (
        subscriptions.checkout_signup_abandon(institution=institution)
    ):
        raise ValidationError(
            "Its Checkout session could not be closed (it may have just been paid, or the "
            "payment provider is unreachable), so nothing was deleted; try again in a moment.",
            code="checkout_not_closed",
        )
    if status_before == Institution.Status.ACTIVE:
        provisioning.institution_suspend(
            institution=institution,
            reason="Being deleted by the operator.",
            cause=SuspensionCause.OPERATOR,
        )
    subscriptions.subscription_cancel_now(institution=institution)
    action = _record(
        actor=actor,
        action=OperatorActionType.INSTITUTION_DELETE,
        institution=institution,
        details={"task_id": str(uuid.uuid4()), "status_before": status_before},
        ip_address=ip_address,
    )
    _queue_on_commit(
        provisioning_tasks.delete_institution,
        [str(institution.pk), institution.slug],
        action,
        link=_export_name_recorder(action),
    )
    return action


def _domain_normalise(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    DomainNameValidator(accept_idna=False)(domain)
    if domain == settings.BASE_DOMAIN or domain.endswith(f".{settings.BASE_DOMAIN}"):
        raise ValidationError(
            f"Addresses under {settings.BASE_DOMAIN} are the platform's own.", code="reserved"
        )
    return domain


@transaction.atomic
def domain_add(
    *, actor, institution: Institution, domain: str, ip_address: str | None = None
) -> Domain:
    """Adds a custom domain (the institution's own address, e.g.
    lms.university.edu) when its plan includes custom domains."""
    institution = _locked(institution)
    plan = institution.plan
    # As everywhere limits apply (shared_apps.plans): no plan, no limit.
    if plan is not None and not plan.has_feature(Feature.CUSTOM_DOMAIN):
        raise ValidationError(
            f"The {plan.name} plan does not include a custom domain: change the plan first.",
            code="plan_limit_reached",
            params={"feature": Feature.CUSTOM_DOMAIN.value},
        )
    try:
        domain = _domain_normalise(domain)
    except ValidationError as exc:
        raise ValidationError({"domain": exc.error_list}) from exc
    taken = ValidationError(
        {"domain": ValidationError("This domain is already in use.", code="taken")}
    )
    if Domain.objects.filter(domain=domain).exists():
        raise taken
    try:
        with transaction.atomic():  # a concurrent insert of the same domain
            added = Domain.objects.create(domain=domain, tenant=institution, is_primary=False)
    except IntegrityError as exc:
        raise taken from exc
    _record(
        actor=actor,
        action=OperatorActionType.DOMAIN_ADD,
        institution=institution,
        details={"domain": domain},
        ip_address=ip_address,
    )
    return added


@transaction.atomic
def operator_ensure(*, email: str, password: str, first_name: str = "", last_name: str = ""):
    """A member of the operator's staff (public schema), made or updated, with
    a verified address. They set up their authenticator app at first sign-in:
    the console lets nobody in without it. Raises ValidationError by field."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.validators import validate_email
    from django_tenants.utils import get_public_schema_name, schema_context

    errors = {}
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        errors["email"] = exc.messages
    try:
        validate_password(password)
    except ValidationError as exc:
        errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    with schema_context(get_public_schema_name()):
        user_model = get_user_model()
        user = user_model.objects.filter(email=email).first() or user_model(email=email)
        user.first_name = first_name.strip() or user.first_name or "Operator"
        user.last_name = last_name.strip() or user.last_name
        user.is_staff = True
        user.is_active = True
        user.email_verified = True
        user.set_password(password)
        user.save()
        user.email_address_sync()
    return user
