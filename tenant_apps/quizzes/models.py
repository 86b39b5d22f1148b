"""Quizzes and exams: their questions, students' attempts and the responses
given in them.

Design changes from the design document's tables (section 18):
- `show_correct_answers` is a rule (never, after submission, after the due
  date, after a date) rather than a flag; the quiz's `points` is the sum of its
  questions' points, kept by the services; how grades are posted lives on the
  quiz's gradebook item (tenant_apps.grading), not here.
- An attempt stores the order of its questions and of each question's options
  as it was shuffled at its start, so every read shows the same order and an
  attempt never depends on the shuffling code or a seed being replayed.
- An attempt's `deadline_at` is fixed at its start (the time limit, never past
  the quiz's end date) and enforced by the server; `status` replaces
  `is_completed`: in progress, then graded, or waiting for an essay's grader.
- A question is deleted for real, and only while the quiz has no attempt; once
  it has attempts, what grades a question (its type, points, options, answers)
  no longer changes, so every attempt was graded against the same key.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ScoringPolicy(models.TextChoices):
    """Which of a student's graded attempts the gradebook keeps."""

    KEEP_HIGHEST = "keep_highest", "Keep the highest"
    KEEP_LATEST = "keep_latest", "Keep the latest"
    AVERAGE = "average", "Average"


class ShowCorrectAnswers(models.TextChoices):
    """When a student may see the correct answers and explanations of their
    submitted attempt."""

    NEVER = "never", "Never"
    AFTER_SUBMISSION = "after_submission", "Once the attempt is submitted"
    AFTER_DUE = "after_due", "Once the quiz's end date has passed"
    AFTER_DATE = "after_date", "From show_correct_answers_after"


class Quiz(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="quizzes")
    module = models.ForeignKey(
        "content.Module",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="quizzes",
    )
    group = models.ForeignKey(
        "grading.AssignmentGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="quizzes",
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    points = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        help_text="The sum of the questions' points, kept by the services.",
    )
    time_limit_minutes = models.PositiveIntegerField(null=True, blank=True)
    attempt_limit = models.PositiveIntegerField(
        null=True, blank=True, default=1, help_text="Empty: unlimited attempts."
    )
    scoring_policy = models.CharField(
        max_length=20, choices=ScoringPolicy.choices, default=ScoringPolicy.KEEP_HIGHEST
    )
    shuffle_questions = models.BooleanField(default=False)
    shuffle_answers = models.BooleanField(default=False)
    show_correct_answers = models.CharField(
        max_length=20, choices=ShowCorrectAnswers.choices, default=ShowCorrectAnswers.NEVER
    )
    show_correct_answers_after = models.DateTimeField(null=True, blank=True)
    allow_backtracking = models.BooleanField(
        default=True, help_text="False: an answered question cannot be changed."
    )
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(help_text="The due date: no attempt runs past it.")
    is_published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="quizzes_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(attempt_limit__isnull=True) | Q(attempt_limit__gte=1),
                name="quizzes_attempt_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(time_limit_minutes__isnull=True) | Q(time_limit_minutes__gte=1),
                name="quizzes_time_limit_positive",
            ),
            models.CheckConstraint(
                condition=~Q(show_correct_answers=ShowCorrectAnswers.AFTER_DATE)
                | Q(show_correct_answers_after__isnull=False),
                name="quizzes_show_after_date_given",
            ),
        ]
        indexes = [
            models.Index(fields=["course", "end_date"], name="quizzes_course_end_idx"),
            models.Index(fields=["updated_at"], name="quizzes_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class QuestionType(models.TextChoices):
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice (several answers)"
    TRUE_FALSE = "true_false", "True or false"
    SHORT_ANSWER = "short_answer", "Short answer"
    ESSAY = "essay", "Essay (graded by hand)"


CHOICE_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE)


class Question(models.Model):
    """One question. `options` is [{"id", "text"}] for choice questions;
    `correct` is the answer key, never shown to a student before the quiz's
    rule allows: the correct option id (single choice), the list of correct
    option ids (multiple choice), true or false, the list of accepted answers
    (short answer), null (essay)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    type = models.CharField(max_length=20, choices=QuestionType.choices)
    text = models.TextField()
    points = models.DecimalField(max_digits=10, decimal_places=2)
    position = models.PositiveIntegerField()
    options = models.JSONField(default=list, blank=True)
    correct = models.JSONField(null=True, blank=True)
    case_sensitive = models.BooleanField(
        default=False, help_text="Short answer: match letter case exactly."
    )
    explanation = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gte=0), name="quiz_questions_points_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["quiz", "position"], name="quiz_questions_quiz_idx")]

    def __str__(self) -> str:
        return self.text[:50]


class AttemptStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    NEEDS_GRADING = "needs_grading", "Submitted, an essay waits for its grader"
    GRADED = "graded", "Submitted and graded"


class Attempt(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts"
    )
    attempt_number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    deadline_at = models.DateTimeField(
        help_text="Started plus the time limit, never past the quiz's end date."
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=AttemptStatus.choices, default=AttemptStatus.IN_PROGRESS
    )
    question_order = models.JSONField(default=list, help_text="Question ids, as shown.")
    option_order = models.JSONField(
        default=dict, help_text="{question id: [option ids, as shown]}."
    )
    score = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Points earned; while an essay waits, what the graded questions earned.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "quiz", "student", "attempt_number", name="quiz_attempts_number_unique"
            ),
            models.UniqueConstraint(
                "quiz",
                "student",
                condition=Q(status=AttemptStatus.IN_PROGRESS),
                name="quiz_attempts_one_in_progress",
            ),
        ]
        indexes = [
            models.Index(
                fields=["deadline_at"],
                condition=Q(status=AttemptStatus.IN_PROGRESS),
                name="quiz_attempts_open_idx",
            ),
            models.Index(fields=["student"], name="quiz_attempts_student_idx"),
            models.Index(fields=["updated_at"], name="quiz_attempts_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} #{self.attempt_number} on {self.quiz_id}"


class Response(models.Model):
    """A student's answer to one question of one attempt, and its grade.

    `answer` is null when unanswered; otherwise the option id (single choice),
    the sorted list of option ids (multiple choice), a boolean (true/false) or
    the text (short answer, essay). Every question of a closed attempt has a
    response, answered or not, so statistics count from one table."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="responses")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="responses")
    answer = models.JSONField(null=True, blank=True)
    is_correct = models.BooleanField(null=True, blank=True)
    points_earned = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    grader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="quiz_responses_graded",
    )
    feedback = models.TextField(blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("attempt", "question", name="quiz_responses_unique"),
        ]
        indexes = [
            models.Index(fields=["question"], name="quiz_responses_question_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.attempt_id} / {self.question_id}"
