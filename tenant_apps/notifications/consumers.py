"""The WebSocket endpoint /ws/: one signed-in user's live events.

The scope arrives with `institution` set by InstitutionWebSocketMiddleware
(shared_apps/institutions/websocket.py): the Host named an active institution.
Here the client proves who it is with the API access token, the JWT of
/api/v1/auth/login/, checked in that institution's schema exactly as the REST
API checks it (tenant_apps.accounts.tokens). It may send it:
- as the subprotocol pair ("bearer", "<token>"): what a browser can do
  (`new WebSocket(url, ["bearer", token])`); the server answers "bearer";
- in an `Authorization: Bearer <token>` header: other clients;
- as `?access_token=<token>`: the last resort, since the URL, token included,
  is written to access logs (uvicorn's, a proxy's); prefer the subprotocol.

A refused token closes the socket with code 4401 and the reason. A connection
lasts no longer than its access token: at its `exp` the server closes it with
4401 and the client reconnects with a refreshed one. Nor does it outlive the
session the token names: what ends sessions (logout, refresh-token reuse, a
password change, suspension, deletion, erasure) sends `realtime.revalidate`
to the user's group (realtime.realtime_sessions_ended), and the consumer
checks its token again as at connect, closing with 4401 and the reason if it
is now refused. As a safety net for whatever ends a session without saying
so, every socket re-checks its token about once a minute (RECHECK_EVERY,
jittered so that sockets opened together do not check together).

Each check first asks whether the institution still serves the socket's host
(the scope's `institution_check`, from InstitutionWebSocketMiddleware); if it
was suspended the socket closes with 4403. Suspending one tells the
institution's group (which every socket joins) to check at once.

Once in, the connection is in the user's group and those of their courses
(realtime.realtime_course_ids), and relays each `realtime.event` sent to them
as the event's JSON. When the user joins or leaves a course, the courses'
services send `realtime.membership` (realtime.realtime_membership_changed) on
commit: the consumer asks the database, follows the course or stops, and says
so ({"type": "membership", ...}); each re-check of the token does the same for
all the user's courses. It answers {"type": "ping"} with {"type": "pong"}, and
ignores anything else a client sends.
"""

import asyncio
import logging
import random
import time
import uuid
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from tenant_apps.accounts.api import User
from tenant_apps.accounts.tokens import TokenRefused, access_token_authenticate

from .realtime import course_group, realtime_course_ids, user_group

logger = logging.getLogger(__name__)

UNAUTHORIZED = 4401  # the HTTP statuses in the 4000-4999 range left to applications
FORBIDDEN = 4403
SUBPROTOCOL = "bearer"
NOT_SIGNED_IN = "No access token: send it as the subprotocol pair ('bearer', <token>)."
EXPIRED = "The access token has expired."
UNAVAILABLE = "The institution is not available."
# Seconds between two re-checks of a socket's token, on average (the setting
# REALTIME_RECHECK_SECONDS overrides it): each is 3 indexed queries (4 for
# instructors) on a connection of its own, about 50 queries and 17 connections
# a second for 1,000 open sockets.
RECHECK_EVERY = 60.0


