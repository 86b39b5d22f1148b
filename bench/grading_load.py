"""Grading under load (issue 5's target): the submissions of one assignment
graded by several graders at once, over HTTP on loopback, against uvicorn.

    .venv/bin/python bench/grading_load.py [--students 5000] [--graders 5] [--workers 2]

Set-up: an institution with a published course, STUDENTS students and GRADERS
TAs, and a text assignment. Every student submits through
POST /assignments/{id}/submit/ with their own token.

The load: every grader goes through every submission, each in their own random
order, and saves a grade with POST /submissions/{id}/grade/ carrying the
version they last saw (none the first time). A 409 `grade_conflict` means
someone saved first: the grader takes the current version from the answer
and saves again, as a grader reloading the page would. A run outlasts the
access tokens (15 minutes): graders refresh theirs, as clients do. So every submission
gets GRADERS successful saves, most of them after a conflict.

Then it checks from the database that nothing was lost:
- no answer other than 200, 201 and 409 (no 500, no throttling);
- each grade has exactly one revision per successful save, versions 1..n with
  no gap or repeat, and n equals the successful saves the graders saw;
- each grade holds the points of its highest-versioned successful save.

It prints the request rate and latency percentiles, and exits non-zero if a
check fails. Without DATABASE_URL / REDIS_URL it starts the embedded servers.
"""

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from harness import ROOT, bench_institution, django_on_fresh_database

BENCH_DB = "conceptspro_bench_grading"
HOST = "bench.localhost"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """One keep-alive HTTP connection per thread to the server on loopback."""

    def __init__(self, port: int):
        self.port = port
        self.local = threading.local()

    def call(self, method: str, path: str, token: str | None, body=None) -> tuple[int, dict, float]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Host": HOST}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            conn.request(method, path, payload, headers)
            response = conn.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            self.local.conn = None
            conn.close()
            raise
        elapsed = time.perf_counter() - started
        return response.status, (json.loads(raw) if raw else {}), elapsed


