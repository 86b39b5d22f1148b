"""Real-time delivery benchmark (issue 7): a grade release reaching 500
students over WebSocket, among 1,000 connected clients.

    .venv/bin/python bench/realtime.py [--students 500] [--others 500] [--runs 3]
                                       [--layers core,pubsub]

Served as in production, on loopback: one uvicorn process (conceptspro.asgi)
and one Celery worker (solo pool), each a subprocess, over the channel layer
being measured. This process holds the 1,000 WebSocket clients (the
`websockets` library, one asyncio loop in a thread) and makes the release.

Seeded: institution "bench" with a course of STUDENTS students and hidden
grades for each of them on a few items, and another course of OTHERS/2
students; institution "bench-other" with OTHERS/2 students in its own course.
Every one of them connects to /ws/ on their institution's host with their own
access token (the subprotocol pair), so STUDENTS + OTHERS clients are open.

A run: `item_grades_release(item=..., actor=instructor)` (the grading service
that tells each student through notifications_send), committed in this
process; the worker's delivery task pushes one notification per student
through the channel layer; the server relays each to its socket. A client's
latency is from just before the release call to that client's receipt of its
notification. Then every client's own user group gets a marker, and the run
checks what each client received before it: each student exactly their own
notification of this item (the payload's notification is the receiving
user's, looked up in the database), everyone else nothing. The first run of
each layer warms the worker and server and is not reported.

Baseline, in the same run: the same students learning of a release by polling
GET /api/v1/notifications/unread/ over HTTP, each once, all right after the
release (50 keep-alive connections, as many browsers would hold), through the
same uvicorn process: the best case of polling, whose real latency adds half
the polling interval; its cost is that every student's poll is a request
whether or not anything happened.

Layers: "pubsub" is channels-redis' RedisPubSubChannelLayer (the one base.py
configures, chosen by this bench); "core" its list-based RedisChannelLayer.
Each is measured with its own server and worker (bench/realtime_settings.py
picks it).

Without DATABASE_URL / REDIS_URL it starts the embedded servers, as `make run` does.
"""

import argparse
import asyncio
import http.client
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from harness import bench_institution, django_on_fresh_database

BENCH_DB = "conceptspro_bench_realtime"
ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
TIMEOUT = 120
POLLERS = 50


def _percentile_ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def _figures(values: list[float]) -> str:
    return (
        f"p50 {_percentile_ms(values, 0.5):7.1f} ms   p99 {_percentile_ms(values, 0.99):7.1f} ms"
        f"   max {max(values) * 1000:7.1f} ms"
    )


# --- seed -----------------------------------------------------------------------


def _other_institution():
    from provisioning import services

    return services.institution_provision(
        institution_id=services.institution_create(
            name="Other Bench University",
            slug="bench-other",
            admin_email="admin@bench-other.test",
            admin_password="bench-password-not-common",
            enqueue=False,
        ).id,
        method="template",
    )


def _people(count: int, prefix: str):
    from tenant_apps.accounts.models import User

    return User.objects.bulk_create(
        User(
            email=f"{prefix}{n}@bench.test",
            first_name=f"First{n}",
            last_name=f"Last{n:05}",
            password="!",
        )
        for n in range(count)
    )


def _course(code: str, instructor, students):
    from django.utils import timezone

    from tenant_apps.courses.models import Course, Enrollment

    course = Course.objects.create(
        code=code,
        title=f"Course {code}",
        term="Fall 2026",
        academic_year=2026,
        start_date=date(2026, 9, 1),
        end_date=date(2026, 12, 20),
        status="published",
        instructor=instructor,
        current_enrollment=len(students),
    )
    now = timezone.now()
    Enrollment.objects.bulk_create(
        Enrollment(course=course, user=student, enrolled_at=now) for student in students
    )
    return course


