"""POST /api/v1/auth/*: sign-up, sign-in and account recovery for token clients.

How: every endpoint runs django-allauth's own forms and flows, so the API and
the browser pages share one set of rules (the institution's policy in our
AccountAdapter, the 5-failures-per-15-minutes lockout, MFA codes, enumeration
prevention, allauth's rate limits, its emails and keys, and the audit trail
fed by its signals). We use allauth headless' inputs (SignupInput,
ResetPasswordInput, VerifyEmailInput, RequestPasswordResetInput: plain Django
forms) and the flow functions its views call, but not headless' views: those
answer in headless' own shape and keep the sign-in state in a session, whereas
ours answer in the API's error shape and hand out our institution-bound tokens
(`tenant_apps.accounts.tokens`). allauth's flows stash state and flash
messages in the request's session; a token client has none, so they run with
a scratch session that is never saved (`_apart_from_browser_session`): no
session cookie is ever set by these endpoints.

Wire format (snake_case, like the rest of the API and RFC 6749's token
response; the design document's `token`/`refreshToken`/`expiresIn` are
`access_token`/`refresh_token`/`expires_in` here):

    {"access_token", "token_type": "Bearer", "expires_in",
     "refresh_token", "refresh_expires_in", "user": {...}}

With `"refresh_cookie": true` in a login or refresh body, the refresh token is
set as an httpOnly, SameSite=Strict cookie (Secure over HTTPS) scoped to
/api/v1/auth/ and left out of the body; /refresh/ then reads it from there.

Errors use the API's shape, `{"error": {"code", "message", "fields"}}`; the
codes are listed on each endpoint.
"""

import math
import time
from contextlib import contextmanager

from allauth.account import app_settings as account_settings
from allauth.account import signals as account_signals
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows import email_verification, password_reset
from allauth.account.models import EmailAddress, Login
from allauth.account.utils import has_verified_email
from allauth.core import ratelimit
from allauth.core.internal import ratelimit as ratelimit_internal
from allauth.headless.account.inputs import (
    RequestPasswordResetInput,
    ResetPasswordInput,
    SignupInput,
    VerifyEmailInput,
)
from allauth.headless.internal.sessionkit import session_store
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth import signals as auth_signals
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AnonymousUser, update_last_login
from django.contrib.messages.storage import default_storage
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from conceptspro.api import ApplicationError, error_response
from tenant_apps.audit.api import AuditEventType, audit_record

from ... import policies, selectors, tokens
from ...authentication import AccessTokenAuthentication
from ...models import User

REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/v1/auth/"
EMAIL_VERIFICATION_MANDATORY = account_settings.EmailVerificationMethod.MANDATORY


@extend_schema_serializer(component_name="TokenUser")
class UserOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField()


class TokenOutput(serializers.Serializer):
    """The token response (documentation: `_token_response` builds it)."""

    access_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds the access token stays valid.")
    refresh_token = serializers.CharField(
        required=False, help_text="Left out when it was set as the refresh cookie instead."
    )
    refresh_expires_in = serializers.IntegerField()
    user = UserOutput(required=False, help_text="On sign-in only.")


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


class RegisterInput(serializers.Serializer):
    """The body /register/ takes (documentation: RegisterView.Input, allauth's
    form, validates it)."""

    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)


class EmailInput(serializers.Serializer):
    email = serializers.EmailField()


class ResetPasswordBody(serializers.Serializer):
    key = serializers.CharField(help_text="The key from the password reset email.")
    password = serializers.CharField(trim_whitespace=False)


class VerifyEmailBody(serializers.Serializer):
    key = serializers.CharField(help_text="The key from the verification email.")


class VerifiedEmailOutput(serializers.Serializer):
    email = serializers.EmailField()
    verified = serializers.BooleanField()


class AnonymousAuthEndpoint(APIView):
    """For callers without a token: no authentication, so no CSRF check either
    (token clients send no session cookie)."""

    authentication_classes = []
    permission_classes = [AllowAny]


# --- helpers ---------------------------------------------------------------


@contextmanager
def _apart_from_browser_session(request: HttpRequest):
    """allauth's flows keep state in `request.session` and flash messages; give
    them a scratch session and message store that nothing saves, and the
    anonymous user DRF's `UNAUTHENTICATED_USER = None` would otherwise hide."""
    saved = request.session, getattr(request, "_messages", None), getattr(request, "user", None)
    request.session = session_store()
    request._messages = default_storage(request)
    request.user = AnonymousUser()
    try:
        yield
    finally:
        request.session, request._messages, request.user = saved


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ApplicationError("The body must be a JSON object.", code="malformed_request")
    return request.data


