"""The sign-up form: what a new institution's admin types, checked field by field."""

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ValidationError

from shared_apps.institutions.models import SLUG_MAX_LENGTH
from shared_apps.plans.models import Interval, Plan

from .selectors import plan_intervals, plan_purchasable, plans_public

# institution_create names its fields after the model and the provisioning job;
# the form names them for the person filling it in.
SERVICE_FIELD_TO_FORM_FIELD = {
    "name": "name",
    "slug": "slug",
    "admin_email": "admin_email",
    "admin_password": "password",
}


class PlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Plan) -> str:
        return f"{obj.name} — {obj.price_text()}"


class SignupForm(forms.Form):
    name = forms.CharField(
        label="Institution name",
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    slug = forms.CharField(
        label="Address",
        max_length=SLUG_MAX_LENGTH,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "none",
                "spellcheck": "false",
                "inputmode": "url",
            }
        ),
    )
    admin_first_name = forms.CharField(
        label="Your first name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    admin_last_name = forms.CharField(
        label="Your last name",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    admin_email = forms.EmailField(
        label="Your email",
        help_text="You sign in to your institution with it, as its first administrator.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_confirm = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    plan = PlanChoiceField(
        label="Plan",
        queryset=plans_public(),
        to_field_name="code",
        empty_label=None,
        widget=forms.RadioSelect,
    )
    interval = forms.ChoiceField(
        label="Billing",
        choices=Interval.choices,
        initial=Interval.MONTH,
        required=False,
        help_text="For paid plans only.",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["slug"].help_text = (
            f"Your institution's own address: <address>.{settings.BASE_DOMAIN}. "
            "Lowercase letters, digits and hyphens."
        )
        self.fields["password"].help_text = " ".join(password_validators_help_texts())

    def clean(self):
        cleaned = super().clean()
        password, confirm = cleaned.get("password"), cleaned.get("password_confirm")
        if password and confirm and password != confirm:
            self.add_error(
                "password_confirm",
                ValidationError("The two passwords are different.", code="password_mismatch"),
            )
        plan: Plan | None = cleaned.get("plan")
        if plan is None:
            return cleaned
        interval = cleaned.get("interval") or Interval.MONTH
        if not plan.needs_payment_at_signup:
            interval = Interval.MONTH  # nothing is billed, so there is nothing to choose
        elif interval not in plan_intervals(plan):
            self.add_error(
                "interval",
                ValidationError(f"{plan.name} is sold by the month only.", code="invalid"),
            )
        elif not plan_purchasable(plan, interval):
            self.add_error(
                "plan",
                ValidationError(
                    f"{plan.name} cannot be bought online yet: contact us to subscribe.",
                    code="not_purchasable",
                ),
            )
        cleaned["interval"] = interval
        return cleaned

    def add_service_errors(self, error: ValidationError) -> None:
        """institution_create's errors by field, onto this form's fields."""
        for field, errors in error.error_dict.items():
            for item in errors:
                self.add_error(SERVICE_FIELD_TO_FORM_FIELD.get(field), item)
