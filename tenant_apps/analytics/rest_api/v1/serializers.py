"""Query parameters and output shapes of the analytics API. Percentages and
scores are Decimals, sent as strings with two decimals; null when there is
nothing to measure (no students, nothing graded, nothing due)."""

from rest_framework import serializers

from tenant_apps.analytics.selectors import (
    AT_RISK_INACTIVE_DAYS,
    AT_RISK_MISSING,
    DEFAULT_DAYS,
    MAX_DAYS,
    STUDENT_ORDERINGS,
)

STUDENT_ORDERING_CHOICES = [term for name in STUDENT_ORDERINGS for term in (name, f"-{name}")]


def _percent(help_text: str, **kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=7, decimal_places=2, allow_null=True, help_text=help_text, **kwargs
    )


def _points(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text=help_text
    )


# --- query parameters ---


class DaysQuery(serializers.Serializer):
    days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DAYS,
        default=DEFAULT_DAYS,
        help_text=f"The window: the last N days of the institution's calendar, today "
        f"included (default {DEFAULT_DAYS}, at most {MAX_DAYS}).",
    )


class StudentsQuery(serializers.Serializer):
    ordering = serializers.ChoiceField(
        choices=STUDENT_ORDERING_CHOICES,
        default="name",
        help_text="name (last, first), last_active, views, grade or missing; '-' first for "
        "descending. Students without a value (never active, no grade) come last either way.",
    )
    at_risk = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only students at risk; false: only those who are not.",
    )


# --- shared pieces ---


class WindowOutput(serializers.Serializer):
    days = serializers.IntegerField()
    start = serializers.DateTimeField(help_text="Midnight of the first day, institution's time.")
    end = serializers.DateTimeField(help_text="When the figures were read.")


class CourseDayOutput(serializers.Serializer):
    date = serializers.DateField(help_text="A day of the institution's calendar.")
    views = serializers.IntegerField()
    submissions = serializers.IntegerField(help_text="Assignment and quiz submissions.")
    active_users = serializers.IntegerField(help_text="Distinct students active that day.")


class InstitutionDayOutput(CourseDayOutput):
    logins = serializers.IntegerField()
    active_users = serializers.IntegerField(help_text="Distinct users active that day.")


# --- course overview ---


class CourseOverviewOutput(serializers.Serializer):
    """Figures about the course's students (holding a seat now); their
    activity from the activity log."""

    course_id = serializers.UUIDField()
    students = serializers.IntegerField(help_text="Students holding a seat.")
    active_students_7_days = serializers.IntegerField()
    active_students_30_days = serializers.IntegerField()
    window = WindowOutput()
    views = serializers.IntegerField(
        help_text="Views of the course, content, assignments, discussions in the window."
    )
    submissions = serializers.IntegerField(
        help_text="Assignment and quiz submissions in the window."
    )
    active_students = serializers.IntegerField(help_text="Distinct students active in the window.")
    average_current_grade = _percent("Mean of the students' current totals (percent).")
    graded_students = serializers.IntegerField(help_text="Students with a current total.")
    published_assignments = serializers.IntegerField()
    due_assignments = serializers.IntegerField(
        help_text="Published assignments past their due time."
    )
    assignment_completion_percent = _percent(
        "Submitted (student, assignment) pairs over students x due assignments."
    )
    activity_per_day = CourseDayOutput(many=True)


# --- students ---


class StudentPersonOutput(serializers.Serializer):
    id = serializers.UUIDField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField()


class SubmissionCountsOutput(serializers.Serializer):
    on_time = serializers.IntegerField(help_text="Assignments with an attempt on time.")
    late = serializers.IntegerField(help_text="Assignments whose attempts are all late.")
    missing = serializers.IntegerField(help_text="Due assignments without an attempt.")


