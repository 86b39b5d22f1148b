"""The operator console through HTTP on the bare domain, signed in as staff
with MFA: the institutions list (totals, search, filters, sorting, paging,
a query count independent of the number of institutions), one institution's
page, each action's effect and its audit row, refusals that change nothing,
and the audit log."""

import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_exists

from provisioning.models import ProvisioningJob
from shared_apps.console.models import OperatorAction, OperatorActionType
from shared_apps.institutions.models import Domain, Institution, SuspensionCause
from shared_apps.plans.metering import usage_measure
from shared_apps.plans.models import Feature, InstitutionUsage, Interval, Plan
from shared_apps.subscriptions.models import Subscription, SubscriptionStatus

from .conftest import PASSWORD, host_client, make_institution, pending_institution
from .test_browser_auth import assert_accessible_form
from .test_console_access import console_client

CONSOLE = "/console/"
# The list's queries: search path, session, user, authenticator app, plans
# (for the filters), count, rows, totals; whatever the number of institutions.
LIST_QUERY_BOUND = 8


@pytest.fixture
def operator(db):
    client, _ = console_client("olga@operator.test")
    return client


def detail(institution) -> str:
    return f"{CONSOLE}institutions/{institution.pk}/"


def act(client, institution, action: str, data: dict | None = None):
    """POST an action's form, its fields under the action's prefix."""
    fields = {f"{action}-{key}": value for key, value in (data or {}).items()}
    return client.post(f"{detail(institution)}{action}/", fields)


def error_codes(response) -> list[str]:
    return [
        error["code"] for entry in response.context["action_forms"] for error in entry["errors"]
    ]


def only_action(**filters) -> OperatorAction:
    [action] = OperatorAction.objects.filter(**filters)
    return action


def subscription_set(institution, plan_code: str, status: str, interval=Interval.MONTH):
    """Billing's state, as Stripe's webhooks would leave it."""
    plan = Plan.objects.get(code=plan_code)
    Institution.objects.filter(pk=institution.pk).update(plan=plan)
    Subscription.objects.update_or_create(
        institution=institution, defaults={"plan": plan, "status": status, "interval": interval}
    )


def usage_set(institution, **counters) -> None:
    InstitutionUsage.objects.update_or_create(institution=institution, defaults=counters)


def plan_with_custom_domains() -> Plan:
    return Plan.objects.create(
        code="enterprise",
        name="Enterprise",
        price_monthly_cents=150000,
        features={Feature.CUSTOM_DOMAIN: True, Feature.SSO: True},
        sort_order=40,
    )


# --- the list -------------------------------------------------------------------------


