"""WebSocket connections (/ws/) routed to one institution, as
InstitutionRoutingMiddleware routes HTTP requests.

Two ASGI middlewares, outermost first:
- SameOriginOnly: a browser's handshake carries an Origin, which must be the
  page's own site (scheme aside, the same host and port as the Host header),
  so another site's page cannot open a socket with the visitor's credentials.
  Clients that are not browsers send no Origin and pass.
- InstitutionWebSocketMiddleware: the Host names an institution that is active;
  otherwise the handshake is refused before it is accepted (the client sees an
  HTTP 403 and nothing about the institution). The scope then carries, for the
  consumer, which authenticates the user in that institution's schema:
  - `institution`: its row, from the routing cache;
  - `institution_group`: the group every socket of the institution joins;
  - `institution_check`: an awaitable check that the host still routes to
    that institution, active (the handshake's own check, asked again).

An institution that stops being active (suspended by the operator or for
non-payment) closes its open sockets at once: after the commit that changed
its status, Institution.save tells the institution's group to check again,
and each socket calls `institution_check` and closes if it fails.
"""

from functools import partial
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http.request import split_domain_port, validate_host

from .models import Institution
from .routing import institution_for_hostname, is_public_hostname


def header(scope, name: bytes) -> str | None:
    """The first value of a request header, or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def handshake_refuse(send) -> None:
    """Refuses the handshake: before `websocket.accept`, a close is an HTTP 403."""
    await send({"type": "websocket.close"})


class SameOriginOnly:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not same_origin(scope):
            return await handshake_refuse(send)
        return await self.application(scope, receive, send)


def same_origin(scope) -> bool:
    origin = header(scope, b"origin")
    if origin is None:
        return True  # not a browser: nothing to forge on its user's behalf
    host = header(scope, b"host")
    if not host:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, file:) and anything odd
    default = "443" if parts.scheme == "https" else "80"
    origin_host, origin_port = split_domain_port(parts.netloc.lower())
    host_name, host_port = split_domain_port(host.lower())
    return bool(origin_host) and (origin_host, origin_port or default) == (
        host_name,
        host_port or default,
    )


class InstitutionWebSocketMiddleware:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.application(scope, receive, send)
        # Not thread-sensitive: see tenant_apps/notifications/consumers.in_schema.
        lookup = database_sync_to_async(institution_for_websocket, thread_sensitive=False)
        institution = await lookup(header(scope, b"host") or "")
        if institution is None:
            return await handshake_refuse(send)
        scope = dict(
            scope,
            institution=institution,
            institution_group=institution_group(institution.schema_name),
            institution_check=database_sync_to_async(
                partial(institution_still_serving, institution), thread_sensitive=False
            ),
        )
        return await self.application(scope, receive, send)


def institution_for_websocket(host: str) -> Institution | None:
    """The active institution at `host` (a Host header), else None: an unknown
    or disallowed host, the public site, or an institution that is suspended
    or not yet provisioned. From the routing cache when warm (no query)."""
    hostname, _ = split_domain_port(host.lower())
    hostname = hostname.rstrip(".")
    if not hostname or not validate_host(hostname, settings.ALLOWED_HOSTS):
        return None
    if is_public_hostname(hostname):
        return None
    connection.set_schema_to_public()  # the Domain lookup reads the public schema
    institution = institution_for_hostname(hostname)
    if institution is None or institution.status != Institution.Status.ACTIVE:
        return None
    institution.domain_url = hostname
    return institution


def institution_still_serving(institution: Institution) -> bool:
    """Whether the host a socket connected through still routes to this
    institution, active: what the handshake checked, asked again."""
    found = institution_for_websocket(institution.domain_url)
    return found is not None and found.pk == institution.pk


def institution_group(schema: str) -> str:
    """The group every open socket of the institution is in."""
    return f"{schema}.institution"


# The consumer's method for it: re-check the socket, as at connect.
REVALIDATE = "realtime.revalidate"


def institution_sockets_revalidate(schema: str) -> None:
    """Tells every open socket of the institution to check again (call it
    after the commit that suspended it)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(institution_group(schema), {"type": REVALIDATE})
