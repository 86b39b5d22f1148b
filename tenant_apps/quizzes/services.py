"""Every write to quizzes, questions, attempts and responses. Who may call
them is decided before (tenant_apps.quizzes.policies and the course's
CourseAccess); these keep the data's own rules.

Time is the server's: an attempt's deadline is checked against the server
clock on every write, and an attempt past it is closed (graded with what was
saved) by whatever touches it first: a read, a write, the task queued for its
deadline, or the sweep beat runs every minute.

Locks, always taken in this order so they cannot deadlock:
1. the quiz's row: FOR NO KEY UPDATE by quiz and question changes, FOR SHARE
   by attempt starts, so starts of many students run side by side but never
   beside a change to the questions they are drawn from;
2. the student's enrollment row in the course: every write to a student's
   attempts (start, answers, submit, close, grading) holds it, so the attempt
   limit holds, a double submit grades once, and two attempts being graded at
   once cannot keep a stale score in the gradebook;
3. the attempt's row;
4. the quiz's gradebook item and grades (tenant_apps.grading), last.
"""

import secrets
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import Max, Sum
from django.db.models.functions import Least
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from tenant_apps.activity.api import ActivityType, activity_record
from tenant_apps.content.api import Module
from tenant_apps.courses.api import Course, Enrollment, course_material_writable, seat_holder
from tenant_apps.grading.api import (
    AssignmentGroup,
    GradeInput,
    ItemKind,
    grade_item_delete,
    grade_item_for,
    grade_item_sync,
    grade_save,
)

from .marking import CENT, answer_clean, kept_score, mark, question_key_clean
from .models import (
    CHOICE_TYPES,
    Attempt,
    AttemptStatus,
    Question,
    QuestionType,
    Quiz,
    Response,
    ShowCorrectAnswers,
)

# A close task is queued at the deadline only when the deadline is nearer than
# this: Redis redelivers a message held unacknowledged longer than its
# visibility timeout (an hour by default), so farther deadlines are left to the
# minutely sweep (attempts_overdue_close) instead of circulating for days.
CLOSE_TASK_HORIZON = timedelta(minutes=55)
MAX_QUESTIONS = 500

QUIZ_FIELDS = (
    "title",
    "description",
    "module",
    "group",
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
)
# What decides a question's grade: frozen once the quiz has attempts.
GRADING_FIELDS = ("type", "points", "options", "correct", "case_sensitive")
QUESTION_FIELDS = (*GRADING_FIELDS, "text", "position", "explanation")


def _gone(what: str) -> ApplicationError:
    return ApplicationError(
        f"This {what} no longer exists.", code="not_found", status=status.HTTP_404_NOT_FOUND
    )


def _unknown_fields(changes: dict, allowed: tuple[str, ...]) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")


# --- locks ----------------------------------------------------------------------------


def _quiz_locked(quiz_id) -> Quiz:
    quiz = (
        Quiz.objects.select_for_update(no_key=True)
        .select_related("course")
        .filter(pk=quiz_id, deleted_at__isnull=True)
        .first()
    )
    if quiz is None:
        raise _gone("quiz")
    return quiz