def _hidden_items(course, students, grader, count: int):
    """`count` published items of manual posting, each with a hidden grade
    for every student: what a release then posts."""
    from decimal import Decimal

    from django.utils import timezone

    from tenant_apps.grading import services
    from tenant_apps.grading.models import Grade

    now = timezone.now()
    items = []
    for n in range(count):
        item = services.grade_item_sync(
            kind="assignment",
            source_id=uuid.uuid4(),
            course=course,
            title=f"Essay {n}",
            points_possible=10,
            is_published=True,
            posting_policy="manual",
        )
        Grade.objects.bulk_create(
            Grade(
                item=item,
                student=student,
                grader=grader,
                points_earned=Decimal(s % 11),
                score=Decimal(s % 11),
                graded_at=now,
                released_at=None,
            )
            for s, student in enumerate(students)
        )
        items.append(item)
    return items


def _tokens(users) -> list[str]:
    from tenant_apps.accounts.tokens import api_session_open, token_pair_issue

    return [token_pair_issue(user=u, session=api_session_open(u)).access_token for u in users]


class Client:
    __slots__ = ("host", "institution", "received", "student", "token", "user_id")

    def __init__(self, host, token, user_id, student, institution):
        self.host, self.token, self.user_id = host, token, str(user_id)
        self.student, self.institution = student, institution
        self.received: list[tuple[float, str]] = []


def _seed(students: int, others: int, items: int):
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenant_apps.accounts.models import Role, User

    bench, other = bench_institution(), _other_institution()
    clients = []
    with tenant_context(bench):
        teacher = User.objects.create_user(
            "teacher@bench.test", "bench-password", first_name="Pat", role=Role.INSTRUCTOR
        )
        learners = _people(students, "s")
        course = _course("RT-1", teacher, learners)
        release_items = _hidden_items(course, learners, teacher, items)
        neighbours = _people(others // 2, "n")
        _course("RT-2", teacher, neighbours)
        for user, token in zip(learners, _tokens(learners), strict=True):
            clients.append(Client("bench.localhost", token, user.pk, True, bench))
        for user, token in zip(neighbours, _tokens(neighbours), strict=True):
            clients.append(Client("bench.localhost", token, user.pk, False, bench))
        # The baseline's own sessions.
        poll_tokens = list(zip([str(u.pk) for u in learners], _tokens(learners), strict=True))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    with tenant_context(other):
        other_teacher = User.objects.create_user(
            "teacher@bench-other.test", "bench-password", role=Role.INSTRUCTOR
        )
        strangers = _people(others - others // 2, "o")
        _course("RT-1", other_teacher, strangers)  # the same code, in another schema
        host = other.get_primary_domain().domain
        for user, token in zip(strangers, _tokens(strangers), strict=True):
            clients.append(Client(host, token, user.pk, False, other))
    connection.set_schema_to_public()
    return bench, other, teacher, release_items, clients, poll_tokens


# --- processes ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(layer: str) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "realtime_settings",
        "BENCH_CHANNEL_LAYER": layer,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "console",
        "API_RATE_PER_USER": "100000000/minute",
        "API_RATE_PER_IP": "100000000/minute",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }


def _start(layer: str) -> tuple[int, list[subprocess.Popen]]:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "conceptspro.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--lifespan",
            "off",
            "--backlog",
            "4096",
        ],
        cwd=ROOT,
        env=_env(layer),
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "conceptspro.celery",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=_env(layer),
        stdout=subprocess.DEVNULL,  # the banner; warnings and errors go to stderr
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/live/", headers={"Host": "bench.localhost"})
            if conn.getresponse().status == 200:
                return port, [server, worker]
        except OSError:
            time.sleep(0.2)
    _stop([server, worker])
    raise SystemExit("uvicorn did not answer within 60 s")


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _use_layer(layer: str) -> None:
    """This process sends the markers: through the same layer as the others."""
    import importlib

    from channels.layers import channel_layers
    from django.conf import settings

    os.environ["BENCH_CHANNEL_LAYER"] = layer
    bench_settings = importlib.reload(importlib.import_module("realtime_settings"))
    settings.CHANNEL_LAYERS = bench_settings.CHANNEL_LAYERS
    channel_layers.backends.clear()


