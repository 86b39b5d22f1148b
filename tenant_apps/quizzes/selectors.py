"""Reads of quizzes: what a caller may see, fetched through the course's
access (a quiz, attempt or response the caller may not see is a 404), with
what a list shows computed in the same query."""

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from tenant_apps.courses.api import CourseAccess, course_access_or_404
from tenant_apps.grading.api import Grade, GradeItem, ItemKind, released_to_student

from . import policies
from .marking import percentage
from .models import CHOICE_TYPES, Attempt, AttemptStatus, Question, QuestionType, Quiz, Response


def _item_of_quiz() -> QuerySet:
    return GradeItem.objects.filter(kind=ItemKind.QUIZ, source_id=OuterRef("pk"))


def quizzes_for(access: CourseAccess) -> QuerySet:
    """The course's live quizzes the caller may see (students: published ones),
    by end date, with their gradebook column's id and posting policy and
    their question count."""
    queryset = (
        Quiz.objects.filter(course=access.course, deleted_at__isnull=True)
        .annotate(
            grade_item_id=Subquery(_item_of_quiz().values("pk")[:1]),
            posting_policy=Subquery(_item_of_quiz().values("posting_policy")[:1]),
            question_count=Count("questions"),
        )
        .order_by("end_date", "created_at", "id")
    )
    if not policies.can_see_drafts(access):
        queryset = queryset.filter(is_published=True)
    return queryset


def _content_access_or_404(user, course_id) -> CourseAccess:
    access = course_access_or_404(user, course_id)
    if not access.can_view_content:
        raise Http404
    return access


def quiz_visible_or_404(user, quiz_id) -> tuple[CourseAccess, Quiz]:
    course_id = (
        Quiz.objects.filter(pk=quiz_id, deleted_at__isnull=True)
        .values_list("course_id", flat=True)
        .first()
    )
    if course_id is None:
        raise Http404
    access = _content_access_or_404(user, course_id)
    quiz = quizzes_for(access).filter(pk=quiz_id).first()
    if quiz is None:
        raise Http404
    return access, quiz


def question_visible_or_404(user, question_id) -> tuple[CourseAccess, Question]:
    """Questions with their keys are the staff's: anyone else gets a 404."""
    quiz_id = Question.objects.filter(pk=question_id).values_list("quiz_id", flat=True).first()
    if quiz_id is None:
        raise Http404
    access, quiz = quiz_visible_or_404(user, quiz_id)
    if not policies.can_see_drafts(access):
        raise Http404
    question = Question.objects.get(pk=question_id)
    question.quiz = quiz
    return access, question


def questions_of(quiz: Quiz) -> QuerySet:
    return Question.objects.filter(quiz=quiz).order_by("position", "created_at", "id")


def attempts_for(access: CourseAccess, quiz: Quiz) -> QuerySet:
    """Staff: every attempt at the quiz; a student: their own."""
    queryset = Attempt.objects.filter(quiz=quiz).select_related("student")
    if not policies.can_see_drafts(access):
        queryset = queryset.filter(student=access.user)
    return queryset.order_by("student__last_name", "student_id", "attempt_number")


def attempt_visible_or_404(user, attempt_id) -> tuple[CourseAccess, Attempt]:
    """An attempt is its student's and the course staff's; another student,
    or anyone who may not see the quiz, gets a 404."""
    row = Attempt.objects.filter(pk=attempt_id).values_list("quiz_id", "student_id").first()
    if row is None:
        raise Http404
    access, quiz = quiz_visible_or_404(user, row[0])
    if not policies.can_see_drafts(access) and row[1] != user.pk:
        raise Http404
    attempt = Attempt.objects.select_related("student").get(pk=attempt_id)
    attempt.quiz = quiz
    return access, attempt


def response_visible_or_404(user, response_id) -> tuple[CourseAccess, Response]:
    attempt_id = (
        Response.objects.filter(pk=response_id).values_list("attempt_id", flat=True).first()
    )
    if attempt_id is None:
        raise Http404
    access, attempt = attempt_visible_or_404(user, attempt_id)
    response = Response.objects.select_related("question", "grader").get(pk=response_id)
    response.attempt = attempt
    return access, response


def responses_by_question(attempt: Attempt) -> dict[str, Response]:
    return {
        str(r.question_id): r
        for r in Response.objects.filter(attempt=attempt).select_related("grader")
    }


def questions_by_id(attempt: Attempt) -> dict[str, Question]:
    return {str(pk): q for pk, q in Question.objects.in_bulk(attempt.question_order).items()}


def score_released(quiz: Quiz, student) -> bool:
    """The student's grade for the quiz is released to them: only then do they
    see their attempts' scores."""
    return Grade.objects.filter(
        released_to_student(),
        item__kind=ItemKind.QUIZ,
        item__source_id=quiz.pk,
        student=student,
    ).exists()


