"""What quizzes holds of a person, for their data export and erasure: their
attempts and answers."""

from django.utils import timezone

from . import selectors
from .models import Attempt, AttemptStatus


def _shown(attempt: Attempt, now) -> dict:
    """The attempt as its student is shown it: answer keys and marks only as
    the quiz's rules and the grade's release allow, so an export never gives
    away what the quiz page still hides."""
    try:
        shown = selectors.attempt_shown(attempt, staff=False, now=now)
    except KeyError:  # a question of the attempt is gone: its summary only
        released = attempt.status == AttemptStatus.GRADED and selectors.score_released(
            attempt.quiz, attempt.student
        )
        shown = selectors.attempt_summary(attempt, score_shown=released)
    shown.pop("student", None)
    shown.pop("seconds_remaining", None)
    return {
        "quiz": {
            "id": attempt.quiz_id,
            "title": attempt.quiz.title,
            "course_code": attempt.quiz.course.code,
        },
        **shown,
    }


def quiz_attempts_export(user) -> dict:
    now = timezone.now()
    attempts = (
        Attempt.objects.filter(student=user)
        .select_related("quiz__course", "student")
        .order_by("quiz__course__code", "quiz__end_date", "attempt_number", "id")
    )
    return {"attempts": [_shown(attempt, now) for attempt in attempts]}


def quiz_attempts_erase(user, *, keep_academic_records: bool) -> None:
    """An attempt in progress always goes (nothing was handed in). Submitted
    attempts and their answers are academic records: kept with the policy,
    naming the anonymised user; deleted without it."""
    mine = Attempt.objects.filter(student=user)
    if keep_academic_records:
        mine = mine.filter(status=AttemptStatus.IN_PROGRESS)
    mine.delete()
