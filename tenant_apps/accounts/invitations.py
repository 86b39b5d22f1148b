"""Invitations: an institution admin invites people by email, one at a time or
from a CSV file; the invitee follows the emailed link and gets an account.

Only the sha256 of an invitation's key is stored: the key itself travels in the
email link and nowhere else. Emails go out after the transaction commits, so a
rolled-back invitation never reaches anybody's inbox.

An open invitation is a promised seat of the institution's plan: inviting is
refused (403 `plan_limit_reached`) when the accounts and the open invitations
already fill the plan, and accepting takes the seat for real.
"""

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, models, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from rest_framework import status as http

from conceptspro.api import ApplicationError
from shared_apps.plans.api import LimitKind, limit_check, usage_reserve
from tenant_apps.audit.api import (
    AuditEventType,
    audit_event_build,
    audit_record,
    audit_record_many,
)

from . import policies, selectors
from .models import Invitation, Role, User

INVITATION_VALID_FOR = timedelta(days=14)
CSV_MAX_ROWS = 5000
CSV_MAX_BYTES = 5 * 1024 * 1024
NAME_MAX_LENGTH = 100


class InvitationStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class ImportRowStatus(models.TextChoices):
    CREATED = "created", "Invitation sent"
    RESENT = "resent", "Invitation sent again"
    SKIPPED = "skipped", "Already has an account"
    ERROR = "error", "Not imported"


# --- Keys and states -------------------------------------------------------------------


def invitation_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    key = secrets.token_urlsafe(32)
    return key, invitation_key_hash(key)


def invitation_status(invitation: Invitation, *, now: datetime | None = None) -> str:
    if invitation.accepted_at is not None:
        return InvitationStatus.ACCEPTED
    if invitation.revoked_at is not None:
        return InvitationStatus.REVOKED
    if invitation.expires_at <= (now or timezone.now()):
        return InvitationStatus.EXPIRED
    return InvitationStatus.OPEN


def _status_filter(status: str, now: datetime) -> Q:
    unanswered = Q(accepted_at__isnull=True, revoked_at__isnull=True)
    return {
        InvitationStatus.OPEN: unanswered & Q(expires_at__gt=now),
        InvitationStatus.ACCEPTED: Q(accepted_at__isnull=False),
        InvitationStatus.REVOKED: Q(accepted_at__isnull=True, revoked_at__isnull=False),
        InvitationStatus.EXPIRED: unanswered & Q(expires_at__lte=now),
    }[status]


# --- Selectors -------------------------------------------------------------------------


def invitation_list(*, status: str = "") -> QuerySet[Invitation]:
    """Newest first; `status` one of InvitationStatus or empty for all."""
    invitations = Invitation.objects.select_related("invited_by", "user")
    if status:
        invitations = invitations.filter(_status_filter(status, timezone.now()))
    return invitations.order_by("-created_at")


def invitation_get(*, invitation_id) -> Invitation:
    invitation = (
        Invitation.objects.select_related("invited_by", "user").filter(pk=invitation_id).first()
    )
    if invitation is None:
        raise ApplicationError(
            "No such invitation.", code="not_found", status=http.HTTP_404_NOT_FOUND
        )
    return invitation


def invitation_by_key(*, key: str) -> Invitation | None:
    return Invitation.objects.filter(key_hash=invitation_key_hash(key)).first()


def invitation_usable(invitation: Invitation | None) -> None:
    """Raise the refusal a link to this invitation gets, or return if it may be accepted."""
    if invitation is None:
        raise ApplicationError(
            "This invitation link is not valid. Check that you copied the whole link.",
            code="invitation_not_found",
            status=http.HTTP_404_NOT_FOUND,
        )
    state = invitation_status(invitation)
    if state == InvitationStatus.ACCEPTED:
        raise ApplicationError(
            "This invitation has already been used. Sign in with the account it created.",
            code="invitation_used",
            status=http.HTTP_410_GONE,
        )
    if state == InvitationStatus.REVOKED:
        raise ApplicationError(
            "This invitation was withdrawn by the institution's administrator.",
            code="invitation_revoked",
            status=http.HTTP_410_GONE,
        )
    if state == InvitationStatus.EXPIRED:
        raise ApplicationError(
            "This invitation has expired. Ask the institution's administrator to send a new one.",
            code="invitation_expired",
            status=http.HTTP_410_GONE,
        )


# --- Services --------------------------------------------------------------------------


