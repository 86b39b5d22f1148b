"""Input and output shapes of the grading API."""

from datetime import UTC
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.api import PersonOutput, PersonWithEmailOutput
from tenant_apps.grading.calculations import letter_for, percentage
from tenant_apps.grading.models import (
    AssignmentGroup,
    Grade,
    GradeItem,
    GradeRevision,
    ItemKind,
    PostingPolicy,
    Rubric,
)


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


# --- assignment groups, the grading policy -------------------------------------------

PERCENT = {"max_digits": 5, "decimal_places": 2, "min_value": 0, "max_value": 100}
# A total may pass 100 with extra credit.
TOTAL = {"max_digits": 12, "decimal_places": 2, "allow_null": True}


class AssignmentGroupInput(KnownKeysSerializer):
    name = serializers.CharField(max_length=255)
    weight = serializers.DecimalField(
        **PERCENT, required=False, help_text="Percent of the course total when it weights groups."
    )
    position = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)


class AssignmentGroupOutput(serializers.ModelSerializer):
    course_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = AssignmentGroup
        fields = ["id", "course_id", "name", "weight", "position", "created_at", "updated_at"]
        read_only_fields = fields


class LetterInput(KnownKeysSerializer):
    letter = serializers.CharField(max_length=10)
    minimum = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text="The letter applies from this percentage."
    )


class LetterOutput(serializers.Serializer):
    letter = serializers.CharField()
    minimum = serializers.DecimalField(max_digits=5, decimal_places=2)


class GradingPolicyInput(KnownKeysSerializer):
    weight_groups = serializers.BooleanField(
        help_text="The total weights each group's percentage by its weight."
    )
    letter_scheme = LetterInput(
        many=True,
        required=False,
        max_length=50,
        help_text="Letters unique, minimums 0-100 and distinct, one of them 0; "
        "empty or left out means the default scheme.",
    )


class GradingPolicyOutput(serializers.Serializer):
    course_id = serializers.UUIDField()
    weight_groups = serializers.BooleanField()
    letter_scheme = LetterOutput(many=True, help_text="Highest minimum first.")
    is_default_scheme = serializers.BooleanField()


# --- rubrics ---------------------------------------------------------------------------


class RatingSerializer(KnownKeysSerializer):
    id = serializers.CharField(max_length=64, required=False, help_text="Given when left out.")
    description = serializers.CharField(max_length=1000, allow_blank=True)
    points = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)


class CriterionSerializer(KnownKeysSerializer):
    id = serializers.CharField(max_length=64, required=False, help_text="Given when left out.")
    description = serializers.CharField(max_length=1000)
    points = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    ratings = RatingSerializer(many=True, max_length=20)


class RubricInput(KnownKeysSerializer):
    title = serializers.CharField(max_length=255)
    criteria = CriterionSerializer(many=True, max_length=100)
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="PUT only: change the criteria although grades were given with them "
        "(those grades keep their scores); otherwise 409 rubric_in_use.",
    )


class RubricOutput(serializers.ModelSerializer):
    course_id = serializers.UUIDField(read_only=True)
    criteria = CriterionSerializer(many=True, read_only=True)

    class Meta:
        model = Rubric
        fields = [
            "id",
            "course_id",
            "title",
            "criteria",
            "points_possible",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- gradebook items, grades -------------------------------------------------------------


class GradeItemOutput(serializers.ModelSerializer):
    course_id = serializers.UUIDField(read_only=True)
    group_id = serializers.UUIDField(read_only=True, allow_null=True)
    rubric_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = GradeItem
        fields = [
            "id",
            "course_id",
            "kind",
            "source_id",
            "title",
            "points_possible",
            "group_id",
            "rubric_id",
            "due_at",
            "is_published",
            "posting_policy",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class GradeItemPolicyInput(KnownKeysSerializer):
    posting_policy = serializers.ChoiceField(choices=PostingPolicy.choices)
    release_hidden = serializers.BooleanField(
        required=False,
        default=False,
        help_text="With automatic: also release the grades hidden so far "
        "(otherwise they stay hidden until released).",
    )


class ReleaseOutput(serializers.Serializer):
    item_id = serializers.UUIDField()
    changed = serializers.IntegerField(help_text="How many grades changed visibility.")


class RubricScoreInput(KnownKeysSerializer):
    criterion_id = serializers.CharField(max_length=64)
    rating_id = serializers.CharField(max_length=64, required=False, allow_null=True)
    points = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    comments = serializers.CharField(max_length=10_000, required=False, allow_blank=True)


class GradeChangeInput(KnownKeysSerializer):
    """A grader's change. `version` (or an If-Match header with the ETag) is
    the version the grader read."""

    points_earned = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, allow_null=True, required=False
    )
    rubric_scores = RubricScoreInput(many=True, required=False, max_length=100)
    feedback = serializers.CharField(
        max_length=100_000, allow_blank=True, required=False, trim_whitespace=False
    )
    excused = serializers.BooleanField(required=False)
    late_penalty_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        help_text="Override the percent taken off for lateness (0 waives it).",
    )
    version = serializers.IntegerField(min_value=1, required=False)