def _invalid(form) -> ApplicationError:
    fields = {
        ("non_field_errors" if name == "__all__" else name): [str(m) for m in messages]
        for name, messages in form.errors.items()
    }
    non_field = fields.get("non_field_errors")
    message = non_field[0] if non_field else "The request has invalid fields."
    return ApplicationError(message, code="invalid", fields=fields)


def _error_codes(form, field: str) -> set[str]:
    return {error.code for error in form.errors.as_data().get(field, [])}


def _seconds_until_allowed(request: HttpRequest, *, action: str, key: str) -> int:
    """When allauth's rate limit `action` for `key` lets the next attempt in."""
    now, waits = time.time(), [0.0]
    rates = ratelimit_internal.get_rates(app="allauth.account", action=action)
    for rate in rates:
        cache_key = ratelimit_internal.get_cache_key(
            request, app="allauth.account", action=action, rate=rate, key=key
        )
        live = [t for t in cache.get(cache_key, []) if t > now - rate.duration]
        if len(live) >= rate.amount:
            live.sort(reverse=True)
            waits.append(live[rate.amount - 1] + rate.duration - now)
    wait = max(waits) or max((rate.duration for rate in rates), default=60)
    return max(1, math.ceil(wait))


def _too_many_attempts(message: str, request: HttpRequest, *, key: str) -> ApplicationError:
    retry_after = _seconds_until_allowed(request, action="login_failed", key=key)
    return ApplicationError(
        message,
        code="too_many_attempts",
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(retry_after)},
    )


def _consume_rate_limit(request: HttpRequest, *, action: str, key: str | None = None) -> None:
    """allauth's rate limit for `action` (the same one its views apply)."""
    if not ratelimit.consume(request, action=action, key=key):
        raise ApplicationError(
            "Too many requests. Try again later.",
            code="rate_limited",
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={
                "Retry-After": str(_seconds_until_allowed(request, action=action, key=key or ""))
            },
        )


def _token_response(pair: tokens.TokenPair, request, *, cookie: bool, user=None, status_code=200):
    body = {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "refresh_token": pair.refresh_token,
        "refresh_expires_in": pair.refresh_expires_in,
    }
    if user is not None:
        body["user"] = UserOutput(user).data
    if cookie:
        del body["refresh_token"]
    response = Response(body, status=status_code)
    if cookie:
        response.set_cookie(
            REFRESH_COOKIE,
            pair.refresh_token,
            max_age=pair.refresh_expires_in,
            path=REFRESH_COOKIE_PATH,
            secure=request.is_secure(),
            httponly=True,
            samesite="Strict",
        )
    response["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    return response


def _clear_refresh_cookie(response) -> None:
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, samesite="Strict")


def _is_verified(user: User, email: str) -> bool:
    # Our flag (set by provisioning, SSO and the email_confirmed receiver) or allauth's record.
    return user.email_verified or has_verified_email(user, email)


# --- endpoints -------------------------------------------------------------


class RegisterView(AnonymousAuthEndpoint):
    """POST /api/v1/auth/register/: anyone, when the institution's security
    policy allows self-registration and password sign-in (else 403
    `registration_closed`).

    Body: first_name, last_name, email, password. Creates a student and sends
    allauth's verification email. 201 with the same body whether or not the
    address already had an account (the owner of an existing address gets
    allauth's "you already have an account" email instead). 400 `invalid` with
    `fields` (weak password, address outside the allowed domains, ...); 429
    `rate_limited` (allauth's `signup` limit).
    """

    class Input(SignupInput):
        def clean_password(self):
            return self.cleaned_data["password"]  # validated in clean(), with the names

        def clean(self):
            cleaned_data = super().clean()
            password = cleaned_data.get("password")
            if password:
                # As allauth's SignupForm: a not-yet-saved user, so the
                # similarity validator sees the names and the address.
                candidate = User(
                    email=cleaned_data.get("email") or "",
                    first_name=cleaned_data.get("first_name") or "",
                    last_name=cleaned_data.get("last_name") or "",
                )
                try:
                    get_adapter().clean_password(password, user=candidate)
                except DjangoValidationError as error:
                    self.add_error("password", error)
            return cleaned_data

    @extend_schema(
        operation_id="auth_register",
        request=RegisterInput,
        responses={201: DetailOutput},
        auth=[],
    )
    def post(self, request):
        django_request = request._request
        if not get_adapter(django_request).is_open_for_signup(django_request):
            raise ApplicationError(
                "This institution does not allow self-registration.",
                code="registration_closed",
                status=status.HTTP_403_FORBIDDEN,
            )
        _consume_rate_limit(django_request, action="signup")
        form = self.Input(data=_body(request))
        if not form.is_valid():
            raise _invalid(form)
        email = form.cleaned_data["email"]
        with _apart_from_browser_session(django_request):
            if form.account_already_exists:
                make_password(form.cleaned_data["password"])  # the same work as a new account
                user = None
            else:
                with transaction.atomic():
                    user = form.save(django_request)
                    account_signals.user_signed_up.send(
                        sender=User, request=django_request, user=user
                    )
            if account_settings.EMAIL_VERIFICATION != account_settings.EmailVerificationMethod.NONE:
                # What allauth's EmailVerificationStage does at sign-up; for an
                # existing address (user None) that is the "already exists" mail.
                email_verification.send_verification_email_at_login(
                    django_request, Login(user=user, email=email, signup=True)
                )
        return Response(
            {"detail": "Check your email to finish signing up."}, status=status.HTTP_201_CREATED
        )


