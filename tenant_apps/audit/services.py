"""Writing audit events."""

from django.http import HttpRequest

from .models import AuditEvent, AuditEventType

USER_AGENT_MAX = 512


def client_ip(request: HttpRequest | None) -> str | None:
    # REMOTE_ADDR only: a forwarded header is the client's to forge unless a
    # trusted proxy rewrites it, and that is the deployment's WSGI server's job.
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


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
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    if not email:
        email = getattr(target, "email", "") or getattr(actor, "email", "")
    return AuditEvent.objects.create(
        event=event,
        actor=actor,
        target=target,
        email=email[:255],
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request else "")[:USER_AGENT_MAX],
        metadata=metadata,
    )
