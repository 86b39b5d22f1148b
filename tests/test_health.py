"""GET /health/ reports each dependency; 503 when one is down."""

import pytest
from django.core.cache import cache

from conceptspro import health


def test_health_is_503_when_no_worker_answers(db, public_client, monkeypatch):
    monkeypatch.setattr(health, "WORKER_PING_TIMEOUT", 0.2)
    response = public_client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["celery_worker"]["status"] == "down"
    for up in ("database", "redis", "storage"):
        assert body["checks"][up]["status"] == "up"


@pytest.mark.queue
def test_health_is_ok_on_an_institution_host_with_everything_running(celery_worker):
    from .conftest import host_client

    response = host_client("alpha.localhost").get("/health/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"
    assert set(response.json()["checks"]) == {"database", "redis", "celery_worker", "storage"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_reports_a_database_failure_without_details(db, public_client, monkeypatch):
    def broken():
        raise ConnectionError("password=secret host=10.0.0.1")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    cache.set("health:celery_worker", {"status": "up", "ms": 0})  # only the database is tested
    response = public_client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "status": "down",
        "error": "ConnectionError",
        "ms": response.json()["checks"]["database"]["ms"],
    }
    assert b"secret" not in response.content
