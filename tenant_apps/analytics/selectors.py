"""The figures behind the analytics endpoints, aggregated by PostgreSQL: each
endpoint runs a fixed number of queries whatever the size of the course.

Whose activity counts: a course's figures are about its students, the users
holding a seat now (enrolled, regular or audit); the staff's own views of
their course, and students who dropped, do not count. Activity-derived
figures (views, submissions per day, last activity) come from the activity
log and reach back as far as it is kept (the institution's retention);
standing figures (enrollment, completion, grades) from the apps' own tables.

Rules the endpoints document:
- *Missing*: a published assignment whose due time has passed without a
  submitted attempt from the student, who is not excused from it in the
  gradebook (an excused student owes nothing, as for the reminders:
  assignments' assignments_due_with_students_pending). *On time*: at least
  one attempt not late; *late*: attempts, all late.
- *Assignment completion*: submitted (student, assignment) pairs over
  students x published assignments already due, less the pairs excused
  without a submitted attempt (neither due nor missing).
- *Current grade*: the gradebook's current total (grading), a percentage of
  the graded work; every grade counts, released or not.
- *At risk*: a student with no activity in the course for
  AT_RISK_INACTIVE_DAYS days who has been enrolled at least that long, or
  with AT_RISK_MISSING or more missing assignments.
"""

from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DecimalField,
    Exists,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone

from conceptspro.tenancy import institution_timezone
from shared_apps.plans.api import plan_limits_and_usage
from tenant_apps.accounts.api import Role, User
from tenant_apps.activity.api import (
    ActivityType,
    activity_per_day,
    activity_per_user,
    activity_totals,
    course_activity,
    institution_activity,
    views_per_entity,
)
from tenant_apps.assignments.api import Assignment, Submission, SubmissionStatus
from tenant_apps.content.api import ContentItem, ContentProgress
from tenant_apps.courses.api import (
    Course,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentType,
    seat_holder,
)
from tenant_apps.grading.api import Grade, ItemKind, gradebook_for_course

AT_RISK_INACTIVE_DAYS = 14
AT_RISK_MISSING = 2
DEFAULT_DAYS = 30
MAX_DAYS = 365
CENT = Decimal("0.01")


class Median(Aggregate):
    """The exact median of a numeric column: the mean of its two middle
    values (PERCENTILE_DISC keeps numeric, where PERCENTILE_CONT would go
    through floating point)."""

    name = "Median"
    output_field = DecimalField(max_digits=20, decimal_places=4)

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.get_source_expressions()[0])
        sql = (
            f"((PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY {column})"
            f" + PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY {column} DESC)) / 2)"
        )
        return sql, (*params, *params)


