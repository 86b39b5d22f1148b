"""Assignments and students' submissions to them (the design document's tables
8 and 9).

Departures from the design document, and why:
- `due_at` is an aware datetime (stored in UTC); lateness is counted on the
  institution's wall clock (see lateness.py).
- `max_submissions` null means unlimited (the document's column is nullable
  with a default of 1; we keep 1 as the default).
- `submission_files` is a many-to-many to the files service's rows: a file is
  stored, checked and served once, by the files app.
- A draft is a submission with status `draft` and no number: numbers 1..n are
  given to attempts as they are submitted, so a draft never takes a number an
  attempt could need. One draft per student and assignment.
- The document's statuses `graded`, `returned`, `needs_revision` are not
  stored: a grade lives in the gradebook (tenant_apps.grading) and is shown
  with the submission it was given for, so a status could never betray an
  unreleased grade.
- `requires_peer_review` is left out until peer review exists.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class AssignmentType(models.TextChoices):
    HOMEWORK = "homework", "Homework"
    PROJECT = "project", "Project"
    ESSAY = "essay", "Essay"
    PRESENTATION = "presentation", "Presentation"


class SubmissionType(models.TextChoices):
    """What a submission carries; `multiple` is any combination of text, a URL
    and files, at least one."""

    TEXT = "text", "Text"
    URL = "url", "URL"
    FILE = "file", "File"
    MULTIPLE = "multiple", "Multiple"


class Assignment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="assignments"
    )
    module = models.ForeignKey(
        "content.Module",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assignments",
    )
    group = models.ForeignKey(
        "grading.AssignmentGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assignments",
    )
    rubric = models.ForeignKey(
        "grading.Rubric",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assignments",
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    instructions = models.TextField(blank=True)
    points = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    assignment_type = models.CharField(
        max_length=20, choices=AssignmentType.choices, default=AssignmentType.HOMEWORK
    )
    due_at = models.DateTimeField()
    allow_late_submission = models.BooleanField(default=True)
    late_penalty_per_day = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Percent of the points taken off per day late.",
    )
    max_late_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Late submissions close after this many days; null: never."
    )
    submission_type = models.CharField(
        max_length=20, choices=SubmissionType.choices, default=SubmissionType.FILE
    )
    allowed_file_types = ArrayField(
        models.CharField(max_length=20),
        default=list,
        blank=True,
        help_text="Extensions, lowercase without dots; empty: any type the files service accepts.",
    )
    max_file_size_mb = models.PositiveIntegerField(default=10)
    max_submissions = models.PositiveIntegerField(
        null=True, blank=True, default=1, help_text="Attempts a student may submit; null: no limit."
    )
    is_published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gte=0), name="assignments_points_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(late_penalty_per_day__gte=0) & Q(late_penalty_per_day__lte=100),
                name="assignments_late_penalty_percent",
            ),
            models.CheckConstraint(
                condition=Q(max_submissions__isnull=True) | Q(max_submissions__gte=1),
                name="assignments_max_submissions_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_file_size_mb__gte=1), name="assignments_max_file_size_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["course", "due_at"], name="assignments_course_due_idx"),
            models.Index(fields=["updated_at"], name="assignments_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class SubmissionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"


class Submission(models.Model):
    """One attempt of one student, or their one draft. A submitted attempt is
    never changed: a resubmission is a new attempt with the next number."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="submissions")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignment_submissions"
    )
    submission_number = models.PositiveIntegerField(
        null=True, blank=True, help_text="1..n in the order submitted; null for the draft."
    )
    status = models.CharField(
        max_length=20, choices=SubmissionStatus.choices, default=SubmissionStatus.DRAFT
    )
    text = models.TextField(blank=True)
    url = models.URLField(max_length=2000, blank=True)
    files = models.ManyToManyField("files.StoredFile", blank=True, related_name="submissions")
    submitted_at = models.DateTimeField(null=True, blank=True)
    is_late = models.BooleanField(default=False)
    days_late = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "assignment", "student", "submission_number", name="submissions_number_unique"
            ),
            models.UniqueConstraint(
                "assignment",
                "student",
                condition=Q(status=SubmissionStatus.DRAFT),
                name="submissions_one_draft",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=SubmissionStatus.DRAFT, submission_number__isnull=True)
                    | Q(
                        status=SubmissionStatus.SUBMITTED,
                        submission_number__isnull=False,
                        submitted_at__isnull=False,
                    )
                ),
                name="submissions_numbered_when_submitted",
            ),
        ]
        indexes = [
            models.Index(fields=["updated_at"], name="submissions_updated_idx"),
            models.Index(fields=["submitted_at"], name="submissions_submitted_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} on {self.assignment_id} #{self.submission_number or 'draft'}"

    @property
    def late_penalty_percent(self) -> Decimal:
        """Taken off at grading: days late times the assignment's penalty per
        day, at most 100."""
        per_day = self.assignment.late_penalty_per_day
        return min(Decimal("100"), Decimal(self.days_late) * per_day)