def _lock_invitations() -> None:
    """Serialise invitation writes in this institution for the transaction: two
    admins inviting the same address at once would otherwise both see no open
    invitation and the second insert would break the one-open-per-address rule."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}:invitations"]
        )


def _require_inviter(user) -> None:
    if not policies.can_invite_users(user):
        raise ApplicationError(
            "Only the institution's administrators may invite people.",
            code="permission_denied",
            status=http.HTTP_403_FORBIDDEN,
        )


def _accept_url(request: HttpRequest, key: str) -> str:
    return request.build_absolute_uri(reverse("invitation-accept", kwargs={"key": key}))


def _invitation_message(
    *, invitation: Invitation, key: str, request: HttpRequest, inviter: User
) -> mail.EmailMessage:
    tenant = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    context = {
        "institution_name": getattr(tenant, "name", "") or "ConceptsPro",
        "inviter_name": inviter.get_full_name() or inviter.email,
        "invitation": invitation,
        "accept_url": _accept_url(request, key),
        "expires_at": invitation.expires_at,
        "role_label": Role(invitation.role).label,
    }
    subject = f"You are invited to join {context['institution_name']} on ConceptsPro"
    body = render_to_string("accounts/invitation_email.txt", context)
    return mail.EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])


def _send_after_commit(messages: list[mail.EmailMessage]) -> None:
    if not messages:
        return

    def send():
        with mail.get_connection() as smtp:
            smtp.send_messages(messages)

    # robust: the invitations stand even if the mail server is down; the failure
    # is logged and the admin can send the invitation again.
    transaction.on_commit(send, robust=True)


def _normalise_email(email: str) -> str:
    return email.strip().lower()


_RESEND_FIELDS = ["key_hash", "expires_at", "role", "first_name", "last_name", "invited_by"]


def _issue(
    *,
    email: str,
    role: str,
    first_name: str,
    last_name: str,
    invited_by: User,
    open_invitation: Invitation | None,
    save: bool = True,
) -> tuple[Invitation, str, bool]:
    """A new invitation, or the open one with a fresh key and expiry. Returns
    (invitation, key, resent); with save=False the caller saves it (in bulk)."""
    key, key_hash = _new_key()
    expires_at = timezone.now() + INVITATION_VALID_FOR
    if open_invitation is not None:
        invitation = open_invitation
        invitation.key_hash = key_hash
        invitation.expires_at = expires_at
        invitation.role = role
        invitation.first_name = first_name or invitation.first_name
        invitation.last_name = last_name or invitation.last_name
        invitation.invited_by = invited_by
        if save:
            invitation.save(update_fields=_RESEND_FIELDS)
        return invitation, key, True
    invitation = Invitation(
        email=email,
        role=role,
        first_name=first_name,
        last_name=last_name,
        key_hash=key_hash,
        invited_by=invited_by,
        expires_at=expires_at,
    )
    if save:
        invitation.save(force_insert=True)
    return invitation, key, False


def _seats_check(*, adding: int) -> None:
    """Refuse `adding` more invitations unless the plan has a seat for each,
    beside the accounts and the invitations still open. Under the invitations
    lock, so two admins inviting at once both count each other's."""
    open_count = Invitation.objects.filter(
        _status_filter(InvitationStatus.OPEN, timezone.now())
    ).count()
    limit_check(kind=LimitKind.USERS, adding=adding, also_counting=open_count)


def _opens_a_seat(open_invitation: Invitation | None) -> bool:
    """Whether (re)sending makes one more open invitation: a new one, or an
    expired one coming back to life; resending an open one does not."""
    return open_invitation is None or invitation_status(open_invitation) != InvitationStatus.OPEN


def _open_invitation_for(email: str) -> Invitation | None:
    return Invitation.objects.filter(
        email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).first()


@transaction.atomic
def invitation_create(
    *,
    email: str,
    role: str = Role.STUDENT,
    first_name: str = "",
    last_name: str = "",
    invited_by: User,
    request: HttpRequest,
) -> tuple[Invitation, bool]:
    """Invite one person; returns (invitation, resent).

    An address with an open (or expired, never answered) invitation gets a fresh
    key and a new expiry instead: the old link stops working. An address that
    already has an account is refused (409 `user_exists`); an invitation the
    plan has no seat for, 403 `plan_limit_reached`.
    """
    _require_inviter(invited_by)
    email = _normalise_email(email)
    if User.objects.filter(email=email).exists():
        raise ApplicationError(
            "This address already has an account here.",
            code="user_exists",
            status=http.HTTP_409_CONFLICT,
            fields={"email": ["This address already has an account here."]},
        )
    _lock_invitations()
    open_invitation = _open_invitation_for(email)
    _seats_check(adding=1 if _opens_a_seat(open_invitation) else 0)
    invitation, key, resent = _issue(
        email=email,
        role=role,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        invited_by=invited_by,
        open_invitation=open_invitation,
    )
    audit_record(
        event=AuditEventType.INVITATION_SENT,
        request=request,
        actor=invited_by,
        email=email,
        invitation_id=str(invitation.pk),
        role=invitation.role,
        resent=resent,
    )
    _send_after_commit(
        [_invitation_message(invitation=invitation, key=key, request=request, inviter=invited_by)]
    )
    return invitation, resent


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, revoked_by: User, request: HttpRequest) -> None:
    """Withdraw an invitation; its link stops working. Revoking twice is a no-op;
    an accepted invitation cannot be revoked (409 `invitation_accepted`)."""
    _require_inviter(revoked_by)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ApplicationError(
            "This invitation has already been accepted.",
            code="invitation_accepted",
            status=http.HTTP_409_CONFLICT,
        )
    if invitation.revoked_at is not None:
        return
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        event=AuditEventType.INVITATION_REVOKED,
        request=request,
        actor=revoked_by,
        email=invitation.email,
        invitation_id=str(invitation.pk),
    )


