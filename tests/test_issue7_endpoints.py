"""Every endpoint of issue 7 (notifications, discussions, messaging, calendar,
analytics, data rights) refuses a caller without a token and a caller holding
another institution's token, before it reads or writes anything. The paths come
from the OpenAPI schema, so an endpoint added later is covered without a line
here; each app's own tests cover the allowed and refused roles."""

import re
import uuid

import pytest
from drf_spectacular.generators import SchemaGenerator

from .api_helpers import admin_of, api_client
from .conftest import host_client

PREFIXES = (
    "/api/v1/notifications",
    "/api/v1/discussions",
    "/api/v1/posts",
    "/api/v1/conversations",
    "/api/v1/messages",
    "/api/v1/calendar",
    "/api/v1/analytics",
    "/api/v1/data-exports",
    "/api/v1/users/me/data-exports",
    "/api/v1/institution/data-policy",
    "/api/v1/institution/messaging-policy",
)
COURSE_SCOPED = re.compile(r"^/api/v1/courses/\{[^}]+\}/discussions")
PERSON_SCOPED = re.compile(r"^/api/v1/users/\{[^}]+\}/(erase|data-exports)")


def _operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, item in schema["paths"].items():
        if not (
            path.startswith(PREFIXES) or COURSE_SCOPED.match(path) or PERSON_SCOPED.match(path)
        ):
            continue
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)))
    return found


@pytest.fixture(scope="module")
def operations(django_db_blocker):
    with django_db_blocker.unblock():
        return _operations()


def test_the_schema_lists_every_part_of_the_issue(operations):
    paths = {path for _, path in operations}
    for prefix in (
        "/api/v1/notifications",
        "/api/v1/posts",
        "/api/v1/conversations",
        "/api/v1/calendar",
        "/api/v1/analytics",
        "/api/v1/users/me/data-exports",
    ):
        assert any(path.startswith(prefix) for path in paths), prefix
    assert any(COURSE_SCOPED.match(re.sub(r"[0-9a-f-]{36}", "{id}", p)) for p in paths)


def test_no_token_is_a_401_everywhere(alpha, operations):
    anonymous = host_client("alpha.localhost")
    for method, path in operations:
        response = getattr(anonymous, method)(path, {}, content_type="application/json")
        assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
        assert response.json()["error"]["code"] == "not_authenticated"


def test_another_institutions_token_is_a_401_everywhere(alpha, beta, operations):
    beta_admin_on_alpha = api_client(beta, admin_of(beta))
    beta_admin_on_alpha.defaults["HTTP_HOST"] = "alpha.localhost"
    for method, path in operations:
        response = getattr(beta_admin_on_alpha, method)(path, {}, content_type="application/json")
        assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
        assert response.json()["error"]["code"] == "invalid_token"
