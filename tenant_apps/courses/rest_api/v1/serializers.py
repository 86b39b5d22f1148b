"""Input and output shapes of the courses and enrollment API."""

from datetime import date
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.api import PersonOutput, PersonWithEmailOutput
from tenant_apps.courses import selectors, services
from tenant_apps.courses.models import (
    Course,
    CourseEnrollmentImport,
    CourseLevel,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentType,
)

SEAT_TYPES = (EnrollmentType.REGULAR, EnrollmentType.AUDIT)
MY_ROLES = ["admin", "instructor", "ta", "grader", "student", "waitlisted"]


# --- Input -----------------------------------------------------------------------------

# Course dates stay in a range where moving them for a copy cannot overflow.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2200, 12, 31)


class CourseDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not FIRST_DAY <= day <= LAST_DAY:
            raise serializers.ValidationError(f"Must be between {FIRST_DAY} and {LAST_DAY}.")
        return day


class CourseSettingsInput(KnownKeysSerializer):
    unknown_key_message = "Unknown course setting."

    self_enrollment = serializers.BooleanField(
        required=False, help_text="Students may enroll themselves in the published course."
    )
    ta_can_announce = serializers.BooleanField(
        required=False, help_text="TAs may post announcements."
    )
    waitlist = serializers.BooleanField(
        required=False,
        help_text="When the course is full, students join a waitlist (default) "
        "instead of being refused with 409 course_full.",
    )


class CourseInput(serializers.Serializer):
    code = serializers.CharField(max_length=50)
    title = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=20000, allow_blank=True, required=False)
    instructor_id = serializers.UUIDField(
        required=False,
        help_text="Admins only: an active instructor or admin. Defaults to the caller.",
    )
    term = serializers.CharField(max_length=50)
    academic_year = serializers.IntegerField(min_value=1900, max_value=2200)
    start_date = CourseDateField()
    end_date = CourseDateField()
    enrollment_start = CourseDateField(required=False, allow_null=True)
    enrollment_end = CourseDateField(required=False, allow_null=True)
    max_enrollment = serializers.IntegerField(
        min_value=0,
        max_value=100000,
        required=False,
        allow_null=True,
        help_text="Student seats; null for unlimited.",
    )
    credits = serializers.DecimalField(
        max_digits=3, decimal_places=1, min_value=Decimal(0), required=False, allow_null=True
    )
    level = serializers.ChoiceField(choices=CourseLevel.choices, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=CourseStatus.choices, required=False)
    settings = CourseSettingsInput(required=False)
    syllabus_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    banner_image_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)


class CourseCopyInput(serializers.Serializer):
    code = serializers.CharField(
        max_length=50, required=False, help_text="Defaults to the source's."
    )
    title = serializers.CharField(
        max_length=255, required=False, help_text="Defaults to the source's."
    )
    term = serializers.CharField(max_length=50)
    academic_year = serializers.IntegerField(min_value=1900, max_value=2200)
    start_date = CourseDateField(help_text="Every copied date moves by new - old start.")
    end_date = CourseDateField()


class EnrollInput(serializers.Serializer):
    user_id = serializers.UUIDField(
        required=False,
        help_text="Course instructor or admin only: whom to enroll. Without it, the caller "
        "enrolls themself as a student.",
    )
    role = serializers.ChoiceField(choices=CourseRole.choices, default=CourseRole.STUDENT)
    enrollment_type = serializers.ChoiceField(
        choices=EnrollmentType.choices,
        default=EnrollmentType.REGULAR,
        help_text="regular or audit; waitlist is decided by the seats, not asked for.",
    )
    section = serializers.CharField(max_length=50, allow_blank=True, default="")

    def validate_enrollment_type(self, value: str) -> str:
        if value not in SEAT_TYPES:
            raise serializers.ValidationError("Choose regular or audit.")
        return value

    def validate(self, data):
        if "user_id" not in data:
            fields = {}
            if data["role"] != CourseRole.STUDENT:
                fields["role"] = ["Only with user_id: you enroll yourself as a student."]
            if data["section"]:
                fields["section"] = ["Only with user_id: sections are set by course staff."]
            if fields:
                raise serializers.ValidationError(fields)
        return data


class UnenrollInput(serializers.Serializer):
    user_id = serializers.UUIDField(
        required=False,
        help_text="Course instructor or admin only: whom to drop. Without it, the caller "
        "drops themself.",
    )


class EnrollmentImportInput(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,
        help_text="UTF-8 CSV with a header row; columns email, role (student|ta|grader, "
        "default student), section. At most 1 MB and 5,000 rows.",
    )
    dry_run = serializers.BooleanField(default=False)


# --- Output ----------------------------------------------------------------------------


