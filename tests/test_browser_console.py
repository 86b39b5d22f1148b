"""The operator console in a real browser: Debian's Chromium, driven by
Playwright, against the app served by pytest-django's live server on the bare
domain (`localhost:<port>`).

One member of the operator's staff goes from their first sign-in (setting up
their authenticator app on the way) through finding an institution,
suspending it (its subdomain then shows the suspended page), reactivating it,
reading the audit log and signing out. A screenshot of every step is saved
under artefacts/browser/<test name>/.

The server, the browser and its helpers are test_browser_signup's, and so
are the rules in its docstring: the test's thread touches the database only
before the browser opens and after it closes (Django refuses database calls
in a thread where Playwright's sync API runs an asyncio loop), and some test
of the run must ask for `db` for pytest-django to create the test database
(hence the first test here).
"""

import re
from urllib.parse import quote, urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import connection, transaction
from django.db.models import Q

from shared_apps.console.models import OperatorAction, OperatorActionType
from shared_apps.console.services import operator_ensure
from shared_apps.institutions.models import Institution
from shared_apps.plans.models import InstitutionUsage
from tenant_apps.audit.models import AuditEvent

from . import test_browser_signup as browser
from .conftest import PASSWORD, make_institution
from .test_console_access import ACTIVATE, CONSOLE, LOGIN
from .test_mfa import totp_code

pytestmark = pytest.mark.skipif(
    not browser.CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)

site = browser.site  # the fixture: the app over HTTP on localhost:<port>
expect = browser.expect

OPERATOR = "olga@operator.test"
REASON = "Three invoices unpaid since March"


@pytest.fixture
def operator(committed_db):
    """A member of the operator's staff without an authenticator app, as
    `manage.py create_operator` makes one; removed afterwards with what their
    sign-in and actions left behind."""
    user = operator_ensure(email=OPERATOR, password=PASSWORD, first_name="Olga")
    yield user
    connection.set_schema_to_public()
    operator_remove(user.pk)


def operator_remove(user_id) -> None:
    """Deletes the account and every row of the public schema that points at
    it, so that the next run starts from nothing.

    Not `User.objects...delete()`: the user model is installed in the public
    schema and in every institution's, and Django's delete collector looks for
    rows of every model with a foreign key to it, tenant-only ones included
    (idempotency records, enrollments...), whose tables the public schema does
    not have. So the rows that do point at it here are deleted first (their
    own models have no such relations), then the account itself in SQL; the
    foreign keys, checked at commit, refuse it if anything was missed."""
    OperatorAction.objects.filter(actor_id=user_id).delete()  # else only unlinked
    Authenticator.objects.filter(user_id=user_id).delete()  # TOTP, recovery codes
    EmailAddress.objects.filter(user_id=user_id).delete()  # operator_ensure's
    # The public schema's own audit trail: sign-in, MFA set up, sign-out.
    AuditEvent.objects.filter(Q(actor_id=user_id) | Q(target_id=user_id)).delete()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_user WHERE id = %s", [user_id])


