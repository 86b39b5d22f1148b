"""Requests reach the public site or the right institution's schema, and every
other host gets a proper page, never a traceback."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning import services
from shared_apps.institutions.models import Domain, Institution

from .conftest import host_client


def test_bare_domain_serves_the_public_landing_page(db, public_client):
    response = public_client.get("/")
    assert response.status_code == 200
    assert b"ConceptsPro" in response.content
    assert response.wsgi_request.tenant.schema_name == "public"


def test_www_is_the_public_site_too(db):
    response = host_client("www.localhost").get("/")
    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == "public"


def test_institution_subdomain_serves_that_institution(alpha_client, alpha):
    response = alpha_client.get("/")
    assert response.status_code == 200
    assert response.wsgi_request.tenant.pk == alpha.pk
    assert b"Alpha University" in response.content


def test_port_is_ignored_when_routing(alpha):
    response = host_client("alpha.localhost:8000").get("/")
    assert response.status_code == 200
    assert response.wsgi_request.tenant.pk == alpha.pk


def test_unknown_subdomain_gets_a_404_page(db):
    response = host_client("nowhere.localhost").get("/")
    assert response.status_code == 404
    assert b"No institution here" in response.content
    assert response["Content-Type"].startswith("text/html")


def test_unknown_subdomain_gets_json_under_api(db):
    response = host_client("nowhere.localhost").get("/api/v1/users/me/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "institution_not_found",
            "message": "There is no institution at this address.",
            "fields": {},
        }
    }


def test_host_outside_the_base_domain_is_a_400_not_a_traceback(db):
    response = host_client("evil.example.com").get("/")
    assert response.status_code == 400


def test_suspended_institution_gets_the_suspended_page(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.institution_suspend(institution=alpha, reason="unpaid")
    response = host_client("alpha.localhost").get("/")
    assert response.status_code == 403
    assert b"suspended" in response.content
    api = host_client("alpha.localhost").get("/api/v1/users/me/")
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "institution_suspended"


def test_reactivated_institution_serves_again(alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.institution_suspend(institution=alpha)
    assert host_client("alpha.localhost").get("/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        services.institution_reactivate(institution=alpha)
    assert host_client("alpha.localhost").get("/").status_code == 200


@pytest.mark.parametrize(
    "status",
    [Institution.Status.PENDING, Institution.Status.PROVISIONING, Institution.Status.FAILED],
)
def test_institution_not_yet_active_gets_503_with_retry_after(
    alpha, status, django_capture_on_commit_callbacks
):
    alpha.status = status
    with django_capture_on_commit_callbacks(execute=True):
        alpha.save()
    response = host_client("alpha.localhost").get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"


def test_warm_request_makes_no_query_to_route(alpha_client):
    alpha_client.get("/")  # warms the routing cache
    with CaptureQueriesContext(connection) as queries:
        response = alpha_client.get("/")
    assert response.status_code == 200
    assert [q["sql"] for q in queries.captured_queries] == []


def test_cold_request_looks_the_domain_up_once(alpha_client):
    with CaptureQueriesContext(connection) as queries:
        alpha_client.get("/")
    lookups = [q for q in queries.captured_queries if "institutions_domain" in q["sql"]]
    assert len(lookups) == 1


def test_new_domain_is_routable_at_once_although_its_absence_was_cached(
    alpha, django_capture_on_commit_callbacks
):
    assert host_client("alias.localhost").get("/").status_code == 404  # caches "missing"
    with django_capture_on_commit_callbacks(execute=True):
        Domain.objects.create(domain="alias.localhost", tenant=alpha, is_primary=False)
    assert host_client("alias.localhost").get("/").status_code == 200
