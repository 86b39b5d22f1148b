"""A Stripe stand-in on loopback, for the billing tests: the subset of Stripe's
API our gateway calls (over real HTTP, as the stripe library sends it), a hosted
Checkout page and a customer portal page, and webhook events signed exactly as
Stripe signs them.

    pytest_plugins = ["tests.peers.stripe_stub"]   # in the test module

    def test_something(stripe_stub, public_client):
        url = ...checkout...                      # a session on the stub
        stripe_stub.send_event("invoice.paid", {...})
        stripe_stub.webhook_url = live_server.url + "/billing/stripe/webhook/"

The fixture `stripe_stub` starts the server and points the settings at it
(STRIPE_API_BASE, keys, BILLING_ENABLED); it gives every plan that has a price
but no Stripe price ids the ids `price_<code>_<interval>`, and puts them back
afterwards.

Events go to `webhook_url` over HTTP (Host: the bare domain with the port),
or, while it is unset, through Django's test client on the bare domain.
"""

import hashlib
import hmac
import html
import http.client
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings
from django.test import Client, override_settings

API_KEY = "sk_test_stub"
WEBHOOK_SECRET = "whsec_stub"
WEBHOOK_PATH = "/billing/stripe/webhook/"
PERIOD_SECONDS = {"month": 30 * 86400, "year": 365 * 86400}


def form_decode(body: str) -> dict:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "[]":
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    node = {key: _lists(value) for key, value in node.items()}
    if node and all(key.isdigit() for key in node):
        return [node[key] for key in sorted(node, key=int)]
    return node


class WebhookResponse:
    """What our webhook answered to an event delivered over HTTP."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code = status_code
        self.content = content

    def json(self):
        return json.loads(self.content)


class StripeStub:
    """The server and what it holds: `sessions`, `subscriptions`, `customers`,
    `portal_sessions` and `prices` by id; `requests` (method, path, params) as
    received; `deliveries` (event, status code) as sent."""

    def __init__(self, *, api_key: str = API_KEY, webhook_secret: str = WEBHOOK_SECRET):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url: str | None = None
        self.sessions: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.portal_sessions: dict[str, dict] = {}
        # price id -> {"unit_amount", "currency", "interval", "product_name"}
        self.prices: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.deliveries: list[tuple[dict, int]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> "StripeStub":
        stub = self

        class Handler(_Handler):
            pass

        Handler.stub = stub
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)

    @property
    def api_base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def new_id(self, prefix: str) -> str:
        # Random, as Stripe's are: events and objects stay unique across stubs,
        # and the committed tests' StripeEvent rows outlive their stub.
        return f"{prefix}_stub{secrets.token_hex(8)}"

    # --- webhook events --------------------------------------------------------

    def signed_headers(self, payload: bytes, *, timestamp: int | None = None, secret=None) -> dict:
        """Stripe's scheme: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>"> with
        the webhook secret (another `secret` or `timestamp` for refusal tests)."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        signed = f"{timestamp}.".encode() + payload
        key = (secret or self.webhook_secret).encode()
        digest = hmac.new(key, signed, hashlib.sha256).hexdigest()
        return {"Stripe-Signature": f"t={timestamp},v1={digest}"}

    def event(self, type: str, obj: dict, *, created: int | None = None, event_id=None) -> dict:
        return {
            "id": event_id or self.new_id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()) if created is None else created,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
            "data": {"object": obj},
        }

    def send_event(self, type: str, obj: dict, *, created: int | None = None, event_id=None):
        """Sign and deliver an event; our webhook's response (status_code, json())."""
        return self.deliver(self.event(type, obj, created=created, event_id=event_id))

    def deliver(self, event: dict):
        payload = json.dumps(event).encode()
        headers = self.signed_headers(payload)
        if self.webhook_url is None:
            response = Client(HTTP_HOST=settings.BASE_DOMAIN).post(
                WEBHOOK_PATH,
                payload,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
            )
        else:
            target = urlsplit(self.webhook_url)
            host = settings.BASE_DOMAIN + (f":{target.port}" if target.port else "")
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                connection.request(
                    "POST",
                    target.path or "/",
                    body=payload,
                    headers={**headers, "Content-Type": "application/json", "Host": host},
                )
                answer = connection.getresponse()
                response = WebhookResponse(answer.status, answer.read())
            finally:
                connection.close()
        self.deliveries.append((event, response.status_code))
        return response

    def deliver_later(self, event: dict) -> None:
        """As Stripe does after an API call: the event arrives after the answer
        (delivering before would deadlock on the row the caller holds)."""
        if self.webhook_url is not None:
            threading.Thread(target=self.deliver, args=(event,), daemon=True).start()

    # --- objects -----------------------------------------------------------------

    def price_object(self, price_id: str, interval: str | None = None) -> dict:
        known = self.prices.get(price_id, {})
        return {
            "id": price_id,
            "object": "price",
            "currency": known.get("currency", "usd"),
            "unit_amount": known.get("unit_amount"),
            "recurring": {"interval": known.get("interval", interval or "month")},
        }

    def subscription_create(self, *, customer: str, price_id: str, params: dict) -> dict:
        now = int(time.time())
        price = self.price_object(price_id)
        period_end = now + PERIOD_SECONDS.get(price["recurring"]["interval"], 30 * 86400)
        trial_days = int(params.get("trial_period_days") or 0)
        subscription = {
            "id": self.new_id("sub"),
            "object": "subscription",
            "customer": customer,
            "status": "trialing" if trial_days else "active",
            "created": now,
            "start_date": now,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "trial_end": now + trial_days * 86400 if trial_days else None,
            "current_period_start": now,
            "current_period_end": period_end,
            "metadata": dict(params.get("metadata") or {}),
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": self.new_id("si"),
                        "object": "subscription_item",
                        "price": price,
                        "quantity": 1,
                        "current_period_start": now,
                        "current_period_end": period_end,
                    }
                ],
            },
        }
        self.subscriptions[subscription["id"]] = subscription
        return subscription

    def invoice_paid_object(self, subscription: dict) -> dict:
        price = subscription["items"]["data"][0]["price"]
        return {
            "id": self.new_id("in"),
            "object": "invoice",
            "customer": subscription["customer"],
            "status": "paid",
            "amount_paid": price.get("unit_amount") or 0,
            "currency": price.get("currency", "usd"),
            "billing_reason": "subscription_create",
            "subscription": subscription["id"],
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": subscription["id"],
                    "metadata": subscription["metadata"],
                },
            },
        }

    def checkout_pay(self, session: dict) -> str:
        """What a customer paying on the hosted page causes; the success URL."""
        customer = session.get("customer")
        if not customer:
            customer = self.new_id("cus")
            self.customers[customer] = {
                "id": customer,
                "object": "customer",
                "email": session.get("customer_email"),
                "metadata": {},
            }
        subscription = self.subscription_create(
            customer=customer,
            price_id=session["line_items"]["data"][0]["price"]["id"],
            params=session.get("subscription_data") or {},
        )
        session.update(
            status="complete",
            payment_status="paid",
            customer=customer,
            subscription=subscription["id"],
        )
        self.send_event("checkout.session.completed", session)
        self.send_event("customer.subscription.created", subscription)
        self.send_event("invoice.paid", self.invoice_paid_object(subscription))
        return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])


