"""The only place that talks to Stripe (through the stripe library).

Settings are read at each call, so that billing turns on and off with them
(and tests point the client at a stub with `override_settings`). Stripe's
objects come back as plain dicts: the rest of the app never handles the
library's types. A Stripe failure becomes a 502 `billing_provider_error`.
"""

import json

import stripe
import structlog
from django.conf import settings
from rest_framework import status

from conceptspro.api import ApplicationError

log = structlog.get_logger(__name__)


def billing_enabled() -> bool:
    """Billing is on when a Stripe secret key is configured."""
    return bool(settings.STRIPE_SECRET_KEY)


class WebhookSignatureInvalid(Exception):
    """The request is not signed by Stripe with our webhook secret."""


class WebhookPayloadInvalid(Exception):
    """Signed, but not an event we can read."""


def _client() -> stripe.StripeClient:
    base_addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses=base_addresses, max_network_retries=2
    )


def _call(action: str, request, *, missing_ok: bool = False):
    """`request(client)`'s result as a dict; with `missing_ok`, None when
    Stripe has no such object."""
    try:
        result = request(_client())
    except stripe.StripeError as exc:
        if (
            missing_ok
            and isinstance(exc, stripe.InvalidRequestError)
            and exc.code == "resource_missing"
        ):
            return None
        log.warning("stripe.request_failed", action=action, error=str(exc))
        raise ApplicationError(
            "The payment provider could not be reached or refused the request; "
            "try again in a moment.",
            code="billing_provider_error",
            status=status.HTTP_502_BAD_GATEWAY,
        ) from exc
    return result.to_dict()


def checkout_session_create(params: dict) -> dict:
    """A Checkout session (mode, line items, URLs, metadata...): has `id` and `url`."""
    return _call("checkout_session_create", lambda c: c.v1.checkout.sessions.create(params))


def checkout_session_expire(session_id: str) -> dict:
    """Closes an open Checkout session so that it can no longer be paid. Stripe
    refuses (a 502 here) for a session already completed."""
    return _call("checkout_session_expire", lambda c: c.v1.checkout.sessions.expire(session_id))


def checkout_session_close(session_id: str) -> None:
    """Makes sure an earlier Checkout session can no longer be paid: an open
    one is expired; one already complete or expired, or unknown to Stripe,
    is left as it is."""
    session = _call(
        "checkout_session_retrieve",
        lambda c: c.v1.checkout.sessions.retrieve(session_id),
        missing_ok=True,
    )
    if session is not None and session.get("status") == "open":
        checkout_session_expire(session_id)


def portal_session_create(*, customer_id: str, return_url: str) -> dict:
    return _call(
        "portal_session_create",
        lambda c: c.v1.billing_portal.sessions.create(
            {"customer": customer_id, "return_url": return_url}
        ),
    )


def subscription_retrieve(subscription_id: str) -> dict:
    return _call("subscription_retrieve", lambda c: c.v1.subscriptions.retrieve(subscription_id))


def subscription_price_change(*, subscription_id: str, price_id: str, metadata: dict) -> dict:
    """Moves the subscription's (single) item to another price; Stripe prorates
    and then tells us by `customer.subscription.updated`."""
    current = subscription_retrieve(subscription_id)
    item_id = current["items"]["data"][0]["id"]
    return _call(
        "subscription_price_change",
        lambda c: c.v1.subscriptions.update(
            subscription_id,
            {
                "items": [{"id": item_id, "price": price_id}],
                "proration_behavior": "create_prorations",
                "cancel_at_period_end": False,
                "metadata": metadata,
            },
        ),
    )


def subscription_cancel(subscription_id: str, *, prorate: bool) -> dict | None:
    """Ends the subscription at once (Stripe then sends
    `customer.subscription.deleted`); None when Stripe has no such
    subscription (nothing left to bill). With `prorate`, the unused part of
    the period paid is credited to the customer's balance."""
    return _call(
        "subscription_cancel",
        lambda c: c.v1.subscriptions.cancel(subscription_id, {"prorate": prorate}),
        missing_ok=True,
    )


def subscription_trial_end_set(*, subscription_id: str, trial_end: int) -> dict:
    """Moves a Stripe trial's end (a Unix time); nothing is charged or
    prorated for the change."""
    return _call(
        "subscription_trial_end_set",
        lambda c: c.v1.subscriptions.update(
            subscription_id, {"trial_end": trial_end, "proration_behavior": "none"}
        ),
    )


def webhook_event_verify(payload: bytes, signature: str | None) -> dict:
    """The event Stripe sent, once its signature is checked against our
    webhook secret (and its timestamp is recent), as a plain dict."""
    try:
        stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(str(exc)) from exc
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        # Signed but not JSON, or JSON but not an object.
        raise WebhookPayloadInvalid(str(exc)) from exc
    event = json.loads(payload)
    if not isinstance(event, dict):
        raise WebhookPayloadInvalid("The event is not a JSON object.")
    return event
