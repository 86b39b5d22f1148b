"""Input and output shapes of the grading API."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenant_apps.accounts.api import PersonOutput
from tenant_apps.grading.calculations import letter_for, percentage
from tenant_apps.grading.models import Grade


class GradeOutput(serializers.ModelSerializer):
    """One student's grade for one item. Serialise with context
    `letter_scheme` (calculations.letter_scheme_of(course)). Students are only
    ever given released grades; callers decide that before serialising."""

    item_id = serializers.UUIDField(read_only=True)
    student = PersonOutput(read_only=True)
    grader = PersonOutput(read_only=True, allow_null=True)
    points_possible = serializers.DecimalField(
        source="item.points_possible", max_digits=10, decimal_places=2, read_only=True
    )
    percentage = serializers.SerializerMethodField()
    letter_grade = serializers.SerializerMethodField()
    released = serializers.SerializerMethodField()

    class Meta:
        model = Grade
        fields = [
            "id",
            "item_id",
            "student",
            "submission_id",
            "grader",
            "points_earned",
            "late_penalty_percent",
            "late_penalty_points",
            "score",
            "points_possible",
            "percentage",
            "letter_grade",
            "excused",
            "feedback",
            "rubric_scores",
            "graded_at",
            "released",
            "released_at",
            "version",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True))
    def get_percentage(self, grade) -> Decimal | None:
        value = percentage(grade.score, grade.item.points_possible)
        return None if value is None else str(value)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_letter_grade(self, grade) -> str | None:
        return letter_for(
            percentage(grade.score, grade.item.points_possible), self.context["letter_scheme"]
        )

    def get_released(self, grade) -> bool:
        return grade.released_at is not None
