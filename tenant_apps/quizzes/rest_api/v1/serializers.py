"""Input and output shapes of the quizzes API.

What a caller may not see of an attempt (answer keys, explanations, scores,
marks) is left out of the object, not nulled, and optional in the schema (see
tenant_apps.quizzes.selectors.attempt_shown for the rules).
"""

from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.api import PersonOutput
from tenant_apps.grading.api import PostingPolicy
from tenant_apps.quizzes.marking import MAX_ESSAY
from tenant_apps.quizzes.models import (
    AttemptStatus,
    Question,
    QuestionType,
    Quiz,
    ScoringPolicy,
    ShowCorrectAnswers,
)

MAX_TEXT = 100_000
MAX_ANSWERS = 500


class _PresentKeysSerializer(serializers.Serializer):
    """Serialises a dict, leaving out the optional fields it does not carry."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return {
            key: value
            for key, value in data.items()
            if key in instance or self.fields[key].required
        }


def _points_field(**kwargs):
    return serializers.DecimalField(max_digits=10, decimal_places=2, **kwargs)


# --- quizzes --------------------------------------------------------------------------


class QuizInput(KnownKeysSerializer):
    """A quiz as its author writes it; unknown keys are refused. Its points are
    the sum of its questions' and are not written here."""

    title = serializers.CharField(max_length=255)
    description = serializers.CharField(
        max_length=MAX_TEXT, allow_blank=True, required=False, trim_whitespace=False
    )
    module_id = serializers.UUIDField(required=False, allow_null=True)
    group_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="An assignment group of the course."
    )
    time_limit_minutes = serializers.IntegerField(
        min_value=1, max_value=10_080, required=False, allow_null=True, help_text="Empty: untimed."
    )
    attempt_limit = serializers.IntegerField(
        min_value=1, max_value=100, required=False, allow_null=True, help_text="Empty: unlimited."
    )
    scoring_policy = serializers.ChoiceField(choices=ScoringPolicy.choices, required=False)
    shuffle_questions = serializers.BooleanField(required=False)
    shuffle_answers = serializers.BooleanField(required=False)
    show_correct_answers = serializers.ChoiceField(
        choices=ShowCorrectAnswers.choices, required=False
    )
    show_correct_answers_after = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Required with show_correct_answers=after_date."
    )
    allow_backtracking = serializers.BooleanField(required=False)
    start_date = serializers.DateTimeField(required=False, allow_null=True)
    end_date = serializers.DateTimeField(help_text="The due date: no attempt runs past it.")
    is_published = serializers.BooleanField(required=False)
    posting_policy = serializers.ChoiceField(
        choices=PostingPolicy.choices,
        required=False,
        help_text="How the quiz's grades reach students (its gradebook column's): automatic "
        "at once, or manual, when released. New quizzes: manual.",
    )

    def validate(self, data):
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end <= start:
            raise serializers.ValidationError({"end_date": ["Must be later than start_date."]})
        return data


class QuizOutput(serializers.ModelSerializer):
    course_id = serializers.UUIDField(read_only=True)
    module_id = serializers.UUIDField(read_only=True, allow_null=True)
    group_id = serializers.UUIDField(read_only=True, allow_null=True)
    question_count = serializers.IntegerField(read_only=True)
    grade_item_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The quiz's gradebook column."
    )
    posting_policy = serializers.ChoiceField(
        choices=PostingPolicy.choices, read_only=True, allow_null=True
    )

    class Meta:
        model = Quiz
        fields = [
            "id",
            "course_id",
            "module_id",
            "group_id",
            "title",
            "description",
            "points",
            "question_count",
            "time_limit_minutes",
            "attempt_limit",
            "scoring_policy",
            "shuffle_questions",
            "shuffle_answers",
            "show_correct_answers",
            "show_correct_answers_after",
            "allow_backtracking",
            "start_date",
            "end_date",
            "is_published",
            "published_at",
            "grade_item_id",
            "posting_policy",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- questions ------------------------------------------------------------------------


class OptionInput(KnownKeysSerializer):
    id = serializers.CharField(
        max_length=64,
        help_text="An option already stored keeps its id; any other id is a label for a new "
        "option, which is stored under a new random id (so ids never tell students the "
        "order the author wrote). Name options in `correct` by these ids.",
    )
    text = serializers.CharField(max_length=2_000)


class OptionOutput(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()


class QuestionInput(KnownKeysSerializer):
    """A question and its answer key; unknown keys are refused."""

    type = serializers.ChoiceField(choices=QuestionType.choices)
    text = serializers.CharField(max_length=20_000, trim_whitespace=False)
    points = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=0, max_value=999_999
    )
    position = serializers.IntegerField(
        min_value=0, max_value=100_000, required=False, help_text="Default: after the last."
    )
    options = serializers.ListField(
        child=OptionInput(), required=False, max_length=50, help_text="Choice questions: 2 to 50."
    )
    correct = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="The answer key: the correct option's id (single_choice), a list of the "
        "correct options' ids (multiple_choice), true or false (true_false), a list of "
        "accepted answers (short_answer), null (essay).",
    )
    case_sensitive = serializers.BooleanField(required=False)
    explanation = serializers.CharField(
        max_length=20_000, allow_blank=True, required=False, trim_whitespace=False
    )

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class QuestionOutput(serializers.ModelSerializer):
    """A question with its answer key: the course's staff only."""

    quiz_id = serializers.UUIDField(read_only=True)
    options = OptionOutput(many=True, read_only=True)
    correct = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = Question
        fields = [
            "id",
            "quiz_id",
            "type",
            "text",
            "points",
            "position",
            "options",
            "correct",
            "case_sensitive",
            "explanation",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# --- attempts -------------------------------------------------------------------------


class AnswerInput(KnownKeysSerializer):
    question_id = serializers.UUIDField()
    answer = serializers.JSONField(
        allow_null=True,
        help_text="An option id (single_choice), a list of option ids (multiple_choice), "
        "true or false, or text (short_answer, essay); null clears the answer.",
    )


class AnswersInput(KnownKeysSerializer):
    answers = serializers.ListField(child=AnswerInput(), max_length=MAX_ANSWERS)

    def validate_answers(self, value):
        ids = [item["question_id"] for item in value]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Each question at most once.")
        return value


class AttemptSummaryOutput(_PresentKeysSerializer):
    """An attempt. `score` and `percentage` are there for the course's staff,
    and for the student once their grade for the quiz is released."""

    id = serializers.UUIDField()
    quiz_id = serializers.UUIDField()
    student = PersonOutput()
    attempt_number = serializers.IntegerField()
    status = serializers.ChoiceField(choices=AttemptStatus.choices)
    started_at = serializers.DateTimeField()
    deadline_at = serializers.DateTimeField(
        help_text="The server closes the attempt then (time limit or end date)."
    )
    submitted_at = serializers.DateTimeField(allow_null=True)
    points_possible = _points_field()
    score_visible = serializers.BooleanField()
    score = _points_field(required=False, allow_null=True)
    percentage = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False, allow_null=True
    )
    updated_at = serializers.DateTimeField()


