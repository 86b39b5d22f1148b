"""What every benchmark needs: the embedded servers (or DATABASE_URL/REDIS_URL),
a fresh database of its own, Django set up with migrations, and medians."""

import os
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _fresh_database(name: str) -> None:
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    admin = url._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url._replace(path=f"/{name}").geturl()


@contextmanager
def django_on_fresh_database(name: str):
    """Django, migrated, on a new database `name`; the servers stop afterwards."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conceptspro.settings.local")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from conceptspro.devstack import EmbeddedServers

    servers = EmbeddedServers()
    servers.start()
    try:
        _fresh_database(name)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate_schemas", shared=True, verbosity=0)
        yield
    finally:
        servers.stop()


def bench_institution():
    """The institution "bench" (admin@bench.test), provisioned from the
    template; call inside `django_on_fresh_database`."""
    from provisioning import services
    from provisioning.schemas import template_ensure

    template_ensure()
    return services.institution_provision(
        institution_id=services.institution_create(
            name="Bench University",
            slug="bench",
            admin_email="admin@bench.test",
            admin_password="bench-password-not-common",
            enqueue=False,
        ).id,
        method="template",
    )