class LoginView(AnonymousAuthEndpoint):
    """POST /api/v1/auth/login/: anyone; signs in a member of this institution.

    Body: email, password, and `code` (a TOTP or recovery code) for users with
    MFA; `refresh_cookie` (bool) to get the refresh token as a cookie.
    200: the token response with `user`. Refusals: 401 `invalid_credentials`
    (unknown address, wrong password, suspended or deleted account: one
    answer); 429 `too_many_attempts` with Retry-After (the 5-failures lockout,
    or too many MFA codes); 403 `password_login_disabled` (SSO only);
    403 `email_not_verified` (a new verification email is sent); 401
    `mfa_required` / `mfa_invalid`; 403 `mfa_setup_required` (the policy
    requires MFA for the user's role and they have none: set it up in the
    browser). Opens an API session only: no browser session, no cookie but the
    optional refresh cookie.
    """

    @extend_schema_serializer(component_name="LoginInput")
    class Input(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(trim_whitespace=False)
        code = serializers.CharField(required=False, allow_blank=True)
        refresh_cookie = serializers.BooleanField(required=False, default=False)

    @extend_schema(operation_id="auth_login", request=Input, responses={200: TokenOutput}, auth=[])
    def post(self, request):
        django_request = request._request
        _consume_rate_limit(django_request, action="login")
        data = self.Input(data=_body(request))
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        with _apart_from_browser_session(django_request):
            user = self._authenticate(django_request, email, data.validated_data["password"])
            self._check_email_verified(django_request, user, email)
            self._check_second_factor(django_request, user, data.validated_data.get("code", ""))
            session = tokens.api_session_open(user)
            pair = tokens.token_pair_issue(user=user, session=session)
            update_last_login(None, user)
            account_signals.user_logged_in.send(
                sender=User, request=django_request, response=None, user=user
            )
        return _token_response(
            pair, request, cookie=data.validated_data["refresh_cookie"], user=user
        )

    def _authenticate(self, request: HttpRequest, email: str, password: str) -> User:
        adapter = get_adapter(request)
        try:
            # Lockout, SSO-only refusal and the audit of failures live in the adapter.
            user = adapter.authenticate(request, email=email, password=password)
        except DjangoValidationError as error:
            if error.code == "password_login_disabled":
                raise ApplicationError(
                    error.messages[0],
                    code="password_login_disabled",
                    status=status.HTTP_403_FORBIDDEN,
                ) from None
            key = adapter._get_login_attempts_cache_key(request, email=email)
            raise _too_many_attempts(error.messages[0], request, key=key) from None
        if user is not None and not policies.can_sign_in(user):
            # allauth hands back a right password's inactive user (for its
            # "inactive" page) and rolls back the failure; for us it is a
            # failure like any other, counted and audited, with the same answer.
            ratelimit.consume(
                request,
                action="login_failed",
                key=adapter._get_login_attempts_cache_key(request, email=email),
            )
            adapter.authentication_failed(request, email=email)
            user = None
        if user is None:
            raise ApplicationError(
                "The email address or password is not correct.",
                code="invalid_credentials",
                status=status.HTTP_401_UNAUTHORIZED,
            )
        return user

    def _check_email_verified(self, request: HttpRequest, user: User, email: str) -> None:
        if account_settings.EMAIL_VERIFICATION != EMAIL_VERIFICATION_MANDATORY:
            return
        if _is_verified(user, email):
            return
        # As allauth's EmailVerificationStage: (re)send the link, rate limited.
        email_verification.send_verification_email_at_login(
            request, Login(user=user, email=email, email_verification=EMAIL_VERIFICATION_MANDATORY)
        )
        raise ApplicationError(
            "Verify your email address first: we have sent you a link.",
            code="email_not_verified",
            status=status.HTTP_403_FORBIDDEN,
        )

    def _check_second_factor(self, request: HttpRequest, user: User, code: str) -> None:
        if not is_mfa_enabled(user):
            if policies.mfa_required(user, selectors.security_policy()):
                raise ApplicationError(
                    "Your institution requires two-factor authentication for your role. "
                    "Set it up by signing in on the website.",
                    code="mfa_setup_required",
                    status=status.HTTP_403_FORBIDDEN,
                )
            return
        if not code:
            raise ApplicationError(
                "Enter the code from your authenticator app (or a recovery code).",
                code="mfa_required",
                status=status.HTTP_401_UNAUTHORIZED,
                fields={"code": ["This field is required."]},
            )
        # allauth's own check: TOTP or an unused recovery code, its per-user
        # attempt limit, and its failure signal (audited as mfa.failed).
        form = AuthenticateForm(data={"code": code}, user=user)
        if form.is_valid():
            form.save()
            return
        if "too_many_login_attempts" in _error_codes(form, "code"):
            raise _too_many_attempts(
                form.errors["code"][0], request, key=f"mfa-auth-user-{user.pk}"
            )
        raise ApplicationError(
            "The code is not correct.",
            code="mfa_invalid",
            status=status.HTTP_401_UNAUTHORIZED,
            fields={"code": [str(m) for m in form.errors["code"]]},
        )


class RefreshView(AnonymousAuthEndpoint):
    """POST /api/v1/auth/refresh/: whoever holds a refresh token of this
    institution (in the body as `refresh_token`, or the refresh cookie).

    200: a new token pair (no `user`); the presented refresh token is spent.
    401 `invalid_refresh_token` for an unknown, spent, expired, revoked or
    other institution's token. Presenting a spent token again is reuse: its
    session (and every token of it) is ended and audited
    (`token.refresh_reused`).
    """

    @extend_schema_serializer(component_name="RefreshInput")
    class Input(serializers.Serializer):
        refresh_token = serializers.CharField(required=False)
        refresh_cookie = serializers.BooleanField(required=False)

    @extend_schema(
        operation_id="auth_refresh", request=Input, responses={200: TokenOutput}, auth=[]
    )
    def post(self, request):
        data = self.Input(data=_body(request))
        data.is_valid(raise_exception=True)
        from_cookie = "refresh_token" not in data.validated_data
        token = request.COOKIES.get(REFRESH_COOKIE) if from_cookie else None
        token = token or data.validated_data.get("refresh_token")
        if not token:
            raise ApplicationError(
                "Send the refresh token.",
                code="invalid",
                fields={"refresh_token": ["This field is required."]},
            )
        try:
            pair = tokens.token_pair_refresh(token)
        except tokens.RefreshRefused as refused:
            if refused.reused:
                audit_record(
                    event=AuditEventType.TOKEN_REFRESH_REUSED,
                    request=request._request,
                    actor=None,
                    target=refused.user,
                )
            response = error_response(
                status_code=status.HTTP_401_UNAUTHORIZED,
                code="invalid_refresh_token",
                message="The refresh token is not valid. Sign in again.",
            )
            if from_cookie:
                _clear_refresh_cookie(response)
            return response
        cookie = data.validated_data.get("refresh_cookie", from_cookie)
        return _token_response(pair, request, cookie=cookie)


class LogoutView(APIView):
    """POST /api/v1/auth/logout/: a caller with a valid access token (Bearer).

    Ends the API session the token belongs to: that access token and its
    refresh token stop working at once. A `refresh_token` in the body (of the
    same user) ends its session too. 204; the refresh cookie is cleared.
    """

    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="LogoutInput")
    class Input(serializers.Serializer):
        refresh_token = serializers.CharField(required=False)

    @extend_schema(
        operation_id="auth_logout",
        request=Input,
        responses={204: OpenApiResponse(description="Signed out.")},
    )
    def post(self, request):
        data = self.Input(data=_body(request))
        data.is_valid(raise_exception=True)
        sessions = [tokens.access_token_session(request.auth)]
        for refresh_token in (
            data.validated_data.get("refresh_token"),
            request.COOKIES.get(REFRESH_COOKIE),
        ):
            if refresh_token:
                sessions.append(tokens.refresh_token_session(refresh_token, user=request.user))
        for session in sessions:
            if session is not None:
                tokens.api_session_close(session)
        auth_signals.user_logged_out.send(sender=User, request=request._request, user=request.user)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        _clear_refresh_cookie(response)
        return response


