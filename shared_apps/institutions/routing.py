"""Routes each request to the public site or to one institution's schema.

The hostname -> institution lookup is cached in Redis, so a warm request costs
one Redis GET and no database query. Models forget a hostname's entry when an
institution or domain row changes (after commit).

This hot path talks to Redis through one long-lived client per process rather
than Django's cache: the cache backend builds a new redis-py client on every
call, which was half of the routing time (see docs/performance.md).

Billing's read-only state is decided here too, from the cached row (no query):
once `read_only_at` has passed, writes are refused except where people sign
in and where an administrator pays; before it (the grace period) every answer
carries an `Institution-Notice` header and pages show a banner
(`context_processors.institution_notice`).
"""

import hashlib
import pickle

import redis
import structlog
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import set_urlconf
from django_tenants.postgresql_backend.base import FakeTenant
from django_tenants.utils import schema_exists

from conceptspro.api import error_body, error_json_response
from conceptspro.tenancy import request_port
from shared_apps.plans.api import read_only_refusal

from .models import Domain, Institution

ROUTE_CACHE_SECONDS = 300
# Unknown hosts are cached briefly too, so random subdomains cannot each cost a query.
MISSING_CACHE_SECONDS = 30
_MISSING = b"missing"
# Entries are pickled Institution rows: a deploy that changes the model's fields
# must not unpickle rows cached by the previous code.
_MODEL_DIGEST = hashlib.sha256(
    ",".join(f.attname for f in Institution._meta.concrete_fields).encode()
).hexdigest()[:8]
_KEY_PREFIX = f"conceptspro:route:{_MODEL_DIGEST}:"
_GENERATION_PREFIX = "conceptspro:route-generation:"
GENERATION_SECONDS = 7 * 24 * 3600
_public = FakeTenant(schema_name="public")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Writes a read-only institution still takes: signing in and out, token
# refresh, MFA, password reset and email confirmation, and the billing page
# and subscription endpoints where an administrator pays to lift the state...
WRITABLE_WHEN_READ_ONLY = (
    "/accounts/",
    "/api/v1/auth/",
    "/billing/",
    "/api/v1/institution/subscription/",
)
# ... but not what creates people under those prefixes.
NOT_WRITABLE_WHEN_READ_ONLY = (
    "/accounts/signup/",
    "/accounts/invitations/",
    "/api/v1/auth/register/",
)
_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def route_cache_forget(hostnames: list[str]) -> None:
    """Called after commit. Bumping the generation also defeats a request that
    read the old row before the commit and writes it to the cache after us."""
    client = _redis()
    with client.pipeline() as pipe:
        for hostname in hostnames:
            pipe.incr(_GENERATION_PREFIX + hostname)
            pipe.expire(_GENERATION_PREFIX + hostname, GENERATION_SECONDS)
            pipe.delete(_KEY_PREFIX + hostname)
        pipe.execute()


def institution_for_hostname(hostname: str) -> Institution | None:
    """The institution serving `hostname`, from the cache when warm.

    An entry is (generation, row); it counts only while its generation is the
    host's current one, read in the same round trip.
    """
    entry, generation = _redis().mget(_KEY_PREFIX + hostname, _GENERATION_PREFIX + hostname)
    generation = int(generation or 0)
    if entry is not None:
        cached_generation, _, payload = entry.partition(b":")
        if int(cached_generation) == generation:
            if payload == _MISSING:
                return None
            return pickle.loads(payload)  # noqa: S301 -- our own rows, written below
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    # A row whose schema is gone must not route: its tables would resolve in public.
    if domain is None or not schema_exists(domain.tenant.schema_name):
        _redis().set(
            _KEY_PREFIX + hostname, b"%d:%s" % (generation, _MISSING), ex=MISSING_CACHE_SECONDS
        )
        return None
    _redis().set(
        _KEY_PREFIX + hostname,
        b"%d:%s" % (generation, pickle.dumps(domain.tenant)),
        ex=ROUTE_CACHE_SECONDS,
    )
    return domain.tenant


def is_public_hostname(hostname: str) -> bool:
    base = settings.BASE_DOMAIN
    return hostname in (base, f"www.{base}")


class InstitutionRoutingMiddleware:
    """Must run before anything that touches the database or the session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        connection.set_schema_to_public()
        hostname = request.get_host().rsplit(":", 1)[0].lower().rstrip(".")

        if is_public_hostname(hostname):
            request.tenant = _public
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
            structlog.contextvars.bind_contextvars(tenant="public")
            return self.get_response(request)

        institution = institution_for_hostname(hostname)
        if institution is None:
            return _refusal(
                request,
                404,
                "institution_not_found",
                "There is no institution at this address.",
                "errors/institution_not_found.html",
            )
        structlog.contextvars.bind_contextvars(tenant=institution.schema_name)
        if institution.status == Institution.Status.SUSPENDED:
            return _refusal(
                request,
                403,
                "institution_suspended",
                f"{institution.name} is suspended. Contact your institution's administrator.",
                "errors/institution_suspended.html",
                institution,
            )
        if institution.status != Institution.Status.ACTIVE:
            response = _refusal(
                request,
                503,
                "institution_unavailable",
                f"{institution.name} is being set up. Try again in a minute.",
                "errors/institution_unavailable.html",
                institution,
            )
            response["Retry-After"] = "30"
            return response

        institution.domain_url = hostname
        request.tenant = institution
        connection.set_tenant(institution)
        set_urlconf(None)  # the tenant URLconf is ROOT_URLCONF
        if institution.read_only_at is None:
            return self.get_response(request)
        read_only = institution.is_read_only()
        if read_only and request.method not in SAFE_METHODS and not _writable(request.path):
            response = _read_only_refusal(request, institution)
        else:
            response = self.get_response(request)
        state = "read-only" if read_only else "past-due"
        response["Institution-Notice"] = (
            f"{state}; read-only-at={institution.read_only_at.isoformat()}"
        )
        return response


def _writable(path: str) -> bool:
    return path.startswith(WRITABLE_WHEN_READ_ONLY) and not path.startswith(
        NOT_WRITABLE_WHEN_READ_ONLY
    )


def _read_only_refusal(request, institution):
    refusal = read_only_refusal(name=institution.name, read_only_at=institution.read_only_at)
    if request.path.startswith("/api/"):
        body = error_body(code=refusal.code, message=refusal.message, extra=refusal.extra)
        return JsonResponse(body, status=refusal.status)
    context = {"institution": institution, "message": refusal.message}
    return render(request, "errors/institution_read_only.html", context, status=refusal.status)


def _refusal(request, status, code, message, template, institution=None):
    if request.path.startswith("/api/"):
        return error_json_response(status_code=status, code=code, message=message)
    context = {
        "institution": institution,
        "message": message,
        "base_domain": settings.BASE_DOMAIN,
        "port": request_port(request),
    }
    return render(request, template, context, status=status)