def _cents(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(CENT, ROUND_HALF_UP)


def _percent(part: int, whole: int) -> Decimal | None:
    """part / whole as a percentage with two decimals; None when whole is 0."""
    if not whole:
        return None
    return _cents(Decimal(part) * 100 / Decimal(whole))


def report_window(days: int, now: datetime) -> dict:
    """The last `days` days of the institution's calendar, today included:
    {"days", "first_day", "last_day", "start" (the first day's midnight)}."""
    zone = institution_timezone()
    last_day = now.astimezone(zone).date()
    first_day = last_day - timedelta(days=days - 1)
    start = datetime.combine(first_day, time.min, tzinfo=zone)
    return {"days": days, "first_day": first_day, "last_day": last_day, "start": start}


def _per_day(rows: QuerySet, window: dict, *, logins: bool) -> list[dict]:
    days = activity_per_day(
        rows,
        first_day=window["first_day"],
        last_day=window["last_day"],
        zone=window["start"].tzinfo,
    )
    if not logins:  # sign-ins belong to no course
        for day in days:
            del day["logins"]
    return days


def _totals(rows: QuerySet, window: dict, now: datetime) -> dict:
    return activity_totals(
        rows,
        windows={
            "window": window["start"],
            "last_7_days": now - timedelta(days=7),
            "last_30_days": now - timedelta(days=30),
        },
    )


# --- a course's students and their work -----------------------------------------------


def course_students(course: Course) -> QuerySet[Enrollment]:
    """Enrollments of the students holding a seat in the course."""
    return Enrollment.objects.filter(seat_holder(), course=course)


def _student_ids(course: Course) -> QuerySet:
    return course_students(course).values("user_id")


def _assignments(course: Course) -> QuerySet[Assignment]:
    return Assignment.objects.filter(course=course, deleted_at__isnull=True)


def _due_count(course: Course, now: datetime) -> int:
    return _assignments(course).filter(is_published=True, due_at__lte=now).count()


def _submissions_per_student(course: Course, now: datetime) -> dict:
    """Student id -> {"submitted", "on_time", "submitted_due"}: how many
    published assignments they submitted, with an attempt on time, and of
    those already due: one query."""
    counted = (
        Submission.objects.filter(
            status=SubmissionStatus.SUBMITTED,
            assignment__course=course,
            assignment__deleted_at__isnull=True,
            assignment__is_published=True,
            student_id__in=_student_ids(course),
        )
        .order_by()
        .values("student_id")
        .annotate(
            submitted=Count("assignment", distinct=True),
            on_time=Count("assignment", distinct=True, filter=Q(is_late=False)),
            submitted_due=Count("assignment", distinct=True, filter=Q(assignment__due_at__lte=now)),
        )
    )
    return {row.pop("student_id"): row for row in counted}


def _submitted_attempt_of_grade() -> Exists:
    """Whether the student of the outer Grade row submitted an attempt at the
    assignment the grade is for."""
    return Exists(
        Submission.objects.filter(
            status=SubmissionStatus.SUBMITTED,
            assignment_id=OuterRef("item__source_id"),
            student_id=OuterRef("student_id"),
        )
    )


def _excused_grades(course: Course) -> QuerySet[Grade]:
    """Excused gradebook grades of the course's students for its live
    assignments, without a submitted attempt: pairs the student does not owe."""
    return Grade.objects.filter(
        ~_submitted_attempt_of_grade(),
        excused=True,
        item__kind=ItemKind.ASSIGNMENT,
        item__deleted_at__isnull=True,
        item__source_id__in=_assignments(course).values("pk"),
        student_id__in=_student_ids(course),
    ).order_by()


def _excused_due_per_student(course: Course, now: datetime) -> dict:
    """Student id -> how many published assignments already due they are
    excused from without having submitted: one query."""
    due = _assignments(course).filter(is_published=True, due_at__lte=now).values("pk")
    return dict(
        _excused_grades(course)
        .filter(item__source_id__in=due)
        .values("student_id")
        .annotate(excused=Count("item__source_id", distinct=True))
        .values_list("student_id", "excused")
    )


def _current_grades(course: Course) -> dict:
    """Student id (text) -> (current total as a Decimal percentage, letter),
    from the gradebook (a fixed handful of queries)."""
    grades = {}
    for row in gradebook_for_course(course).students:
        current = row.totals["current_total"]
        grades[row.student["id"]] = (
            None if current is None else Decimal(current),
            row.totals["letter"] if current is not None else None,
        )
    return grades


def _mean(values: list[Decimal]) -> Decimal | None:
    return _cents(sum(values) / len(values)) if values else None


# --- GET /analytics/courses/{id}/overview/ ---------------------------------------------


def course_overview(course: Course, *, days: int = DEFAULT_DAYS, now=None) -> dict:
    now = now or timezone.now()
    window = report_window(days, now)
    activity = course_activity(course.pk, user_ids=_student_ids(course))
    totals = _totals(activity, window, now)
    students = course_students(course).count()
    due = _due_count(course, now)
    submitted_due = sum(
        row["submitted_due"] for row in _submissions_per_student(course, now).values()
    )
    excused_due = sum(_excused_due_per_student(course, now).values())
    grades = [grade for grade, _ in _current_grades(course).values() if grade is not None]
    return {
        "course_id": course.pk,
        "students": students,
        "active_students_7_days": totals["last_7_days"]["active_users"],
        "active_students_30_days": totals["last_30_days"]["active_users"],
        "window": {"days": days, "start": window["start"], "end": now},
        "views": totals["window"]["views"],
        "submissions": totals["window"]["submissions"],
        "active_students": totals["window"]["active_users"],
        "average_current_grade": _mean(grades),
        "graded_students": len(grades),
        "published_assignments": _assignments(course).filter(is_published=True).count(),
        "due_assignments": due,
        "assignment_completion_percent": _percent(submitted_due, due * students - excused_due),
        "activity_per_day": _per_day(activity, window, logins=False),
    }


# --- GET /analytics/courses/{id}/students/ ---------------------------------------------


def _at_risk(*, last_active_at, enrolled_at, missing: int, now: datetime) -> list[str]:
    reasons = []
    quiet_since = now - timedelta(days=AT_RISK_INACTIVE_DAYS)
    if enrolled_at <= quiet_since and (last_active_at is None or last_active_at < quiet_since):
        reasons.append("inactive")
    if missing >= AT_RISK_MISSING:
        reasons.append("missing_assignments")
    return reasons


def course_student_rows(course: Course, *, now=None) -> list[dict]:
    """Every student holding a seat with their activity, submissions, current
    grade and at-risk reasons, by name. A fixed number of queries: roster,
    activity, submissions, excused, due count, and the gradebook's."""
    now = now or timezone.now()
    roster = (
        course_students(course)
        .order_by("user__last_name", "user__first_name", "user_id")
        .values_list("user_id", "user__first_name", "user__last_name", "user__email", "enrolled_at")
    )
    activity = activity_per_user(course_activity(course.pk, user_ids=_student_ids(course)))
    submissions = _submissions_per_student(course, now)
    excused = _excused_due_per_student(course, now)
    due = _due_count(course, now)
    grades = _current_grades(course)
    nothing = {"last_active_at": None, "views": 0, "submissions": 0}
    rows = []
    for user_id, first_name, last_name, email, enrolled_at in roster:
        active = activity.get(user_id, nothing)
        work = submissions.get(user_id, {"submitted": 0, "on_time": 0, "submitted_due": 0})
        missing = due - work["submitted_due"] - excused.get(user_id, 0)
        grade, letter = grades.get(str(user_id), (None, None))
        reasons = _at_risk(
            last_active_at=active["last_active_at"],
            enrolled_at=enrolled_at,
            missing=missing,
            now=now,
        )
        rows.append(
            {
                "user": {
                    "id": user_id,
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": email,
                },
                "enrolled_at": enrolled_at,
                "last_active_at": active["last_active_at"],
                "views": active["views"],
                "submissions": {
                    "on_time": work["on_time"],
                    "late": work["submitted"] - work["on_time"],
                    "missing": missing,
                },
                "current_grade": grade,
                "letter": letter,
                "at_risk": bool(reasons),
                "at_risk_reasons": reasons,
            }
        )
    return rows


STUDENT_ORDERINGS = {
    "name": lambda row: (row["user"]["last_name"].lower(), row["user"]["first_name"].lower()),
    "last_active": lambda row: row["last_active_at"],
    "views": lambda row: row["views"],
    "grade": lambda row: row["current_grade"],
    "missing": lambda row: row["submissions"]["missing"],
}


def student_rows_sorted(rows: list[dict], ordering: str) -> list[dict]:
    """Rows by `ordering` (a STUDENT_ORDERINGS name, "-" first for
    descending); rows without a value (never active, no grade) come last
    either way, and ties keep the order by name."""
    descending = ordering.startswith("-")
    key = STUDENT_ORDERINGS[ordering.lstrip("-")]
    present = [row for row in rows if key(row) is not None]
    absent = [row for row in rows if key(row) is None]
    return sorted(present, key=key, reverse=descending) + absent


# --- GET /analytics/courses/{id}/content/ ----------------------------------------------


def course_content_items(course: Course) -> QuerySet[ContentItem]:
    """The course's live items in their modules' order, drafts included."""
    return (
        ContentItem.objects.filter(
            module__course=course, module__deleted_at__isnull=True, deleted_at__isnull=True
        )
        .select_related("module")
        .order_by(
            "module__order_index",
            "module__created_at",
            "module_id",
            "order_index",
            "created_at",
            "id",
        )
    )


def content_engagement(course: Course, items: list[ContentItem]) -> list[dict]:
    """Views and unique viewers (activity log) and started / completed
    (content progress) of each item, by the course's students: three queries
    for the page."""
    ids = [item.pk for item in items]
    students = course_students(course).count()
    views = views_per_entity(
        course_activity(course.pk, user_ids=_student_ids(course)),
        activity_type=ActivityType.VIEW_CONTENT,
        entity_ids=ids,
    )
    progress = {
        row.pop("content_id"): row
        for row in ContentProgress.objects.filter(
            content_id__in=ids, user_id__in=_student_ids(course)
        )
        .order_by()
        .values("content_id")
        .annotate(
            started=Count("pk"),
            completed=Count("pk", filter=Q(is_completed=True)),
            time_spent_seconds=Sum("time_spent_seconds"),
        )
    }
    rows = []
    for item in items:
        seen = views.get(item.pk, {"views": 0, "unique_viewers": 0})
        done = progress.get(item.pk, {"started": 0, "completed": 0, "time_spent_seconds": 0})
        rows.append(
            {
                "id": item.pk,
                "title": item.title,
                "content_type": item.content_type,
                "module": {"id": item.module_id, "title": item.module.title},
                "is_published": item.is_published,
                "is_required": item.is_required,
                "views": seen["views"],
                "unique_viewers": seen["unique_viewers"],
                "started": done["started"],
                "completed": done["completed"],
                "completion_percent": _percent(done["completed"], students),
                "time_spent_seconds": done["time_spent_seconds"] or 0,
            }
        )
    return rows


# --- GET /analytics/courses/{id}/assignments/ ------------------------------------------


def course_assignments(course: Course) -> QuerySet[Assignment]:
    """The course's live assignments by due time, drafts included."""
    return _assignments(course).order_by("due_at", "title", "id")


def assignment_statistics(course: Course, assignments: list[Assignment], *, now=None) -> list[dict]:
    """Submitted, on time, late, missing and graded counts and the score
    statistics (points, excused grades left out) of each assignment, over the
    course's students: four queries for the page. A student excused without a
    submitted attempt is not missing it."""
    now = now or timezone.now()
    ids = [assignment.pk for assignment in assignments]
    students = course_students(course).count()
    submitted = {
        row.pop("assignment_id"): row
        for row in Submission.objects.filter(
            status=SubmissionStatus.SUBMITTED,
            assignment_id__in=ids,
            student_id__in=_student_ids(course),
        )
        .order_by()
        .values("assignment_id")
        .annotate(
            submitted=Count("student", distinct=True),
            on_time=Count("student", distinct=True, filter=Q(is_late=False)),
        )
    }
    grades = Grade.objects.filter(
        item__kind=ItemKind.ASSIGNMENT,
        item__source_id__in=ids,
        item__deleted_at__isnull=True,
        student_id__in=_student_ids(course),
    ).order_by()
    graded = {
        row.pop("item__source_id"): row
        for row in grades.filter(Q(score__isnull=False) | Q(excused=True))
        .values("item__source_id")
        .annotate(  # before "excused", whose name would shadow the field
            excused_unsubmitted=Count(
                "pk", filter=Q(excused=True) & ~Q(_submitted_attempt_of_grade())
            )
        )
        .annotate(graded=Count("pk"), excused=Count("pk", filter=Q(excused=True)))
    }
    scores = {
        row.pop("item__source_id"): row
        for row in grades.filter(score__isnull=False, excused=False)
        .values("item__source_id")
        .annotate(mean=Avg("score"), median=Median("score"), min=Min("score"), max=Max("score"))
    }
    rows = []
    for assignment in assignments:
        counts = submitted.get(assignment.pk, {"submitted": 0, "on_time": 0})
        marks = graded.get(assignment.pk, {"graded": 0, "excused": 0, "excused_unsubmitted": 0})
        stats = scores.get(assignment.pk, {})
        past_due = assignment.is_published and assignment.due_at <= now
        rows.append(
            {
                "id": assignment.pk,
                "title": assignment.title,
                "due_at": assignment.due_at,
                "points": assignment.points,
                "is_published": assignment.is_published,
                "is_past_due": past_due,
                "students": students,
                "submitted": counts["submitted"],
                "on_time": counts["on_time"],
                "late": counts["submitted"] - counts["on_time"],
                "missing": (
                    students - counts["submitted"] - marks["excused_unsubmitted"] if past_due else 0
                ),
                "graded": marks["graded"],
                "excused": marks["excused"],
                "score_mean": _cents(stats.get("mean")),
                "score_median": _cents(stats.get("median")),
                "score_min": _cents(stats.get("min")),
                "score_max": _cents(stats.get("max")),
            }
        )
    return rows


# --- GET /analytics/system/overview/ ---------------------------------------------------


def _count_by(queryset: QuerySet, field: str, values) -> dict:
    """{value: rows with field == value} for every value, in one query."""
    counted = queryset.order_by().aggregate(
        **{str(value): Count("pk", filter=Q(**{field: value})) for value in values}
    )
    return {str(value): counted[str(value)] for value in values}


def institution_overview(*, days: int = DEFAULT_DAYS, now=None) -> dict:
    """Users, activity, courses, enrollments, submissions and usage of the
    institution: a fixed number of queries."""
    now = now or timezone.now()
    window = report_window(days, now)
    live_users = User.objects.filter(deleted_at__isnull=True)
    can_sign_in = Q(is_active=True, is_suspended=False)
    accounts = live_users.aggregate(
        active=Count("pk", filter=can_sign_in),
        suspended=Count("pk", filter=Q(is_suspended=True)),
        deactivated=Count("pk", filter=Q(is_active=False, is_suspended=False)),
    )
    activity = institution_activity()
    totals = _totals(activity, window, now)
    courses = _count_by(
        Course.objects.filter(deleted_at__isnull=True), "status", CourseStatus.values
    )
    enrollments = Enrollment.objects.filter(
        course__deleted_at__isnull=True, status=EnrollmentStatus.ENROLLED
    ).aggregate(
        students=Count("pk", filter=seat_holder()),
        waitlisted=Count(
            "pk", filter=Q(role=CourseRole.STUDENT, enrollment_type=EnrollmentType.WAITLIST)
        ),
        teaching_staff=Count("pk", filter=Q(role__in=(CourseRole.TA, CourseRole.GRADER))),
    )
    limits = plan_limits_and_usage()
    return {
        "window": {"days": days, "start": window["start"], "end": now},
        "users": {
            "by_role": _count_by(live_users.filter(can_sign_in), "role", Role.values),
            **accounts,
        },
        "active_users_7_days": totals["last_7_days"]["active_users"],
        "active_users_30_days": totals["last_30_days"]["active_users"],
        "logins": totals["window"]["logins"],
        "views": totals["window"]["views"],
        "submissions": totals["window"]["submissions"],
        "submissions_last_7_days": totals["last_7_days"]["submissions"],
        "courses": {"by_status": courses, "total": sum(courses.values())},
        "enrollments": enrollments,
        "plan": limits["plan"],
        "limits": limits["limits"],
        "usage": limits["usage"],
        "activity_per_day": _per_day(activity, window, logins=True),
    }
