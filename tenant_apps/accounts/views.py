"""Browser pages of accounts that allauth does not provide: managing invitations
(admins) and accepting one (the invitee)."""

from allauth.account.utils import perform_login
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from conceptspro.api import ApplicationError

from . import invitations, policies, selectors
from .models import Role

# --- Forms -----------------------------------------------------------------------------


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=255, label="Email address")
    first_name = forms.CharField(max_length=100, required=False, label="First name")
    last_name = forms.CharField(max_length=100, required=False, label="Last name")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.STUDENT, label="Role")


class ImportForm(forms.Form):
    file = forms.FileField(
        allow_empty_file=True,  # the service explains what an empty file lacks
        label="CSV file",
        help_text="UTF-8 CSV with a header row: email, first_name, last_name, role "
        "(role defaults to student). At most 5,000 rows.",
    )
    dry_run = forms.BooleanField(
        required=False,
        initial=True,
        label="Dry run: check the file and show the report without sending anything",
    )


class AcceptForm(forms.Form):
    first_name = forms.CharField(max_length=100, label="First name")
    last_name = forms.CharField(max_length=100, label="Last name")


class AcceptWithPasswordForm(AcceptForm):
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


def _add_field_errors(form: forms.Form, fields: dict) -> None:
    names = {"password": "password1"}
    for name, errors in fields.items():
        target = names.get(name, name)
        for error in errors:
            form.add_error(target if target in form.fields else None, error)


# --- Admin: /accounts/invitations/ -----------------------------------------------------


def _require_admin(request):
    """None if the admin may go on; otherwise the answer (sign in first, or 403)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not policies.can_invite_users(request.user):
        raise PermissionDenied("Only the institution's administrators can manage invitations.")
    return None


def _manage_page(request, *, invite_form=None, import_form=None, report=None, status=200):
    return render(
        request,
        "accounts/invitation_list.html",
        {
            "open_invitations": invitations.invitation_list(
                status=invitations.InvitationStatus.OPEN
            ),
            "invite_form": invite_form or InviteForm(),
            "import_form": import_form or ImportForm(),
            "report": report,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def invitation_manage(request):
    """The admin's invitations page: open invitations, invite one person.

    Who may use it: an active admin of this institution (others: 403).
    """
    if (refusal := _require_admin(request)) is not None:
        return refusal
    if request.method == "GET":
        return _manage_page(request)
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _manage_page(request, invite_form=form, status=400)
    try:
        invitation, resent = invitations.invitation_create(
            **form.cleaned_data, invited_by=request.user, request=request
        )
    except ApplicationError as error:
        _add_field_errors(form, error.fields or {"email": [error.message]})
        return _manage_page(request, invite_form=form, status=error.status)
    if resent:
        messages.success(request, f"The invitation to {invitation.email} was sent again.")
    else:
        messages.success(request, f"An invitation was sent to {invitation.email}.")
    return redirect("invitation-manage")


@require_POST
def invitation_import(request):
    """Invite people from a CSV file; the page shows the per-row report.

    Who may use it: an active admin of this institution (others: 403).
    """
    if (refusal := _require_admin(request)) is not None:
        return refusal
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _manage_page(request, import_form=form, status=400)
    try:
        report = invitations.invitations_import_csv(
            data=form.cleaned_data["file"].read(invitations.CSV_MAX_BYTES + 1),
            invited_by=request.user,
            request=request,
            dry_run=form.cleaned_data["dry_run"],
        )
    except ApplicationError as error:
        _add_field_errors(form, error.fields or {"file": [error.message]})
        return _manage_page(request, import_form=form, status=error.status)
    return _manage_page(request, report=report)


@require_POST
def invitation_revoke(request, invitation_id):
    """Withdraw an invitation.

    Who may use it: an active admin of this institution (others: 403).
    """
    if (refusal := _require_admin(request)) is not None:
        return refusal
    try:
        invitation = invitations.invitation_get(invitation_id=invitation_id)
        invitations.invitation_revoke(
            invitation=invitation, revoked_by=request.user, request=request
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("invitation-manage")


# --- Invitee: /accounts/invitations/<key>/ --------------------------------------------


def _unusable_page(request, error: ApplicationError):
    return render(
        request,
        "accounts/invitation_unusable.html",
        {"message": error.message, "code": error.code},
        status=error.status,
    )


@require_http_methods(["GET", "POST"])
def invitation_accept(request, key):
    """Accept an invitation: the invitee chooses their names and (unless the
    institution signs in with SSO only) a password, and is signed in.

    Who may use it: anyone holding the link's key; an unknown key gets 404, a used,
    revoked or expired one 410.
    """
    invitation = invitations.invitation_by_key(key=key)
    try:
        invitations.invitation_usable(invitation)
    except ApplicationError as error:
        return _unusable_page(request, error)

    password_login = selectors.security_policy().password_login_enabled
    form_class = AcceptWithPasswordForm if password_login else AcceptForm
    context = {"invitation": invitation, "password_login": password_login}
    if request.method == "GET":
        form = form_class(
            initial={"first_name": invitation.first_name, "last_name": invitation.last_name}
        )
        return render(request, "accounts/invitation_accept.html", {**context, "form": form})

    form = form_class(request.POST)
    if not form.is_valid():
        return render(
            request, "accounts/invitation_accept.html", {**context, "form": form}, status=400
        )
    try:
        user = invitations.invitation_accept(
            key=key,
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            password=form.cleaned_data.get("password1"),
            request=request,
        )
    except ApplicationError as error:
        if error.code != "invalid":
            return _unusable_page(request, error)
        _add_field_errors(form, error.fields)
        return render(
            request, "accounts/invitation_accept.html", {**context, "form": form}, status=400
        )
    if not password_login:
        return render(request, "accounts/invitation_accepted_sso.html", {"new_user": user})
    messages.success(request, "Welcome! Your account is ready.")
    return perform_login(request, user, redirect_url=settings.LOGIN_REDIRECT_URL)


def email_addresses_managed(request):
    """allauth's page for adding and switching email addresses is closed: a
    user's address is their institutional identity (invitations, SSO, SIS
    imports match on it) and is changed by the institution's admins."""
    message = (
        "Your email address is managed by your institution. Ask an administrator to change it."
    )
    return render(request, "403.html", {"message": message}, status=403)