@transaction.atomic
def invitation_accept(
    *,
    key: str,
    first_name: str,
    last_name: str,
    password: str | None,
    request: HttpRequest | None = None,
) -> User:
    """The invitee's account, created from the invitation the key opens.

    With password sign-in enabled, `password` must pass Django's password
    validators. An SSO-only institution creates the account without a password:
    the invitee signs in with SSO and allauth links the account by its verified
    address. Signing the new user in is the caller's (the view's) job.
    The account takes a seat of the plan: 403 `plan_limit_reached` if none is
    left (the invitation stays open, for when one is).
    """
    invitation = (
        Invitation.objects.select_for_update().filter(key_hash=invitation_key_hash(key)).first()
    )
    invitation_usable(invitation)
    if User.objects.filter(email=invitation.email).exists():
        raise ApplicationError(
            "This address already has an account here. Sign in instead.",
            code="user_exists",
            status=http.HTTP_409_CONFLICT,
        )
    first_name, last_name = first_name.strip(), last_name.strip()
    fields = {}
    for name, value in (("first_name", first_name), ("last_name", last_name)):
        if not value:
            fields[name] = ["This field is required."]
        elif len(value) > NAME_MAX_LENGTH:
            fields[name] = [f"At most {NAME_MAX_LENGTH} characters."]
    user = User(
        email=invitation.email,
        first_name=first_name,
        last_name=last_name,
        role=invitation.role,
        email_verified=True,
    )
    password_login = selectors.security_policy().password_login_enabled
    if password_login:
        if not password:
            fields["password"] = ["This field is required."]
        else:
            try:
                validate_password(password, user=user)
            except ValidationError as error:
                fields["password"] = list(error.messages)
    if fields:
        raise ApplicationError("Some fields need attention.", code="invalid", fields=fields)

    usage_reserve(kind=LimitKind.USERS)
    if password_login:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.email_address_sync()
    invitation.accepted_at = timezone.now()
    invitation.user = user
    invitation.save(update_fields=["accepted_at", "user"])
    audit_record(
        event=AuditEventType.INVITATION_ACCEPTED,
        request=request,
        actor=user,
        target=user,
        invitation_id=str(invitation.pk),
        role=user.role,
    )
    return user


# --- CSV import ------------------------------------------------------------------------


@dataclass
class ImportRow:
    row: int  # the line's number in the file as a spreadsheet shows it: the header is row 1
    email: str
    status: str
    message: str = ""
    role: str = ""


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[ImportRow] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {choice.value: 0 for choice in ImportRowStatus}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "counts": self.counts,
            "rows": [
                {
                    "row": r.row,
                    "email": r.email,
                    "role": r.role,
                    "status": r.status,
                    "message": r.message,
                }
                for r in self.rows
            ],
        }


