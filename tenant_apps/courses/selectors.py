"""Reads of courses and enrollments: querysets with what their callers print
already fetched, so a list costs the same number of queries whatever its length."""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from tenant_apps.accounts.api import Role

from .models import (
    ACCOUNT_LIVE,
    Course,
    CourseEnrollmentImport,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentType,
)
from .policies import CourseAccess

# The prefetched list of the caller's own enrollment (zero or one) on each course.
CALLER_ENROLLMENTS = "caller_enrollments"


def course_list_for(user, *, mine: bool = False) -> QuerySet[Course]:
    """The live courses `user` may list: admins all of them (or with `mine`
    only those they teach or are enrolled in); everyone else the courses they
    teach, those where they are TA or grader (any status), and the published
    ones where they are a student, holding a seat or waitlisted.

    Each course comes with its instructor and the caller's own enrollment
    (see `course_access_prefetched`)."""
    courses = Course.objects.filter(deleted_at__isnull=True)
    if mine or user.role != Role.ADMIN:
        courses = courses.filter(course_involving(user))
    return course_with_caller(courses, user)


def course_catalog_for(user) -> QuerySet[Course]:
    """The live courses `user` may enroll in themselves and is not in yet:
    published, with self-enrollment on (`self_enrollment_open`). Their windows
    are shown, not applied: a course opening next month is listed, and
    enrolling before then answers 409 `enrollment_closed`."""
    mine = Enrollment.objects.filter(
        course=OuterRef("pk"), user=user, status=EnrollmentStatus.ENROLLED
    )
    courses = Course.objects.filter(
        deleted_at__isnull=True, status=CourseStatus.PUBLISHED, settings__self_enrollment=True
    ).exclude(Q(instructor=user) | Exists(mine))
    return course_with_caller(courses, user)


def course_involving(user) -> Q:
    """Courses `user` teaches, assists (TA, grader; any status), or studies in
    once published (holding a seat or waitlisted)."""
    in_course = Enrollment.objects.filter(
        course=OuterRef("pk"), user=user, status=EnrollmentStatus.ENROLLED
    )
    return (
        Q(instructor=user)
        | Exists(in_course.filter(role__in=[CourseRole.TA, CourseRole.GRADER]))
        | (Q(status=CourseStatus.PUBLISHED) & Exists(in_course.filter(role=CourseRole.STUDENT)))
    )


def course_with_caller(courses: QuerySet[Course], user) -> QuerySet[Course]:
    return courses.select_related("instructor").prefetch_related(
        Prefetch(
            "enrollments",
            queryset=Enrollment.objects.filter(user=user),
            to_attr=CALLER_ENROLLMENTS,
        )
    )


def course_access_prefetched(user, course: Course) -> CourseAccess:
    """The caller's standing in a course from `course_with_caller`, without a query."""
    enrollments = getattr(course, CALLER_ENROLLMENTS, None)
    if enrollments is None:
        raise ValueError("The course was not fetched with course_with_caller().")
    return CourseAccess(
        user=user, course=course, enrollment=enrollments[0] if enrollments else None
    )


def waitlist_position(enrollment: Enrollment | None) -> int | None:
    """1 for the next student to be promoted; None when not waitlisted. Those
    ahead whose accounts are gone or suspended do not count: promotion passes
    over them."""
    if (
        enrollment is None
        or enrollment.status != EnrollmentStatus.ENROLLED
        or enrollment.enrollment_type != EnrollmentType.WAITLIST
    ):
        return None
    ahead = Enrollment.objects.filter(
        Q(enrolled_at__lt=enrollment.enrolled_at)
        | Q(enrolled_at=enrollment.enrolled_at, pk__lt=enrollment.pk),
        ACCOUNT_LIVE,
        course_id=enrollment.course_id,
        role=CourseRole.STUDENT,
        status=EnrollmentStatus.ENROLLED,
        enrollment_type=EnrollmentType.WAITLIST,
    )
    return ahead.count() + 1


def course_roster(course: Course) -> QuerySet[Enrollment]:
    """Every enrollment of the course, dropped ones included (a client syncing
    with `updated_since` must learn of drops), with the user."""
    return (
        Enrollment.objects.filter(course=course)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "id")
    )


def roster_search(enrollments: QuerySet[Enrollment], search: str) -> QuerySet[Enrollment]:
    """Enrollments whose user's name or email contains every word."""
    for term in search.split():
        enrollments = enrollments.filter(
            Q(user__email__icontains=term)
            | Q(user__first_name__icontains=term)
            | Q(user__last_name__icontains=term)
        )
    return enrollments


def enrollment_import_for_course(course: Course, import_id) -> CourseEnrollmentImport | None:
    return (
        CourseEnrollmentImport.objects.select_related("created_by")
        .filter(course=course, pk=import_id)
        .first()
    )