def test_the_list_shows_status_plan_usage_revenue_and_totals(alpha, beta, operator):
    signed_in = host_client("alpha.localhost").post(
        "/accounts/login/", {"login": "admin@alpha.test", "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    connection.set_schema_to_public()
    usage_measure(institution=alpha)  # alpha's own admin: one user, who just signed in
    subscription_set(beta, "standard", SubscriptionStatus.ACTIVE)
    yearly = pending_institution("yearly")
    subscription_set(yearly, "standard", SubscriptionStatus.PAST_DUE, Interval.YEAR)
    pending_institution("trying")  # the default plan: a trial brings nothing in yet

    response = operator.get(CONSOLE)
    assert response.status_code == 200
    rows = {
        institution.slug: (institution, usage) for institution, usage in response.context["rows"]
    }
    assert set(rows) == {"alpha", "beta", "yearly", "trying"}

    alpha_row, alpha_usage = rows["alpha"]
    assert alpha_row.status == "active" and alpha_row.plan.code == "trial"
    assert alpha_row.subscription_status == SubscriptionStatus.TRIALING
    trial = Plan.objects.get(code="trial")
    assert [(line.name, line.used, line.limit) for line in alpha_usage] == [
        ("users", 1, trial.max_users),
        ("courses", 0, trial.max_courses),
        ("storage", 0, trial.max_storage_bytes),
    ]
    assert alpha_row.usage_last_activity_at is not None
    assert rows["beta"][0].usage_last_activity_at is None  # never measured
    assert alpha_row.mrr_cents == 0
    assert rows["beta"][0].mrr_cents == 49900
    assert rows["yearly"][0].mrr_cents == 499000 // 12  # past due still counts
    assert rows["trying"][0].mrr_cents == 0

    totals = response.context["totals"]
    assert totals.institutions == 4
    assert dict((status, count) for status, _, count in totals.by_status)["pending"] == 2
    assert totals.mrr_cents == 49900 + 499000 // 12
    page = response.content.decode()
    assert "914.83 USD" in page  # 49,900 + 41,583 cents
    assert 'href="http://alpha.localhost/"' in page
    assert f'href="{detail(alpha)}"' in page


def test_an_institutions_own_limit_overrides_its_plans(alpha, operator):
    Institution.objects.filter(pk=alpha.pk).update(max_users=3)
    usage_set(alpha, users=4)
    row = operator.get(CONSOLE, {"q": "alpha"}).context["rows"][0]
    users = row[1][0]
    assert (users.used, users.limit, users.over) == (4, 3, True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "Alpha Univ"}, {"alpha"}),
        ({"q": "bet"}, {"beta"}),
        ({"q": "ADMIN@BETA.TEST"}, {"beta"}),
        ({"q": "@alpha.edu"}, {"alpha"}),
        ({"q": "nothing-like-it"}, set()),
        ({"status": "pending"}, {"waiting"}),
        ({"status": "active"}, {"alpha", "beta"}),
        ({"plan": "standard"}, {"beta"}),
        ({"subscription_status": "active"}, {"beta"}),
        ({"subscription_status": "trialing", "status": "active"}, {"alpha"}),
    ],
)
def test_search_and_filters(alpha, beta, operator, query, expected):
    Institution.objects.filter(pk=alpha.pk).update(email_domain="alpha.edu")
    subscription_set(beta, "standard", SubscriptionStatus.ACTIVE)
    pending_institution("waiting")
    response = operator.get(CONSOLE, query)
    assert response.status_code == 200
    assert {row.slug for row, _ in response.context["rows"]} == expected


def test_sorting(alpha, beta, operator):
    subscription_set(beta, "standard", SubscriptionStatus.ACTIVE)
    pending_institution("gamma")
    usage_set(alpha, users=7)
    usage_set(beta, users=2)

    def order(sort):
        response = operator.get(CONSOLE, {"sort": sort})
        return [row.slug for row, _ in response.context["rows"]]

    assert order("name") == ["alpha", "beta", "gamma"]
    assert order("-name") == ["gamma", "beta", "alpha"]
    assert order("-mrr") == ["beta", "alpha", "gamma"]
    assert order("-users") == ["alpha", "beta", "gamma"]
    assert order("users") == ["gamma", "beta", "alpha"]
    # Never measured: last, whichever the direction.
    assert order("activity")[-1] == order("-activity")[-1] == "gamma"

    # The column headings sort, and say how the list is sorted.
    page = operator.get(CONSOLE, {"sort": "-mrr", "q": "a"}).content.decode()
    assert 'aria-sort="descending"><a href="?sort=mrr&amp;q=a">MRR' in page
    assert '<a href="?sort=name&amp;q=a">Name' in page


def test_a_filter_that_makes_no_sense_is_a_400_with_its_code(alpha, operator):
    response = operator.get(CONSOLE, {"sort": "password", "status": "sleeping"})
    assert response.status_code == 400
    codes = {error["code"] for error in response.context["form_errors"]}
    assert codes == {"invalid_choice"}
    assert b'class="error-summary"' in response.content


def test_the_list_is_paged(db, operator):
    for number in range(26):
        pending_institution(f"inst-{number:02d}")
    first = operator.get(CONSOLE, {"q": "inst-"})
    assert first.context["page"].paginator.count == 26
    assert len(first.context["rows"]) == 25
    assert b'rel="next" href="?q=inst-&amp;page=2"' in first.content
    second = operator.get(CONSOLE, {"q": "inst-", "page": 2})
    assert [row.slug for row, _ in second.context["rows"]] == ["inst-25"]