def test_an_operator_made_by_the_command_must_set_up_an_app_first(db, public_client):
    """Where the browser test starts from (it also asks for `db`: see the
    module docstring)."""
    user = operator_ensure(email=OPERATOR, password=PASSWORD)
    assert user.is_staff and user.is_active and user.email_verified
    assert not Authenticator.objects.filter(user=user).exists()
    signed_in = public_client.post(LOGIN, {"login": OPERATOR, "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    sent = public_client.get(CONSOLE)
    assert sent.status_code == 302 and sent["Location"] == ACTIVATE


def sign_in_and_set_up_the_app(steps, base_url: str) -> None:
    """Password, then the console sends them to set up their authenticator
    app, then to confirm a code in this session: the console opens."""
    page = steps.page
    page.goto(base_url + "/accounts/login/")
    steps.shot("sign-in-page")
    page.get_by_label("Email").fill(OPERATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/")
    steps.shot("signed-in")

    # The console sends them to set up the app, for which allauth first asks
    # for the password again.
    page.goto(base_url + "/console/")
    page.wait_for_url(f"{base_url}/accounts/reauthenticate/?next={quote(ACTIVATE, safe='')}")
    steps.shot("console-sends-to-set-up")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(base_url + ACTIVATE)
    expect(page.get_by_role("heading", level=1)).to_have_text("Activate authenticator app")
    steps.shot("authenticator-set-up")
    secret = page.get_by_label("Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_url(base_url + "/accounts/2fa/recovery-codes/")
    expect(page.locator(".messages")).to_contain_text("Authenticator app activated.")
    steps.shot("authenticator-activated")

    # Set up during a password-only session: one code more before it opens.
    page.goto(base_url + "/console/")
    page.wait_for_url(base_url + "/accounts/2fa/reauthenticate/?next=/console/")
    steps.shot("console-asks-for-a-code")
    page.get_by_label("Code").fill(totp_code(secret))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(base_url + "/console/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Institutions")
    steps.shot("console")


def test_an_operator_suspends_and_reactivates_an_institution_in_the_browser(
    request, site, operator
):
    northfield = make_institution("northfield")
    make_institution("southfield")
    # What its row should show, read before the browser opens: its plan, its
    # trial, and the usage measured at provisioning against the plan's limits.
    plan = northfield.plan
    subscription_status = northfield.subscription.status
    usage = InstitutionUsage.objects.get(institution=northfield)
    users = f"{usage.users} / {plan.max_users}"
    courses = f"{usage.courses} / {plan.max_courses}"
    port = urlsplit(site.url).port
    base_url = f"http://localhost:{port}"

    with browser.browser_steps(request.node.name) as steps:
        page = steps.page
        sign_in_and_set_up_the_app(steps, base_url)

        # Find it.
        page.get_by_label("Search").fill("Northfield")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("status")).to_have_text("1 institution matches.")
        rows = page.locator("table.console-table tbody tr")
        expect(rows).to_have_count(1)
        cells = rows.first.locator("td")
        expect(cells.nth(0)).to_contain_text("Northfield University")
        expect(cells.nth(1)).to_have_text("northfield")
        expect(cells.nth(2)).to_have_text("Active")
        expect(cells.nth(3)).to_have_text(plan.name)
        expect(cells.nth(4)).to_have_text(subscription_status)
        expect(cells.nth(5)).to_have_text(users)
        expect(cells.nth(6)).to_have_text(courses)
        steps.shot("search-result")
        page.get_by_role("link", name="Northfield University").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Northfield University")
        steps.shot("institution")

        # Suspend it.
        suspend = page.locator("#action-suspend")
        suspend.get_by_label("Reason").fill(REASON)
        steps.shot("suspend-filled")
        suspend.get_by_role("button", name="Suspend").click()
        expect(page.locator(".messages")).to_have_text("Northfield University is suspended.")
        expect(page.locator(".status")).to_have_text("Suspended")
        expect(page.locator(".status-reason")).to_contain_text(REASON)
        steps.shot("suspended")
        detail_url = page.url

        # Its subdomain, in the same browser.
        page.goto(f"http://northfield.localhost:{port}/")
        expect(page.get_by_role("heading", level=1)).to_have_text("This institution is suspended")
        steps.shot("subdomain-suspended")

        # Back in the console: reactivate.
        page.goto(detail_url)
        page.locator("#action-reactivate").get_by_role("button", name="Reactivate").click()
        expect(page.locator(".messages")).to_have_text("Northfield University is active again.")
        expect(page.locator(".status")).to_have_text("Active")
        steps.shot("reactivated")

        # The audit log.
        page.get_by_role("navigation", name="Operator console").get_by_role(
            "link", name="Audit log"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
        entries = page.locator("table.console-table tbody tr")
        expect(entries).to_have_count(2)
        for row, action in zip(range(2), ["Reactivate", "Suspend"], strict=True):
            expect(entries.nth(row).locator("td").nth(1)).to_have_text(OPERATOR)
            expect(entries.nth(row).locator("td").nth(2)).to_have_text(action)
            expect(entries.nth(row).locator("td").nth(3)).to_contain_text("Northfield University")
        steps.shot("audit-log")

        # Sign out: the console asks for a sign-in again.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(re.escape(base_url) + r"/(\?.*)?$"))
        steps.shot("signed-out")
        page.goto(base_url + "/console/")
        page.wait_for_url(base_url + "/accounts/login/?next=/console/")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        steps.shot("console-asks-to-sign-in")

    northfield.refresh_from_db()
    assert northfield.status == Institution.Status.ACTIVE
    assert northfield.suspension_cause == "" and northfield.status_reason == ""
    actions = list(OperatorAction.objects.order_by("created_at", "id"))
    assert [(a.action, a.actor_id, a.actor_email, a.institution_id) for a in actions] == [
        (OperatorActionType.INSTITUTION_SUSPEND, operator.pk, OPERATOR, northfield.pk),
        (OperatorActionType.INSTITUTION_REACTIVATE, operator.pk, OPERATOR, northfield.pk),
    ]
    assert actions[0].details == {"reason": REASON}
    assert Authenticator.objects.filter(user=operator, type=Authenticator.Type.TOTP).exists()
