"""Grades and the gradebook of a course.

The gradebook's columns are `GradeItem`s: each assignment and each quiz keeps
exactly one, through `grade_item_sync` (tenant_apps.grading.api), so the
gradebook never has to know what an assignment or a quiz is. A `Grade` is one
cell: one student's grade for one item, whichever attempt or submission it was
given for (`submission_id`). Every change to a grade is kept as a
`GradeRevision`, and `version` lets two graders find out that they raced.

Design change from the design document's `grades` table (unique per
submission): a grade is unique per (item, student), so a resubmission does not
leave two grades for one assignment, the gradebook is one indexed read, and a
quiz's kept score has the same home as an assignment's grade.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class AssignmentGroup(models.Model):
    """A group of gradebook items ("Homework", "Exams") whose weight counts
    toward the course total when the course weights its groups."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="assignment_groups"
    )
    name = models.CharField(max_length=255)
    weight = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Percent of the course total, when the course weights its groups.",
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=0) & Q(weight__lte=100),
                name="assignment_groups_weight_percent",
            )
        ]
        indexes = [models.Index(fields=["course", "position"], name="assignment_groups_course_idx")]

    def __str__(self) -> str:
        return self.name


DEFAULT_LETTER_SCHEME = [
    ["A", 94],
    ["A-", 90],
    ["B+", 87],
    ["B", 84],
    ["B-", 80],
    ["C+", 77],
    ["C", 74],
    ["C-", 70],
    ["D+", 67],
    ["D", 64],
    ["D-", 61],
    ["F", 0],
]


class GradingPolicy(models.Model):
    """How a course turns grades into a total and a letter. A course without a
    row uses the defaults (unweighted, DEFAULT_LETTER_SCHEME)."""

    course = models.OneToOneField(
        "courses.Course", on_delete=models.CASCADE, primary_key=True, related_name="grading_policy"
    )
    weight_groups = models.BooleanField(
        default=False,
        help_text="The total weights each assignment group's percentage by its weight; "
        "otherwise it is points earned over points possible.",
    )
    letter_scheme = models.JSONField(
        default=list,
        blank=True,
        help_text='[["A", 94], ["A-", 90], …, ["F", 0]]: a letter applies from its '
        "minimum percentage; empty means the default scheme.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Grading policy of {self.course_id}"


class Rubric(models.Model):
    """Criteria with rating levels, reusable across a course's items.

    `criteria` is [{"id", "description", "points", "ratings": [{"id",
    "description", "points"}]}], kept valid by services.rubric_criteria_clean.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="rubrics")
    title = models.CharField(max_length=255)
    criteria = models.JSONField(default=list)
    points_possible = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="The sum of the criteria's points."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.title


class ItemKind(models.TextChoices):
    ASSIGNMENT = "assignment", "Assignment"
    QUIZ = "quiz", "Quiz"


class PostingPolicy(models.TextChoices):
    """Canvas's post policies: automatic shows a grade once it is given;
    manual keeps every grade hidden until it is released (per grade or for the
    whole item)."""

    AUTOMATIC = "automatic", "Automatic"
    MANUAL = "manual", "Manual"


class GradeItem(models.Model):
    """A gradebook column: an assignment or a quiz, mirrored by its own app."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="grade_items"
    )
    kind = models.CharField(max_length=20, choices=ItemKind.choices)
    source_id = models.UUIDField(help_text="The assignment's or quiz's id.")
    title = models.CharField(max_length=255)
    points_possible = models.DecimalField(max_digits=10, decimal_places=2)
    group = models.ForeignKey(
        AssignmentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    rubric = models.ForeignKey(
        Rubric, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    is_published = models.BooleanField(
        default=False, help_text="Unpublished items are not shown to students."
    )
    posting_policy = models.CharField(
        max_length=20, choices=PostingPolicy.choices, default=PostingPolicy.MANUAL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("kind", "source_id", name="grade_items_one_per_source"),
            models.CheckConstraint(
                condition=Q(points_possible__gte=0), name="grade_items_points_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["course", "due_at"], name="grade_items_course_idx")]

    def __str__(self) -> str:
        return self.title


class Grade(models.Model):
    """One student's grade for one item.

    `points_earned` is what the grader (or the quiz) gave; `late_penalty_points`
    is taken off at grading from the submission's days late; `score` is what
    counts (never below zero). A student sees a grade only once `released_at`
    is set.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    item = models.ForeignKey(GradeItem, on_delete=models.CASCADE, related_name="grades")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grades"
    )
    submission_id = models.UUIDField(
        null=True, blank=True, help_text="The submission or quiz attempt that was graded."
    )
    grader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="grades_given",
    )
    points_earned = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    late_penalty_percent = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Percent of the points possible taken off for lateness (days late "
        "times the assignment's penalty per day, at most 100), kept for regrades.",
    )
    late_penalty_points = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    score = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    excused = models.BooleanField(
        default=False, help_text="Counts neither for nor against the student."
    )
    feedback = models.TextField(blank=True)
    rubric_scores = models.JSONField(default=list, blank=True)
    graded_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("item", "student", name="grades_one_per_item_student"),
        ]
        indexes = [
            models.Index(fields=["student"], name="grades_student_idx"),
            models.Index(fields=["updated_at"], name="grades_updated_idx"),
            models.Index(fields=["graded_at"], name="grades_graded_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} on {self.item_id}: {self.score}"


class GradeAction(models.TextChoices):
    GRADED = "graded", "Graded"
    REGRADED = "regraded", "Regraded"
    RELEASED = "released", "Released"
    HIDDEN = "hidden", "Hidden"


class GradeRevision(models.Model):
    """A grade as it was after each change: regrades keep their history."""

    grade = models.ForeignKey(Grade, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=20, choices=GradeAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submission_id = models.UUIDField(null=True, blank=True)
    points_earned = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    late_penalty_points = models.DecimalField(max_digits=10, decimal_places=2)
    score = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    excused = models.BooleanField()
    feedback = models.TextField(blank=True)
    rubric_scores = models.JSONField(default=list, blank=True)
    released = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["grade", "version"], name="grade_revisions_grade_idx")]

    def __str__(self) -> str:
        return f"{self.grade_id} v{self.version} {self.action}"