class ForgotPasswordView(AnonymousAuthEndpoint):
    """POST /api/v1/auth/forgot-password/: anyone. Body: email.

    Sends allauth's password reset email (with the key /reset-password/ takes)
    to an account with this address. 200 with the same body whether or not
    one exists. 400 `invalid` for a malformed address; 429 `rate_limited`
    (allauth's `reset_password` limit, per address and per IP).
    """

    @extend_schema(
        operation_id="auth_forgot_password",
        request=EmailInput,
        responses={200: DetailOutput},
        auth=[],
    )
    def post(self, request):
        django_request = request._request
        form = RequestPasswordResetInput(data=_body(request))
        if not form.is_valid():
            raise _invalid(form)
        _consume_rate_limit(
            django_request, action="reset_password", key=form.cleaned_data["email"].lower()
        )
        with _apart_from_browser_session(django_request):
            form.save(django_request)
        return Response(
            {"detail": "If an account uses this address, we have sent it a password reset link."}
        )


class ResetPasswordView(AnonymousAuthEndpoint):
    """POST /api/v1/auth/reset-password/: whoever holds a reset key from the
    email. Body: key, password.

    The key is allauth's `<uid>-<token>` (validated as allauth headless does:
    UserTokenForm). Sets the password, which ends the user's sessions and API
    tokens (their session hash changes), lifts a login lockout and audits
    `password.reset`. 200; 400 `invalid` with `fields.key` for a bad or used
    key, `fields.password` for a weak password; 429 `rate_limited`.
    """

    @extend_schema(
        operation_id="auth_reset_password",
        request=ResetPasswordBody,
        responses={200: DetailOutput},
        auth=[],
    )
    def post(self, request):
        django_request = request._request
        _consume_rate_limit(django_request, action="reset_password_from_key")
        form = ResetPasswordInput(data=_body(request))
        if not form.is_valid():
            raise _invalid(form)
        with _apart_from_browser_session(django_request):
            password_reset.reset_password(form.user, form.cleaned_data["password"])
            password_reset.finalize_password_reset(django_request, form.user)
        tokens.sessions_ended_tell(form.user.pk)
        return Response({"detail": "Your password has been changed. Sign in with it."})