def grading_queue(access: CourseAccess) -> QuerySet:
    """Answered essays of submitted attempts waiting for their grader, in the
    course's live quizzes, oldest submission first."""
    return (
        Response.objects.filter(
            attempt__quiz__course=access.course,
            attempt__quiz__deleted_at__isnull=True,
            attempt__status=AttemptStatus.NEEDS_GRADING,
            question__type=QuestionType.ESSAY,
            points_earned__isnull=True,
        )
        .exclude(answer=None)
        .select_related("attempt__student", "attempt__quiz", "question")
        .order_by("attempt__submitted_at", "attempt_id", "question__position", "id")
    )


# --- statistics -----------------------------------------------------------------------


def _closed_responses(quiz: Quiz) -> QuerySet:
    return Response.objects.filter(attempt__quiz=quiz).exclude(
        attempt__status=AttemptStatus.IN_PROGRESS
    )


def quiz_statistics(quiz: Quiz) -> dict:
    """Per question of the quiz, over submitted attempts: responses, how many
    were answered, right, and graded, the average points, and for choice and
    true/false questions how often each option was chosen. Three grouped
    queries whatever the number of questions and attempts."""
    totals = {
        row["question_id"]: row
        for row in _closed_responses(quiz)
        .order_by()
        .values("question_id")
        .annotate(
            responses=Count("id"),
            answered=Count("id", filter=~Q(answer=None)),
            correct=Count("id", filter=Q(is_correct=True)),
            graded=Count("id", filter=Q(points_earned__isnull=False)),
            average_points=Avg("points_earned"),
        )
    }
    chosen = _choices_counted(quiz)
    attempts = (
        Attempt.objects.filter(quiz=quiz)
        .exclude(status=AttemptStatus.IN_PROGRESS)
        .aggregate(
            submitted=Count("id"),
            graded=Count("id", filter=Q(status=AttemptStatus.GRADED)),
            average_score=Avg("score", filter=Q(status=AttemptStatus.GRADED)),
        )
    )
    questions = [_question_statistics(q, totals.get(q.pk), chosen) for q in questions_of(quiz)]
    return {
        "quiz_id": quiz.pk,
        "points": quiz.points,
        "attempt_count": attempts["submitted"],
        "graded_attempt_count": attempts["graded"],
        "average_score": attempts["average_score"],
        "questions": questions,
    }


def _choices_counted(quiz: Quiz) -> dict:
    """{question id: {option id or "true"/"false": count}}: answers grouped
    as stored (a multiple-choice answer is its sorted list, so the groups are
    the combinations chosen), then split into options."""
    rows = (
        _closed_responses(quiz)
        .filter(question__type__in=[*CHOICE_TYPES, QuestionType.TRUE_FALSE])
        .exclude(answer=None)
        .order_by()
        .values("question_id", "answer")
        .annotate(n=Count("id"))
    )
    counted: dict = {}
    for row in rows:
        per_option = counted.setdefault(row["question_id"], {})
        answer = row["answer"]
        for option in answer if isinstance(answer, list) else [answer]:
            key = str(option).lower() if isinstance(option, bool) else option
            per_option[key] = per_option.get(key, 0) + row["n"]
    return counted


def _question_statistics(question: Question, total: dict | None, chosen: dict) -> dict:
    total = total or {"responses": 0, "answered": 0, "correct": 0, "graded": 0}
    responses = total["responses"]
    stats = {
        "question_id": question.pk,
        "position": question.position,
        "type": question.type,
        "text": question.text,
        "points": question.points,
        "response_count": responses,
        "answered_count": total["answered"],
        "correct_count": total["correct"],
        "correct_ratio": round(total["correct"] / responses, 4) if responses else None,
        "graded_count": total["graded"],
        "average_points": total.get("average_points"),
        "options": None,
    }
    if question.type in (*CHOICE_TYPES, QuestionType.TRUE_FALSE):
        counts = chosen.get(question.pk, {})
        options = question.options
        if question.type == QuestionType.TRUE_FALSE:
            options = [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}]
        stats["options"] = [
            {"id": o["id"], "text": o["text"], "count": counts.get(o["id"], 0)} for o in options
        ]
    return stats


# --- what a caller is shown of an attempt ---------------------------------------------


def attempt_summary(attempt: Attempt, *, score_shown: bool) -> dict:
    """An attempt as a list shows it; `score` and `percentage` only when
    `score_shown` (staff always; the student once their grade is released)."""
    summary = {
        "id": attempt.pk,
        "quiz_id": attempt.quiz_id,
        "student": attempt.student,
        "attempt_number": attempt.attempt_number,
        "status": attempt.status,
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "submitted_at": attempt.submitted_at,
        "points_possible": attempt.quiz.points,
        "score_visible": score_shown,
        "updated_at": attempt.updated_at,
    }
    if score_shown:
        summary["score"] = attempt.score
        summary["percentage"] = percentage(attempt.score, attempt.quiz.points)
    return summary