def _list_query_count(client, django_assert_max_num_queries) -> tuple[int, int]:
    """(queries, rows) of the list's first page."""
    with (
        django_assert_max_num_queries(LIST_QUERY_BOUND),
        CaptureQueriesContext(connection) as queries,
    ):
        response = client.get(CONSOLE)
    assert response.status_code == 200
    return len(queries), len(response.context["rows"])


def test_the_list_costs_the_same_queries_for_3_and_10_institutions(
    alpha, beta, operator, django_assert_max_num_queries
):
    usage_measure(institution=alpha)
    subscription_set(beta, "standard", SubscriptionStatus.ACTIVE)
    pending_institution("third")
    with_three = _list_query_count(operator, django_assert_max_num_queries)
    for number in range(7):
        pending_institution(f"more-{number}")
    with_ten = _list_query_count(operator, django_assert_max_num_queries)
    assert with_three[1] == 3 and with_ten[1] == 10
    assert with_three[0] == with_ten[0]


def test_the_institution_page_shows_job_subscription_domains_and_is_bounded(
    alpha, operator, django_assert_max_num_queries
):
    # The list's first four, the institution with its plan, subscription, job
    # and usage, the plans, its domains, its recent actions and its exports.
    with django_assert_max_num_queries(9):
        response = operator.get(detail(alpha))
    assert response.status_code == 200
    page = response.content.decode()
    assert "schema, domain, admin, settings, activate" in page  # the job's steps
    assert "alpha.localhost" in page and "(primary)" in page
    assert "Trialing" in page
    offered = [entry["name"] for entry in response.context["action_forms"]]
    assert offered == [
        "suspend",
        "change-plan",
        "extend-trial",
        "export",
        "measure-usage",
        "add-domain",
        "delete",
    ]


def test_an_unknown_institution_or_action_is_a_404(alpha, operator):
    missing = "00000000-0000-0000-0000-000000000000"
    assert operator.get(f"{CONSOLE}institutions/{missing}/").status_code == 404
    assert operator.post(f"{CONSOLE}institutions/{missing}/suspend/").status_code == 404
    assert operator.post(f"{detail(alpha)}explode/").status_code == 404
    assert operator.get(f"{detail(alpha)}suspend/").status_code == 405


# --- actions ----------------------------------------------------------------------------


def test_suspend_needs_a_reason_then_suspends_and_is_audited(
    alpha, operator, django_capture_on_commit_callbacks
):
    refused = act(operator, alpha, "suspend", {"reason": "  "})
    assert refused.status_code == 400
    assert error_codes(refused) == ["required"]
    assert not OperatorAction.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = act(operator, alpha, "suspend", {"reason": "Invoice 42 unpaid"})
    assert done.status_code == 302 and done["Location"] == detail(alpha)
    assert b"Alpha University is suspended." in operator.get(done["Location"]).content
    alpha.refresh_from_db()
    assert alpha.status == Institution.Status.SUSPENDED
    assert alpha.suspension_cause == SuspensionCause.OPERATOR
    assert alpha.status_reason == "Invoice 42 unpaid"
    assert host_client("alpha.localhost").get("/").status_code == 403  # the suspended page

    row = only_action(action=OperatorActionType.INSTITUTION_SUSPEND)
    assert row.actor_email == "olga@operator.test" and row.actor.email == row.actor_email
    assert (row.institution, row.institution_slug) == (alpha, "alpha")
    assert row.details == {"reason": "Invoice 42 unpaid"}
    assert row.ip_address == "127.0.0.1"

    again = act(operator, alpha, "suspend", {"reason": "Twice"})
    assert again.status_code == 409 and error_codes(again) == ["not_active"]
    assert OperatorAction.objects.count() == 1