def recheck_delay(*, first: bool = False) -> float:
    """RECHECK_EVERY, +-20 %; the first spread over (0.2-1.2) x RECHECK_EVERY
    so that a thousand sockets reconnecting at once (a deploy) do not then
    re-check in the same second."""
    every = getattr(settings, "REALTIME_RECHECK_SECONDS", RECHECK_EVERY)
    low, high = (0.2, 1.2) if first else (0.8, 1.2)
    return every * random.uniform(low, high)  # noqa: S311 (jitter, not a secret)


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.expiry = self.recheck = None
        self.closing = False
        # Group changes and closing happen one at a time: a membership message,
        # a revalidation and the periodic re-check each read the database and
        # then act on what they read.
        self.lock = asyncio.Lock()
        token, subprotocol = token_from_scope(self.scope)
        if token is None:
            return await self.refuse(subprotocol, NOT_SIGNED_IN)
        institution = self.scope["institution"]
        try:
            user_id, expires_at, course_ids = await authenticate(institution, token)
        except TokenRefused as refused:
            return await self.refuse(subprotocol, refused.description)
        self.institution = institution
        self.token = token  # checked again on each revalidation
        self.user_id = user_id
        await self.group_join(self.scope["institution_group"])
        await self.group_join(user_group(institution.schema_name, user_id))
        for course_id in course_ids:
            await self.group_join(course_group(institution.schema_name, course_id))
        # Accepted once in its groups: an open socket misses nothing sent after.
        await self.accept(subprotocol=subprotocol)
        self.expiry = asyncio.get_running_loop().call_later(
            max(0.0, expires_at - time.time()),
            lambda: asyncio.ensure_future(self.end(EXPIRED)),
        )
        self.recheck = asyncio.ensure_future(self.recheck_periodically())

    async def refuse(self, subprotocol: str | None, reason: str) -> None:
        # Accepted to be closed: a close during the handshake reaches the
        # client as a bare HTTP 403, without the code and reason it needs.
        await self.accept(subprotocol=subprotocol)
        await self.end(reason)

    async def end(self, reason: str, code: int = UNAUTHORIZED) -> None:
        """Closes with `code` (4401 unless said) and `reason`, once; nothing
        is sent after."""
        if not self.closing:
            self.closing = True
            await self.close(code=code, reason=reason)

    async def disconnect(self, code):
        self.closing = True
        for timer in (self.expiry, self.recheck):
            if timer is not None:
                timer.cancel()

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping" and not self.closing:
            await self.send_json({"type": "pong"})

    async def decode_json(self, text_data):
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None  # not JSON: ignored, like any message but a ping

    async def realtime_event(self, message):
        # Sent to a group this socket has left since (the course a student was
        # just dropped from): it was already queued here; it is not for them.
        group = message.get("group")
        if self.closing or (group is not None and group not in self.groups):
            return
        await self.send_json(message["event"])

    async def realtime_membership(self, message):
        """The user's place in a course changed: the database says whether they
        are now in it, the course's group is joined or left to match, and the
        client is told ({"type": "membership", "payload": {"courseId", "joined"}})."""
        course_id = message["course_id"]
        try:
            uuid.UUID(str(course_id))
        except ValueError:
            return
        async with self.lock:
            if self.closing:
                return
            member = await still_member(self.institution, self.user_id, course_id)
            await self.follow(str(course_id), member, always_say=True)

    async def realtime_revalidate(self, message):
        """A session of the user ended, their access changed or their
        institution was suspended: see revalidate."""
        await self.revalidate()

    async def revalidate(self) -> None:
        """Checks the socket again, as at connect: its institution no longer
        served (suspended), it closes with 4403; its token refused (its
        session ended, the account is suspended, deleted or erased), with 4401
        and the reason; else it follows exactly the user's courses now,
        telling the client of each it joins or leaves."""
        async with self.lock:
            if self.closing:
                return
            if not await self.scope["institution_check"]():
                return await self.end(UNAVAILABLE, FORBIDDEN)
            try:
                user_id, _, course_ids = await authenticate(self.institution, self.token)
            except TokenRefused as refused:
                return await self.end(refused.description)
            if user_id != self.user_id:  # a token names one user; never expected
                return await self.end("The access token has been revoked.")
            prefix = course_group(self.institution.schema_name, "")
            followed = {
                group.removeprefix(prefix) for group in self.groups if group.startswith(prefix)
            }
            for course_id in sorted(followed - course_ids):
                await self.follow(course_id, False)
            for course_id in sorted(course_ids - followed):
                await self.follow(course_id, True)

    async def recheck_periodically(self) -> None:
        delay = recheck_delay(first=True)
        while True:
            await asyncio.sleep(delay)
            delay = recheck_delay()
            try:
                await self.revalidate()
            except Exception:  # the database away: the socket stays, the next check retries
                logger.exception("WebSocket re-check failed for user %s", self.user_id)
            if self.closing:
                return

    async def follow(self, course_id: str, member: bool, *, always_say: bool = False) -> None:
        """Joins or leaves the course's group as `member` says, and tells the
        client when that changed something (or `always_say`)."""
        group = course_group(self.institution.schema_name, course_id)
        changed = member != (group in self.groups)
        if member:
            await self.group_join(group)
        elif group in self.groups:
            self.groups.remove(group)
            await self.channel_layer.group_discard(group, self.channel_name)
        if changed or always_say:
            await self.send_json(
                {"type": "membership", "payload": {"courseId": course_id, "joined": member}}
            )

    async def group_join(self, group: str) -> None:
        if group not in self.groups:
            # In self.groups, Channels leaves them all when the socket closes.
            self.groups.append(group)
            await self.channel_layer.group_add(group, self.channel_name)


def token_from_scope(scope) -> tuple[str | None, str | None]:
    """(the access token, the subprotocol to answer with), from the
    subprotocol pair, the Authorization header or the query, in that order."""
    offered = scope.get("subprotocols") or []
    if SUBPROTOCOL in offered:
        index = offered.index(SUBPROTOCOL)
        token = offered[index + 1] if index + 1 < len(offered) else None
        return token, SUBPROTOCOL
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip(), None
            return None, None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tokens = query.get("access_token")
    return (tokens[0] if tokens else None), None


def in_schema(function):
    """Runs `function(institution, ...)` in a worker thread, in the
    institution's schema, and leaves that thread's connection on the public
    schema afterwards: the thread serves other connections' work next.

    Not thread-sensitive: Channels would otherwise run every socket's
    database work on one shared thread, one after another, and a thousand
    clients reconnecting at once (after a deploy) would queue behind each
    other for most of a minute (bench/realtime.py). Each call has its own
    connection (closed after it, as CONN_MAX_AGE is 0)."""

    def run(institution, *args):
        try:
            with tenant_context(institution):
                return function(*args)
        finally:
            connection.set_schema_to_public()

    return database_sync_to_async(run, thread_sensitive=False)


@in_schema
def authenticate(token: str) -> tuple[str, float, set[str]]:
    """(user id, token expiry as a Unix time, course ids to follow), or
    TokenRefused. A token of another institution is refused here: its `inst`
    claim names another schema and its session is not in this one."""
    user, payload = access_token_authenticate(token)
    return str(user.pk), float(payload["exp"]), realtime_course_ids(user)


@in_schema
def still_member(user_id: str, course_id: str) -> bool:
    user = User.objects.filter(pk=user_id).first()
    return user is not None and bool(realtime_course_ids(user, course_id=course_id))
