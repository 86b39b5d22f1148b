"""What accounts holds of a person, for their data export and erasure: their
preferences, sign-in addresses, linked SSO accounts, MFA methods and the
invitation they joined by. The profile itself is the export's profile.json.

Its erase runs last of all sections (order 1000): it anonymises the user row,
ends every session (API tokens stop at once) and frees the plan's seat, so the
other sections still see the person as they were."""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db.models import Q
from django.utils import timezone

from shared_apps.plans.api import LimitKind, usage_release
from tenant_apps.privacy.api import erased_email

from .models import Invitation, User, UserPreferences
from .tokens import sessions_ended_tell

ERASED_FIRST_NAME = "Erased"
ERASED_LAST_NAME = "user"


def account_export(user: User) -> dict:
    preferences = UserPreferences.objects.filter(user=user).first()
    invitation = Invitation.objects.filter(user=user, accepted_at__isnull=False).first()
    return {
        "preferences": None
        if preferences is None
        else {
            "email_notifications": preferences.email_notifications,
            "push_notifications": preferences.push_notifications,
            "ui_preferences": preferences.ui_preferences,
            "privacy_settings": preferences.privacy_settings,
            "updated_at": preferences.updated_at,
        },
        "email_addresses": list(
            EmailAddress.objects.filter(user=user)
            .order_by("email")
            .values("email", "verified", "primary")
        ),
        # Which providers sign them in and what the provider said about them;
        # never the provider's tokens.
        "sso_accounts": list(
            SocialAccount.objects.filter(user=user)
            .order_by("provider", "uid")
            .values("provider", "uid", "last_login", "date_joined", "extra_data")
        ),
        # The kinds of second factor and when they were used; never their secrets.
        "mfa_methods": list(
            Authenticator.objects.filter(user=user)
            .order_by("type")
            .values("type", "created_at", "last_used_at")
        ),
        "joined_by_invitation": None
        if invitation is None
        else {
            "role": invitation.role,
            "created_at": invitation.created_at,
            "accepted_at": invitation.accepted_at,
        },
    }


def _sessions_end(user: User) -> int:
    """Deletes the user's live sessions, browser and API alike: their tokens
    name a session, so they are refused from the next request on."""
    mine = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    Session.objects.filter(session_key__in=mine).delete()
    sessions_ended_tell(user.pk)  # and their open WebSockets close
    return len(mine)


def account_erase(user: User, *, keep_academic_records: bool) -> None:
    """The user row stays (grades, posts and the audit trail refer to it) but
    names no one: address, names, contact, ids and picture cleared, no
    password, inactive and deleted. Sign-in material goes: sessions, allauth
    addresses, SSO links, MFA methods; and their preferences. The invitation
    they joined by no longer names them; one still open to their address is
    revoked. A seat they held is released once: a user already deleted holds
    none (the row is locked by the erasure, as by a delete)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    held_a_seat = user.is_active and user.deleted_at is None
    now = timezone.now()
    address = erased_email(user.pk)
    _sessions_end(user)
    EmailAddress.objects.filter(user=user).delete()
    SocialAccount.objects.filter(user=user).delete()
    Authenticator.objects.filter(user=user).delete()
    UserPreferences.objects.filter(user=user).delete()
    theirs = Invitation.objects.filter(Q(user=user) | Q(email__iexact=user.email))
    theirs.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
    theirs.update(email=address, first_name="", last_name="")
    user.email = address
    user.first_name, user.last_name = ERASED_FIRST_NAME, ERASED_LAST_NAME
    user.phone = user.bio = user.profile_image_url = ""
    user.student_id = user.employee_id = None
    user.email_verified = False
    user.set_unusable_password()
    user.is_active = user.is_staff = user.is_superuser = False
    user.deleted_at = user.deleted_at or now
    user.sessions_revoked_at = now
    user.last_login = None
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    if held_a_seat:
        usage_release(kind=LimitKind.USERS)