class CourseSettingsOutput(serializers.Serializer):
    self_enrollment = serializers.BooleanField()
    ta_can_announce = serializers.BooleanField()
    waitlist = serializers.BooleanField()


class CourseOutput(serializers.ModelSerializer):
    """A course as its list shows it; `my_role` is the caller's role in it
    (admin, instructor, ta, grader, student, waitlisted, or null)."""

    instructor = PersonOutput(allow_null=True)
    # Blank when not set: a ModelSerializer's read-only fields drop allow_blank,
    # which would document "" as outside the enum or not a URI.
    level = serializers.ChoiceField(
        choices=CourseLevel.choices, allow_blank=True, read_only=True, help_text="Empty: not set."
    )
    syllabus_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")
    banner_image_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")
    settings = serializers.SerializerMethodField()
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Course
        fields = [
            "id",
            "code",
            "title",
            "description",
            "instructor",
            "term",
            "academic_year",
            "start_date",
            "end_date",
            "enrollment_start",
            "enrollment_end",
            "max_enrollment",
            "current_enrollment",
            "credits",
            "level",
            "status",
            "settings",
            "syllabus_url",
            "banner_image_url",
            "copied_from",
            "my_role",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CourseSettingsOutput)
    def get_settings(self, course) -> dict:
        return services.course_settings(course)

    @extend_schema_field(serializers.ChoiceField(choices=MY_ROLES, allow_null=True))
    def get_my_role(self, course) -> str | None:
        return selectors.course_access_prefetched(self.context["request"].user, course).role


class MyEnrollmentOutput(serializers.ModelSerializer):
    waitlist_position = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "role",
            "status",
            "enrollment_type",
            "requested_type",
            "section",
            "enrolled_at",
            "drop_date",
            "waitlist_position",
        ]
        read_only_fields = fields

    def get_waitlist_position(self, enrollment) -> int | None:
        return selectors.waitlist_position(enrollment)


class CourseDetailOutput(CourseOutput):
    """A course with the caller's own enrollment in it (null when none)."""

    my_enrollment = serializers.SerializerMethodField()

    class Meta(CourseOutput.Meta):
        fields = [*CourseOutput.Meta.fields, "my_enrollment"]
        read_only_fields = fields

    @extend_schema_field(MyEnrollmentOutput(allow_null=True))
    def get_my_enrollment(self, course) -> dict | None:
        access = selectors.course_access_prefetched(self.context["request"].user, course)
        if access.enrollment is None:
            return None
        return MyEnrollmentOutput(access.enrollment).data


class EnrollmentOutput(serializers.ModelSerializer):
    """One place in a course. A waitlisted student has status `enrolled` and
    type `waitlist`; `requested_type` is what they become when promoted."""

    user = PersonWithEmailOutput()
    waitlisted = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "course",
            "user",
            "role",
            "status",
            "enrollment_type",
            "requested_type",
            "waitlisted",
            "section",
            "enrolled_at",
            "drop_date",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_waitlisted(self, enrollment) -> bool:
        return enrollment.status == "enrolled" and enrollment.enrollment_type == "waitlist"


class EnrollResultOutput(EnrollmentOutput):
    waitlist_position = serializers.SerializerMethodField()

    class Meta(EnrollmentOutput.Meta):
        fields = [*EnrollmentOutput.Meta.fields, "waitlist_position"]
        read_only_fields = fields

    def get_waitlist_position(self, enrollment) -> int | None:
        return selectors.waitlist_position(enrollment)


class ImportRowOutput(serializers.Serializer):
    row = serializers.IntegerField(help_text="Line in the file; the header is row 1.")
    email = serializers.CharField()
    role = serializers.CharField()
    section = serializers.CharField()
    outcome = serializers.ChoiceField(
        choices=["enrolled", "waitlisted", "already_enrolled", "error"]
    )
    message = serializers.CharField()


class ImportCountsOutput(serializers.Serializer):
    enrolled = serializers.IntegerField()
    waitlisted = serializers.IntegerField()
    already_enrolled = serializers.IntegerField()
    error = serializers.IntegerField()


class EnrollmentImportOutput(serializers.ModelSerializer):
    created_by = PersonOutput(allow_null=True)
    counts = serializers.SerializerMethodField()
    rows = ImportRowOutput(many=True)

    class Meta:
        model = CourseEnrollmentImport
        fields = [
            "id",
            "course",
            "status",
            "dry_run",
            "filename",
            "created_by",
            "counts",
            "rows",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ImportCountsOutput)
    def get_counts(self, job) -> dict:
        return {"enrolled": 0, "waitlisted": 0, "already_enrolled": 0, "error": 0, **job.counts}