def test_reactivate_only_a_suspended_institution(
    alpha, operator, django_capture_on_commit_callbacks
):
    refused = act(operator, alpha, "reactivate")
    assert refused.status_code == 409 and error_codes(refused) == ["not_suspended"]
    assert b"Only a suspended institution can be reactivated." in refused.content
    assert not OperatorAction.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        act(operator, alpha, "suspend", {"reason": "Abuse report"})
        done = act(operator, alpha, "reactivate")
    assert done.status_code == 302
    alpha.refresh_from_db()
    assert alpha.status == Institution.Status.ACTIVE and alpha.suspension_cause == ""
    assert host_client("alpha.localhost").get("/").status_code == 200
    row = only_action(action=OperatorActionType.INSTITUTION_REACTIVATE)
    assert row.details == {"suspension": {"cause": "operator", "reason": "Abuse report"}}


def test_change_plan(alpha, operator):
    same = act(operator, alpha, "change-plan", {"plan": "trial"})
    assert same.status_code == 409 and error_codes(same) == ["same_plan"]
    unknown = act(operator, alpha, "change-plan", {"plan": "platinum"})
    assert unknown.status_code == 400 and error_codes(unknown) == ["invalid_choice"]
    assert not OperatorAction.objects.exists()

    done = act(operator, alpha, "change-plan", {"plan": "standard"})
    assert done.status_code == 302
    alpha.refresh_from_db()
    assert alpha.plan.code == "standard"
    assert Subscription.objects.get(institution=alpha).plan.code == "standard"
    row = only_action(action=OperatorActionType.SUBSCRIPTION_CHANGE_PLAN)
    assert row.details == {"from": "trial", "to": "standard"}


@override_settings(STRIPE_SECRET_KEY="sk_test_console")
def test_a_plan_stripe_cannot_charge_is_refused_for_a_subscription_stripe_bills(alpha, operator):
    """Billing's own refusal reaches the form with its code and status; the
    plan and the audit log stay as they were."""
    Subscription.objects.filter(institution=alpha).update(
        status=SubscriptionStatus.ACTIVE, stripe_customer_id="cus_1", stripe_subscription_id="sub_1"
    )
    refused = act(operator, alpha, "change-plan", {"plan": "free"})
    assert refused.status_code == 400 and error_codes(refused) == ["price_unavailable"]
    alpha.refresh_from_db()
    assert alpha.plan.code == "trial"
    assert not OperatorAction.objects.exists()


def test_extend_trial(alpha, operator):
    before = Subscription.objects.get(institution=alpha).trial_end
    for days, code in [(0, "min_value"), (366, "max_value"), ("soon", "invalid")]:
        refused = act(operator, alpha, "extend-trial", {"days": days})
        assert refused.status_code == 400 and error_codes(refused) == [code]
    assert not OperatorAction.objects.exists()

    done = act(operator, alpha, "extend-trial", {"days": 14})
    assert done.status_code == 302
    subscription = Subscription.objects.get(institution=alpha)
    assert subscription.trial_end == before + timedelta(days=14)
    assert subscription.status == SubscriptionStatus.TRIALING
    row = only_action(action=OperatorActionType.SUBSCRIPTION_EXTEND_TRIAL)
    assert row.details["days"] == 14
    assert row.details["trial_end"] == subscription.trial_end.isoformat()


def test_extend_trial_without_a_subscription_is_refused(alpha, operator):
    Subscription.objects.filter(institution=alpha).delete()
    refused = act(operator, alpha, "extend-trial", {"days": 14})
    assert refused.status_code == 409 and error_codes(refused) == ["no_subscription"]
    assert not OperatorAction.objects.exists()


