"""Who may do what with quizzes, on top of the course's one `CourseAccess`
(tenant_apps.courses.api), and what a student may be shown of an attempt."""

from django.utils import timezone

from tenant_apps.courses.api import CourseAccess

from .models import Attempt, AttemptStatus, Quiz, ShowCorrectAnswers


def can_see_drafts(access: CourseAccess) -> bool:
    """Unpublished quizzes, questions with their answer keys, everyone's
    attempts and scores: the course's teaching staff."""
    return access.is_staff


def can_edit_quiz(access: CourseAccess) -> bool:
    """Quizzes and their questions: the instructor and admins."""
    return access.can_edit


def can_grade(access: CourseAccess) -> bool:
    """Essay grading, the grading queue, statistics: the course's teaching
    staff (admins, the instructor, TAs and graders)."""
    return access.can_grade


def can_take(access: CourseAccess) -> bool:
    """Students holding a seat in the published course (the staff do not take
    quizzes: they could not be graded)."""
    return access.can_view_content and access.is_learner and not access.is_staff


def answers_disclosed(quiz: Quiz, attempt: Attempt, now=None) -> bool:
    """A student may see the answer key and explanations of their attempt: never
    while it is in progress, then as the quiz's rule says."""
    if attempt.status == AttemptStatus.IN_PROGRESS:
        return False
    now = now or timezone.now()
    rule = quiz.show_correct_answers
    if rule == ShowCorrectAnswers.AFTER_SUBMISSION:
        return True
    if rule == ShowCorrectAnswers.AFTER_DUE:
        return now >= quiz.end_date
    if rule == ShowCorrectAnswers.AFTER_DATE:
        after = quiz.show_correct_answers_after
        return after is not None and now >= after
    return False
