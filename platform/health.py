"""Health endpoints. Open to anyone (load balancers, uptime monitors); they
reveal which component is down, never connection details.

- GET /health/: readiness of every dependency (database, Redis, a Celery
  worker, file storage) as JSON; 200 when all are up, 503 otherwise.
- GET /health/live/: the process answers; no dependency is touched. Point a
  load balancer's liveness probe here, so that a Celery outage does not take
  the web nodes out of rotation.
"""

import contextlib
import time
import uuid

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

# The worker ping waits for a reply and the storage check writes a file: their
# results, good or bad, are remembered briefly, so that polling stays cheap.
WORKER_PING_TIMEOUT = 1.0
REMEMBERED_SECONDS = {"celery_worker": 10, "storage": 30}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    token = uuid.uuid4().hex
    cache.set("health:redis", token, 10)
    if cache.get("health:redis") != token:
        raise RuntimeError("Redis did not return what was written")


def _celery_worker() -> None:
    from conceptspro.celery import app

    if not app.control.ping(timeout=WORKER_PING_TIMEOUT, limit=1):
        raise RuntimeError("no worker answered")


def _storage() -> None:
    name = default_storage.save(f"health/{uuid.uuid4().hex}", ContentFile(b"ok"))
    default_storage.delete(name)


CHECKS = {
    "database": _database,
    "redis": _redis,
    "celery_worker": _celery_worker,
    "storage": _storage,
}


def _run(name: str, check) -> dict:
    remembered_for = REMEMBERED_SECONDS.get(name)
    if remembered_for:
        remembered = cache.get(f"health:{name}")
        if remembered is not None:
            return remembered
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # a health check reports every failure, whatever its kind
        result = {"status": "down", "error": type(exc).__name__}
    else:
        result = {"status": "up"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    if remembered_for:
        # Redis being down is reported by its own check.
        with contextlib.suppress(Exception):
            cache.set(f"health:{name}", result, remembered_for)
    return result


@never_cache
def health(request):
    results = {name: _run(name, check) for name, check in CHECKS.items()}
    healthy = all(r["status"] == "up" for r in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": results},
        status=200 if healthy else 503,
    )


@never_cache
def live(request):
    return JsonResponse({"status": "ok"})
