"""The course copy step of quizzes (registered in QuizzesConfig.ready, order
30: after modules, 10, so a quiz follows its module into the copy; before the
content items that point at quizzes are remapped, 40)."""

from tenant_apps.courses.api import CopyContext
from tenant_apps.grading.api import ItemKind, grade_item_for

from .models import Question, Quiz
from .services import item_sync


def _shifted(value, context: CopyContext):
    """The date moved by the copy's shift; one that would leave the calendar
    (a far-future "never" date) stays as it is."""
    if value is None:
        return None
    try:
        return value + context.date_shift
    except OverflowError:
        return value


def quizzes_copy(context: CopyContext) -> None:
    """The source's live quizzes with their questions (no attempts) into the
    target. Flags are kept as they are (a published quiz stays published, like
    modules) and every date moves by the copy's date shift; each copy gets its
    gradebook column with the source column's posting policy. Assignment
    groups come along only if a step before has copied them ("assignment_group"
    in the id map); otherwise the copy has none."""
    quizzes = list(
        Quiz.objects.filter(course=context.source, deleted_at__isnull=True).order_by(
            "created_at", "id"
        )
    )
    modules = context.id_map.get("module", {})
    groups = context.id_map.get("assignment_group", {})
    copies = []
    for quiz in quizzes:
        copy = Quiz(
            course=context.target,
            module_id=modules.get(quiz.module_id),
            group_id=groups.get(quiz.group_id),
            **{field: getattr(quiz, field) for field in _KEPT},
            **{field: _shifted(getattr(quiz, field), context) for field in _DATES},
        )
        copies.append(copy)
        context.remember("quiz", quiz.id, copy.id)
    Quiz.objects.bulk_create(copies)

    new_quiz = context.id_map.get("quiz", {})
    Question.objects.bulk_create(
        Question(
            quiz_id=new_quiz[question.quiz_id],
            **{field: getattr(question, field) for field in _QUESTION_FIELDS},
        )
        for question in Question.objects.filter(quiz__in=quizzes).order_by("quiz_id", "position")
    )
    for source, copy in zip(quizzes, copies, strict=True):
        copy.course = context.target
        item = grade_item_for(kind=ItemKind.QUIZ, source_id=source.pk)
        item_sync(copy, posting_policy=item.posting_policy if item else None)


_KEPT = (
    "title",
    "description",
    "points",
    "time_limit_minutes",
    "attempt_limit",
    "scoring_policy",
    "shuffle_questions",
    "shuffle_answers",
    "show_correct_answers",
    "allow_backtracking",
    "is_published",
)
_DATES = ("show_correct_answers_after", "start_date", "end_date", "published_at")
_QUESTION_FIELDS = (
    "type",
    "text",
    "points",
    "position",
    "options",
    "correct",
    "case_sensitive",
    "explanation",
)
