"""Gradebook benchmark (issue 5's target: 1,000 students x 50 items, 50,000
grades, built in under 300 ms server time with at most 10 queries).

    .venv/bin/python bench/gradebook.py [--students 1000] [--items 50] [--runs 30]

A course of STUDENTS students holding a seat and ITEMS published items in five
weighted groups, every cell graded (a few excused, late or hidden), plus
another course's grades as noise; all inserted in bulk (bulk_create), not
through the API.

Three figures, each the median of RUNS, called alternately:
- the raw SQL aggregate (baseline): one query summing every student's points
  per group for the course, PostgreSQL alone, no Python objects;
- the build: selectors.gradebook_for_course, every cell and total as plain
  dicts, and its query count;
- the request: GET /api/v1/courses/{id}/grades/ through the Django test
  client as the instructor (routing, token, permission, JSON rendering), and
  its query count.

Without DATABASE_URL / REDIS_URL it starts the embedded servers, as `make run` does.
"""

import argparse
import os
import sys
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

from harness import bench_institution, django_on_fresh_database, median_ms

BENCH_DB = "conceptspro_bench_gradebook"
GROUPS = 5

RAW_AGGREGATE = """
SELECT g.student_id, i.group_id,
       SUM(g.score) FILTER (WHERE NOT g.excused),
       SUM(i.points_possible) FILTER (WHERE NOT g.excused AND g.score IS NOT NULL)
FROM grading_grade g JOIN grading_gradeitem i ON i.id = g.item_id
WHERE i.course_id = %s AND i.deleted_at IS NULL AND i.is_published
GROUP BY g.student_id, i.group_id
"""


def _people(count: int, prefix: str):
    from tenant_apps.accounts.models import User

    return User.objects.bulk_create(
        User(
            email=f"{prefix}{n}@bench.test",
            first_name=f"First{n}",
            last_name=f"Last{n:05}",
            password="!",  # unusable: nobody signs in as them
        )
        for n in range(count)
    )


def _course(code: str, instructor, students, items: int):
    """A published course, its seats, five weighted groups and `items` items."""
    from django.utils import timezone

    from tenant_apps.courses.models import Course, Enrollment
    from tenant_apps.grading import services

    course = Course.objects.create(
        code=code,
        title=f"Course {code}",
        term="Fall 2026",
        academic_year=2026,
        start_date=date(2026, 9, 1),
        end_date=date(2026, 12, 20),
        status="published",
        instructor=instructor,
    )
    now = timezone.now()
    Enrollment.objects.bulk_create(
        Enrollment(course=course, user=student, enrolled_at=now) for student in students
    )
    services.grading_policy_set(course=course, weight_groups=True)
    groups = [
        services.assignment_group_create(course=course, name=f"Group {n}", weight=Decimal(w))
        for n, w in enumerate((10, 15, 20, 25, 30)[:GROUPS])
    ]
    return course, [
        services.grade_item_sync(
            kind="assignment",
            source_id=uuid.uuid4(),
            course=course,
            title=f"Assignment {n}",
            points_possible=10 + n % 4 * 5,
            group=groups[n % GROUPS],
            due_at=now + timedelta(days=n),
            is_published=True,
        )
        for n in range(items)
    ]


def _grades(items, students, grader) -> int:
    """Every cell graded; a few excused, late or still hidden."""
    from django.utils import timezone

    from tenant_apps.grading.models import Grade

    now = timezone.now()
    rows = []
    for s, student in enumerate(students):
        for i, item in enumerate(items):
            n = s * len(items) + i
            points = item.points_possible * Decimal((n * 7) % 100) / 100
            penalty = Decimal("1.00") if n % 13 == 0 else Decimal("0")
            rows.append(
                Grade(
                    item=item,
                    student=student,
                    grader=grader,
                    points_earned=points,
                    late_penalty_percent=Decimal("10") if penalty else Decimal("0"),
                    late_penalty_points=min(penalty, points),
                    score=points - min(penalty, points),
                    excused=n % 97 == 0,
                    graded_at=now,
                    released_at=None if n % 11 == 0 else now,
                )
            )
    Grade.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _seed(students: int, items: int):
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenant_apps.accounts.models import Role, User
    from tenant_apps.accounts.tokens import api_session_open, token_pair_issue

    institution = bench_institution()
    with tenant_context(institution):
        teacher = User.objects.create_user(
            "teacher@bench.test",
            "bench-password",
            first_name="Pat",
            last_name="Bench",
            role=Role.INSTRUCTOR,
        )
        people = _people(students, "s")
        course, course_items = _course("GB-1", teacher, people, items)
        graded = _grades(course_items, people, teacher)
        # Noise: another course of the same institution, a tenth the size.
        _, other_items = _course("GB-2", teacher, people[: students // 10], items // 5)
        _grades(other_items, people[: students // 10], teacher)
        token = token_pair_issue(user=teacher, session=api_session_open(teacher)).access_token
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # planner statistics, as autovacuum would keep them
    return institution, course, token, graded


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def bench(students: int, items: int, runs: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from tenant_apps.grading.selectors import gradebook_for_course

    settings.API_RATE_PER_USER = settings.API_RATE_PER_IP = "100000000/minute"
    institution, course, token, graded = _seed(students, items)
    connection.set_schema_to_public()
    client = Client(
        HTTP_HOST=f"{institution.schema_name}.localhost", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    path = f"/api/v1/courses/{course.pk}/grades/"

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(RAW_AGGREGATE, [course.pk])
            return cursor.fetchall()

    def request():
        response = client.get(path)
        assert response.status_code == 200, response.content
        return response

    with tenant_context(institution):
        book = gradebook_for_course(course)
        assert len(book.students) == students and len(book.items) == items
        assert sum(len(row.cells) for row in book.students) == graded
        with CaptureQueriesContext(connection) as captured:
            gradebook_for_course(course)
        build_queries = len(captured)  # now: each request empties Django's query log
    connection.set_schema_to_public()
    with CaptureQueriesContext(connection) as captured:
        request()
    request_queries = len(captured)

    times: dict[str, list[float]] = {"raw": [], "build": [], "request": []}
    for n in range(runs + 3):  # the first three warm caches and plans
        with tenant_context(institution):
            raw_time = _timed(raw)
            build_time = _timed(lambda: gradebook_for_course(course))
        connection.set_schema_to_public()
        request_time = _timed(request)
        if n >= 3:
            times["raw"].append(raw_time)
            times["build"].append(build_time)
            times["request"].append(request_time)

    raw_ms, build_ms, request_ms = (median_ms(times[k]) for k in ("raw", "build", "request"))
    size = len(request().content)
    print(f"\nGradebook, {students} students x {items} items ({graded} grades), median of {runs}")
    print(f"raw SQL aggregate (baseline)           {raw_ms:8.2f} ms   1 query")
    print(
        f"gradebook_for_course (build)           {build_ms:8.2f} ms   "
        f"{build_queries} queries   {build_ms / raw_ms:5.1f}x the aggregate"
    )
    print(
        f"GET /courses/{{id}}/grades/ (request)   {request_ms:8.2f} ms   "
        f"{request_queries} queries   {request_ms / raw_ms:5.1f}x the aggregate"
    )
    print(f"response body                          {size / 1e6:8.2f} MB")
    print("target: build under 300 ms with at most 10 queries")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--runs", type=int, default=30)
    options = parser.parse_args()
    os.environ.setdefault("DEBUG", "false")  # no per-query bookkeeping, as in production
    with django_on_fresh_database(BENCH_DB):
        bench(options.students, options.items, options.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
