"""Shared set-up for API tests: members of an institution and clients that
call its API through the tenant router, signed in with a real access token."""

import threading
from dataclasses import dataclass
from datetime import date

from django.db import connection, connections
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role, User
from tenant_apps.accounts.tokens import api_session_open, token_pair_issue
from tenant_apps.courses.models import Course, CourseRole, CourseStatus, Enrollment

from .conftest import PASSWORD, host_client


def member(institution, email: str, role: str = Role.STUDENT, **fields) -> User:
    """A user of `institution` with the given institution role."""
    with tenant_context(institution):
        user = User.objects.create_user(
            email,
            PASSWORD,
            first_name=fields.pop("first_name", email.split("@")[0].title()),
            last_name=fields.pop("last_name", "Tester"),
            role=role,
            email_verified=True,
            **fields,
        )
    connection.set_schema_to_public()
    return user


def admin_of(institution) -> User:
    """The admin every provisioned institution starts with."""
    with tenant_context(institution):
        user = User.objects.get(email=f"admin@{institution.slug}.test")
    connection.set_schema_to_public()
    return user


def api_client(institution, user: User) -> Client:
    """A client on `institution`'s subdomain sending `user`'s Bearer token."""
    with tenant_context(institution):
        pair = token_pair_issue(user=user, session=api_session_open(user))
    connection.set_schema_to_public()
    return host_client(
        f"{institution.schema_name}.localhost", HTTP_AUTHORIZATION=f"Bearer {pair.access_token}"
    )


def course_taught_by(institution, instructor: User, *, code: str = "CS 101", **fields) -> Course:
    """A course of Fall 2026 taught by `instructor`, published unless `status`
    says otherwise: set-up rows for tests of what lives in a course."""
    values = {
        "title": f"Course {code}",
        "term": "Fall 2026",
        "academic_year": 2026,
        "start_date": date(2026, 9, 1),
        "end_date": date(2026, 12, 20),
        "status": CourseStatus.PUBLISHED,
        **fields,
    }
    with tenant_context(institution):
        course = Course.objects.create(code=code, instructor=instructor, **values)
    connection.set_schema_to_public()
    return course


def in_tenant(institution, work):
    """`work()` in the institution's schema, back on public afterwards."""
    with tenant_context(institution):
        result = work()
    connection.set_schema_to_public()
    return result


def enroll(institution, course: Course, user: User, role=CourseRole.STUDENT, **fields):
    """`user` enrolled in `course` now, as a student unless `role` says otherwise."""
    return in_tenant(
        institution,
        lambda: Enrollment.objects.create(
            course=course, user=user, role=role, enrolled_at=timezone.now(), **fields
        ),
    )


@dataclass
class CourseWorld:
    """Set-up for tests of what lives in one course: the institution, the
    course, its people by name and a signed-in client for each."""

    institution: object
    course: Course
    users: dict
    clients: dict

    def id(self, name: str) -> str:
        return str(self.users[name].pk)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def as_json(client: Client, method: str, path: str, body=None, **extra):
    """POST/PUT/PATCH/DELETE with a JSON body."""
    return getattr(client, method)(path, body, content_type="application/json", **extra)


def at_once(calls) -> list:
    """Runs the calls in threads released together (a barrier), for tests of
    what concurrent requests do; their results in order. Each thread closes
    its database connections when done."""
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index):
        try:
            start.wait(timeout=30)
            results[index] = calls[index]()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
