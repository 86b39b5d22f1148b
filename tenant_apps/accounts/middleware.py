"""Staff whom the institution requires to use MFA set it up before anything
else: pages redirect to the set-up page, and the API refuses their browser
session (token sign-in refuses them at /api/v1/auth/login/ already)."""

from allauth.mfa.models import Authenticator
from django.db import connection
from django.shortcuts import redirect
from django.urls import reverse
from django_tenants.utils import get_public_schema_name

from conceptspro.api import error_json_response

from . import policies, selectors

SESSION_FLAG = "conceptspro_mfa_enrolled"
# Pages a user without MFA must still reach: MFA set-up itself, the password
# confirmation allauth asks for before it, sign-out, assets.
EXEMPT_PREFIXES = (
    "/accounts/2fa/",
    "/accounts/reauthenticate/",
    "/accounts/logout/",
    "/static/",
    "/health/",
    "/api/v1/auth/",
)


class MfaRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._must_enrol(request):
            if request.path.startswith("/api/"):
                return error_json_response(
                    status_code=403,
                    code="mfa_setup_required",
                    message="Your institution requires two-factor authentication for your "
                    "role: set it up in your account's security page first.",
                )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

    def _must_enrol(self, request) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.session.get(SESSION_FLAG):
            return False
        if connection.schema_name == get_public_schema_name() or request.path.startswith(
            EXEMPT_PREFIXES
        ):
            return False
        if not policies.mfa_required(user, selectors.security_policy()):
            return False
        if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            request.session[SESSION_FLAG] = True
            return False
        return True


def forget_mfa_enrolment(request) -> None:
    """After an authenticator is removed, check again on the next page."""
    if request is not None and hasattr(request, "session"):
        request.session.pop(SESSION_FLAG, None)
