"""What is written in one institution is invisible from another: rows, sessions,
cache entries, files."""

import pytest
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, User


def _user(institution, email="same@person.test", **fields):
    with tenant_context(institution):
        return User.objects.create_user(
            email, "pw", first_name="Pat", last_name=institution.slug, **fields
        )


def test_rows_written_in_one_institution_are_invisible_from_another(alpha, beta):
    _user(alpha, "only-in-alpha@alpha.test")
    with tenant_context(beta):
        assert not User.objects.filter(email="only-in-alpha@alpha.test").exists()
        assert list(User.objects.values_list("email", flat=True)) == ["admin@beta.test"]
    with tenant_context(alpha):
        assert User.objects.filter(email="only-in-alpha@alpha.test").exists()


def test_a_session_from_one_institution_does_not_sign_in_on_another(alpha, beta, alpha_client):
    alpha_user = _user(alpha)
    _user(beta)  # the same email exists in beta too: still a different account
    with tenant_context(alpha):
        alpha_client.force_login(alpha_user)
    connection.set_schema_to_public()

    me = alpha_client.get("/api/v1/users/me/")
    assert me.status_code == 200
    assert me.json()["id"] == str(alpha_user.id)

    on_beta = alpha_client.get("/api/v1/users/me/", HTTP_HOST="beta.localhost")
    assert on_beta.status_code == 401
    assert on_beta.json()["error"]["code"] == "not_authenticated"
    assert alpha_client.get("/", HTTP_HOST="beta.localhost").context["user"].is_anonymous


def test_anonymous_request_to_the_api_is_refused(alpha_client):
    response = alpha_client.get("/api/v1/users/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_the_signed_in_user_sees_their_own_role(alpha, alpha_client):
    instructor = _user(alpha, "teach@alpha.test", role=Role.INSTRUCTOR)
    with tenant_context(alpha):
        alpha_client.force_login(instructor)
    assert alpha_client.get("/api/v1/users/me/").json()["role"] == "instructor"


def test_cache_keys_belong_to_one_institution(alpha, beta):
    with tenant_context(alpha):
        cache.set("dashboard", "alpha's numbers")
    with tenant_context(beta):
        assert cache.get("dashboard") is None
        cache.set("dashboard", "beta's numbers")
    with tenant_context(alpha):
        assert cache.get("dashboard") == "alpha's numbers"


@pytest.fixture
def stored_files():
    names = []
    yield names
    for schema_name, name in names:
        connection.set_schema(schema_name)
        default_storage.delete(name)
    connection.set_schema_to_public()


def test_files_are_stored_under_the_institutions_prefix(alpha, beta, stored_files):
    with tenant_context(alpha):
        alpha_name = default_storage.save("notes/syllabus.txt", ContentFile(b"alpha"))
        stored_files.append((alpha.schema_name, alpha_name))
    with tenant_context(beta):
        beta_name = default_storage.save("notes/syllabus.txt", ContentFile(b"beta"))
        stored_files.append((beta.schema_name, beta_name))
    assert alpha_name == "institutions/alpha/notes/syllabus.txt"
    assert beta_name == "institutions/beta/notes/syllabus.txt"
    with tenant_context(alpha), default_storage.open(alpha_name) as f:
        assert f.read() == b"alpha"


@pytest.mark.parametrize(
    "name",
    [
        "institutions/beta/notes/syllabus.txt",
        "institutions/alpha/../beta/notes/syllabus.txt",
        "../institutions/beta/notes/syllabus.txt",
        "platform/exports/anything.json",
    ],
)
def test_another_institutions_files_cannot_be_addressed(alpha, beta, stored_files, name):
    with tenant_context(beta):
        stored = default_storage.save("notes/syllabus.txt", ContentFile(b"beta"))
        stored_files.append((beta.schema_name, stored))
    with tenant_context(alpha), pytest.raises(SuspiciousFileOperation):
        default_storage.open(name)
    with tenant_context(alpha), pytest.raises(SuspiciousFileOperation):
        default_storage.delete(name)
    with tenant_context(beta):
        assert default_storage.exists(stored)
