"""Stripe's webhook on the bare domain: POST /billing/stripe/webhook/.

Called by Stripe only: the body must carry a valid `Stripe-Signature` for our
webhook secret (anyone else gets 400 `invalid_signature`). 404 while billing is
off. Every verified event is answered 200 once recorded, including replays and
events that are stale or not for us, so Stripe stops retrying them; 400
`invalid_payload` for a signed body we cannot read (Stripe shows it as failed);
502 `billing_provider_error` when handling it needs Stripe (canceling a second
subscription) and Stripe cannot be reached: nothing is recorded, and Stripe's
retry handles it again.
"""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from conceptspro.api import ApplicationError, error_json_response

from . import gateway, services


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Anyone may post; only a body signed with STRIPE_WEBHOOK_SECRET is acted on."""
    if not gateway.billing_enabled():
        return error_json_response(status_code=404, code="not_found", message="Not found.")
    try:
        event = gateway.webhook_event_verify(request.body, request.headers.get("Stripe-Signature"))
        record, replay = services.stripe_event_handle(event=event)
    except gateway.WebhookSignatureInvalid:
        return error_json_response(
            status_code=400,
            code="invalid_signature",
            message="The Stripe-Signature header does not match this body.",
        )
    except gateway.WebhookPayloadInvalid as exc:
        return error_json_response(
            status_code=400, code="invalid_payload", message=f"Unreadable event: {exc}"
        )
    except ApplicationError as exc:
        return error_json_response(status_code=exc.status, code=exc.code, message=exc.message)
    return JsonResponse({"event_id": record.event_id, "outcome": record.outcome, "replay": replay})
