"""The OpenAPI schema: generated without a warning, served with its
interactive docs on an institution's host, and written by `manage.py
spectacular` (issue 4's API conventions)."""

import json
import re
from collections import defaultdict

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from .conftest import host_client

# Where drf-spectacular's complaints come from: each app's views, by source path.
APPS = [
    "accounts",
    "audit",
    "courses",
    "content",
    "files",
    "announcements",
    "quizzes",
    "notifications",
    "discussions",
    "messaging",
    "calendar",
    "analytics",
    "privacy",
]
SCHEMA_WIDE = "schema-wide"  # operationId and enum name collisions name no file


@pytest.fixture(scope="module")
def schema_problems(django_db_blocker):
    """Every warning and error of one in-process generation, by app."""
    GENERATOR_STATS.reset()
    GENERATOR_STATS.enable_trace_lineno()  # as the command does: messages name their file
    with django_db_blocker.unblock(), GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    by_app = defaultdict(list)
    for message in messages:
        app = next((a for a in APPS if f"tenant_apps/{a}/" in message), None)
        if app is None and re.search(r"\.py:\d+", message):
            app = message.split(":", 1)[0]  # some other module: shown under its path
        by_app[app or SCHEMA_WIDE].append(message)
    return schema, by_app


@pytest.mark.parametrize("app", [*APPS, SCHEMA_WIDE])
def test_schema_generates_without_warnings(schema_problems, app):
    _, by_app = schema_problems
    problems = by_app.get(app, [])
    assert not problems, f"drf-spectacular complains about {app}:\n" + "\n".join(problems)


def test_no_other_module_warns(schema_problems):
    _, by_app = schema_problems
    others = {app: msgs for app, msgs in by_app.items() if app not in [*APPS, SCHEMA_WIDE]}
    assert not others, "\n".join(m for msgs in others.values() for m in msgs)


def test_every_operation_documents_the_error_shape(schema_problems):
    schema, _ = schema_problems
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert operation.get("operationId"), where
            for status in ("400", "401", "403", "404", "429"):
                assert responses[status]["content"]["application/json"]["schema"] == error, where
            assert "Retry-After" in responses["429"]["headers"], where
            if "requestBody" in operation:
                assert {"413", "415"} <= set(responses), where


def test_bearer_scheme_and_anonymous_auth_endpoints(schema_problems):
    schema, _ = schema_problems
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The `access_token` from /api/v1/auth/login/ or /api/v1/auth/refresh/.",
    }
    paths = schema["paths"]
    assert {"bearerAuth": []} in paths["/api/v1/users/me/"]["get"]["security"]
    assert "security" not in paths["/api/v1/auth/login/"]["post"]  # anyone may sign in
    assert paths["/api/v1/auth/logout/"]["post"]["security"] == [{"bearerAuth": []}]


def test_idempotent_post_documents_its_header_and_422(schema_problems):
    schema, _ = schema_problems
    operation = schema["paths"]["/api/v1/users/invitations/"]["post"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert not header.get("required", False)
    assert "422" in operation["responses"]


def test_lists_document_pagination_and_link_header(schema_problems):
    schema, _ = schema_problems
    operation = schema["paths"]["/api/v1/users/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"page", "per_page", "updated_since", "ordering"} <= names
    ok = operation["responses"]["200"]
    assert "Link" in ok["headers"]
    invitations = schema["paths"]["/api/v1/users/invitations/"]["get"]
    assert {"page", "per_page", "status"} <= {p["name"] for p in invitations["parameters"]}
    assert "Link" in invitations["responses"]["200"]["headers"]


def test_tenant_host_serves_the_schema(alpha):
    client = host_client("alpha.localhost")
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/users/me/" in schema["paths"]

    as_json = client.get("/api/v1/schema/", {"format": "json"})
    assert as_json.status_code == 200
    assert json.loads(as_json.content)["paths"].keys() == schema["paths"].keys()


def _static_assets(page: bytes, suffix: str) -> list[str]:
    return re.findall(rf'(?:src|href)="(/static/[^"]+{suffix})"', page.decode())


def test_tenant_host_serves_swagger_ui_with_its_assets(alpha):
    client = host_client("alpha.localhost")
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert b"/api/v1/schema/" in page.content
    scripts = _static_assets(page.content, ".js")
    assert any("swagger-ui-bundle" in s for s in scripts), scripts
    for asset in scripts + _static_assets(page.content, ".css"):
        response = client.get(asset)
        assert response.status_code == 200, asset
        b"".join(response.streaming_content if response.streaming else [response.content])


def test_tenant_host_serves_redoc_with_its_assets(alpha):
    client = host_client("alpha.localhost")
    page = client.get("/api/v1/redoc/")
    assert page.status_code == 200
    assert b"/api/v1/schema/" in page.content
    scripts = _static_assets(page.content, ".js")
    assert any("redoc" in s for s in scripts), scripts
    for asset in scripts:
        response = client.get(asset)
        assert response.status_code == 200, asset
        b"".join(response.streaming_content if response.streaming else [response.content])


def test_schema_endpoint_needs_no_sign_in_but_a_real_institution(db):
    response = host_client("nowhere.localhost").get("/api/v1/schema/")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "institution_not_found",
        "message": "There is no institution at this address.",
        "fields": {},
    }


def test_manage_py_spectacular_writes_a_valid_schema(db, tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target), "--validate")
    schema = yaml.safe_load(target.read_text())
    assert schema["info"]["title"] == "ConceptsPro API"
    assert "/api/v1/users/invitations/" in schema["paths"]
