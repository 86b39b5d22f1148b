"""django-allauth adapters: where the institution's security policy meets allauth.

The account adapter decides who may sign up and sign in with a password; the
social adapter creates SSO accounts just in time with the role the institution's
identity provider asserts. Both take a seat of the institution's plan for the
account they create, in the transaction that creates it.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from conceptspro.api import ApplicationError
from shared_apps.plans.api import LimitKind, usage_reserve
from tenant_apps.audit.api import AuditEventType, audit_record

from . import policies, selectors
from .models import Role
from .sso import role_from_claims, sso_claims


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _signup_page_refused(request, form, error: ApplicationError):
    """allauth's sign-up page again, with the refusal as the form's error."""
    from allauth.account.views import SignupView

    form.add_error(None, error.message)
    view = SignupView()
    view.setup(request)
    response = view.form_invalid(form)
    response.status_code = error.status
    return response.render()


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": _(
            "Too many failed sign-in attempts. For your security, sign-in is locked "
            "for 15 minutes. You can reset your password in the meantime."
        ),
        "password_login_disabled": _(
            "This institution signs in with single sign-on only. Use your "
            "institution's sign-in button."
        ),
    }

    def is_open_for_signup(self, request) -> bool:
        policy = selectors.security_policy()
        return policy.allow_self_registration and policy.password_login_enabled

    def pre_authenticate(self, request, **credentials) -> None:
        if not selectors.security_policy().password_login_enabled:
            raise self.validation_error("password_login_disabled")
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            audit_record(
                event=AuditEventType.LOCKOUT,
                request=request,
                email=credentials.get("email", ""),
            )
            raise

    def authentication_failed(self, request, **credentials) -> None:
        audit_record(
            event=AuditEventType.LOGIN_FAILED, request=request, email=credentials.get("email", "")
        )

    def pre_login(self, request, user, **kwargs):
        # Suspended and soft-deleted accounts get allauth's "inactive" answer.
        if not policies.can_sign_in(user):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            return self.respond_user_inactive(request, user)
        return super().pre_login(request, user, **kwargs)

    def save_user(self, request, user, form, commit=True):
        if getattr(form, "sociallogin", None) is not None:
            # An SSO sign-up that needed allauth's form (the provider sent no
            # address): SocialAccountAdapter.save_user reserved its seat and
            # the role came from the provider's claims.
            return super().save_user(request, user, form, commit=commit)
        # Self-registration and the API's register make students; other roles
        # come from invitations, SSO claims or an admin.
        user.role = Role.STUDENT
        if not commit:
            return super().save_user(request, user, form, commit=False)
        with transaction.atomic():
            try:
                usage_reserve(kind=LimitKind.USERS)
            except ApplicationError as error:
                if _is_api(request):
                    raise  # the API's error shape: 403 plan_limit_reached
                raise ImmediateHttpResponse(_signup_page_refused(request, form, error)) from None
            return super().save_user(request, user, form, commit=True)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        # An institution's own identity provider vouches for its people: first
        # SSO login creates the account, whether or not self-registration is open.
        return True

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        app = sociallogin.provider.app
        claims = sso_claims(sociallogin.account.extra_data, app.provider if app else "")
        user.role = role_from_claims(claims, (app.settings if app else {}))
        return user

    def is_email_verified(self, provider, email) -> bool:
        # SAML assertions carry no verification flag; the institution's
        # directory is where its addresses come from, so they are trusted.
        # OpenID Connect says so itself (`email_verified`), and allauth reads it.
        if provider.id == "saml":
            return True
        return super().is_email_verified(provider, email)

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        audit_record(
            event=AuditEventType.LOGIN_FAILED,
            request=request,
            provider=getattr(provider, "sub_id", None) or getattr(provider, "id", ""),
            sso_error=str(error or ""),
            reason=str(exception or "")[:500],
        )
        super().on_authentication_error(
            request, provider, error=error, exception=exception, extra_context=extra_context
        )

    def pre_social_login(self, request, sociallogin) -> None:
        user = sociallogin.user
        if sociallogin.is_existing and not policies.can_sign_in(user):
            from allauth.core.exceptions import ImmediateHttpResponse

            raise ImmediateHttpResponse(
                AccountAdapter(request).respond_user_inactive(request, user)
            )

    @transaction.atomic
    def save_user(self, request, sociallogin, form=None):
        try:
            usage_reserve(kind=LimitKind.USERS)
        except ApplicationError as error:
            # The person is sent back from their identity provider to this
            # page; no account is created and nobody is signed in.
            page = render(
                request,
                "accounts/sso_account_refused.html",
                {"message": error.message, "code": error.code},
                status=error.status,
            )
            raise ImmediateHttpResponse(page) from None
        user = super().save_user(request, sociallogin, form)
        if EmailAddress.objects.filter(user=user, email=user.email, verified=True).exists():
            user.email_verified = True
            user.save(update_fields=["email_verified"])
        audit_record(
            event=AuditEventType.SSO_ACCOUNT_CREATED,
            request=request,
            actor=user,
            target=user,
            provider=sociallogin.account.provider,
            role=user.role,
        )
        return user