def _quiz_shared(quiz_id) -> Quiz:
    """The quiz, locked FOR SHARE (Django's select_for_update has no shared
    mode): other starts go on, question changes wait."""
    table = connection.ops.quote_name(Quiz._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR SHARE", [quiz_id])  # noqa: S608
    quiz = Quiz.objects.select_related("course").filter(pk=quiz_id, deleted_at__isnull=True).first()
    if quiz is None:
        raise _gone("quiz")
    return quiz


def _student_lock(course_id, student) -> None:
    Enrollment.objects.select_for_update(no_key=True).filter(
        course_id=course_id, user=student
    ).first()


def _attempt_locked(attempt: Attempt) -> Attempt:
    _student_lock(attempt.quiz.course_id, attempt.student_id)
    locked = (
        Attempt.objects.select_for_update(no_key=True, of=("self",))
        .select_related("quiz__course")
        .filter(pk=attempt.pk)
        .first()
    )
    if locked is None:
        raise _gone("attempt")
    return locked


# --- quizzes --------------------------------------------------------------------------


def item_sync(quiz: Quiz, *, posting_policy: str | None = None) -> None:
    """The quiz's gradebook column, in step with the quiz."""
    grade_item_sync(
        kind=ItemKind.QUIZ,
        source_id=quiz.pk,
        course=quiz.course,
        title=quiz.title,
        points_possible=quiz.points,
        group=quiz.group,
        due_at=quiz.end_date,
        is_published=quiz.is_published,
        posting_policy=posting_policy,
    )


def _quiz_check(quiz: Quiz) -> None:
    if quiz.start_date is not None and quiz.end_date <= quiz.start_date:
        raise ApplicationError(
            "A quiz must end after it starts.",
            code="invalid",
            fields={"end_date": ["Must be later than start_date."]},
        )
    if (
        quiz.show_correct_answers == ShowCorrectAnswers.AFTER_DATE
        and quiz.show_correct_answers_after is None
    ):
        raise ApplicationError(
            "Say from when the correct answers are shown.",
            code="invalid",
            fields={"show_correct_answers_after": ["Required with after_date."]},
        )
    for name, other in (("module", quiz.module), ("group", quiz.group)):
        if other is not None and other.course_id != quiz.course_id:
            raise ApplicationError(
                f"The {name} belongs to another course.",
                code="invalid",
                fields={f"{name}_id": [f"Not a {name} of this course."]},
            )


@transaction.atomic
def quiz_create(*, course: Course, posting_policy: str | None = None, **fields) -> Quiz:
    """A quiz without questions (0 points) and its gradebook column. Published
    now: published_at is now."""
    _unknown_fields(fields, QUIZ_FIELDS)
    course_material_writable(course)
    quiz = Quiz(course=course, **fields)
    if quiz.is_published:
        quiz.published_at = timezone.now()
    _quiz_check(quiz)
    quiz.save(force_insert=True)
    item_sync(quiz, posting_policy=posting_policy)
    return quiz


@transaction.atomic
def quiz_update(*, quiz: Quiz, posting_policy: str | None = None, **changes) -> Quiz:
    """Changes settings of the quiz. Started attempts keep their questions,
    order and deadline, except that an end date moved earlier pulls their
    deadlines in with it. A new scoring policy recomputes every student's kept
    score. A quiz with attempts cannot be unpublished (409
    `quiz_has_attempts`): its students would lose sight of their attempts."""
    _unknown_fields(changes, QUIZ_FIELDS)
    quiz = _quiz_locked(quiz.pk)
    course_material_writable(quiz.course)
    was_published, old_policy = quiz.is_published, quiz.scoring_policy
    for field, value in changes.items():
        setattr(quiz, field, value)
    _quiz_check(quiz)
    has_attempts = quiz.attempts.exists()
    if was_published and not quiz.is_published and has_attempts:
        raise _has_attempts("unpublished")
    if quiz.is_published and not was_published:
        quiz.published_at = timezone.now()
    quiz.save()
    rescored = []
    if has_attempts:
        if quiz.scoring_policy != old_policy:
            rescored = _graded_students_locked(quiz)
        _deadlines_pull_in(quiz)
    # The gradebook item last: closing attempts lock their student, then the
    # attempt, then reach the item; taking it earlier could deadlock with them.
    item_sync(quiz, posting_policy=posting_policy)
    for student_id in rescored:
        _gradebook_feed(quiz=quiz, student_id=student_id, grader=None)
    return quiz


def _has_attempts(what: str) -> ApplicationError:
    return ApplicationError(
        f"Students have attempted this quiz; it can no longer be {what}.",
        code="quiz_has_attempts",
        status=status.HTTP_409_CONFLICT,
    )


def _deadlines_pull_in(quiz: Quiz) -> None:
    moved = list(
        Attempt.objects.filter(
            quiz=quiz, status=AttemptStatus.IN_PROGRESS, deadline_at__gt=quiz.end_date
        ).values_list("pk", flat=True)
    )
    if moved:
        Attempt.objects.filter(pk__in=moved).update(
            deadline_at=Least("deadline_at", quiz.end_date), updated_at=timezone.now()
        )
        for attempt_id in moved:
            _close_task_schedule(attempt_id, quiz.end_date)


def _graded_students_locked(quiz: Quiz) -> list:
    """The students with a graded attempt at the quiz, their enrollment rows
    locked (in id order) so none of their attempts closes meanwhile."""
    students = list(
        Attempt.objects.filter(quiz=quiz, status=AttemptStatus.GRADED)
        .values_list("student_id", flat=True)
        .distinct()
        .order_by("student_id")
    )
    for student_id in students:
        _student_lock(quiz.course_id, student_id)
    return students


@transaction.atomic
def quiz_delete(*, quiz: Quiz) -> None:
    """A soft delete: the quiz, its attempts and its gradebook column leave
    everyone's sight; attempts still open are closed by the sweep."""
    quiz = _quiz_locked(quiz.pk)
    course_material_writable(quiz.course)
    now = timezone.now()
    Quiz.objects.filter(pk=quiz.pk).update(deleted_at=now, updated_at=now)
    grade_item_delete(kind=ItemKind.QUIZ, source_id=quiz.pk)


def module_and_group_for(course: Course, *, module_id=None, group_id=None) -> dict:
    """Resolves module and group ids given to a quiz of `course`: 400 naming
    the field when it is not a live module or a group of this course."""
    resolved = {}
    if module_id is not None:
        module = Module.objects.filter(pk=module_id, course=course, deleted_at__isnull=True).first()
        if module is None:
            raise ApplicationError(
                "No such module in this course.",
                code="invalid",
                fields={"module_id": ["Not a module of this course."]},
            )
        resolved["module"] = module
    if group_id is not None:
        group = AssignmentGroup.objects.filter(pk=group_id, course=course).first()
        if group is None:
            raise ApplicationError(
                "No such assignment group in this course.",
                code="invalid",
                fields={"group_id": ["Not an assignment group of this course."]},
            )
        resolved["group"] = group
    return resolved


# --- questions ------------------------------------------------------------------------


def _points(value, *, field: str = "points") -> Decimal:
    try:
        points = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        points = None
    if points is None or not points.is_finite() or not 0 <= points <= Decimal("999999.99"):
        raise ApplicationError(
            "Points must be a number between 0 and 999,999.99.",
            code="invalid",
            fields={field: ["Must be between 0 and 999999.99."]},
        )
    return points


def _quiz_points_refresh(quiz: Quiz) -> None:
    """The quiz's points are its questions' sum; its gradebook column follows."""
    total = quiz.questions.aggregate(total=Sum("points"))["total"] or Decimal("0")
    quiz.points = total
    Quiz.objects.filter(pk=quiz.pk).update(points=total, updated_at=timezone.now())
    item_sync(quiz)


def _question_key_apply(question: Question, *, previous_options: list[dict]) -> None:
    question.points = _points(question.points)
    question.options, question.correct = question_key_clean(
        type=question.type,
        options=question.options,
        correct=question.correct,
        case_sensitive=question.case_sensitive,
        previous_options=previous_options,
    )


@transaction.atomic
def question_create(*, quiz: Quiz, **fields) -> Question:
    """Appended after the last question unless `position` is given. Refused
    once the quiz has attempts (409 `quiz_has_attempts`)."""
    _unknown_fields(fields, QUESTION_FIELDS)
    quiz = _quiz_locked(quiz.pk)
    course_material_writable(quiz.course)
    if quiz.attempts.exists():
        raise _has_attempts("given new questions")
    if quiz.questions.count() >= MAX_QUESTIONS:
        raise ApplicationError(
            f"A quiz has at most {MAX_QUESTIONS} questions.",
            code="too_many_questions",
            status=status.HTTP_409_CONFLICT,
        )
    if fields.get("position") is None:
        highest = quiz.questions.aggregate(n=Max("position"))["n"]
        fields["position"] = 0 if highest is None else highest + 1
    question = Question(quiz=quiz, **fields)
    _question_key_apply(question, previous_options=[])
    question.save(force_insert=True)
    _quiz_points_refresh(quiz)
    return question


@transaction.atomic
def question_update(*, question: Question, **changes) -> Question:
    """Once the quiz has attempts only the text, explanation and position may
    change (a typo fixed, an order for later attempts); what grades the
    question is frozen (409 `quiz_has_attempts`), so every attempt is graded
    against the same key. Changing the type needs the options and answer key
    that fit it."""
    _unknown_fields(changes, QUESTION_FIELDS)
    quiz = _quiz_locked(question.quiz_id)
    course_material_writable(quiz.course)
    question = Question.objects.filter(pk=question.pk, quiz=quiz).first()
    if question is None:
        raise _gone("question")
    grading = {f for f in GRADING_FIELDS if f in changes and changes[f] != getattr(question, f)}
    if grading and quiz.attempts.exists():
        raise _has_attempts("regraded by changing its questions")
    previous_options = question.options
    if "type" in grading and question.type in CHOICE_TYPES and "options" not in changes:
        changes["options"] = []
    for field, value in changes.items():
        setattr(question, field, value)
    if grading:
        _question_key_apply(question, previous_options=previous_options)
    question.save()
    if "points" in grading:
        _quiz_points_refresh(quiz)
    return question


@transaction.atomic
def question_delete(*, question: Question) -> None:
    """Deleted for good, only while the quiz has no attempt (409
    `quiz_has_attempts` after)."""
    quiz = _quiz_locked(question.quiz_id)
    course_material_writable(quiz.course)
    if quiz.attempts.exists():
        raise _has_attempts("changed by deleting its questions")
    Question.objects.filter(pk=question.pk).delete()
    _quiz_points_refresh(quiz)


# --- attempts -------------------------------------------------------------------------


def _close_task_schedule(attempt_id, deadline: datetime) -> None:
    """After commit, a task closes the attempt at its deadline (when near; see
    CLOSE_TASK_HORIZON)."""
    if deadline - timezone.now() > CLOSE_TASK_HORIZON:
        return
    from .tasks import attempt_close_due

    transaction.on_commit(
        lambda: attempt_close_due.apply_async(args=[str(attempt_id)], eta=deadline), robust=True
    )


def _not_startable(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, status=status.HTTP_409_CONFLICT)


def _orders(questions: list[Question], quiz: Quiz) -> tuple[list[str], dict[str, list[str]]]:
    """The attempt's question order and each choice question's option order,
    shuffled (with the system's random source) when the quiz says so."""
    shuffler = secrets.SystemRandom()
    question_ids = [str(q.pk) for q in questions]
    if quiz.shuffle_questions:
        shuffler.shuffle(question_ids)
    option_order = {}
    for question in questions:
        if question.type in CHOICE_TYPES:
            ids = [option["id"] for option in question.options]
            if quiz.shuffle_answers:
                shuffler.shuffle(ids)
            option_order[str(question.pk)] = ids
    return question_ids, option_order


@transaction.atomic
def attempt_start(*, quiz: Quiz, student) -> tuple[Attempt, bool]:
    """Starts the student's next attempt; returns it and True. While an
    attempt is in progress, starting returns that one and False (a retried or
    doubled start resumes, it does not use up an attempt). Refused (409):
    before start_date (`quiz_not_open`), from end_date (`quiz_closed`), past
    the attempt limit (`attempt_limit_reached`), without questions
    (`quiz_empty`), or for someone not holding a seat (`not_a_student`)."""
    quiz = _quiz_shared(quiz.pk)
    if not quiz.is_published:  # unpublished since the caller looked
        raise _gone("quiz")
    course_material_writable(quiz.course)
    seat = (
        Enrollment.objects.select_for_update(no_key=True)
        .filter(seat_holder(), course_id=quiz.course_id, user=student)
        .first()
    )
    if seat is None:
        raise _not_startable("Only students holding a seat take quizzes.", "not_a_student")
    now = timezone.now()
    attempts = list(Attempt.objects.filter(quiz=quiz, student=student))
    current = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None)
    if current is not None:
        if now < current.deadline_at:
            return current, False
        _attempt_close(current, quiz=quiz, now=now)
    if quiz.start_date is not None and now < quiz.start_date:
        raise _not_startable("This quiz has not opened yet.", "quiz_not_open")
    if now >= quiz.end_date:
        raise _not_startable("This quiz has closed.", "quiz_closed")
    if quiz.attempt_limit is not None and len(attempts) >= quiz.attempt_limit:
        raise _not_startable(
            "You have used all your attempts at this quiz.", "attempt_limit_reached"
        )
    questions = list(quiz.questions.all())
    if not questions:
        raise _not_startable("This quiz has no questions yet.", "quiz_empty")
    deadline = quiz.end_date
    if quiz.time_limit_minutes:
        deadline = min(deadline, now + timedelta(minutes=quiz.time_limit_minutes))
    question_order, option_order = _orders(questions, quiz)
    attempt = Attempt.objects.create(
        quiz=quiz,
        student=student,
        attempt_number=max((a.attempt_number for a in attempts), default=0) + 1,
        started_at=now,
        deadline_at=deadline,
        question_order=question_order,
        option_order=option_order,
    )
    _close_task_schedule(attempt.pk, deadline)
    return attempt, True


