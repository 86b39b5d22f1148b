"""Courses and who is in them. The schema is the institution: no institution
column anywhere."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class CourseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class CourseLevel(models.TextChoices):
    UNDERGRADUATE = "undergraduate", "Undergraduate"
    GRADUATE = "graduate", "Graduate"
    OTHER = "other", "Other"


class Course(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=50, help_text='e.g. "CS 101".')
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="courses_taught",
    )
    term = models.CharField(max_length=50, help_text='e.g. "Fall 2026".')
    academic_year = models.PositiveSmallIntegerField()
    start_date = models.DateField()
    end_date = models.DateField()
    enrollment_start = models.DateField(null=True, blank=True)
    enrollment_end = models.DateField(null=True, blank=True)
    max_enrollment = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seats for students; empty means unlimited."
    )
    current_enrollment = models.PositiveIntegerField(
        default=0, help_text="Students holding a seat; kept by the enrollment services."
    )
    credits = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    level = models.CharField(max_length=20, choices=CourseLevel.choices, blank=True)
    status = models.CharField(
        max_length=20, choices=CourseStatus.choices, default=CourseStatus.DRAFT
    )
    settings = models.JSONField(default=dict, blank=True)
    syllabus_url = models.URLField(max_length=2000, blank=True)
    banner_image_url = models.URLField(max_length=2000, blank=True)
    copied_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-academic_year", "term", "code"]
        constraints = [
            models.UniqueConstraint(
                "code",
                "term",
                condition=Q(deleted_at__isnull=True),
                name="courses_code_term_unique",
                violation_error_message="A course with this code already exists in this term.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="courses_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(enrollment_start__isnull=True)
                | Q(enrollment_end__isnull=True)
                | Q(enrollment_end__gte=F("enrollment_start")),
                name="courses_enrollment_window_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["term"], name="courses_term_idx"),
            models.Index(fields=["status"], name="courses_status_idx"),
            models.Index(fields=["updated_at"], name="courses_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.term})"


class CourseRole(models.TextChoices):
    STUDENT = "student", "Student"
    TA = "ta", "Teaching assistant"
    GRADER = "grader", "Grader"


class EnrollmentStatus(models.TextChoices):
    ENROLLED = "enrolled", "Enrolled"
    DROPPED = "dropped", "Dropped"
    WITHDRAWN = "withdrawn", "Withdrawn"
    COMPLETED = "completed", "Completed"


class EnrollmentType(models.TextChoices):
    REGULAR = "regular", "Regular"
    AUDIT = "audit", "Audit"
    WAITLIST = "waitlist", "Waitlist"


SEAT_TYPES = (EnrollmentType.REGULAR, EnrollmentType.AUDIT)


def seat_holder(prefix: str = "") -> Q:
    """Enrollments of students holding a seat (enrolled, regular or audit; not
    waitlisted): `Enrollment.holds_seat` and `CourseAccess.is_learner` as a
    filter. `prefix` reaches enrollments through a relation, such as
    "user__enrollments__"; use it in the same filter() as the relation's other
    conditions, so they are about the same enrollment."""
    return Q(
        **{
            f"{prefix}role": CourseRole.STUDENT,
            f"{prefix}status": EnrollmentStatus.ENROLLED,
            f"{prefix}enrollment_type__in": SEAT_TYPES,
        }
    )


# Enrollments whose user may still take a seat: promotion from the waitlist
# passes over deleted, deactivated and suspended accounts (they keep their place).
ACCOUNT_LIVE = Q(user__is_active=True, user__is_suspended=False, user__deleted_at__isnull=True)


class Enrollment(models.Model):
    """One user's place in one course. A waitlisted student has status
    `enrolled` and type `waitlist` (the design document's model) and holds no
    seat; promotion turns the type into the one they asked for."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    role = models.CharField(max_length=20, choices=CourseRole.choices, default=CourseRole.STUDENT)
    status = models.CharField(
        max_length=20, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ENROLLED
    )
    enrollment_type = models.CharField(
        max_length=20, choices=EnrollmentType.choices, default=EnrollmentType.REGULAR
    )
    requested_type = models.CharField(
        max_length=20,
        choices=EnrollmentType.choices,
        default=EnrollmentType.REGULAR,
        help_text="What a waitlisted student becomes when promoted (regular or audit).",
    )
    section = models.CharField(max_length=50, blank=True)
    enrolled_at = models.DateTimeField(help_text="When this enrollment (or waitlist place) began.")
    drop_date = models.DateTimeField(null=True, blank=True)
    grade = models.CharField(max_length=10, blank=True)
    gpa_points = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("course", "user", name="enrollments_course_user_unique"),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="enrollments_user_status_idx"),
            models.Index(
                fields=["course", "enrollment_type", "enrolled_at"],
                name="enrollments_waitlist_idx",
            ),
            models.Index(fields=["updated_at"], name="enrollments_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.course_id} ({self.role}, {self.status})"

    @property
    def holds_seat(self) -> bool:
        return (
            self.role == CourseRole.STUDENT
            and self.status == EnrollmentStatus.ENROLLED
            and self.enrollment_type in SEAT_TYPES
        )


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class CourseEnrollmentImport(models.Model):
    """One bulk enrollment from a CSV file (SIS-style: email, role, section):
    the file as uploaded, and once a worker has run it, the per-row report."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    dry_run = models.BooleanField(default=False)
    filename = models.CharField(max_length=255, blank=True)
    csv_text = models.TextField(help_text="The uploaded file, decoded; the task reads it here.")
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    counts = models.JSONField(default=dict, blank=True)
    rows = models.JSONField(
        default=list, blank=True, help_text="[{row, email, role, section, outcome, message}]"
    )
    error = models.TextField(blank=True, help_text="Why the whole import failed, if it did.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.id} into {self.course_id} ({self.status})"