class StudentAnalyticsOutput(serializers.Serializer):
    user = StudentPersonOutput()
    enrolled_at = serializers.DateTimeField()
    last_active_at = serializers.DateTimeField(
        allow_null=True, help_text="Latest activity in the course."
    )
    views = serializers.IntegerField()
    submissions = SubmissionCountsOutput()
    current_grade = _percent("The gradebook's current total (percent).")
    letter = serializers.CharField(allow_null=True)
    at_risk = serializers.BooleanField(
        help_text=f"No activity in the course for {AT_RISK_INACTIVE_DAYS} days (once enrolled "
        f"that long), or {AT_RISK_MISSING} or more missing assignments."
    )
    at_risk_reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=["inactive", "missing_assignments"])
    )


# --- content ---


class ModuleRefOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()


class ContentEngagementOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    content_type = serializers.CharField()
    module = ModuleRefOutput()
    is_published = serializers.BooleanField()
    is_required = serializers.BooleanField()
    views = serializers.IntegerField(help_text="Views by the course's students.")
    unique_viewers = serializers.IntegerField()
    started = serializers.IntegerField(help_text="Students with progress on it.")
    completed = serializers.IntegerField()
    completion_percent = _percent("Students who completed it over students holding a seat.")
    time_spent_seconds = serializers.IntegerField(help_text="Students' time on it, summed.")


# --- assignments ---


class AssignmentStatisticsOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    due_at = serializers.DateTimeField()
    points = serializers.DecimalField(max_digits=12, decimal_places=2)
    is_published = serializers.BooleanField()
    is_past_due = serializers.BooleanField()
    students = serializers.IntegerField(help_text="Students holding a seat.")
    submitted = serializers.IntegerField(help_text="Students with a submitted attempt.")
    on_time = serializers.IntegerField()
    late = serializers.IntegerField(help_text="Students whose attempts are all late.")
    missing = serializers.IntegerField(help_text="Students without an attempt, once past due.")
    graded = serializers.IntegerField(help_text="Students with a score or excused.")
    excused = serializers.IntegerField()
    score_mean = _points("In points; excused grades left out.")
    score_median = _points("In points.")
    score_min = _points("In points.")
    score_max = _points("In points.")


# --- the institution ---


class RoleCountsOutput(serializers.Serializer):
    student = serializers.IntegerField()
    ta = serializers.IntegerField()
    instructor = serializers.IntegerField()
    admin = serializers.IntegerField()


class UserCountsOutput(serializers.Serializer):
    by_role = RoleCountsOutput(help_text="Accounts that may sign in.")
    active = serializers.IntegerField(help_text="Accounts that may sign in.")
    suspended = serializers.IntegerField()
    deactivated = serializers.IntegerField()


class StatusCountsOutput(serializers.Serializer):
    draft = serializers.IntegerField()
    published = serializers.IntegerField()
    archived = serializers.IntegerField()


class CourseCountsOutput(serializers.Serializer):
    by_status = StatusCountsOutput()
    total = serializers.IntegerField()


class EnrollmentCountsOutput(serializers.Serializer):
    students = serializers.IntegerField(help_text="Seats held in live courses.")
    waitlisted = serializers.IntegerField()
    teaching_staff = serializers.IntegerField(help_text="TAs and graders.")


class PlanRefOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class QuantitiesOutput(serializers.Serializer):
    users = serializers.IntegerField(allow_null=True)
    courses = serializers.IntegerField(allow_null=True)
    storage_bytes = serializers.IntegerField(allow_null=True)


class InstitutionOverviewOutput(serializers.Serializer):
    window = WindowOutput()
    users = UserCountsOutput()
    active_users_7_days = serializers.IntegerField()
    active_users_30_days = serializers.IntegerField()
    logins = serializers.IntegerField(help_text="Sign-ins in the window.")
    views = serializers.IntegerField(help_text="Views in the window.")
    submissions = serializers.IntegerField(help_text="Submissions in the window.")
    submissions_last_7_days = serializers.IntegerField()
    courses = CourseCountsOutput()
    enrollments = EnrollmentCountsOutput()
    plan = PlanRefOutput(allow_null=True)
    limits = QuantitiesOutput(help_text="The plan's limits; null: unlimited.")
    usage = QuantitiesOutput()
    activity_per_day = InstitutionDayOutput(many=True)