def attempt_shown(attempt: Attempt, *, staff: bool, now) -> dict:
    """The attempt with its questions in the attempt's own order and each
    question's options in the attempt's order, as the caller may see it.

    A student gets the answer key and explanations only once the quiz's rule
    discloses them for this (submitted) attempt; their score, and per
    question whether they were right and the points, only once their grade is
    released as well (points per question would otherwise add up to an
    unreleased grade, and right/wrong would give away a key the rule hides).
    What is hidden is left out of the answer, not sent empty."""
    quiz = attempt.quiz
    disclosed = staff or policies.answers_disclosed(quiz, attempt, now)
    released = staff or (
        attempt.status == AttemptStatus.GRADED and score_released(quiz, attempt.student)
    )
    marks_shown = staff or (disclosed and released)
    questions = questions_by_id(attempt)
    responses = responses_by_question(attempt)
    shown = []
    for number, question_id in enumerate(attempt.question_order, start=1):
        question = questions[question_id]
        response = responses.get(question_id)
        item = _question_shown(attempt, question, response, number)
        if marks_shown:
            item["is_correct"] = response.is_correct if response else None
            item["points_earned"] = response.points_earned if response else None
        if released:
            item["feedback"] = response.feedback if response else ""
        if disclosed:
            item["correct"] = question.correct
            item["explanation"] = question.explanation
        shown.append(item)
    remaining = None
    if attempt.status == AttemptStatus.IN_PROGRESS:
        remaining = max(0, int((attempt.deadline_at - now).total_seconds()))
    return {
        **attempt_summary(attempt, score_shown=released),
        "answers_visible": disclosed,
        "allow_backtracking": quiz.allow_backtracking,
        "seconds_remaining": remaining,
        "questions": shown,
    }


def _question_shown(attempt: Attempt, question: Question, response, number: int) -> dict:
    options = {option["id"]: option for option in question.options}
    answer = response.answer if response else None
    return {
        "question_id": question.pk,
        "response_id": response.pk if response else None,
        "number": number,
        "type": question.type,
        "text": question.text,
        "points": question.points,
        "options": [options[i] for i in attempt.option_order.get(str(question.pk), [])],
        "answer": answer,
        "locked": attempt.status != AttemptStatus.IN_PROGRESS
        or (not attempt.quiz.allow_backtracking and answer is not None),
    }


def quiz_due_dates(accesses, *, due_from, due_before, now=None) -> list[Quiz]:
    """For calendars: the live quizzes whose end date (their due date) is in
    [due_from, due_before) in the courses of `accesses` (one caller's
    `CourseAccess` per course), as that caller may see them (staff every one,
    students the published ones), by end date. Each has `submission_status`
    for a caller who takes quizzes in its course: "graded" (a grade released
    to them), "submitted" (an attempt closed, or its time run out),
    "in_progress", "not_submitted"; None for the staff. One query."""
    accesses = [a for a in accesses if a.can_view_content]
    if not accesses:
        return []
    now = now or timezone.now()
    user = accesses[0].user
    by_course = {access.course.pk: access for access in accesses}
    staff = [pk for pk, a in by_course.items() if policies.can_see_drafts(a)]
    students = [pk for pk, a in by_course.items() if pk not in staff]
    mine = Attempt.objects.filter(quiz=OuterRef("pk"), student=user)
    quizzes = (
        Quiz.objects.filter(
            Q(course_id__in=staff) | Q(course_id__in=students, is_published=True),
            deleted_at__isnull=True,
            end_date__gte=due_from,
            end_date__lt=due_before,
        )
        .annotate(
            caller_closed=Exists(
                mine.filter(~Q(status=AttemptStatus.IN_PROGRESS) | Q(deadline_at__lte=now))
            ),
            caller_started=Exists(mine),
            caller_graded=Exists(
                Grade.objects.filter(
                    released_to_student(),
                    item__kind=ItemKind.QUIZ,
                    item__source_id=OuterRef("pk"),
                    student=user,
                )
            ),
        )
        .order_by("end_date", "title", "id")
    )
    found = list(quizzes)
    for quiz in found:
        if not policies.can_take(by_course[quiz.course_id]):
            quiz.submission_status = None
        elif quiz.caller_graded:
            quiz.submission_status = "graded"
        elif quiz.caller_closed:
            quiz.submission_status = "submitted"
        elif quiz.caller_started:
            quiz.submission_status = "in_progress"
        else:
            quiz.submission_status = "not_submitted"
    return found