def _closed_error(attempt: Attempt) -> ApplicationError:
    return ApplicationError(
        "This attempt is closed: it was submitted or its time ran out.",
        code="attempt_closed",
        status=status.HTTP_409_CONFLICT,
        extra={"attempt_id": str(attempt.pk), "attempt_status": attempt.status},
    )


def attempt_answers_save(*, attempt: Attempt, answers: list[dict]) -> Attempt:
    """Saves answers ([{"question_id", "answer"}]; null clears one) while the
    attempt is in progress; other questions keep theirs. Past the deadline
    nothing of the request is saved: the attempt is closed with what was saved
    before and the answer is a 409 `attempt_closed` (also for a closed
    attempt). Without backtracking, an answered question keeps its answer (409
    `answer_locked`)."""
    with transaction.atomic():
        locked = _attempt_locked(attempt)
        course_material_writable(locked.quiz.course)
        now = timezone.now()
        if locked.status == AttemptStatus.IN_PROGRESS and now < locked.deadline_at:
            _answers_write(locked, answers)
            return locked
        if locked.status == AttemptStatus.IN_PROGRESS:
            _attempt_close(locked, quiz=locked.quiz, now=now)
    raise _closed_error(locked)


def _answers_write(attempt: Attempt, answers: list[dict]) -> None:
    questions = Question.objects.in_bulk(attempt.question_order)
    questions = {str(pk): q for pk, q in questions.items()}
    existing = {str(r.question_id): r for r in attempt.responses.all()}
    cleaned = []
    for index, item in enumerate(answers):
        question = questions.get(str(item["question_id"]))
        if question is None:
            raise ApplicationError(
                "An answer names a question that is not in this attempt.",
                code="invalid",
                fields={f"answers[{index}].question_id": ["Not a question of this attempt."]},
            )
        value = answer_clean(question, item["answer"], field=f"answers[{index}].answer")
        previous = existing.get(str(question.pk))
        if (
            not attempt.quiz.allow_backtracking
            and previous is not None
            and previous.answer is not None
            and previous.answer != value
        ):
            raise ApplicationError(
                "This quiz does not let you change an answered question.",
                code="answer_locked",
                status=status.HTTP_409_CONFLICT,
                extra={"question_id": str(question.pk)},
            )
        cleaned.append((question, value))
    new, changed = [], []
    for question, value in cleaned:
        response = existing.get(str(question.pk))
        if response is None:
            new.append(Response(attempt=attempt, question=question, answer=value))
        elif response.answer != value:
            response.answer = value
            changed.append(response)
    Response.objects.bulk_create(new)
    Response.objects.bulk_update(changed, ["answer", "updated_at"])
    Attempt.objects.filter(pk=attempt.pk).update(updated_at=timezone.now())


