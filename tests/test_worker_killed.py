"""A worker killed (SIGKILL) in the middle of provisioning: between steps, or
inside the schema's transaction. Nothing half-made survives, and the watchdog
queues the institution again so that a worker finishes it."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from provisioning import services, tasks
from shared_apps.institutions.models import Institution
from tenant_apps.accounts.models import User

from .conftest import lock_held_elsewhere, pending_institution, wait_for_status

pytestmark = pytest.mark.queue

# Runs provisioning in its own process, stopping (sleeping) at a chosen point
# so that the test can kill it there.
WORKER = textwrap.dedent(
    """
    import os, sys, time
    import django
    django.setup()
    from pathlib import Path
    from provisioning import schemas, services

    point, marker, institution_id = sys.argv[1:4]

    def reached():
        Path(marker).write_text("here")
        time.sleep(60)

    if point == "inside-schema-transaction":
        real = schemas.CapturedSchema.render
        schemas.CapturedSchema.render = (
            lambda self, name: real(self, name) + "SELECT pg_sleep(60);"
        )
        from django.db.backends.utils import CursorWrapper
        real_execute = CursorWrapper.execute
        def execute(self, sql, params=None):
            if "pg_sleep(60)" in sql:
                Path(marker).write_text("here")
            return real_execute(self, sql, params)
        CursorWrapper.execute = execute
    else:
        steps = dict(services.STEPS)
        def stop_after(*args, _step=steps[point]):
            _step(*args)
            reached()
        services.STEPS = [(n, stop_after if n == point else f) for n, f in services.STEPS]

    services.institution_provision(institution_id=institution_id, method="template")
    """
)


def _database_url() -> str:
    settings = connection.settings_dict
    options = settings.get("OPTIONS", {})
    host = settings["HOST"] or options.get("host", "")
    port = settings["PORT"] or "5432"
    if host.startswith("/"):
        return f"postgres://{settings['USER']}@/{settings['NAME']}?host={host}"
    return f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"


def _kill_at(point: str, institution: Institution, tmp_path: Path) -> None:
    marker = tmp_path / "reached"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "conceptspro.settings.test",
        # The server notices a vanished client mid-statement when it checks:
        # production settings check every 5 s, this process every 100 ms.
        "DATABASE_SESSION_OPTIONS": "-c client_connection_check_interval=100",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, point, str(marker), str(institution.id)],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, "the worker process ended before the kill point"
            assert time.monotonic() < deadline, "the worker never reached the kill point"
            time.sleep(0.05)
        time.sleep(0.2)  # let the statement start
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.mark.parametrize("point", ["inside-schema-transaction", "schema", "domain", "admin"])
def test_a_killed_worker_leaves_nothing_half_made_and_the_watchdog_finishes(
    celery_worker, tmp_path, point
):
    institution = pending_institution("killed-u")
    _kill_at(point, institution, tmp_path)

    institution.refresh_from_db()
    assert institution.status == Institution.Status.PROVISIONING
    if point == "inside-schema-transaction":
        assert not schema_exists("killed_u"), "a killed schema transaction left a schema"

    # A stalled institution is one that no live worker holds, whatever its age;
    # the server releases the dead session's lock once it notices the client is gone.
    deadline = time.monotonic() + 10
    while not (stalled := services.provisioning_stalled(older_than_seconds=0)):
        assert time.monotonic() < deadline, "the killed worker's lock was never released"
        time.sleep(0.1)
    assert [i.pk for i in stalled] == [institution.pk]

    queued = tasks.resume_stalled_provisioning.apply(kwargs={"older_than_seconds": 0}).get()
    assert queued == [str(institution.id)]
    wait_for_status(institution, Institution.Status.ACTIVE)  # the worker took the re-queue
    with tenant_context(institution):
        assert list(User.objects.values_list("email", flat=True)) == ["admin@killed-u.test"]
    assert institution.domains.count() == 1


def test_an_institution_being_provisioned_is_not_stalled(committed_db):
    institution = pending_institution("busy-u")
    with lock_held_elsewhere(f"provisioning:institution:{institution.id}"):
        assert services.provisioning_stalled(older_than_seconds=0) == []
    assert [i.pk for i in services.provisioning_stalled(older_than_seconds=0)] == [institution.pk]
