"""Test fixtures: real PostgreSQL schemas, real Redis, the real tenant router.

Migrations run once per session: for the public schema (pytest-django's test
database) and for the `_template` schema. Every institution after that is built
by the cold path in tens of milliseconds, and the two session institutions,
`alpha` and `beta`, are reused by every test; each test's writes are rolled back.
"""

import threading
import time
from contextlib import contextmanager

import pytest
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client
from django.test.utils import setup_databases, teardown_databases

from provisioning import services
from provisioning.schemas import TEMPLATE_SCHEMA, advisory_lock, schema_drop, template_ensure
from shared_apps.institutions.models import Institution

PASSWORD = "a-long-test-password"


def pending_institution(slug: str, **overrides) -> Institution:
    """An institution as a sign-up leaves it: recorded, not yet provisioned."""
    fields = {
        "name": f"{slug.replace('-', ' ').title()} University",
        "slug": slug,
        "admin_email": f"admin@{slug}.test",
        "admin_password": PASSWORD,
        "enqueue": False,
        **overrides,
    }
    return services.institution_create(**fields)


def make_institution(slug: str, *, method: str = "auto") -> Institution:
    institution = pending_institution(slug)
    return services.institution_provision(institution_id=institution.id, method=method)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        made_here = _test_database_ensure()
        template_ensure()
        for slug in ("alpha", "beta"):
            make_institution(slug, method="template")
    yield
    with django_db_blocker.unblock():
        for institution in Institution.objects.all():
            schema_drop(institution.schema_name)
        schema_drop(TEMPLATE_SCHEMA)
        if made_here:
            teardown_databases(made_here, verbosity=0)


def _test_database_ensure():
    """pytest-django makes the test database only when a selected test asks
    for `db`; a run of committed-data tests alone (`-k browser`) asks for
    none. Then it is made here; returns what teardown needs, or None."""
    if connection.settings_dict["NAME"] == connection.creation._get_test_db_name():
        return None
    return setup_databases(verbosity=0, interactive=False, aliases={"default"})


@pytest.fixture(autouse=True)
def _clean_slate():
    """Redis is not rolled back with the database: start each test with an empty
    cache, and on the public schema."""
    cache.clear()
    yield
    connection.set_schema_to_public()
    cache.clear()


@pytest.fixture
def alpha(db) -> Institution:
    return Institution.objects.get(slug="alpha")


@pytest.fixture
def beta(db) -> Institution:
    return Institution.objects.get(slug="beta")


def host_client(host: str, **defaults) -> Client:
    return Client(HTTP_HOST=host, **defaults)


@pytest.fixture
def public_client() -> Client:
    return host_client("localhost")


@pytest.fixture
def alpha_client(alpha) -> Client:
    return host_client("alpha.localhost")


@pytest.fixture
def beta_client(beta) -> Client:
    return host_client("beta.localhost")


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """Database access without a wrapping transaction, for tests whose data must
    be visible to another connection (a Celery worker thread, concurrent
    claims). Institutions created here are dropped afterwards."""
    with django_db_blocker.unblock():
        before = set(Institution.objects.values_list("pk", flat=True))
        yield
        connection.set_schema_to_public()
        for institution in Institution.objects.exclude(pk__in=before):
            schema_drop(institution.schema_name)
            institution.delete()


@pytest.fixture
def celery_worker(committed_db):
    """A real Celery worker (in a thread) consuming from the real broker."""
    from celery.contrib.testing.worker import start_worker

    from conceptspro.celery import app

    with start_worker(
        app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ) as worker:
        yield worker


@pytest.fixture
def celery_eager():
    """Tasks run in the caller's process and schema, for tests that are not
    about the queue (those use `celery_worker`)."""
    from conceptspro.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@contextmanager
def lock_held_elsewhere(key: str):
    """For the block, another connection (as another worker would) holds the
    advisory lock `key`."""
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with advisory_lock(key):
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10), "the other connection never got the lock"
        yield
    finally:
        release.set()
        thread.join()


def wait_for_status(institution: Institution, status: str, timeout: float = 30) -> None:
    """Poll until a worker has moved the institution to `status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        institution.refresh_from_db()
        if institution.status == status:
            return
        time.sleep(0.1)
    raise AssertionError(f"still {institution.status}: {institution.status_reason}")