# --- the clients ----------------------------------------------------------------


class Sockets:
    """Every client's WebSocket, open in one asyncio loop on its own thread;
    each message is stamped with time.perf_counter() as it arrives."""

    def __init__(self, port: int, clients: list[Client]):
        self.port, self.clients = port, clients
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sockets = []
        self.readers = []
        self.lost = []  # connections the server dropped
        # Per kind of message ("notification", "marker"): how many arrived
        # since `expect`, and an event set when the expected number has.
        kinds = ("notification", "marker")
        self.counts = dict.fromkeys(kinds, 0)
        self.targets = dict.fromkeys(kinds, -1)
        self.reached = {kind: threading.Event() for kind in kinds}

    def expect(self, kind: str, count: int) -> threading.Event:
        """Call while nothing of `kind` is on its way."""
        self.counts[kind], self.targets[kind] = 0, count
        self.reached[kind] = threading.Event()
        return self.reached[kind]

    def call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def open_all(self, concurrency: int = 100) -> float:
        from websockets.asyncio.client import connect

        gate = asyncio.Semaphore(concurrency)

        async def open_one(client: Client):
            async with gate:
                socket = await connect(
                    f"ws://{client.host}:{self.port}/ws/",
                    host="127.0.0.1",
                    port=self.port,
                    subprotocols=["bearer", client.token],
                    proxy=None,
                    open_timeout=TIMEOUT,
                    ping_interval=None,
                    max_queue=None,
                )
            self.sockets.append(socket)
            self.readers.append(asyncio.create_task(self._read(client, socket)))

        started = time.perf_counter()
        await asyncio.gather(*(open_one(client) for client in self.clients))
        return time.perf_counter() - started

    async def _read(self, client: Client, socket) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in socket:
                client.received.append((time.perf_counter(), raw))
                # Only counted here; parsed after the run, off the clock.
                for kind in self.targets:
                    if raw.startswith(f'{{"type": "{kind}"'):
                        self.counts[kind] += 1
                        if self.counts[kind] == self.targets[kind]:
                            self.reached[kind].set()
        except ConnectionClosed as closed:
            self.lost.append(closed)

    async def close_all(self) -> None:
        await asyncio.gather(*(socket.close() for socket in self.sockets))
        self.sockets.clear()

    def stop(self) -> None:
        self.call(self.close_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def _arrived(event: threading.Event, what: str) -> None:
    if not event.wait(TIMEOUT):
        raise SystemExit(f"timed out waiting for {what}")


def _markers_sent(institutions, clients: list[Client], run: str) -> None:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenant_apps.notifications.realtime import realtime_send_each

    for institution in institutions:
        with tenant_context(institution):
            realtime_send_each(
                [
                    (c.user_id, {"type": "marker", "payload": {"run": run}})
                    for c in clients
                    if c.institution.pk == institution.pk
                ]
            )
    connection.set_schema_to_public()


def _until_marker(client: Client, since: int, run: str) -> list[dict] | None:
    """What the client got since `since` before the run's marker (None: no marker yet)."""
    messages = []
    for _, raw in client.received[since:]:
        message = json.loads(raw)
        if message.get("type") == "marker" and message["payload"]["run"] == run:
            return messages
        messages.append(message)
    return None


def _emails_drained(institution) -> None:
    """The worker has sent the release's emails, so the next run's delivery
    does not queue behind them."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenant_apps.notifications.models import Notification

    def drained():
        with tenant_context(institution):
            left = Notification.objects.filter(emailed_at__isnull=True).exists()
        connection.set_schema_to_public()
        return not left

    _wait(drained, "the worker to send the emails")


def _release_run(bench, other, teacher, item, sockets: Sockets) -> dict:
    """One release: latencies of the students, and what everyone received."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenant_apps.grading.services import item_grades_release
    from tenant_apps.notifications.models import Notification

    clients = sockets.clients
    students = [c for c in clients if c.student]
    since = {id(c): len(c.received) for c in clients}
    delivered_all = sockets.expect("notification", len(students))
    started = time.perf_counter()
    with tenant_context(bench):
        released = item_grades_release(item=item, actor=teacher)
    committed = time.perf_counter()
    connection.set_schema_to_public()
    _arrived(delivered_all, "the deliveries")

    run = uuid.uuid4().hex
    marked_all = sockets.expect("marker", len(clients))
    _markers_sent((bench, other), clients, run)
    _arrived(marked_all, "the markers")
    latencies = []
    for c in students:
        arrivals = [t for t, raw in c.received[since[id(c)] :] if '"notification"' in raw]
        if arrivals:
            latencies.append(arrivals[0] - started)
    got = {id(c): _until_marker(c, since[id(c)], run) for c in clients}
    ids = [m["payload"]["notificationId"] for messages in got.values() for m in messages]
    with tenant_context(bench):
        owner = dict(Notification.objects.filter(pk__in=ids).values_list("pk", "user_id"))
    connection.set_schema_to_public()
    owner = {str(k): str(v) for k, v in owner.items()}
    delivered = misdelivered = 0
    for c in clients:
        for message in got[id(c)]:
            payload = message.get("payload", {})
            mine = (
                c.student
                and message.get("type") == "notification"
                and owner.get(payload.get("notificationId")) == c.user_id
                and payload.get("metadata", {}).get("item_id") == str(item.pk)
            )
            if mine:
                delivered += 1
            else:
                misdelivered += 1
    _emails_drained(bench)
    return {
        "released": released,
        "commit": committed - started,
        "latencies": latencies,
        "delivered": delivered,
        "misdelivered": misdelivered,
        "silent_others": sum(1 for c in clients if not c.student and not got[id(c)]),
    }


# --- the baseline: polling ------------------------------------------------------


def _poll_run(bench, teacher, item, port: int, pollers: list[tuple[str, str]]) -> dict:
    """Each student (user id, token) asks GET /notifications/unread/ once,
    right after the release, over POLLERS keep-alive connections; latency
    until the answer whose unread count includes the new grade's notification."""
    from django.db import connection
    from django.db.models import Count
    from django_tenants.utils import tenant_context

    from tenant_apps.grading.services import item_grades_release
    from tenant_apps.notifications.models import Notification

    with tenant_context(bench):
        before = dict(
            Notification.objects.filter(is_read=False)
            .values_list("user_id")
            .annotate(n=Count("pk"))
            .values_list("user_id", "n")
        )
    before = {str(k): v for k, v in before.items()}
    latencies, request_times, found = [], [], 0
    lock = threading.Lock()
    local = threading.local()

    def poll(poller: tuple[str, str]):
        nonlocal found
        user_id, token = poller
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        sent = time.perf_counter()
        local.conn.request(
            "GET",
            "/api/v1/notifications/unread/",
            headers={"Host": "bench.localhost", "Authorization": f"Bearer {token}"},
        )
        response = local.conn.getresponse()
        body = response.read()
        done = time.perf_counter()
        assert response.status == 200, (response.status, body[:300])
        learned = json.loads(body)["count"] > before.get(user_id, 0)
        with lock:
            request_times.append(done - sent)
            if learned:
                found += 1
                latencies.append(done - started)

    with ThreadPoolExecutor(POLLERS) as pool:
        # Connections opened and warm before the clock starts.
        list(pool.map(lambda _: _warm(local, port), range(POLLERS * 4)))
        started = time.perf_counter()
        with tenant_context(bench):
            item_grades_release(item=item, actor=teacher)
        connection.set_schema_to_public()
        list(pool.map(poll, pollers))
    _emails_drained(bench)
    return {"latencies": latencies, "found": found, "requests": request_times}


def _warm(local, port: int) -> None:
    if not hasattr(local, "conn"):
        local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        local.conn.request("GET", "/health/live/", headers={"Host": "bench.localhost"})
        local.conn.getresponse().read()
    time.sleep(0.01)


# --- the bench ------------------------------------------------------------------


def bench(students: int, others: int, runs: int, layers: list[str]) -> None:
    items_needed = len(layers) * (runs + 1) + 1
    bench_inst, other, teacher, items, clients, poll_tokens = _seed(students, others, items_needed)
    print(
        f"\nReal-time delivery: a grade release to {students} students, "
        f"{len(clients)} WebSocket clients open ({others} of them not in the course), "
        f"one uvicorn process, one Celery worker (solo)"
    )
    results = {}
    polled = None
    for layer in layers:
        _use_layer(layer)
        port, processes = _start(layer)
        try:
            sockets = Sockets(port, clients)
            try:
                opened = sockets.call(sockets.open_all())
                reports = []
                for n in range(runs + 1):  # the first warms up
                    report = _release_run(bench_inst, other, teacher, items.pop(0), sockets)
                    if n:
                        reports.append(report)
                results[layer] = (opened, reports)
            finally:
                sockets.stop()
                for c in clients:
                    c.received.clear()
            if polled is None:  # no sockets open: a world of polling only
                polled = _poll_run(bench_inst, teacher, items.pop(0), port, poll_tokens)
        finally:
            _stop(processes)

    for layer, (opened, reports) in results.items():
        latencies = [t for r in reports for t in r["latencies"]]
        medians = [statistics.median(r["latencies"]) * 1000 for r in reports]
        print(f"\nchannel layer: {layer}   ({len(clients)} clients connected in {opened:.1f} s)")
        for n, r in enumerate(reports, 1):
            print(
                f"  run {n}: released {r['released']}, commit {r['commit'] * 1000:6.1f} ms, "
                f"{_figures(r['latencies'])}, delivered {r['delivered']}, "
                f"misdelivered {r['misdelivered']}, "
                f"others silent {r['silent_others']}/{len(clients) - students}"
            )
        print(f"  all {len(reports)} runs: {_figures(latencies)}")
        print(f"  median of the runs' p50: {statistics.median(medians):.1f} ms")
    if polled:
        print(
            f"\nbaseline: each student polls GET /api/v1/notifications/unread/ once, right after "
            f"the release ({POLLERS} keep-alive connections)"
        )
        print(f"  grade counted in {polled['found']}/{students} answers")
        print(f"  release to answer: {_figures(polled['latencies'])}")
        print(f"  one poll request:  {_figures(polled['requests'])}")
    best = min(
        (statistics.median([t for r in reports for t in r["latencies"]]), layer)
        for layer, (_, reports) in results.items()
    )
    if polled:
        poll_p50 = statistics.median(polled["latencies"])
        push_all = [t for r in results[best[1]][1] for t in r["latencies"]]
        print(
            f"\npush ({best[1]}) p50 {best[0] * 1000:.1f} ms vs one immediate poll p50 "
            f"{poll_p50 * 1000:.1f} ms: {poll_p50 / best[0]:.1f}x; p99 "
            f"{_percentile_ms(push_all, 0.99):.1f} ms vs "
            f"{_percentile_ms(polled['latencies'], 0.99):.1f} ms"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--others", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", default="core,pubsub")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * (options.students + options.others) + 1024
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    os.environ["DJANGO_SETTINGS_MODULE"] = "realtime_settings"
    os.environ.setdefault("DEBUG", "false")
    with django_on_fresh_database(BENCH_DB):
        bench(options.students, options.others, options.runs, options.layers.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
