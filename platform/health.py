"""GET /health/: is each dependency answering? 200 when all are, 503 otherwise.

Open to anyone (load balancers and uptime monitors call it); it reveals only
which component is down, never connection details.
"""

import time
import uuid

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

# A worker ping waits for a reply; remember a good answer briefly so that a
# monitor polling every second does not become a broadcast every second.
WORKER_OK_CACHE_SECONDS = 10
WORKER_PING_TIMEOUT = 1.0


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    token = uuid.uuid4().hex
    cache.set("health:redis", token, 10)
    if cache.get("health:redis") != token:
        raise RuntimeError("Redis did not return what was written")


def _celery_worker() -> None:
    if cache.get("health:worker-ok"):
        return
    from conceptspro.celery import app

    if not app.control.ping(timeout=WORKER_PING_TIMEOUT, limit=1):
        raise RuntimeError("no worker answered")
    cache.set("health:worker-ok", True, WORKER_OK_CACHE_SECONDS)


def _storage() -> None:
    name = default_storage.save(f"health/{uuid.uuid4().hex}", ContentFile(b"ok"))
    default_storage.delete(name)


CHECKS = {
    "database": _database,
    "redis": _redis,
    "celery_worker": _celery_worker,
    "storage": _storage,
}


@never_cache
def health(request):
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # a health check reports every failure, whatever its kind
            results[name] = {"status": "down", "error": type(exc).__name__}
        else:
            results[name] = {"status": "up"}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    healthy = all(r["status"] == "up" for r in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", "checks": results},
        status=200 if healthy else 503,
    )
