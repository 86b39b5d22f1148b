"""Writes of accounts."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from conceptspro.api import ApplicationError
from shared_apps.plans.api import LimitKind, usage_release, usage_reserve
from tenant_apps.audit.api import AuditEventType, audit_record

from .models import Invitation, Role, User, UserPreferences
from .tokens import sessions_ended_tell


@transaction.atomic
def user_ensure(
    *,
    email: str,
    first_name: str,
    last_name: str,
    role: str = Role.STUDENT,
    password: str | None = None,
    password_hash: str | None = None,
) -> tuple[User, bool]:
    """The user with this email in the current schema, created if missing.

    Idempotent, so provisioning can run it again after a failure. Pass either a
    raw `password` or an already hashed `password_hash` (provisioning hashes in
    the request so that no raw password travels through the task queue).

    A new user takes a seat of the plan (403 `plan_limit_reached` when none is
    left). Provisioning's first admin takes the first seat, which every plan
    has: counting it here keeps the usage exact from the start.
    """
    existing = User.objects.filter(email=email.strip().lower()).first()
    if existing is not None:
        return existing, False
    usage_reserve(kind=LimitKind.USERS)
    user = User(
        email=User.objects.normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        role=role,
        email_verified=True,
    )
    if password_hash is not None:
        user.password = password_hash
    else:
        user.set_password(password)
    user.save()
    user.email_address_sync()
    return user, True


PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "profile_image_url",
    "bio",
    "timezone",
    "locale",
)
ADMIN_FIELDS = (*PROFILE_FIELDS, "role", "student_id", "employee_id", "is_suspended")


def _changed(user: User, changes: dict) -> dict:
    return {k: v for k, v in changes.items() if getattr(user, k) != v}


def _actor_still_admin(actor: User) -> None:
    """Before an admin loses their power (demotion, suspension, deletion): lock
    the admins' rows and check the actor is still one of them. Two admins
    demoting each other at once then queue up, and the second finds they are
    no longer an admin, so the institution always keeps one."""
    admins = User.objects.select_for_update().filter(
        role=Role.ADMIN, is_active=True, is_suspended=False, deleted_at__isnull=True
    )
    if actor.pk not in {pk for pk in admins.values_list("pk", flat=True)}:
        raise ApplicationError(
            "You are no longer an administrator of this institution.",
            code="permission_denied",
            status=403,
        )


@transaction.atomic
def user_profile_update(*, user: User, request=None, **changes) -> User:
    """A user edits their own profile: names, contact and display settings only."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    for field, value in _changed(user, changes).items():
        setattr(user, field, value)
    user.save()
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, request=None, **changes) -> User:
    """An admin edits a user. Role changes and suspensions are audited; an
    admin cannot demote or suspend themselves (someone must remain in charge)."""
    unknown = set(changes) - set(ADMIN_FIELDS)
    if unknown:
        raise ValueError(f"not editable fields: {sorted(unknown)}")
    changed = _changed(user, changes)
    if user.pk == actor.pk and ({"role", "is_suspended"} & set(changed)):
        raise ApplicationError(
            "You cannot change your own role or suspend yourself.",
            code="cannot_modify_self",
            status=409,
        )
    if user.role == Role.ADMIN and (changed.get("role") or changed.get("is_suspended")):
        _actor_still_admin(actor)
    old_role = user.role
    for field, value in changed.items():
        setattr(user, field, value)
    if changed.get("is_suspended"):
        user.sessions_revoked_at = timezone.now()
    if {"role", "is_suspended"} & set(changed):
        sessions_ended_tell(user.pk)  # open WebSockets close, or follow the new role's courses
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Two admins giving the same student or employee id at once.
        raise ApplicationError(
            "Another user already has this id.", code="conflict", status=409
        ) from None
    if "role" in changed:
        audit_record(
            event=AuditEventType.ROLE_CHANGED,
            request=request,
            actor=actor,
            target=user,
            old=old_role,
            new=user.role,
        )
    if changed.keys() - {"role"}:
        audit_record(
            event=AuditEventType.USER_UPDATED,
            request=request,
            actor=actor,
            target=user,
            fields=sorted(changed.keys() - {"role"}),
        )
    return user


@transaction.atomic
def user_soft_delete(*, actor: User, user: User, request=None) -> None:
    """Deactivate and mark deleted; the row stays for what refers to it (grades,
    posts, the audit trail). Every open session and API token is revoked, and
    the plan's seat is free again."""
    if user.pk == actor.pk:
        raise ApplicationError(
            "You cannot delete your own account.", code="cannot_modify_self", status=409
        )
    # Decided on the locked row: two deletes at once must free one seat only.
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.deleted_at is not None:
        return
    if user.role == Role.ADMIN:
        _actor_still_admin(actor)
    held_a_seat = user.is_active  # as metering counts: active and not deleted
    user.deleted_at = user.sessions_revoked_at = timezone.now()
    user.is_active = False
    user.save(update_fields=["deleted_at", "is_active", "sessions_revoked_at", "updated_at"])
    sessions_ended_tell(user.pk)
    if held_a_seat:
        usage_release(kind=LimitKind.USERS)
    audit_record(event=AuditEventType.USER_DELETED, request=request, actor=actor, target=user)


@transaction.atomic
def user_preferences_update(*, user: User, replace: bool = False, **sections) -> UserPreferences:
    """Merge (or, with `replace`, overwrite) the given preference sections."""
    preferences = UserPreferences.objects.select_for_update().get_or_create(user=user)[0]
    for section, values in sections.items():
        current = {} if replace else dict(getattr(preferences, section))
        current.update(values)
        setattr(preferences, section, current)
    preferences.save()
    return preferences


# An invitation never accepted stays on the admin's list (as expired or revoked,
# to be sent again) this long; after that only the audit trail keeps that it was sent.
INVITATION_KEPT_AFTER_CLOSING = timedelta(days=90)


@transaction.atomic
def expired_credentials_purge(*, now: datetime | None = None) -> dict[str, int]:
    """Nightly housekeeping of sign-in material past its use, in this schema:
    expired sessions (API tokens live in sessions, see tokens.py: a token of a
    session still open keeps working), expired email confirmation keys, and
    invitations never accepted whose expiry or revocation is older than
    INVITATION_KEPT_AFTER_CLOSING. Accepted invitations stay: they record how a
    member joined. Each is one DELETE ... WHERE, so a row renewed meanwhile (a
    resent invitation) no longer matches and stays. Counts by kind."""
    from allauth.account.models import EmailConfirmation
    from django.contrib.sessions.models import Session

    now = now or timezone.now()
    closed_before = now - INVITATION_KEPT_AFTER_CLOSING
    sessions, _ = Session.objects.filter(expire_date__lt=now).delete()
    confirmations, _ = EmailConfirmation.objects.all_expired().delete()
    invitations, _ = Invitation.objects.filter(
        Q(revoked_at__isnull=True, expires_at__lt=closed_before) | Q(revoked_at__lt=closed_before),
        accepted_at__isnull=True,
    ).delete()
    return {
        "sessions": sessions,
        "email_confirmations": confirmations,
        "invitations": invitations,
    }
