"""Student course list benchmark (issue 4's target: within 2x of a bare view).

    .venv/bin/python bench/api.py [--courses 20] [--requests 300]

A student enrolled in COURSES published courses (among other courses and
other students' enrollments) asks GET /api/v1/courses/ through the Django test
client: the tenant router and middleware, the Bearer token, the throttles, the
filters, pagination and the caller's `my_role` from CourseAccess.

The baseline is a bare DRF view returning the same rows: the same student's
published enrolled courses with their instructor, through a plain
ModelSerializer, without filters, pagination or roles. It is mounted on the
tenant URLconf for this run only and called through the same client with the
same token (so both pay the same routing, middleware and authentication).
The two are called alternately and each figure is the median of REQUESTS.

Without DATABASE_URL / REDIS_URL it starts the embedded servers, as `make run` does.
"""

import argparse
import os
import sys
import time
from datetime import date

from harness import bench_institution, django_on_fresh_database, median_ms

BENCH_DB = "conceptspro_bench_api"
BARE_PATH = "api/v1/bench-bare-courses/"


def _bare_view():
    from rest_framework import serializers
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from tenant_apps.courses.models import Course

    class InstructorSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        first_name = serializers.CharField()
        last_name = serializers.CharField()

    class BareCourseSerializer(serializers.ModelSerializer):
        instructor = InstructorSerializer(allow_null=True)

        class Meta:
            model = Course
            exclude = ["deleted_at"]

    class BareCourseList(APIView):
        def get(self, request):
            courses = (
                Course.objects.filter(
                    deleted_at__isnull=True,
                    status="published",
                    enrollments__user=request.user,
                    enrollments__status="enrolled",
                    enrollments__role="student",
                )
                .select_related("instructor")
                .order_by("-academic_year", "term", "code", "id")
            )
            return Response(BareCourseSerializer(courses, many=True).data)

    return BareCourseList.as_view()


def _mount_bare_view() -> None:
    from django.urls import clear_url_caches, path

    from conceptspro import urls_tenant

    urls_tenant.urlpatterns.append(path(BARE_PATH, _bare_view()))
    clear_url_caches()


def _seed(courses: int):
    """The institution, its student enrolled in `courses` courses, and noise."""
    from django_tenants.utils import tenant_context

    from tenant_apps.accounts.models import Role, User
    from tenant_apps.accounts.tokens import api_session_open, token_pair_issue
    from tenant_apps.courses import services

    institution = bench_institution()
    with tenant_context(institution):

        def person(email, role=Role.STUDENT):
            return User.objects.create_user(
                email, "bench-password", first_name="Pat", last_name="Bench", role=role
            )

        teachers = [person(f"teacher{i}@bench.test", Role.INSTRUCTOR) for i in range(5)]
        student = person("student@bench.test")
        others = [person(f"other{i}@bench.test") for i in range(30)]
        for i in range(courses * 5):
            course = services.course_create(
                actor=teachers[i % len(teachers)],
                code=f"C{i:04}",
                title=f"Course {i}",
                term="Fall 2026",
                academic_year=2026,
                start_date=date(2026, 9, 1),
                end_date=date(2026, 12, 15),
                status="published",
                max_enrollment=40,
            )
            if i < courses:
                services.enrollment_add(course=course, user=student)
            for other in others[i % 3 :: 3]:
                services.enrollment_add(course=course, user=other)
        token = token_pair_issue(user=student, session=api_session_open(student)).access_token
    return institution, token


def bench(courses: int, requests: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.API_RATE_PER_USER = settings.API_RATE_PER_IP = "100000000/minute"
    institution, token = _seed(courses)
    connection.set_schema_to_public()
    _mount_bare_view()
    client = Client(
        HTTP_HOST=f"{institution.schema_name}.localhost", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    endpoint, bare = "/api/v1/courses/", f"/{BARE_PATH}"

    listed = client.get(endpoint)
    assert listed.status_code == 200, listed.content
    bare_rows = client.get(bare).json()
    endpoint_ids = [course["id"] for course in listed.json()["results"]]
    assert endpoint_ids == [course["id"] for course in bare_rows], "not the same rows"
    assert len(endpoint_ids) == courses

    queries = {}
    for name, path in (("endpoint", endpoint), ("bare", bare)):
        with CaptureQueriesContext(connection) as captured:
            client.get(path)
        queries[name] = len(captured)

    def timed(path) -> float:
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        return elapsed

    for _ in range(20):  # warm-up: caches, query plans
        timed(endpoint), timed(bare)
    endpoint_times, bare_times = [], []
    for _ in range(requests):
        endpoint_times.append(timed(endpoint))
        bare_times.append(timed(bare))

    endpoint_ms, bare_ms = median_ms(endpoint_times), median_ms(bare_times)
    print(f"\nStudent course list, {courses} courses, median of {requests} requests, ms")
    print(f"bare DRF view, same rows (baseline)  {bare_ms:7.2f}   {queries['bare']} queries")
    print(
        f"GET /api/v1/courses/                 {endpoint_ms:7.2f}   {queries['endpoint']} queries"
    )
    print(f"ratio                                {endpoint_ms / bare_ms:7.2f}x   (target <= 2x)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--courses", type=int, default=20)
    parser.add_argument("--requests", type=int, default=300)
    options = parser.parse_args()
    os.environ.setdefault("DEBUG", "false")  # no per-query bookkeeping, as in production
    with django_on_fresh_database(BENCH_DB):
        bench(options.courses, options.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