def test_an_export_is_queued_and_its_file_named_in_the_audit_log(
    alpha, operator, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        done = act(operator, alpha, "export")
    assert done.status_code == 302
    row = only_action(action=OperatorActionType.INSTITUTION_EXPORT)
    name = row.details["export_name"]
    assert name.startswith("platform/exports/alpha-")
    with default_storage.open(name) as exported:
        document = json.load(exported)
    default_storage.delete(name)
    assert document["institution"]["slug"] == "alpha"
    assert row.details["task_id"] in operator.get(done["Location"]).content.decode()
    page = operator.get(detail(alpha)).content.decode()
    assert name in page  # under "Exports"


def test_an_export_before_provisioning_is_refused(db, operator):
    waiting = pending_institution("waiting")
    refused = act(operator, waiting, "export")
    assert refused.status_code == 409 and error_codes(refused) == ["no_data"]
    assert not OperatorAction.objects.exists()


def test_measure_usage_now(alpha, operator, celery_eager, django_capture_on_commit_callbacks):
    usage_set(alpha, users=40, measured_at=None)  # drifted, never measured
    with django_capture_on_commit_callbacks(execute=True):
        done = act(operator, alpha, "measure-usage")
    assert done.status_code == 302
    usage = InstitutionUsage.objects.get(institution=alpha)
    assert usage.users == 1 and usage.measured_at is not None
    row = only_action(action=OperatorActionType.USAGE_MEASURE)
    assert set(row.details) == {"task_id"}


def test_retry_only_a_failed_provisioning(
    alpha, operator, celery_eager, django_capture_on_commit_callbacks
):
    refused = act(operator, alpha, "retry-provisioning")
    assert refused.status_code == 409 and error_codes(refused) == ["not_failed"]
    assert not OperatorAction.objects.exists()

    failed = pending_institution("flaky")
    # What a worker that crashed mid-way leaves behind.
    Institution.objects.filter(pk=failed.pk).update(
        status=Institution.Status.FAILED, status_reason="OperationalError: lost"
    )
    ProvisioningJob.objects.filter(institution=failed).update(
        attempts=1, last_error="OperationalError: lost"
    )
    page = operator.get(detail(failed))
    assert "retry-provisioning" in [entry["name"] for entry in page.context["action_forms"]]
    assert b"OperationalError: lost" in page.content

    with django_capture_on_commit_callbacks(execute=True):
        done = act(operator, failed, "retry-provisioning")
    assert done.status_code == 302
    failed.refresh_from_db()
    assert failed.status == Institution.Status.ACTIVE
    assert failed.provisioning_job.attempts == 2
    row = only_action(action=OperatorActionType.PROVISIONING_RETRY)
    assert row.details == {"attempts": 1, "last_error": "OperationalError: lost"}


def test_delete_needs_the_typed_address_then_exports_and_drops(
    db, operator, celery_eager, django_capture_on_commit_callbacks
):
    doomed = make_institution("doomed")
    for typed in ["", "Doomed", "alpha"]:
        refused = act(operator, doomed, "delete", {"confirm_slug": typed})
        assert refused.status_code == 400
        assert error_codes(refused) in (["required"], ["confirmation_mismatch"])
    assert schema_exists("doomed") and not OperatorAction.objects.exists()
    doomed.refresh_from_db()
    assert doomed.status == Institution.Status.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        done = act(operator, doomed, "delete", {"confirm_slug": "doomed"})
    assert done.status_code == 302 and done["Location"] == CONSOLE
    assert not schema_exists("doomed")
    assert not Institution.objects.filter(slug="doomed").exists()
    assert not Domain.objects.filter(domain="doomed.localhost").exists()

    row = only_action(action=OperatorActionType.INSTITUTION_DELETE)
    assert row.institution is None  # the row outlives the institution...
    assert (row.institution_slug, row.institution_name) == ("doomed", "Doomed University")
    assert row.details["status_before"] == "active"
    name = row.details["export_name"]  # ...and says where its data went
    assert name.startswith("platform/exports/doomed-") and default_storage.exists(name)
    default_storage.delete(name)

    log = operator.get(f"{CONSOLE}audit/", {"institution": "doomed"})
    assert b"Doomed University" in log.content and b"(deleted)" in log.content


def test_a_custom_domain_needs_a_plan_that_includes_it(
    alpha, beta, operator, django_capture_on_commit_callbacks
):
    refused = act(operator, alpha, "add-domain", {"domain": "lms.alpha.edu"})
    assert refused.status_code == 403 and error_codes(refused) == ["plan_limit_reached"]
    assert b"does not include a custom domain" in refused.content
    assert not Domain.objects.filter(domain="lms.alpha.edu").exists()
    assert not OperatorAction.objects.exists()

    Institution.objects.filter(pk=alpha.pk).update(plan=plan_with_custom_domains())
    for domain, code in [
        ("not a domain", "invalid"),
        ("sneaky.localhost", "reserved"),
        ("beta.localhost", "reserved"),
    ]:
        response = act(operator, alpha, "add-domain", {"domain": domain})
        assert response.status_code == 400 and error_codes(response) == [code], domain
    with django_capture_on_commit_callbacks(execute=True):
        done = act(operator, alpha, "add-domain", {"domain": "LMS.Alpha.edu."})
    assert done.status_code == 302
    domain = Domain.objects.get(domain="lms.alpha.edu")
    assert domain.tenant_id == alpha.pk and not domain.is_primary
    assert only_action(action=OperatorActionType.DOMAIN_ADD).details == {"domain": "lms.alpha.edu"}
    with override_settings(ALLOWED_HOSTS=["localhost", ".localhost", "lms.alpha.edu"]):
        home = host_client("lms.alpha.edu").get("/")
    assert home.status_code == 200 and b"Alpha University" in home.content

    Institution.objects.filter(pk=beta.pk).update(plan=Plan.objects.get(code="enterprise"))
    taken = act(operator, beta, "add-domain", {"domain": "lms.alpha.edu"})
    assert taken.status_code == 400 and error_codes(taken) == ["taken"]


# --- the audit log -------------------------------------------------------------------------


def test_the_audit_log_filters_by_staff_member_action_and_institution(alpha, beta, operator):
    other, _ = console_client("piet@operator.test")
    act(operator, alpha, "change-plan", {"plan": "standard"})
    act(other, beta, "extend-trial", {"days": 3})
    act(other, alpha, "suspend", {"reason": "Chargeback"})

    def shown(**filters):
        response = operator.get(f"{CONSOLE}audit/", filters)
        assert response.status_code == 200
        return [(a.actor_email, a.action, a.institution_slug) for a in response.context["page"]]

    assert shown() == [
        ("piet@operator.test", "institution.suspend", "alpha"),
        ("piet@operator.test", "subscription.extend_trial", "beta"),
        ("olga@operator.test", "subscription.change_plan", "alpha"),
    ]
    assert [row[2] for row in shown(actor="piet")] == ["alpha", "beta"]
    assert shown(action="subscription.change_plan") == [
        ("olga@operator.test", "subscription.change_plan", "alpha")
    ]
    assert [row[1] for row in shown(institution="alpha")] == [
        "institution.suspend",
        "subscription.change_plan",
    ]
    assert [row[2] for row in shown(institution="Beta Univ")] == ["beta"]
    bad = operator.get(f"{CONSOLE}audit/", {"action": "institution.launch"})
    assert bad.status_code == 400

    # An institution's page lists its own actions only.
    recent = operator.get(detail(beta)).context["recent_actions"]
    assert [a.action for a in recent] == ["subscription.extend_trial"]


def test_audit_rows_are_written_with_the_action_only(alpha, operator):
    """The row and the change commit together: a refused action writes none,
    and each allowed one writes exactly one, timestamped now."""
    started = timezone.now()
    act(operator, alpha, "suspend", {"reason": "Fraud"})
    act(operator, alpha, "suspend", {"reason": "Fraud again"})  # refused: already suspended
    act(operator, alpha, "reactivate")
    act(operator, alpha, "reactivate")  # refused: active
    actions = list(OperatorAction.objects.order_by("created_at", "id"))
    assert [a.action for a in actions] == ["institution.suspend", "institution.reactivate"]
    assert all(a.created_at >= started for a in actions)


def test_the_pages_forms_are_labelled_and_their_error_links_lead_somewhere(alpha, operator):
    for response in (
        operator.get(CONSOLE),
        operator.get(detail(alpha)),
        operator.get(f"{CONSOLE}audit/"),
        act(operator, alpha, "delete", {"confirm_slug": "nope"}),
    ):
        assert_accessible_form(response)
    refused = act(operator, alpha, "suspend", {"reason": ""})
    assert 'href="#id_suspend-reason"' in refused.content.decode()
    assert_accessible_form(refused)
