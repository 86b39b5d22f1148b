"""Self-serve sign-up in a real browser: Debian's Chromium, driven by Playwright,
against the app served by pytest-django's live server, with provisioning done
by a real Celery worker and payment by the Stripe stub's hosted Checkout page.

Each test follows one person from the landing page to their new institution's
home page, signed in with the password they chose, and saves a screenshot of
every step under artefacts/browser/<test name>/.

Two things about where code runs here:
- The server is pytest-django's `LiveServer`, but not its `live_server`
  fixture: naming that fixture makes pytest-django run the test under
  `transactional_db`, which truncates every table afterwards (the seeded plans,
  the session's alpha and beta institutions). `committed_db` instead commits
  and drops only the institutions the test made.
- While Playwright's sync API is open, an asyncio loop counts as running in the
  test's thread, so Django refuses database calls there (SynchronousOnlyOperation).
  The server and the worker run in their own threads and are unaffected; the
  tests read the database only after the browser is closed.
- pytest-django creates the test database only if some test of the run asks
  for `db`; `committed_db` does not, hence the first test here.
"""

import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from pytest_django.live_server_helper import LiveServer

from shared_apps.institutions.models import Institution
from shared_apps.plans.models import Plan
from shared_apps.subscriptions.models import SubscriptionStatus

from .conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTEFACTS = Path(__file__).resolve().parent.parent / "artefacts" / "browser"
# Upper bounds for waiting, not expectations: provisioning by the worker
# usually takes well under a second.
STEP_TIMEOUT_MS = 30_000
PROVISIONING_TIMEOUT_MS = 90_000

pytestmark = [
    pytest.mark.queue,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
pytest_plugins = ["tests.peers.stripe_stub"]  # the `stripe_stub` fixture

sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright")
expect = sync_api.expect


@pytest.fixture
def site(django_db_setup, committed_db):
    """The app over HTTP on localhost:<port>, reading committed data (the test
    database with the session's institutions: `django_db_setup`)."""
    server = LiveServer("localhost")
    try:
        yield server
    finally:
        server.stop()


class Steps:
    """A browser page that saves a numbered screenshot of each step."""

    def __init__(self, page, folder: Path):
        self.page = page
        self.folder = folder
        self.count = 0

    def shot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=self.folder / f"{self.count:02d}-{name}.png", full_page=True)


@contextmanager
def browser_steps(test_name: str):
    folder = ARTEFACTS / test_name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            steps = Steps(page, folder)
            try:
                yield steps
            except BaseException:
                steps.shot("failure")  # where it stopped, for whoever reads CI's artefacts
                raise
        finally:
            browser.close()


def pricing_to_form(steps: Steps, base_url: str, plan_name: str) -> None:
    page = steps.page
    page.goto(base_url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "A learning management system for universities"
    )
    steps.shot("landing")
    page.get_by_role("link", name="See plans and prices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Plans and prices")
    steps.shot("pricing")
    page.get_by_role("link", name=f"Start with {plan_name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Start your institution")
    expect(page.get_by_role("radio", name=re.compile(f"^{plan_name} — "))).to_be_checked()


def type_address(steps: Steps, slug: str, expected: str) -> None:
    """Types an address as a person would and waits for the live check's answer."""
    address = steps.page.get_by_label("Address", exact=True)
    address.fill("")
    address.press_sequentially(slug, delay=40)
    expect(steps.page.locator("#slug-availability")).to_have_text(expected)


def fill_the_rest(steps: Steps, *, email: str) -> None:
    page = steps.page
    page.get_by_label("Your first name").fill("Ada")
    page.get_by_label("Your last name").fill("Lovelace")
    page.get_by_label("Your email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)


def progress_to_home(steps: Steps, *, host: str, email: str, name: str) -> None:
    """From the progress page to the institution's home page, signed in."""
    page = steps.page
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Setting up {name}")
    steps.shot("progress")
    page.wait_for_url(f"http://{host}/accounts/login/", timeout=PROVISIONING_TIMEOUT_MS)
    steps.shot("sign-in-page")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"http://{host}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back, Ada Lovelace")
    expect(page.locator(".eyebrow")).to_have_text(name)
    expect(page.locator(".brand")).to_contain_text(name)
    steps.shot("signed-in-home")


def assert_signed_up(slug: str, *, plan: str, subscription_status: str) -> Institution:
    institution = Institution.objects.select_related("plan", "subscription").get(slug=slug)
    assert institution.status == Institution.Status.ACTIVE
    assert institution.plan.code == plan
    assert institution.subscription.status == subscription_status
    assert institution.provisioning_job.admin_password_hash == ""  # cleared once used
    with tenant_context(institution):
        from tenant_apps.accounts.models import User

        admin = User.objects.get(email="ada@newu.test")
        assert admin.role == "admin" and admin.last_login is not None
    connection.set_schema_to_public()
    return institution


