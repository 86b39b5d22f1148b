"""Writing audit events."""

from allauth.core.internal.httpkit import get_client_ip
from django.http import HttpRequest

from .models import AuditEvent, AuditEventType

USER_AGENT_MAX = 512


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as allauth's rate limits see it: REMOTE_ADDR, or,
    behind TRUSTED_PROXY_COUNT proxies, the address they forwarded."""
    if request is None:
        return None
    return get_client_ip(request) or None


def client_user_agent(request: HttpRequest | None) -> str:
    """The request's User-Agent, cut and stripped of unprintable characters."""
    return _printable(request.META.get("HTTP_USER_AGENT", "") if request else "", USER_AGENT_MAX)


def _printable(text: str, limit: int) -> str:
    # Client-supplied text; PostgreSQL refuses NUL, and control characters
    # have no business in a log line.
    return "".join(ch for ch in text[:limit] if ch.isprintable())


def audit_record(
    *,
    event: AuditEventType,
    request: HttpRequest | None = None,
    actor=None,
    target=None,
    email: str = "",
    **metadata,
) -> AuditEvent:
    """Append one event. `actor` defaults to the request's signed-in user."""
    event_row = audit_event_build(
        event=event, request=request, actor=actor, target=target, email=email, **metadata
    )
    event_row.save(force_insert=True)
    return event_row


def audit_record_many(events: list[AuditEvent]) -> None:
    """Append many events built with `audit_event_build`, in one statement."""
    AuditEvent.objects.bulk_create(events, batch_size=1000)


def audit_event_build(
    *,
    event: AuditEventType,
    request: HttpRequest | None = None,
    actor=None,
    target=None,
    email: str = "",
    **metadata,
) -> AuditEvent:
    """An unsaved event, for `audit_record_many`."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if not email:
        email = getattr(target, "email", "") or getattr(actor, "email", "")
    return AuditEvent(
        event=event,
        actor=actor,
        target=target,
        email=_printable(email, 255),
        ip_address=client_ip(request),
        user_agent=client_user_agent(request),
        metadata=metadata,
    )
