"""Who may use the operator console: active staff of the operator (public-schema
accounts with `is_staff`), with an authenticator app, whose session passed
the second factor.

The tenant MfaRequiredMiddleware leaves the public schema alone, so the
console checks MFA itself, on every request, from allauth's record of how the
session was authenticated.
"""

import enum
from functools import wraps
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse


class ConsoleAccess(enum.Enum):
    ALLOWED = "allowed"
    SIGN_IN = "sign_in"  # anonymous
    NOT_STAFF = "not_staff"  # signed in, but not active staff of the operator
    MFA_SETUP = "mfa_setup"  # staff without an authenticator app
    MFA_REAUTHENTICATE = "mfa_reauthenticate"  # has one, but this session did not use it


def is_operator_staff(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def has_authenticator_app(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def session_passed_mfa(request) -> bool:
    """allauth records each authentication step of the session (password, mfa,
    and reauthentications), for the user it was made by only."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


def console_access(request) -> ConsoleAccess:
    user = request.user
    if not user.is_authenticated:
        return ConsoleAccess.SIGN_IN
    if not is_operator_staff(user):
        return ConsoleAccess.NOT_STAFF
    if not has_authenticator_app(user):
        return ConsoleAccess.MFA_SETUP
    if not session_passed_mfa(request):
        return ConsoleAccess.MFA_REAUTHENTICATE
    return ConsoleAccess.ALLOWED


def _forbidden(request, message: str):
    return render(request, "403.html", {"message": message}, status=403)


def operator_required(view):
    """Every console view goes through this. Pages (GET) lead the way to what
    is missing; actions (POST) are refused outright, so nothing changes and
    no audit row is written for a refused attempt."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        access = console_access(request)
        if access is ConsoleAccess.ALLOWED:
            return view(request, *args, **kwargs)
        is_action = request.method not in ("GET", "HEAD")
        # After signing in or confirming the code, come back to the page, not
        # to an action's URL (which answers POST only).
        back_to = request.get_full_path() if not is_action else reverse("console:institutions")
        if access is ConsoleAccess.SIGN_IN:
            return redirect_to_login(back_to)
        if access is ConsoleAccess.NOT_STAFF:
            return _forbidden(request, "The operator console is for the operator's staff only.")
        if access is ConsoleAccess.MFA_SETUP:
            if is_action:
                return _forbidden(
                    request,
                    "Set up two-factor authentication before using the operator console.",
                )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return HttpResponseRedirect(
            f"{reverse('mfa_reauthenticate')}?{urlencode({'next': back_to}, safe='/')}"
        )

    return wrapped