def attempt_submit(*, attempt: Attempt, request=None) -> Attempt:
    """Submits and grades the attempt. Idempotent: submitting a closed attempt
    (twice, at once, or after its time ran out) returns it as it is, graded
    once. The submission that closes it is logged as the student's activity
    (`request` gives the log the client's address)."""
    with transaction.atomic():
        locked = _attempt_locked(attempt)
        if locked.status == AttemptStatus.IN_PROGRESS:
            _attempt_close(locked, quiz=locked.quiz, now=timezone.now())
            activity_record(
                user=locked.student,
                activity_type=ActivityType.SUBMIT_QUIZ,
                entity_type="quiz",
                entity_id=locked.quiz_id,
                course_id=locked.quiz.course_id,
                metadata={"attempt_id": str(locked.pk)},
                request=request,
            )
    return locked


def attempt_close_if_overdue(attempt: Attempt) -> bool:
    """Closes the attempt when its time ran out; True if this call closed it.
    Safe to call from reads and to repeat."""
    if attempt.status != AttemptStatus.IN_PROGRESS or timezone.now() < attempt.deadline_at:
        return False
    with transaction.atomic():
        locked = _attempt_locked(attempt)
        now = timezone.now()
        if locked.status != AttemptStatus.IN_PROGRESS or now < locked.deadline_at:
            return False
        _attempt_close(locked, quiz=locked.quiz, now=now)
    attempt.refresh_from_db()
    return True