class GradeRevisionOutput(serializers.ModelSerializer):
    actor = PersonOutput(read_only=True, allow_null=True)

    class Meta:
        model = GradeRevision
        fields = [
            "version",
            "action",
            "actor",
            "submission_id",
            "points_earned",
            "late_penalty_points",
            "score",
            "excused",
            "feedback",
            "rubric_scores",
            "released",
            "created_at",
        ]
        read_only_fields = fields


# --- the gradebook (documentation of the plain dicts the views build) -------------------


class GradebookCellOutput(serializers.Serializer):
    id = serializers.UUIDField(help_text="The grade's id.")
    score = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    excused = serializers.BooleanField()
    released = serializers.BooleanField()
    late = serializers.BooleanField(help_text="A late penalty was taken off.")
    version = serializers.IntegerField()


class GroupTotalOutput(serializers.Serializer):
    current = serializers.DecimalField(**TOTAL)
    final = serializers.DecimalField(**TOTAL)


class TotalsOutput(serializers.Serializer):
    group_totals = serializers.DictField(child=GroupTotalOutput(), help_text="By group id.")
    current_total = serializers.DecimalField(
        **TOTAL, help_text="Percent over graded items; null when nothing is graded."
    )
    final_total = serializers.DecimalField(**TOTAL, help_text="Ungraded items count as zero.")
    letter = serializers.CharField(allow_null=True, help_text="Of the current total.")


class GradebookStudentOutput(TotalsOutput):
    student = PersonWithEmailOutput()
    grades = serializers.DictField(child=GradebookCellOutput(), help_text="By item id.")


class GradebookItemOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    source_id = serializers.UUIDField()
    title = serializers.CharField()
    points_possible = serializers.DecimalField(max_digits=10, decimal_places=2)
    group_id = serializers.UUIDField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    is_published = serializers.BooleanField()
    posting_policy = serializers.ChoiceField(choices=PostingPolicy.choices)


class GradebookGroupOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    weight = serializers.DecimalField(max_digits=5, decimal_places=2)
    position = serializers.IntegerField()


class GradebookOutput(serializers.Serializer):
    course_id = serializers.UUIDField()
    weight_groups = serializers.BooleanField()
    items = GradebookItemOutput(many=True)
    groups = GradebookGroupOutput(many=True)
    students = GradebookStudentOutput(many=True)
    as_of = serializers.DateTimeField(help_text="Pass as updated_since (or graded_since) next.")


class GradebookQuery(serializers.Serializer):
    updated_since = serializers.DateTimeField(
        required=False,
        help_text="Only students with a cell changed (graded, released, hidden) or an "
        "enrollment changed at or after this time, with only those cells; everyone "
        "(with only the changed cells) when the policy, a group or an item changed since.",
    )
    graded_since = serializers.DateTimeField(
        required=False, help_text="As updated_since, for cells graded or regraded since."
    )

    def validate(self, data):
        if len(data) > 1:
            raise serializers.ValidationError("Give updated_since or graded_since, not both.")
        for key, value in data.items():
            try:
                data[key] = value.astimezone(UTC)
            except OverflowError:
                raise serializers.ValidationError({key: ["Out of range."]}) from None
        return data


# --- a student's own grades ----------------------------------------------------------------


class CourseSummaryOutput(serializers.Serializer):
    id = serializers.UUIDField()
    code = serializers.CharField()
    title = serializers.CharField()


class MyItemOutput(GradebookItemOutput):
    grade = GradeOutput(allow_null=True, help_text="Null until a grade is released.")


class MyCourseGradesOutput(TotalsOutput):
    course = CourseSummaryOutput()
    weight_groups = serializers.BooleanField()
    groups = GradebookGroupOutput(many=True)
    items = MyItemOutput(many=True)


class MyGradesOutput(serializers.Serializer):
    courses = MyCourseGradesOutput(many=True)


class MyGradesQuery(serializers.Serializer):
    course = serializers.UUIDField(required=False, help_text="Only this course.")
