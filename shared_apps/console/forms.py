"""Forms of the operator console: the list's and the audit log's filters, and
one form per action (each checks its input; the state is checked by the
service, under the institution's row lock)."""

from django import forms

from shared_apps.institutions.models import Institution
from shared_apps.plans.models import Plan
from shared_apps.subscriptions.models import SubscriptionStatus

from .models import OperatorActionType
from .selectors import SORTS
from .services import TRIAL_EXTENSION_MAX_DAYS


def _with_any(choices, label="Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


SORT_CHOICES = [
    (f"{descending}{key}", f"{label} {arrow}")
    for key, (label, _) in SORTS.items()
    for descending, arrow in [("", "↑"), ("-", "↓")]
]


class InstitutionFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="Name, address, admin email or email domain.",
    )
    status = forms.ChoiceField(required=False, choices=_with_any(Institution.Status.choices))
    plan = forms.ModelChoiceField(
        required=False, queryset=Plan.objects.all(), to_field_name="code", empty_label="Any"
    )
    subscription_status = forms.ChoiceField(
        label="Subscription", required=False, choices=_with_any(SubscriptionStatus.choices)
    )
    sort = forms.ChoiceField(label="Sort by", required=False, choices=SORT_CHOICES)

    def __init__(self, *args, plans: list[Plan], **kwargs):
        super().__init__(*args, **kwargs)
        # The page reads the plans once, for this form and the others.
        self.fields["plan"].choices = [("", "Any"), *((p.code, p.name) for p in plans)]


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label="Staff member", required=False, max_length=255)
    action = forms.ChoiceField(required=False, choices=_with_any(OperatorActionType.choices))
    institution = forms.CharField(
        required=False, max_length=255, help_text="Its address, or part of its name."
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the audit log and on the institution's record.",
    )


class ConfirmForm(forms.Form):
    """An action with nothing to fill in: reactivate, export, retry, measure."""


class ChangePlanForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.all(), to_field_name="code")

    def __init__(self, *args, plans: list[Plan], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", "Choose a plan"), *((p.code, p.name) for p in plans)]


class ExtendTrialForm(forms.Form):
    days = forms.IntegerField(
        min_value=1,
        max_value=TRIAL_EXTENSION_MAX_DAYS,
        help_text=f"1 to {TRIAL_EXTENSION_MAX_DAYS}, added to the trial's end "
        "(to today if it has ended).",
    )


class DeleteForm(forms.Form):
    confirm_slug = forms.CharField(
        label="Type the institution's address to confirm",
        max_length=100,
        help_text="Its data is exported first; then its schema and records are deleted for good.",
    )


class DomainAddForm(forms.Form):
    domain = forms.CharField(
        max_length=253, help_text="The institution's own address, e.g. lms.university.edu."
    )