def attempts_overdue_close(*, quiz: Quiz | None = None, student=None) -> int:
    """Closes every attempt past its deadline (of one quiz, or all; of one
    student, or all), each in its own transaction. Returns how many this call
    closed."""
    overdue = Attempt.objects.filter(
        status=AttemptStatus.IN_PROGRESS, deadline_at__lte=timezone.now()
    ).select_related("quiz")
    if quiz is not None:
        overdue = overdue.filter(quiz=quiz)
    if student is not None:
        overdue = overdue.filter(student=student)
    return sum(attempt_close_if_overdue(attempt) for attempt in overdue.order_by("deadline_at"))


def _attempt_close(attempt: Attempt, *, quiz: Quiz, now: datetime) -> None:
    """Submitted at `now`, or at the deadline when closed after it: every
    question gets a response (unanswered ones score 0), each is marked, and
    the attempt is graded unless an answered essay waits for its grader."""
    questions = Question.objects.in_bulk(attempt.question_order)
    responses = {r.question_id: r for r in attempt.responses.all()}
    missing = [Response(attempt=attempt, question_id=pk) for pk in questions if pk not in responses]
    Response.objects.bulk_create(missing)
    for response in missing:
        responses[response.question_id] = response
    for question_id, response in responses.items():
        question = questions[question_id]
        response.is_correct, response.points_earned = mark(question, response.answer)
        response.graded_at = now if response.points_earned is not None else None
    Response.objects.bulk_update(
        responses.values(), ["is_correct", "points_earned", "graded_at", "updated_at"]
    )
    attempt.submitted_at = min(now, attempt.deadline_at)
    _attempt_rescore(attempt, responses.values())
    if attempt.status == AttemptStatus.GRADED:
        _gradebook_feed(quiz=quiz, student_id=attempt.student_id, grader=None)