class AttemptQuestionOutput(_PresentKeysSerializer):
    """A question as the attempt shows it: `number` in the attempt's order,
    options in the attempt's order. `is_correct`, `points_earned`, `feedback`,
    `correct` and `explanation` are there only when the caller may see them."""

    question_id = serializers.UUIDField()
    response_id = serializers.UUIDField(allow_null=True)
    number = serializers.IntegerField()
    type = serializers.ChoiceField(choices=QuestionType.choices)
    text = serializers.CharField()
    points = _points_field()
    options = OptionOutput(many=True)
    answer = serializers.JSONField(allow_null=True)
    locked = serializers.BooleanField(help_text="The answer can no longer change.")
    is_correct = serializers.BooleanField(required=False, allow_null=True)
    points_earned = _points_field(required=False, allow_null=True)
    feedback = serializers.CharField(required=False)
    correct = serializers.JSONField(required=False, allow_null=True)
    explanation = serializers.CharField(required=False)


class AttemptOutput(AttemptSummaryOutput):
    answers_visible = serializers.BooleanField(
        help_text="The answer key and explanations are shown."
    )
    allow_backtracking = serializers.BooleanField()
    seconds_remaining = serializers.IntegerField(
        allow_null=True, help_text="Until the deadline, by the server's clock; null when closed."
    )
    questions = AttemptQuestionOutput(many=True)


# --- grading --------------------------------------------------------------------------


class ResponseGradeInput(KnownKeysSerializer):
    points = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=0, help_text="At most the question's points."
    )
    feedback = serializers.CharField(
        max_length=20_000, allow_blank=True, required=False, trim_whitespace=False
    )


class ResponseOutput(serializers.Serializer):
    id = serializers.UUIDField()
    attempt_id = serializers.UUIDField()
    question_id = serializers.UUIDField()
    answer = serializers.JSONField(allow_null=True)
    is_correct = serializers.BooleanField(allow_null=True)
    points_earned = _points_field(allow_null=True)
    grader = PersonOutput(allow_null=True)
    feedback = serializers.CharField()
    graded_at = serializers.DateTimeField(allow_null=True)
    attempt_status = serializers.ChoiceField(choices=AttemptStatus.choices, source="attempt.status")
    attempt_score = _points_field(source="attempt.score", allow_null=True)


class GradingQueueOutput(serializers.Serializer):
    """An answered essay waiting for its grader."""

    response_id = serializers.UUIDField(source="id")
    attempt_id = serializers.UUIDField()
    attempt_number = serializers.IntegerField(source="attempt.attempt_number")
    submitted_at = serializers.DateTimeField(source="attempt.submitted_at")
    quiz_id = serializers.UUIDField(source="attempt.quiz_id")
    quiz_title = serializers.CharField(source="attempt.quiz.title")
    student = PersonOutput(source="attempt.student")
    question_id = serializers.UUIDField()
    question_text = serializers.CharField(source="question.text")
    points_possible = _points_field(source="question.points")
    answer = serializers.CharField(max_length=MAX_ESSAY)


# --- statistics -----------------------------------------------------------------------


class OptionCountOutput(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    count = serializers.IntegerField()


class QuestionStatisticsOutput(serializers.Serializer):
    question_id = serializers.UUIDField()
    position = serializers.IntegerField()
    type = serializers.ChoiceField(choices=QuestionType.choices)
    text = serializers.CharField()
    points = _points_field()
    response_count = serializers.IntegerField(help_text="Submitted attempts with this question.")
    answered_count = serializers.IntegerField()
    correct_count = serializers.IntegerField()
    correct_ratio = serializers.FloatField(
        allow_null=True, help_text="correct_count / response_count (unanswered count as wrong)."
    )
    graded_count = serializers.IntegerField()
    average_points = _points_field(allow_null=True, help_text="Over the graded responses.")
    options = OptionCountOutput(
        many=True,
        allow_null=True,
        help_text="Choice and true/false questions: how often each option was chosen.",
    )


class QuizStatisticsOutput(serializers.Serializer):
    quiz_id = serializers.UUIDField()
    points = _points_field()
    attempt_count = serializers.IntegerField(help_text="Submitted attempts.")
    graded_attempt_count = serializers.IntegerField()
    average_score = _points_field(allow_null=True, help_text="Over the graded attempts.")
    questions = QuestionStatisticsOutput(many=True)