def _people(institution, *, students: int, graders: int):
    """Users, enrollments and tokens, written in bulk (no password hashing)."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from tenant_apps.accounts.models import Role, User
    from tenant_apps.accounts.tokens import api_session_open, token_pair_issue
    from tenant_apps.courses.models import Course, CourseRole, CourseStatus, Enrollment

    unusable = make_password(None)
    with tenant_context(institution):
        instructor = User.objects.create_user(
            "teacher@bench.test", None, role=Role.INSTRUCTOR, email_verified=True
        )
        course = Course.objects.create(
            code="LOAD 101",
            title="Grading under load",
            term="Fall 2026",
            academic_year=2026,
            start_date=date(2026, 9, 1),
            end_date=date(2026, 12, 20),
            status=CourseStatus.PUBLISHED,
            instructor=instructor,
        )

        def bulk(prefix: str, count: int, role: str) -> list:
            return User.objects.bulk_create(
                User(
                    email=f"{prefix}{i}@bench.test",
                    first_name=prefix.title(),
                    last_name=str(i),
                    role=role,
                    password=unusable,
                    email_verified=True,
                )
                for i in range(count)
            )

        student_users = bulk("student", students, Role.STUDENT)
        grader_users = bulk("grader", graders, Role.TA)
        now = timezone.now()
        Enrollment.objects.bulk_create(
            [Enrollment(course=course, user=u, enrolled_at=now) for u in student_users]
            + [
                Enrollment(course=course, user=u, role=CourseRole.TA, enrolled_at=now)
                for u in grader_users
            ]
        )
        Course.objects.filter(pk=course.pk).update(current_enrollment=students)

        def pair(user):
            return token_pair_issue(user=user, session=api_session_open(user))

        return (
            str(course.pk),
            pair(instructor).access_token,
            [pair(u).access_token for u in student_users],
            [pair(u) for u in grader_users],
        )


def _server(port: int, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "conceptspro.settings.local",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "API_RATE_PER_USER": "100000000/minute",
        "API_RATE_PER_IP": "100000000/minute",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "conceptspro.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/live/", headers={"Host": HOST})
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("uvicorn did not answer within 60 s")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


class Session:
    """A grader's tokens, refreshed as a client does when the access token
    (15 minutes by default) expires during the run."""

    def __init__(self, api: Api, pair):
        self.api = api
        self.access = pair.access_token
        self.refresh = pair.refresh_token
        self.refreshes = 0

    def call(self, method: str, path: str, body=None) -> tuple[int, dict, float]:
        status, answer, elapsed = self.api.call(method, path, self.access, body)
        if status == 401 and "expired" in answer["error"]["message"]:
            status, fresh, _ = self.api.call(
                "POST", "/api/v1/auth/refresh/", None, {"refresh_token": self.refresh}
            )
            if status != 200:
                raise SystemExit(f"token refresh answered {status}: {fresh}")
            self.access, self.refresh = fresh["access_token"], fresh["refresh_token"]
            self.refreshes += 1
            status, answer, elapsed = self.api.call(method, path, self.access, body)
        return status, answer, elapsed


def _grade_all(session: Session, submissions: list[str], seed: int, record) -> None:
    """One grader: every submission in their own order, reloading on a 409."""
    order = submissions[:]
    random.Random(seed).shuffle(order)
    known: dict[str, int] = {}
    for submission_id in order:
        for _ in range(20):  # a grader gives up after 20 conflicts in a row
            points = random.randint(0, 100)
            body = {"points_earned": points, "feedback": f"seed {seed}"}
            if submission_id in known:
                body["version"] = known[submission_id]
            status, answer, elapsed = session.call(
                "POST", f"/api/v1/submissions/{submission_id}/grade/", body
            )
            record(status, elapsed)
            if status in (200, 201):
                record.success(submission_id, answer["version"], points)
                break
            if status == 409 and answer["error"]["code"] == "grade_conflict":
                known[submission_id] = answer["error"]["current_version"]
                continue
            record.failure(status, answer)
            break


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: dict[int, int] = defaultdict(int)
        self.latencies: list[float] = []
        self.saves: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.failures: list[tuple[int, dict]] = []

    def __call__(self, status: int, elapsed: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(elapsed)

    def success(self, submission_id: str, version: int, points: int) -> None:
        with self.lock:
            self.saves[submission_id].append((version, points))

    def failure(self, status: int, answer: dict) -> None:
        with self.lock:
            self.failures.append((status, answer))


def _check(recorder: Recorder, submissions: list[str], graders: int) -> list[str]:
    from decimal import Decimal

    from tenant_apps.grading.models import Grade, GradeRevision

    problems = []
    unexpected = {s: n for s, n in recorder.statuses.items() if s not in (200, 201, 409)}
    if unexpected:
        problems.append(f"unexpected statuses: {unexpected}")
    if recorder.failures:
        problems.append(f"{len(recorder.failures)} failed saves, e.g. {recorder.failures[:3]}")
    grades = {str(g.submission_id): g for g in Grade.objects.filter(submission_id__in=submissions)}
    versions = defaultdict(list)
    for grade_id, version in GradeRevision.objects.values_list("grade_id", "version"):
        versions[grade_id].append(version)
    for submission_id in submissions:
        saves = recorder.saves.get(submission_id, [])
        grade = grades.get(submission_id)
        if grade is None:
            problems.append(f"{submission_id}: no grade")
            continue
        if len(saves) != graders:
            problems.append(f"{submission_id}: {len(saves)} successful saves, not {graders}")
        if sorted(v for v, _ in saves) != list(range(1, len(saves) + 1)):
            problems.append(f"{submission_id}: versions seen {sorted(v for v, _ in saves)}")
        if sorted(versions[grade.pk]) != list(range(1, len(saves) + 1)):
            problems.append(f"{submission_id}: revisions {sorted(versions[grade.pk])}")
        last_points = max(saves)[1] if saves else None
        if grade.version != len(saves) or grade.points_earned != Decimal(last_points):
            problems.append(
                f"{submission_id}: holds v{grade.version} {grade.points_earned}, "
                f"last save was v{len(saves)} {last_points}"
            )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--graders", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()

    with django_on_fresh_database(BENCH_DB):
        from django_tenants.utils import tenant_context

        institution = bench_institution()
        started = time.perf_counter()
        course_id, teacher, student_tokens, grader_pairs = _people(
            institution, students=args.students, graders=args.graders
        )
        port = _free_port()
        server = _server(port, args.workers)
        try:
            api = Api(port)
            status, assignment, _ = api.call(
                "POST",
                f"/api/v1/courses/{course_id}/assignments/",
                teacher,
                {
                    "title": "Essay under load",
                    "points": "100",
                    "due_at": (date.today() + timedelta(days=7)).isoformat() + "T23:59:00Z",
                    "submission_type": "text",
                    "is_published": True,
                },
            )
            if status != 201:
                raise SystemExit(f"assignment create answered {status}: {assignment}")

            def submit(token: str) -> str:
                status, answer, _ = api.call(
                    "POST",
                    f"/api/v1/assignments/{assignment['id']}/submit/",
                    token,
                    {"text": "My essay."},
                )
                if status != 201:
                    raise SystemExit(f"submit answered {status}: {answer}")
                return answer["id"]

            with ThreadPoolExecutor(max_workers=8) as pool:
                submissions = list(pool.map(submit, student_tokens))
            print(
                f"set-up: {args.students} students submitted in "
                f"{time.perf_counter() - started:.1f} s"
            )

            recorder = Recorder()
            sessions = [Session(api, pair) for pair in grader_pairs]
            started = time.perf_counter()
            threads = [
                threading.Thread(target=_grade_all, args=(session, submissions, seed, recorder))
                for seed, session in enumerate(sessions)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)

        requests = len(recorder.latencies)
        conflicts = recorder.statuses.get(409, 0)
        print(
            f"load: {args.graders} graders x {args.students} submissions, "
            f"{requests} grade requests in {elapsed:.1f} s ({requests / elapsed:.0f}/s), "
            f"{conflicts} conflicts (409), statuses {dict(recorder.statuses)}, "
            f"{sum(s.refreshes for s in sessions)} token refreshes"
        )
        print(
            f"latency ms: p50 {statistics.median(recorder.latencies) * 1000:.1f}, "
            f"p95 {_percentile(recorder.latencies, 0.95):.1f}, "
            f"p99 {_percentile(recorder.latencies, 0.99):.1f}"
        )
        with tenant_context(institution):
            problems = _check(recorder, submissions, args.graders)
        if problems:
            print(f"FAILED: {len(problems)} problems")
            for line in problems[:20]:
                print("  " + line)
            return 1
        print(
            f"checked: {len(submissions)} grades, each with {args.graders} saves, "
            "no lost update, no 500"
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