def _attempt_rescore(attempt: Attempt, responses) -> None:
    earned = [r.points_earned for r in responses]
    attempt.score = sum((p for p in earned if p is not None), Decimal("0"))
    waiting = any(p is None for p in earned)
    attempt.status = AttemptStatus.NEEDS_GRADING if waiting else AttemptStatus.GRADED
    attempt.save(update_fields=["submitted_at", "score", "status", "updated_at"])


def _gradebook_feed(*, quiz: Quiz, student_id, grader) -> None:
    """The student's kept score (the quiz's scoring policy over their graded
    attempts) into the quiz's gradebook column. Nothing when the column is
    gone or the student no longer holds a seat (the gradebook grades only
    them); the score stays on the attempt."""
    item = grade_item_for(kind=ItemKind.QUIZ, source_id=quiz.pk)
    if item is None or item.deleted_at is not None:
        return
    seat = (
        Enrollment.objects.filter(seat_holder(), course_id=quiz.course_id, user_id=student_id)
        .select_related("user")
        .first()
    )
    if seat is None:
        return
    graded = list(
        Attempt.objects.filter(
            quiz=quiz, student_id=student_id, status=AttemptStatus.GRADED
        ).values_list("attempt_number", "score", "pk")
    )
    if not graded:
        return
    score, number = kept_score([(n, s) for n, s, _ in graded], quiz.scoring_policy)
    kept_id = next(pk for n, _, pk in graded if n == number)
    grade_save(
        item=item,
        student=seat.user,
        grader=grader,
        given=GradeInput(points_earned=score, excused=None),
        submission_id=kept_id,
        check_version=False,
    )


# --- grading by hand ------------------------------------------------------------------


@transaction.atomic
def response_grade(*, response: Response, grader, points, feedback: str | None = None) -> Response:
    """A grader's points (at most the question's) and feedback for one
    response of a submitted attempt: an essay, or a correction of an automatic
    mark. The attempt is rescored; once no essay waits it is graded and the
    gradebook gets the student's kept score, given by this grader."""
    attempt = _attempt_locked(response.attempt)
    course_material_writable(attempt.quiz.course)
    if attempt.status == AttemptStatus.IN_PROGRESS:
        raise ApplicationError(
            "This attempt is still in progress.",
            code="attempt_in_progress",
            status=status.HTTP_409_CONFLICT,
        )
    response = Response.objects.select_related("question").get(pk=response.pk)
    question = response.question
    earned = _points(points, field="points")
    if earned > question.points:
        raise ApplicationError(
            "More points than the question is worth.",
            code="invalid",
            fields={"points": [f"At most {question.points}."]},
        )
    response.points_earned = earned
    response.is_correct = None if question.type == QuestionType.ESSAY else earned == question.points
    response.grader = grader
    if feedback is not None:
        response.feedback = feedback
    response.graded_at = timezone.now()
    response.save()
    _attempt_rescore(attempt, attempt.responses.all())
    if attempt.status == AttemptStatus.GRADED:
        _gradebook_feed(quiz=attempt.quiz, student_id=attempt.student_id, grader=grader)
    return response