def _error(message: str, *, code: str = "resource_missing") -> dict:
    return {"error": {"type": "invalid_request_error", "code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    stub: StripeStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet in test output
        pass

    # --- plumbing ------------------------------------------------------------------

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def _send(self, status: int, body: bytes, content_type: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: dict) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _html(self, status: int, title: str, body: str) -> None:
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
        )
        self._send(status, page.encode(), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self._send(303, b"", "text/plain", {"Location": location})

    def _authorized(self) -> bool:
        if self.headers.get("Authorization", "") == f"Bearer {self.stub.api_key}":
            return True
        self._json(401, _error("Invalid API Key provided.", code="invalid_api_key"))
        return False

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path
        query = urlsplit(self.path).query
        params = form_decode(self._body() if method == "POST" else query)
        if path.startswith("/v1/"):
            self.stub.requests.append((method, path, params))
            if not self._authorized():
                return
        for pattern, handler_name in ROUTES.get(method, []):
            match = re.fullmatch(pattern, path)
            if match:
                getattr(self, handler_name)(params, *match.groups())
                return
        self._json(404, _error(f"Unrecognized request URL ({method}: {path})."))

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_DELETE(self):
        self._route("DELETE")

    # --- the API ---------------------------------------------------------------------

    def checkout_session_create(self, params):
        stub = self.stub
        missing = [k for k in ("mode", "success_url", "line_items") if not params.get(k)]
        if missing:
            self._json(
                400, _error(f"Missing required param: {missing[0]}.", code="parameter_missing")
            )
            return
        session_id = stub.new_id("cs_test")
        line_items = [
            {
                "price": {**stub.price_object(item["price"])},
                "quantity": int(item.get("quantity", 1)),
            }
            for item in params["line_items"]
        ]
        session = {
            "id": session_id,
            "object": "checkout.session",
            "url": f"{stub.api_base}/pay/{session_id}",
            "mode": params["mode"],
            "status": "open",
            "payment_status": "unpaid",
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
            "customer_email": params.get("customer_email"),
            "metadata": dict(params.get("metadata") or {}),
            "subscription": None,
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "created": int(time.time()),
            "expires_at": int(params.get("expires_at") or time.time() + 24 * 3600),
            "line_items": {"object": "list", "data": line_items},
            "subscription_data": params.get("subscription_data") or {},
        }
        stub.sessions[session_id] = session
        self._json(200, session)

    def checkout_session_retrieve(self, params, session_id):
        session = self.stub.sessions.get(session_id)
        if session is None:
            self._json(404, _error(f"No such checkout.session: '{session_id}'"))
        else:
            self._json(200, session)

    def checkout_session_expire(self, params, session_id):
        session = self.stub.sessions.get(session_id)
        if session is None:
            self._json(404, _error(f"No such checkout.session: '{session_id}'"))
        elif session["status"] != "open":
            message = 'Only Checkout Sessions with a status in ["open"] can be expired.'
            self._json(400, _error(message, code="checkout_session_not_open"))
        else:
            session["status"] = "expired"
            self._json(200, session)

    def portal_session_create(self, params):
        stub = self.stub
        if params.get("customer") not in stub.customers:
            self._json(404, _error(f"No such customer: '{params.get('customer')}'"))
            return
        portal_id = stub.new_id("bps")
        portal = {
            "id": portal_id,
            "object": "billing_portal.session",
            "customer": params["customer"],
            "return_url": params.get("return_url"),
            "url": f"{stub.api_base}/portal/{portal_id}",
            "created": int(time.time()),
        }
        stub.portal_sessions[portal_id] = portal
        self._json(200, portal)

    def subscription_retrieve(self, params, subscription_id):
        subscription = self.stub.subscriptions.get(subscription_id)
        if subscription is None:
            self._json(404, _error(f"No such subscription: '{subscription_id}'"))
        else:
            self._json(200, subscription)

    def subscription_update(self, params, subscription_id):
        stub = self.stub
        subscription = stub.subscriptions.get(subscription_id)
        if subscription is None:
            self._json(404, _error(f"No such subscription: '{subscription_id}'"))
            return
        for change in params.get("items") or []:
            item = next(
                (i for i in subscription["items"]["data"] if i["id"] == change.get("id")), None
            )
            if item is None:
                self._json(400, _error("No such subscription item.", code="resource_missing"))
                return
            if change.get("price"):
                item["price"] = stub.price_object(change["price"])
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        if params.get("trial_end"):
            subscription.update(trial_end=int(params["trial_end"]), status="trialing")
        subscription["metadata"].update(params.get("metadata") or {})
        stub.deliver_later(stub.event("customer.subscription.updated", subscription))
        self._json(200, subscription)

    def subscription_cancel(self, params, subscription_id):
        stub = self.stub
        subscription = stub.subscriptions.get(subscription_id)
        if subscription is None:
            self._json(404, _error(f"No such subscription: '{subscription_id}'"))
            return
        subscription.update(status="canceled", canceled_at=int(time.time()))
        stub.deliver_later(stub.event("customer.subscription.deleted", subscription))
        self._json(200, subscription)

    def customer_retrieve(self, params, customer_id):
        customer = self.stub.customers.get(customer_id)
        if customer is None:
            self._json(404, _error(f"No such customer: '{customer_id}'"))
        else:
            self._json(200, customer)

    # --- the hosted pages ----------------------------------------------------------------

    def pay_page(self, params, session_id):
        session = self.stub.sessions.get(session_id)
        if session is None:
            self._html(404, "No such Checkout session", "")
            return
        if session["status"] != "open":
            self._html(409, "This Checkout session is complete", "")
            return
        price = session["line_items"]["data"][0]["price"]
        known = self.stub.prices.get(price["id"], {})
        amount = price.get("unit_amount")
        amount_text = (
            f"{amount / 100:,.2f} {price['currency'].upper()} / {price['recurring']['interval']}"
            if amount is not None
            else price["id"]
        )
        email = session.get("customer_email") or ""
        cancel = session.get("cancel_url") or ""
        self._html(
            200,
            "Pay ConceptsPro",
            f"<p class='plan'>{html.escape(known.get('product_name', price['id']))}</p>"
            f"<p class='amount'>{html.escape(amount_text)}</p>"
            f"<p class='email'>{html.escape(email)}</p>"
            f"<form method='post' action='/pay/{html.escape(session_id)}'>"
            "<label>Card number <input name='card' value='4242 4242 4242 4242'></label>"
            "<button type='submit'>Pay</button></form>"
            + (f"<a href='{html.escape(cancel)}'>Back</a>" if cancel else ""),
        )

    def pay_submit(self, params, session_id):
        session = self.stub.sessions.get(session_id)
        if session is None or session["status"] != "open":
            self._html(409, "This Checkout session cannot be paid", "")
            return
        if self.stub.webhook_url is None:
            self._html(500, "The stub has no webhook_url to tell about the payment", "")
            return
        self._redirect(self.stub.checkout_pay(session))

    def portal_page(self, params, portal_id):
        portal = self.stub.portal_sessions.get(portal_id)
        if portal is None:
            self._html(404, "No such portal session", "")
            return
        rows = "".join(
            f"<li>{html.escape(s['items']['data'][0]['price']['id'])}: {html.escape(s['status'])}"
            + (" (cancels at period end)" if s["cancel_at_period_end"] else "")
            + "</li>"
            for s in self._customer_subscriptions(portal["customer"])
        )
        self._html(
            200,
            "Manage your subscription",
            f"<ul>{rows}</ul>"
            f"<form method='post' action='/portal/{html.escape(portal_id)}/cancel'>"
            "<button type='submit'>Cancel subscription</button></form>"
            f"<a href='{html.escape(portal['return_url'] or '')}'>Return</a>",
        )

    def portal_cancel(self, params, portal_id):
        stub = self.stub
        portal = stub.portal_sessions.get(portal_id)
        if portal is None:
            self._html(404, "No such portal session", "")
            return
        for subscription in self._customer_subscriptions(portal["customer"]):
            if subscription["status"] in ("active", "trialing", "past_due"):
                subscription["cancel_at_period_end"] = True
                stub.send_event("customer.subscription.updated", subscription)
        self._redirect(portal["return_url"])

    def _customer_subscriptions(self, customer_id: str) -> list[dict]:
        return [s for s in self.stub.subscriptions.values() if s["customer"] == customer_id]


_ID = r"([A-Za-z0-9_]+)"
ROUTES = {
    "GET": [
        (rf"/v1/checkout/sessions/{_ID}", "checkout_session_retrieve"),
        (rf"/v1/subscriptions/{_ID}", "subscription_retrieve"),
        (rf"/v1/customers/{_ID}", "customer_retrieve"),
        (rf"/pay/{_ID}", "pay_page"),
        (rf"/portal/{_ID}", "portal_page"),
    ],
    "POST": [
        (r"/v1/checkout/sessions", "checkout_session_create"),
        (rf"/v1/checkout/sessions/{_ID}/expire", "checkout_session_expire"),
        (r"/v1/billing_portal/sessions", "portal_session_create"),
        (rf"/v1/subscriptions/{_ID}", "subscription_update"),
        (rf"/pay/{_ID}", "pay_submit"),
        (rf"/portal/{_ID}/cancel", "portal_cancel"),
    ],
    "DELETE": [(rf"/v1/subscriptions/{_ID}", "subscription_cancel")],
}


def _plans_priced(stub: StripeStub) -> list[tuple[int, str, str]]:
    """Gives every priced plan Stripe price ids on the stub (as the operator
    would from Stripe's dashboard); returns what to put back."""
    from shared_apps.plans.models import Plan

    restore = []
    for plan in Plan.objects.all():
        restore.append((plan.pk, plan.stripe_price_monthly, plan.stripe_price_yearly))
        changes = {}
        for interval, cents, field in (
            ("month", plan.price_monthly_cents, "stripe_price_monthly"),
            ("year", plan.price_yearly_cents, "stripe_price_yearly"),
        ):
            if not cents:
                continue
            price_id = getattr(plan, field) or f"price_{plan.code}_{interval}"
            changes[field] = price_id
            stub.prices[price_id] = {
                "unit_amount": cents,
                "currency": plan.currency,
                "interval": interval,
                "product_name": f"ConceptsPro {plan.name}",
            }
        if changes:
            Plan.objects.filter(pk=plan.pk).update(**changes)
    return restore


@pytest.fixture
def stripe_stub(django_db_blocker):
    """The stub, running, with billing on and pointed at it."""
    from shared_apps.plans.models import Plan

    stub = StripeStub().start()
    with django_db_blocker.unblock():
        restore = _plans_priced(stub)
    try:
        with override_settings(
            STRIPE_SECRET_KEY=stub.api_key,
            STRIPE_WEBHOOK_SECRET=stub.webhook_secret,
            STRIPE_API_BASE=stub.api_base,
            BILLING_ENABLED=True,
        ):
            yield stub
    finally:
        stub.stop()
        with django_db_blocker.unblock():
            for pk, monthly, yearly in restore:
                Plan.objects.filter(pk=pk).update(
                    stripe_price_monthly=monthly, stripe_price_yearly=yearly
                )