class VerifyEmailView(AnonymousAuthEndpoint):
    """POST /api/v1/auth/verify-email/: whoever holds a verification key from
    the email. Body: key. 200 with the verified address; 400 `invalid` with
    `fields.key` for a bad, expired or already used key."""

    @extend_schema(
        operation_id="auth_verify_email",
        request=VerifyEmailBody,
        responses={200: VerifiedEmailOutput},
        auth=[],
    )
    def post(self, request):
        django_request = request._request
        form = VerifyEmailInput(data=_body(request))
        if not form.is_valid():
            raise _invalid(form)
        with _apart_from_browser_session(django_request):
            address = form.verification.confirm(django_request)
        if address is None:
            raise ApplicationError(
                "This address cannot be verified.",
                code="invalid",
                fields={"key": ["This address cannot be verified."]},
            )
        return Response({"email": address.email, "verified": True})


class ResendVerificationView(AnonymousAuthEndpoint):
    """POST /api/v1/auth/resend-verification/: anyone. Body: email.

    Sends a new verification link if an account has this address unverified.
    200 with the same body whatever the address; allauth's rate limit (one
    email per address every few minutes) silently skips extra sends.
    """

    @extend_schema_serializer(component_name="ResendVerificationInput")
    class Input(serializers.Serializer):
        email = serializers.EmailField()

    @extend_schema(
        operation_id="auth_resend_verification",
        request=Input,
        responses={200: DetailOutput},
        auth=[],
    )
    def post(self, request):
        data = self.Input(data=_body(request))
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        address = EmailAddress.objects.filter(email__iexact=email, verified=False).first()
        if address is None:
            user = User.objects.filter(email=email).first()
            if user is not None and not _is_verified(user, email):
                address = email_verification.get_address_for_user(user)
        if address is not None and not address.verified and policies.can_sign_in(address.user):
            with _apart_from_browser_session(request._request):
                email_verification.send_verification_email_to_address(request._request, address)
        return Response({"detail": "If this address needs verifying, we have sent it a new link."})
