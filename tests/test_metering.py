"""Usage metering: a recount from the institution's own schema corrects drift
and records the last activity; the first reservation of an institution
without a usage row starts from true counts; the nightly task recounts each
institution through Celery; a recount never loses a concurrent reservation."""

import threading
import time
from datetime import date, timedelta

from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.plans.api import PlanFeature, plan_limits_and_usage, usage_reserve
from shared_apps.plans.metering import usage_measure
from shared_apps.plans.models import Feature, InstitutionUsage, Plan
from shared_apps.plans.tasks import usage_measure_all, usage_measure_one
from tenant_apps.courses.models import Course
from tenant_apps.files.models import StoredFile

from .api_helpers import admin_of, api_client, as_json, course_taught_by, member
from .conftest import make_institution, pending_institution


def usage(institution) -> InstitutionUsage:
    connection.set_schema_to_public()
    return InstitutionUsage.objects.get(pk=institution.pk)


def drift(institution, **wrong) -> None:
    InstitutionUsage.objects.filter(pk=institution.pk).update(**wrong)


def test_a_recount_corrects_drift_and_records_the_last_activity(alpha):
    admin = admin_of(alpha)
    student = member(alpha, "s@alpha.test")
    member(alpha, "gone@alpha.test", deleted_at=timezone.now(), is_active=False)
    course_taught_by(alpha, admin)
    signed_in_at = timezone.now() - timedelta(minutes=5)
    with tenant_context(alpha):
        type(student).objects.filter(pk=student.pk).update(last_login=signed_in_at)
        StoredFile.objects.create(
            original_name="a.pdf",
            stored_name="a.pdf",
            file_path="files/a.pdf",
            mime_type="application/pdf",
            file_size_bytes=1234,
            sha256="0" * 64,
            uploader=student,
        )
        StoredFile.objects.create(
            original_name="gone.pdf",
            stored_name="gone.pdf",
            file_path="files/gone.pdf",
            mime_type="application/pdf",
            file_size_bytes=999,
            sha256="1" * 64,
            uploader=student,
            deleted_at=timezone.now(),
        )
    connection.set_schema_to_public()
    drift(alpha, users=40, courses=7, storage_bytes=10**9)

    measured = usage_measure(institution=alpha)

    assert (measured.users, measured.courses, measured.storage_bytes) == (2, 1, 1234)
    assert measured.last_activity_at >= signed_in_at
    assert measured.measured_at is not None
    again = usage_measure(institution=alpha)
    assert (again.users, again.courses, again.storage_bytes) == (2, 1, 1234)


def test_the_first_reservation_measures_an_institution_without_a_usage_row(alpha):
    admin = admin_of(alpha)
    member(alpha, "one@alpha.test")
    member(alpha, "two@alpha.test")
    InstitutionUsage.objects.filter(pk=alpha.pk).delete()

    created = as_json(
        api_client(alpha, admin),
        "post",
        "/api/v1/courses/",
        {
            "code": "M 1",
            "title": "Metered",
            "term": "Spring 2027",
            "academic_year": 2027,
            "start_date": "2027-01-15",
            "end_date": "2027-05-10",
        },
    )

    assert created.status_code == 201, created.content
    row = usage(alpha)
    assert (row.users, row.courses) == (3, 1)  # the course counted once, not twice
    assert row.measured_at is not None


def test_the_nightly_task_recounts_each_institution(alpha, beta, celery_eager):
    member(alpha, "extra@alpha.test")
    drift(alpha, users=99)
    drift(beta, courses=12)
    pending = pending_institution("not-yet")

    queued = usage_measure_all.delay().get()

    assert queued >= 2
    assert usage(alpha).users == 2
    assert usage(beta).courses == 0
    assert usage_measure_one.delay(str(pending.pk)).get() is False
    assert not InstitutionUsage.objects.filter(pk=pending.pk).exists()


def test_limits_usage_and_features_for_pages(alpha):
    plan = Plan.objects.create(
        code="shown",
        name="Shown",
        max_users=10,
        max_courses=None,
        max_storage_bytes=1000,
        features={Feature.ANALYTICS: True},
    )
    alpha.plan = plan
    alpha.max_users = 20
    alpha.save(update_fields=["plan", "max_users"])

    shown = plan_limits_and_usage(alpha)

    assert shown["plan"] == {"code": "shown", "name": "Shown"}
    assert shown["limits"] == {"users": 20, "courses": None, "storage_bytes": 1000}
    assert shown["usage"] == {"users": 1, "courses": 0, "storage_bytes": 0}
    assert shown["features"] == {
        "sso": False,
        "analytics": True,
        "custom_domain": False,
        "api_access": False,
    }
    # The tenant apps' names for features are the plan's.
    assert sorted(PlanFeature.values) == sorted(Feature.values)


def _recount_waiting() -> bool:
    """Whether another connection waits for a lock on a usage row."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND query LIKE %s",
            ["%plans_institutionusage%"],
        )
        return cursor.fetchone()[0] > 0


def test_a_recount_waits_for_a_reservation_in_progress_and_keeps_it(committed_db):
    delta = make_institution("delta")
    usage_measure(institution=delta)
    admin = admin_of(delta)
    reserved, finish = threading.Event(), threading.Event()

    def create_a_course():
        try:
            with tenant_context(delta), transaction.atomic():
                usage_reserve(kind="courses")
                Course.objects.create(
                    code="W 1",
                    title="Waiting",
                    term="Spring 2027",
                    academic_year=2027,
                    start_date=date(2027, 1, 15),
                    end_date=date(2027, 5, 10),
                    instructor=admin,
                )
                reserved.set()
                finish.wait(30)
        finally:
            connections.close_all()

    measured = {}

    def recount():
        try:
            measured["usage"] = usage_measure(institution=delta)
        finally:
            connections.close_all()

    creator = threading.Thread(target=create_a_course)
    creator.start()
    assert reserved.wait(30)
    counter = threading.Thread(target=recount)
    counter.start()
    # The recount queues behind the reservation's lock before it counts...
    deadline = time.monotonic() + 30
    while not _recount_waiting() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _recount_waiting(), "the recount did not wait for the reservation"
    finish.set()
    creator.join(30)
    counter.join(30)

    # ... so it counts the course the reservation committed, and nothing is lost.
    assert measured["usage"].courses == 1
    assert usage(delta).courses == 1
