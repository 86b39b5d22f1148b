"""Logs are JSON lines carrying the request id and the tenant schema."""

import json
import logging

from conceptspro.logconfig import configure_logging


def _finished(capfd) -> dict:
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    return next(entry for entry in lines if entry["event"] == "request_finished")


def test_request_logs_are_json_with_request_id_and_tenant(alpha_client, capfd, settings):
    settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
    logging.config.dictConfig(configure_logging(level="INFO", fmt="json"))
    capfd.readouterr()
    response = alpha_client.get("/", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 200
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    finished = [entry for entry in lines if entry["event"] == "request_finished"]
    assert finished, lines
    assert finished[0]["request_id"] == "req-123"
    assert finished[0]["tenant"] == "alpha"
    assert finished[0]["code"] == 200
    assert finished[0]["level"] == "info"
    assert "timestamp" in finished[0]


def test_an_upstream_request_id_is_ignored_unless_trusted(alpha_client, capfd):
    logging.config.dictConfig(configure_logging(level="INFO", fmt="json"))
    capfd.readouterr()
    alpha_client.get("/", HTTP_X_REQUEST_ID="forged")
    entry = _finished(capfd)
    assert entry["request_id"] != "forged"
    assert len(entry["request_id"]) == 36  # a fresh UUID


def test_unknown_host_is_logged_without_a_tenant(db, capfd):
    from .conftest import host_client

    logging.config.dictConfig(configure_logging(level="INFO", fmt="json"))
    capfd.readouterr()
    host_client("nowhere.localhost").get("/")
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    finished = [entry for entry in lines if entry["event"] == "request_finished"]
    assert finished[0]["code"] == 404
    assert "tenant" not in finished[0]
    assert finished[0]["request_id"]
