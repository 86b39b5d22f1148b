"""Input and output shapes of the assignments and submissions API."""

import re
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from conceptspro.tenancy import institution_timezone
from tenant_apps.accounts.api import PersonOutput
from tenant_apps.assignments import lateness
from tenant_apps.assignments.models import (
    Assignment,
    AssignmentType,
    Submission,
    SubmissionStatus,
    SubmissionType,
)
from tenant_apps.files.api import ACCEPTED_EXTENSIONS, FileAttachmentOutput, file_output
from tenant_apps.grading.api import GradeOutput, PostingPolicy

MAX_FILES = 20
MAX_TEXT = 200_000
_EXTENSION = re.compile(r"^[a-z0-9]{1,20}$")


# --- assignments -----------------------------------------------------------------


class AssignmentInput(KnownKeysSerializer):
    """An assignment as its course's instructor writes it; unknown keys are
    refused. PUT needs title, points and due_at; PATCH any subset."""

    title = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=100_000, allow_blank=True, required=False)
    instructions = serializers.CharField(max_length=100_000, allow_blank=True, required=False)
    points = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("99999999.99")
    )
    assignment_type = serializers.ChoiceField(choices=AssignmentType.choices, required=False)
    due_at = serializers.DateTimeField(help_text="ISO 8601 with an offset; stored in UTC.")
    allow_late_submission = serializers.BooleanField(required=False)
    late_penalty_per_day = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
        help_text="Percent of the points taken off per day late, at grading (at most 100 in all).",
    )
    max_late_days = serializers.IntegerField(
        min_value=0,
        max_value=3650,
        required=False,
        allow_null=True,
        help_text="Late submissions close this many days (on the institution's clock) after "
        "the due time; null: never.",
    )
    submission_type = serializers.ChoiceField(choices=SubmissionType.choices, required=False)
    allowed_file_types = serializers.ListField(
        child=serializers.CharField(max_length=21),
        max_length=50,
        required=False,
        help_text='Extensions such as ["pdf", "docx"]; empty: any type the files service accepts.',
    )
    max_file_size_mb = serializers.IntegerField(
        min_value=1,
        max_value=max(1, settings.FILE_UPLOAD_MAX_BYTES // (1024 * 1024)),
        required=False,
    )
    max_submissions = serializers.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        allow_null=True,
        help_text="Attempts each student may submit (default 1); null: no limit.",
    )
    is_published = serializers.BooleanField(required=False)
    module_id = serializers.UUIDField(required=False, allow_null=True)
    group_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="An assignment group of the same course."
    )
    rubric_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A rubric of the same course."
    )
    posting_policy = serializers.ChoiceField(
        choices=PostingPolicy.choices,
        required=False,
        help_text="automatic: a grade is shown to the student once given; manual (default): "
        "once released.",
    )

    def validate_due_at(self, value: datetime) -> datetime:
        if not 1900 <= value.year <= 2200:
            raise serializers.ValidationError("Must be between the years 1900 and 2200.")
        return value

    def validate_allowed_file_types(self, value: list[str]) -> list[str]:
        cleaned = list(dict.fromkeys(v.strip().lstrip(".").lower() for v in value))
        unknown = [v for v in cleaned if not _EXTENSION.match(v) or v not in ACCEPTED_EXTENSIONS]
        if unknown:
            raise serializers.ValidationError(
                f"Not file types the institution accepts: {', '.join(unknown)}."
            )
        return cleaned