def _invalid_csv(message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_csv", fields={"file": [message]})


def _csv_records(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: value}) for every non-blank data row; refuses a file
    that is not UTF-8 CSV with an email column, or that is too long."""
    if len(data) > CSV_MAX_BYTES:
        raise _invalid_csv(
            f"The file is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB; split it."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid_csv("The file is not UTF-8 text. Save it as “CSV UTF-8”.") from None
    if "\x00" in text:
        raise _invalid_csv("The file is not a CSV file.")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise _invalid_csv("The file is empty; it needs a header row with an email column.")
        columns = [cell.strip().lower() for cell in header]
        if "email" not in columns:
            raise _invalid_csv(
                "The header row has no email column "
                "(expected columns: email, first_name, last_name, role)."
            )
        records = []
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(records) == CSV_MAX_ROWS:
                raise _invalid_csv(f"The file has more than {CSV_MAX_ROWS} rows; split it.")
            records.append(
                (number, {name: value.strip() for name, value in zip(columns, cells, strict=False)})
            )
    except csv.Error as error:
        raise _invalid_csv(f"The file is not valid CSV: {error}.") from None
    return records


_ROLE_BY_NAME = {
    **{choice.value: choice.value for choice in Role},
    **{choice.label.lower(): choice.value for choice in Role},
}


def _row_problem(email: str, values: dict[str, str]) -> tuple[str, str]:
    """(role, problem): the row's role value and what is wrong with it, if anything."""
    role_given = values.get("role", "").lower()
    role = _ROLE_BY_NAME.get(role_given or Role.STUDENT, "")
    if not email:
        return role, "The email is missing."
    try:
        validate_email(email)
    except ValidationError:
        return role, f"“{email}” is not a valid email address."
    if len(email) > 255:
        return role, "The email is longer than 255 characters."
    if not role:
        choices = ", ".join(choice.value for choice in Role)
        return role, f"Unknown role “{values.get('role', '')}”; use one of: {choices}."
    for column in ("first_name", "last_name"):
        if len(values.get(column, "")) > NAME_MAX_LENGTH:
            return role, f"The {column} is longer than {NAME_MAX_LENGTH} characters."
    return role, ""


@transaction.atomic
def invitations_import_csv(
    *, data: bytes, invited_by: User, request: HttpRequest, dry_run: bool = False
) -> ImportReport:
    """Invite everyone listed in a CSV file (columns email, first_name, last_name,
    role; header row required; role defaults to student).

    Each row is reported as created, resent (an open invitation got a fresh key),
    skipped (the address already has an account) or error (with the reason);
    rows with errors do not stop the others. A file that is not UTF-8 CSV, has no
    email column or has more than CSV_MAX_ROWS rows is refused whole (400
    `invalid_csv`). So is a file whose new invitations do not all fit in the
    plan beside its accounts and open invitations (403 `plan_limit_reached`,
    dry run or not): the admin gets all of the file or none of it, never an
    arbitrary first part. A dry run reports what would happen and writes and
    sends nothing.
    """
    _require_inviter(invited_by)
    records = _csv_records(data)
    report = ImportReport(dry_run=dry_run)
    if not dry_run:
        _lock_invitations()

    emails = {_normalise_email(values.get("email", "")) for _, values in records}
    existing_users = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    open_invitations = {
        invitation.email: invitation
        for invitation in Invitation.objects.filter(
            email__in=emails, accepted_at__isnull=True, revoked_at__isnull=True
        )
    }
    first_row_of: dict[str, int] = {}
    seats_asked = 0
    issued: list[tuple[Invitation, str, bool]] = []
    for number, values in records:
        email = _normalise_email(values.get("email", ""))
        role, problem = _row_problem(email, values)
        if not problem and email in first_row_of:
            problem = f"The same address is already on row {first_row_of[email]}."
        if problem:
            report.rows.append(ImportRow(number, email, ImportRowStatus.ERROR, problem, role))
            continue
        first_row_of[email] = number
        if email in existing_users:
            report.rows.append(
                ImportRow(number, email, ImportRowStatus.SKIPPED, "Already has an account.", role)
            )
            continue
        resent = email in open_invitations
        if _opens_a_seat(open_invitations.get(email)):
            seats_asked += 1
        report.rows.append(
            ImportRow(
                number,
                email,
                ImportRowStatus.RESENT if resent else ImportRowStatus.CREATED,
                "An open invitation gets a fresh link." if resent else "",
                role,
            )
        )
        if dry_run:
            continue
        issued.append(
            _issue(
                email=email,
                role=role,
                first_name=values.get("first_name", ""),
                last_name=values.get("last_name", ""),
                invited_by=invited_by,
                open_invitation=open_invitations.get(email),
                save=False,
            )
        )
    _seats_check(adding=seats_asked)
    Invitation.objects.bulk_create(
        [invitation for invitation, _, resent in issued if not resent], batch_size=1000
    )
    Invitation.objects.bulk_update(
        [invitation for invitation, _, resent in issued if resent], _RESEND_FIELDS, batch_size=1000
    )
    audit_record_many(
        [
            audit_event_build(
                event=AuditEventType.INVITATION_SENT,
                request=request,
                actor=invited_by,
                email=invitation.email,
                invitation_id=str(invitation.pk),
                role=invitation.role,
                resent=resent,
                source="csv",
            )
            for invitation, _, resent in issued
        ]
    )
    _send_after_commit(
        [
            _invitation_message(invitation=invitation, key=key, request=request, inviter=invited_by)
            for invitation, key, _ in issued
        ]
    )
    return report