def test_the_plans_signed_up_for_here_are_on_sale(db, stripe_stub, public_client):
    """What the browser tests rely on. (It also asks for `db`: pytest-django
    creates the test database only when a test of the run asks for it, and
    `committed_db` does not; see the module docstring.)"""
    page = public_client.get("/pricing/").content.decode()
    assert 'href="/signup/?plan=free"' in page and 'href="/signup/?plan=standard"' in page
    standard = Plan.objects.get(code="standard")
    assert standard.needs_payment_at_signup and standard.stripe_price_yearly
    assert not Plan.objects.get(code="free").needs_payment_at_signup


def test_free_plan_signup_in_the_browser(request, site, celery_worker):
    port = urlsplit(site.url).port
    with browser_steps(request.node.name) as steps:
        page = steps.page
        pricing_to_form(steps, site.url, "Free")
        steps.shot("signup-form")
        page.get_by_label("Institution name").fill("New University")
        type_address(steps, "alpha", "This address is taken.")
        steps.shot("address-taken")
        type_address(steps, "newu", "newu.localhost is available.")
        steps.shot("address-available")
        fill_the_rest(steps, email="ada@newu.test")
        steps.shot("signup-filled")
        page.get_by_role("button", name="Create my institution").click()
        progress_to_home(
            steps, host=f"newu.localhost:{port}", email="ada@newu.test", name="New University"
        )
    assert_signed_up("newu", plan="free", subscription_status=SubscriptionStatus.ACTIVE)


def test_paid_plan_signup_through_checkout_in_the_browser(
    request, site, celery_worker, stripe_stub
):
    stripe_stub.webhook_url = site.url + "/billing/stripe/webhook/"
    port = urlsplit(site.url).port
    with browser_steps(request.node.name) as steps:
        page = steps.page
        pricing_to_form(steps, site.url, "Standard")
        page.get_by_label("Institution name").fill("New University")
        type_address(steps, "newu", "newu.localhost is available.")
        fill_the_rest(steps, email="ada@newu.test")
        page.get_by_role("radio", name="Yearly").check()
        steps.shot("signup-filled")
        page.get_by_role("button", name="Create my institution").click()

        # Stripe's hosted Checkout (the stub's): first change our mind...
        page.wait_for_url(re.compile(re.escape(stripe_stub.api_base) + r"/pay/\w+"))
        expect(page.locator(".amount")).to_have_text("4,990.00 USD / year")
        steps.shot("checkout")
        page.get_by_role("link", name="Back").click()
        expect(page.locator("#payment-cancelled")).to_contain_text("Payment was cancelled")
        expect(page.get_by_label("Institution name")).to_have_value("New University")
        expect(page.get_by_role("radio", name="Yearly")).to_be_checked()
        # ...the address was released, so it is still ours to take.
        expect(page.locator("#slug-availability")).to_have_text("newu.localhost is available.")
        steps.shot("payment-cancelled")

        # ...then sign up again and pay.
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password again").fill(PASSWORD)
        page.get_by_role("button", name="Create my institution").click()
        page.wait_for_url(re.compile(re.escape(stripe_stub.api_base) + r"/pay/\w+"))
        steps.shot("checkout-again")
        page.get_by_role("button", name="Pay").click()
        progress_to_home(
            steps, host=f"newu.localhost:{port}", email="ada@newu.test", name="New University"
        )

        # The new admin's billing page, and Stripe's portal from it and back.
        page.goto(f"http://newu.localhost:{port}/billing/")
        expect(page.locator("#billing-plan")).to_have_text("Standard")
        expect(page.locator("#billing-status")).to_have_text("Active")
        steps.shot("billing")
        page.get_by_role("button", name="Manage payment details").click()
        page.wait_for_url(re.compile(re.escape(stripe_stub.api_base) + r"/portal/\w+"))
        steps.shot("portal")
        page.get_by_role("link", name="Return").click()
        page.wait_for_url(f"http://newu.localhost:{port}/billing/")

    assert all(status == 200 for _, status in stripe_stub.deliveries), stripe_stub.deliveries
    institution = assert_signed_up(
        "newu", plan="standard", subscription_status=SubscriptionStatus.ACTIVE
    )
    assert institution.subscription.interval == "year"
    assert institution.subscription.stripe_subscription_id
    assert Institution.objects.filter(slug="newu").count() == 1
