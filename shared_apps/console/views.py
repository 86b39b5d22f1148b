"""Pages of the operator console, on the bare domain under /console/.

Who may call them: the operator's active staff (public-schema accounts with
`is_staff`) who have an authenticator app and whose session passed it;
`policies.operator_required` wraps every view. Anyone else is sent to sign
in, refused (403) or sent to set up or confirm their second factor, and an
action (POST) is never carried out for them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from allauth.core.internal.httpkit import get_client_ip
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from conceptspro.api import ApplicationError
from conceptspro.tenancy import request_port
from shared_apps.institutions.models import Institution

from . import forms, selectors, services
from .policies import operator_required

# A refused action's page answers with the status its reason calls for.
STATUS_BY_ERROR_CODE = {
    "plan_limit_reached": 403,
    "not_active": 409,
    "not_suspended": 409,
    "not_failed": 409,
    "no_data": 409,
    "no_subscription": 409,
    "same_plan": 409,
    "checkout_not_closed": 409,
}


def _client_ip(request) -> str | None:
    return get_client_ip(request) or None


# --- the list -------------------------------------------------------------------


# The list's columns, in order; each sorts by its key of selectors.SORTS.
COLUMNS = [
    "name",
    "slug",
    "status",
    "plan",
    "subscription",
    "users",
    "courses",
    "storage",
    "activity",
    "mrr",
]


def _columns(request, current: str) -> list[dict]:
    """Each column's heading, the URL that sorts by it (ascending, or
    descending if it already sorts ascending) and its aria-sort state."""
    params = request.GET.copy()
    params.pop("page", None)
    columns = []
    for key in COLUMNS:
        params["sort"] = f"-{key}" if current == key else key
        state = "ascending" if current == key else "descending" if current == f"-{key}" else "none"
        columns.append(
            {
                "label": selectors.SORTS[key][0],
                "url": f"?{params.urlencode()}",
                "aria_sort": state,
            }
        )
    return columns


@require_GET
@operator_required
def institution_list(request):
    plans = selectors.plans_all()
    form = forms.InstitutionFilterForm(request.GET or None, plans=plans)
    status = 200
    filters = {}
    if form.is_bound:
        if form.is_valid():
            filters = {key: value for key, value in form.cleaned_data.items() if value}
        else:
            status = 400
    sort = filters.get("sort", "name")
    page = selectors.institution_page(
        selectors.institution_search(**filters), request.GET.get("page")
    )
    rows = [(institution, selectors.institution_usage(institution)) for institution in page]
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "console/institution_list.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "totals": selectors.institution_totals(),
            "form_errors": _form_errors(form) if form.is_bound else [],
            "columns": _columns(request, sort),
            "page_query": params.urlencode(),
            "base_domain": settings.BASE_DOMAIN,
            "port": request_port(request),
        },
        status=status,
    )


# --- one institution and its actions -----------------------------------------------


@dataclass(frozen=True)
class Action:
    title: str
    button: str
    form_class: type
    # Carries the action out with the form's cleaned data; returns the message
    # shown on success. Raises ValidationError when refused.
    perform: Callable
    # Whether the page offers it for an institution in this state (a refused
    # one is shown anyway, with its errors).
    offered: Callable[[Institution], bool]
    danger: bool = False
    # Where to go after success: the institution's page unless it is going away.
    to_list: bool = False


def _actor(request) -> dict:
    return {"actor": request.user, "ip_address": _client_ip(request)}


def _suspend(request, institution, data) -> str:
    services.institution_suspend(institution=institution, reason=data["reason"], **_actor(request))
    return f"{institution.name} is suspended."


def _reactivate(request, institution, data) -> str:
    services.institution_reactivate(institution=institution, **_actor(request))
    return f"{institution.name} is active again."


def _change_plan(request, institution, data) -> str:
    services.subscription_change_plan(institution=institution, plan=data["plan"], **_actor(request))
    return f"{institution.name} is now on the {data['plan'].name} plan."


def _extend_trial(request, institution, data) -> str:
    subscription = services.subscription_extend_trial(
        institution=institution, days=data["days"], **_actor(request)
    )
    return f"{institution.name}'s trial now ends on {subscription.trial_end:%-d %B %Y}."


def _export(request, institution, data) -> str:
    action = services.institution_export_start(institution=institution, **_actor(request))
    return (
        f"The export of {institution.name} is queued (task {action.details['task_id']}); "
        "its file appears under Exports once written."
    )


def _measure(request, institution, data) -> str:
    services.usage_measure_start(institution=institution, **_actor(request))
    return f"The usage of {institution.name} is being measured; reload in a moment."


def _retry(request, institution, data) -> str:
    services.provisioning_retry(institution=institution, **_actor(request))
    return f"Provisioning of {institution.name} is queued again."


def _delete(request, institution, data) -> str:
    action = services.institution_delete_start(
        institution=institution, confirm_slug=data["confirm_slug"], **_actor(request)
    )
    return (
        f"{institution.name} is being deleted: its data is exported first "
        f"(task {action.details['task_id']}); the export's name will be in the audit log."
    )


def _domain_add(request, institution, data) -> str:
    domain = services.domain_add(institution=institution, domain=data["domain"], **_actor(request))
    return f"{domain.domain} now leads to {institution.name}."


def _is(*statuses) -> Callable[[Institution], bool]:
    return lambda institution: institution.status in statuses


def _always(institution) -> bool:
    return True


def _has_subscription(institution) -> bool:
    return getattr(institution, "subscription", None) is not None


S = Institution.Status
ACTIONS: dict[str, Action] = {
    "suspend": Action("Suspend", "Suspend", forms.SuspendForm, _suspend, _is(S.ACTIVE)),
    "reactivate": Action(
        "Reactivate", "Reactivate", forms.ConfirmForm, _reactivate, _is(S.SUSPENDED)
    ),
    "change-plan": Action(
        "Change plan", "Change plan", forms.ChangePlanForm, _change_plan, _always
    ),
    "extend-trial": Action(
        "Extend the trial", "Extend trial", forms.ExtendTrialForm, _extend_trial, _has_subscription
    ),
    "export": Action(
        "Export its data", "Start an export", forms.ConfirmForm, _export, _is(*services.HAS_DATA)
    ),
    "measure-usage": Action(
        "Measure usage now", "Measure now", forms.ConfirmForm, _measure, _is(*services.HAS_DATA)
    ),
    "retry-provisioning": Action(
        "Retry provisioning", "Retry provisioning", forms.ConfirmForm, _retry, _is(S.FAILED)
    ),
    "add-domain": Action(
        "Add a custom domain", "Add domain", forms.DomainAddForm, _domain_add, _always
    ),
    "delete": Action(
        "Delete", "Export and delete", forms.DeleteForm, _delete, _always, danger=True, to_list=True
    ),
}


def _action_form(name: str, data=None, *, plans):
    form_class = ACTIONS[name].form_class
    extra = {"plans": plans} if form_class is forms.ChangePlanForm else {}
    return form_class(data, prefix=name, **extra)


def _form_errors(form) -> list[dict]:
    """Each error with the control it belongs to (for the summary's links) and
    its machine-readable code."""
    errors = []
    for field, field_errors in form.errors.as_data().items():
        target = form[field].auto_id if field in form.fields else ""
        for error in field_errors:
            for message in error.messages:
                errors.append({"target": target, "message": message, "code": error.code or ""})
    return errors


def _detail(
    request,
    institution: Institution,
    *,
    bound: tuple[str, object] | None = None,
    status: int | None = None,
):
    plans = selectors.plans_all()
    action_forms = []
    for name, action in ACTIONS.items():
        if bound and bound[0] == name:
            form = bound[1]
        elif action.offered(institution):
            form = _action_form(name, plans=plans)
        else:
            continue
        action_forms.append(
            {
                "name": name,
                "action": action,
                "form": form,
                "errors": _form_errors(form) if form.is_bound else [],
                "url": reverse("console:institution-action", args=[institution.pk, name]),
            }
        )
    if status is None and bound:
        codes = [e["code"] for e in _form_errors(bound[1])]
        status = next((STATUS_BY_ERROR_CODE[c] for c in codes if c in STATUS_BY_ERROR_CODE), 400)
    recent = selectors.institution_recent_actions(institution)
    return render(
        request,
        "console/institution_detail.html",
        {
            "institution": institution,
            "usage": selectors.institution_usage(institution),
            "subscription": getattr(institution, "subscription", None),
            "job": getattr(institution, "provisioning_job", None),
            "domains": list(institution.domains.all()),
            "recent_actions": recent,
            "exports": selectors.institution_exports(institution),
            "action_forms": action_forms,
            "base_domain": settings.BASE_DOMAIN,
            "port": request_port(request),
        },
        status=status or 200,
    )


def _institution_or_404(pk) -> Institution:
    institution = selectors.institution_for_console(pk)
    if institution is None:
        raise Http404("No such institution.")
    return institution


@require_GET
@operator_required
def institution_detail(request, pk):
    return _detail(request, _institution_or_404(pk))


@require_POST
@operator_required
def institution_action(request, pk, action: str):
    if action not in ACTIONS:
        raise Http404("No such action.")
    institution = _institution_or_404(pk)
    spec = ACTIONS[action]
    form = _action_form(action, request.POST, plans=selectors.plans_all())
    status = None
    if form.is_valid():
        try:
            message = spec.perform(request, institution, form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        except ApplicationError as exc:
            # Another app's refusal (billing: a plan Stripe cannot charge, the
            # payment provider unreachable), with its own code and status.
            form.add_error(None, ValidationError(exc.message, code=exc.code))
            status = exc.status
        else:
            messages.success(request, message)
            if spec.to_list:
                return redirect("console:institutions")
            return redirect("console:institution", pk=institution.pk)
    return _detail(request, institution, bound=(action, form), status=status)


# --- the audit log ------------------------------------------------------------------


@require_GET
@operator_required
def audit_log(request):
    form = forms.AuditFilterForm(request.GET or None)
    filters = {}
    status = 200
    if form.is_bound:
        if form.is_valid():
            filters = form.cleaned_data
        else:
            status = 400
    page = selectors.operator_action_page(
        selectors.operator_action_search(**filters), request.GET.get("page")
    )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "console/audit_log.html",
        {
            "form": form,
            "form_errors": _form_errors(form) if form.is_bound else [],
            "page": page,
            "page_query": params.urlencode(),
        },
        status=status,
    )
