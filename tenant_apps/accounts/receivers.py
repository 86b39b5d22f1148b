"""Receivers for django-allauth's and Django's auth signals.

Our own writes call services directly; these signals are the interface the
libraries offer for what happens inside their flows (sign-in, MFA, password
reset), so the audit trail and the user's flags follow them here, in one place.
"""

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.auth import signals as auth_signals
from django.db import connection
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name

from tenant_apps.activity.api import ActivityType, activity_record
from tenant_apps.audit.api import AuditEventType, audit_record

from .middleware import forget_mfa_enrolment
from .models import User
from .tokens import sessions_ended_tell


@receiver(account_signals.user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is not None:
        audit_record(
            event=AuditEventType.SSO_LOGIN,
            request=request,
            actor=user,
            target=user,
            provider=sociallogin.account.provider,
        )
    else:
        audit_record(event=AuditEventType.LOGIN_SUCCEEDED, request=request, actor=user, target=user)
    # Every sign-in passes here: the browser form, POST /api/v1/auth/login/ and
    # SSO. The operator's staff sign in on the public schema, which keeps no
    # activity log (analytics are an institution's).
    if connection.schema_name == get_public_schema_name():
        return
    activity_record(
        user=user,
        activity_type=ActivityType.LOGIN,
        metadata={"method": "sso" if sociallogin is not None else "password"},
        request=request,
    )


@receiver(account_signals.user_signed_up)
def _signed_up(sender, request, user, **kwargs):
    # SSO sign-ups are recorded by the social adapter, with their provider.
    if "sociallogin" not in kwargs:
        audit_record(
            event=AuditEventType.USER_CREATED,
            request=request,
            actor=user,
            target=user,
            source="self_registration",
        )


@receiver(auth_signals.user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(event=AuditEventType.LOGOUT, request=request, actor=user, target=user)


@receiver(account_signals.password_changed)
@receiver(account_signals.password_set)
def _password_changed(sender, request, user, **kwargs):
    audit_record(event=AuditEventType.PASSWORD_CHANGED, request=request, actor=user, target=user)
    # The user's other sessions end (their auth hash no longer matches): so
    # do the WebSockets opened with their tokens, now.
    sessions_ended_tell(user.pk)


@receiver(account_signals.password_reset)
def _password_reset(sender, request, user, **kwargs):
    audit_record(event=AuditEventType.PASSWORD_RESET, request=request, actor=user, target=user)


@receiver(account_signals.email_confirmed)
def _email_confirmed(sender, request, email_address, **kwargs):
    user = email_address.user
    if email_address.email.lower() == user.email and not user.email_verified:
        User.objects.filter(pk=user.pk).update(email_verified=True)
    audit_record(
        event=AuditEventType.EMAIL_VERIFIED,
        request=request,
        target=user,
        email=email_address.email,
    )


_MFA_EVENTS = {
    mfa_signals.authenticator_added: AuditEventType.MFA_ENABLED,
    mfa_signals.authenticator_removed: AuditEventType.MFA_DISABLED,
    mfa_signals.authenticator_reset: AuditEventType.MFA_RECOVERY_CODES_REGENERATED,
}


@receiver(list(_MFA_EVENTS))
def _mfa_changed(sender, signal, request, user, authenticator, **kwargs):
    if signal is mfa_signals.authenticator_removed:
        forget_mfa_enrolment(request)
    audit_record(
        event=_MFA_EVENTS[signal],
        request=request,
        actor=user,
        target=user,
        method=authenticator.type,
    )


@receiver(mfa_signals.authentication_failed)
def _mfa_failed(sender, request, user, **kwargs):
    audit_record(event=AuditEventType.MFA_FAILED, request=request, actor=user, target=user)
