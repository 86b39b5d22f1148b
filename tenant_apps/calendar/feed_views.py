"""The public iCal feed: GET /calendar/feed/{token}.ics on the institution's
host. No session or API token: the secret in the URL is the credential, so
calendar programs can subscribe. An unknown, revoked or replaced token, or
one whose owner may no longer sign in, is a 404 answered by the same single
query (nothing tells the cases apart); a token of another institution is
unknown here, as each institution keeps its feeds in its own schema."""

import hashlib

from django.db import connection
from django.http import HttpResponse, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.http import require_safe

from . import selectors, services
from .feed import feed_calendar


def _calendar_name(user) -> str:
    institution = getattr(getattr(connection, "tenant", None), "name", "") or "ConceptsPro"
    return f"{institution} — {user.get_full_name() or user.email}"


@require_safe
def calendar_feed(request, token: str):
    """Anyone holding the URL (that is the point of a subscription URL)."""
    feed = selectors.feed_owner(services.feed_token_hash(token))
    if feed is None:
        return HttpResponseNotFound(b"Not found.\n", content_type="text/plain; charset=utf-8")
    body = feed_calendar(user=feed.user, name=_calendar_name(feed.user), now=timezone.now())
    services.feed_fetched(feed=feed)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=900",
        "X-Robots-Tag": "noindex, nofollow",
        "Referrer-Policy": "no-referrer",
    }
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return HttpResponse(status=304, headers=headers)
    return HttpResponse(
        body,
        content_type="text/calendar; charset=utf-8",
        headers={**headers, "Content-Disposition": 'inline; filename="calendar.ics"'},
    )