class AssignmentOutput(serializers.ModelSerializer):
    """An assignment as its reader sees it. `closes_at`: when submissions stop
    being taken (the due time when late work is refused; null when they never
    close)."""

    course_id = serializers.UUIDField(read_only=True)
    module_id = serializers.UUIDField(read_only=True, allow_null=True)
    group_id = serializers.UUIDField(read_only=True, allow_null=True)
    rubric_id = serializers.UUIDField(read_only=True, allow_null=True)
    grade_item_id = serializers.UUIDField(read_only=True, allow_null=True)
    posting_policy = serializers.ChoiceField(
        choices=PostingPolicy.choices, read_only=True, allow_null=True
    )
    allowed_file_types = serializers.ListField(child=serializers.CharField(), read_only=True)
    closes_at = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = [
            "id",
            "course_id",
            "module_id",
            "group_id",
            "rubric_id",
            "title",
            "description",
            "instructions",
            "points",
            "assignment_type",
            "due_at",
            "allow_late_submission",
            "late_penalty_per_day",
            "max_late_days",
            "closes_at",
            "submission_type",
            "allowed_file_types",
            "max_file_size_mb",
            "max_submissions",
            "is_published",
            "published_at",
            "settings",
            "grade_item_id",
            "posting_policy",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_closes_at(self, assignment) -> str | None:
        if not assignment.allow_late_submission:
            moment = assignment.due_at
        elif assignment.max_late_days is None:
            return None
        else:
            moment = lateness.closes_at(
                due_at=assignment.due_at,
                max_late_days=assignment.max_late_days,
                zone=institution_timezone(),
            )
        return serializers.DateTimeField().to_representation(moment)


# --- submissions -----------------------------------------------------------------


def _web_url(value: str) -> str:
    if value and urlsplit(value).scheme not in ("http", "https"):
        raise serializers.ValidationError("Only http and https URLs are allowed.")
    return value


class SubmissionContentInput(KnownKeysSerializer):
    """A submission's content: what the assignment's `submission_type` takes.
    Fields left out keep the draft's values."""

    text = serializers.CharField(
        max_length=MAX_TEXT, allow_blank=True, trim_whitespace=False, required=False
    )
    url = serializers.URLField(max_length=2000, allow_blank=True, required=False)
    file_ids = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=MAX_FILES,
        required=False,
        help_text="Ids of files the student uploaded (POST /files/upload/, private).",
    )

    def validate_url(self, value: str) -> str:
        return _web_url(value)

    def validate_file_ids(self, value):
        return [str(v) for v in dict.fromkeys(value)]  # repeated ids are one file


class SubmitInput(SubmissionContentInput):
    is_draft = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: save (or update) the student's one draft; false: submit an attempt.",
    )


class SubmissionOutput(serializers.ModelSerializer):
    """One attempt, or the student's draft. `grade` is the grade given for
    this attempt: for the course's staff always, for the student only once
    released (until then it is null, whatever happened)."""

    assignment_id = serializers.UUIDField(read_only=True)
    student = PersonOutput(read_only=True)
    status = serializers.ChoiceField(choices=SubmissionStatus.choices, read_only=True)
    url = serializers.CharField(read_only=True, help_text="An http(s) URL, or empty.")
    files = serializers.SerializerMethodField()
    late_penalty_percent = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        read_only=True,
        help_text="Days late times the assignment's penalty per day, at most 100; "
        "taken off at grading.",
    )
    grade = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id",
            "assignment_id",
            "student",
            "submission_number",
            "status",
            "text",
            "url",
            "files",
            "submitted_at",
            "is_late",
            "days_late",
            "late_penalty_percent",
            "grade",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(FileAttachmentOutput(many=True))
    def get_files(self, submission) -> list[dict]:
        return [file_output(f) for f in submission.files.all()]

    @extend_schema_field(GradeOutput(allow_null=True))
    def get_grade(self, submission) -> dict | None:
        grade = self.context["grades"].get(submission.pk)
        if grade is None:
            return None
        return GradeOutput(grade, context={"letter_scheme": self.context["letter_scheme"]}).data


class SubmissionFileOutput(FileAttachmentOutput):
    download_url = serializers.CharField(
        help_text="A signed URL valid for a few minutes (FILE_URL_SECONDS)."
    )


# --- grading -----------------------------------------------------------------------


class GradeSubmissionInput(KnownKeysSerializer):
    """A grade for a submitted attempt. Points or rubric scores (their sum is
    the points unless points are given), or `excused`. `version`: the grade's
    version the grader read (or send `If-Match`); leave it out, or 0, for the
    first grade."""

    points_earned = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("99999999.99"),
        required=False,
        allow_null=True,
    )
    rubric_scores = serializers.ListField(
        child=serializers.DictField(),
        max_length=100,
        required=False,
        allow_null=True,
        help_text='[{"criterion_id", "rating_id"?, "points"?, "comments"?}], checked against '
        "the assignment's rubric.",
    )
    feedback = serializers.CharField(
        max_length=100_000, allow_blank=True, trim_whitespace=False, required=False
    )
    excused = serializers.BooleanField(required=False, default=False)
    version = serializers.IntegerField(min_value=0, required=False, allow_null=True)
