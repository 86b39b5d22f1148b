"""The quizzes API: quizzes and their questions, attempts, answers,
submission, statistics and essay grading. Who may call what is stated on each
view; the course's `CourseAccess` and tenant_apps.quizzes.policies decide.

A quiz, question, attempt or response a caller may not see (another course's,
an unpublished quiz or any question for a student, another student's attempt,
another institution's id) is a 404, so its existence does not leak; one they
see but may not change is a 403 and changes nothing.

Every read of an attempt first closes it if its time ran out, so nobody ever
sees an attempt "in progress" past its deadline.
"""

import django_filters
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from conceptspro.api import IsoDateTimeFilter, OrderingFilter
from tenant_apps.accounts.api import IsActiveMember
from tenant_apps.courses.api import CourseAccess, course_access_or_403
from tenant_apps.idempotency.api import idempotent
from tenant_apps.quizzes import policies, selectors, services
from tenant_apps.quizzes.models import Attempt, AttemptStatus, Question, Quiz
from tenant_apps.quizzes.models import Response as QuizResponse

from .serializers import (
    AnswersInput,
    AttemptOutput,
    AttemptSummaryOutput,
    GradingQueueOutput,
    QuestionInput,
    QuestionOutput,
    QuizInput,
    QuizOutput,
    QuizStatisticsOutput,
    ResponseGradeInput,
    ResponseOutput,
)

ARCHIVED = "`course_archived`: the course is archived"
HAS_ATTEMPTS = "`quiz_has_attempts`: students have attempted the quiz"


def _conflict(*reasons: str) -> OpenApiResponse:
    return OpenApiResponse(description="Conflict: " + "; ".join(reasons) + ".")


# --- filters --------------------------------------------------------------------------


class QuizFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this time."
    )
    is_published = django_filters.BooleanFilter()
    module_id = django_filters.UUIDFilter()
    ordering = OrderingFilter(
        fields=["end_date", "start_date", "title", "created_at", "updated_at"],
        help_text="Default: the earliest end date first.",
    )

    class Meta:
        model = Quiz
        fields = ["updated_since", "is_published", "module_id"]


class QuestionFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this time."
    )
    ordering = OrderingFilter(
        fields=["position", "created_at", "updated_at"], help_text="Default: by position."
    )

    class Meta:
        model = Question
        fields = ["updated_since"]


class AttemptFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this time."
    )
    student_id = django_filters.UUIDFilter(help_text="Staff: one student's attempts.")
    status = django_filters.ChoiceFilter(choices=AttemptStatus.choices)
    # Not by score: a student ordering their attempts by it would learn how
    # unreleased scores compare.
    ordering = OrderingFilter(
        fields=["started_at", "submitted_at", "attempt_number", "updated_at"],
        help_text="Default: by student, then attempt number.",
    )

    class Meta:
        model = Attempt
        fields = ["updated_since", "student_id", "status"]


class GradingQueueFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this time."
    )
    quiz_id = django_filters.UUIDFilter(field_name="attempt__quiz_id")
    ordering = OrderingFilter(
        fields=[("attempt__submitted_at", "submitted_at"), "updated_at"],
        help_text="Default: the oldest submission first.",
    )

    class Meta:
        model = QuizResponse
        fields = ["updated_since", "quiz_id"]


# --- helpers --------------------------------------------------------------------------


def _content_access(request, course_id) -> CourseAccess:
    return course_access_or_403(
        request.user,
        course_id,
        lambda access: access.can_view_content,
        "Only the course's staff and students may see its quizzes.",
    )


def _quiz_output(access: CourseAccess, quiz_id) -> dict:
    quiz = selectors.quizzes_for(access).filter(pk=quiz_id).first()
    if quiz is None:  # deleted between the write and this read
        raise Http404
    return QuizOutput(quiz).data


def _editable_quiz(request, pk) -> tuple[CourseAccess, Quiz]:
    access, quiz = selectors.quiz_visible_or_404(request.user, pk)
    if not policies.can_edit_quiz(access):
        raise PermissionDenied("Only the course's instructors may change its quizzes.")
    return access, quiz


def _staff_quiz(request, pk) -> tuple[CourseAccess, Quiz]:
    access, quiz = selectors.quiz_visible_or_404(request.user, pk)
    if not policies.can_grade(access):
        raise PermissionDenied("Only the course's staff may see this.")
    return access, quiz


def _attempt_output(access: CourseAccess, attempt: Attempt) -> dict:
    staff = policies.can_see_drafts(access)
    shown = selectors.attempt_shown(attempt, staff=staff, now=timezone.now())
    return AttemptOutput(shown).data


def _visible_attempt(request, pk) -> tuple[CourseAccess, Attempt]:
    """The attempt as the caller may see it, closed first if its time ran out."""
    access, attempt = selectors.attempt_visible_or_404(request.user, pk)
    quiz = attempt.quiz
    if services.attempt_close_if_overdue(attempt):
        attempt.quiz = quiz  # reloading the attempt dropped it
    return access, attempt


def _own_attempt(request, pk) -> tuple[CourseAccess, Attempt]:
    access, attempt = selectors.attempt_visible_or_404(request.user, pk)
    if attempt.student_id != request.user.pk:
        raise PermissionDenied("Only the student taking the attempt may answer or submit it.")
    return access, attempt


def _quiz_fields(course, data: dict) -> dict:
    """The input as the services take it: module and group ids resolved."""
    fields = dict(data)
    links = {key: fields.pop(key) for key in ("module_id", "group_id") if key in fields}
    resolved = services.module_and_group_for(course, **links)
    for key in ("module", "group"):
        if f"{key}_id" in links:
            fields[key] = resolved.get(key)
    return fields


# --- quizzes --------------------------------------------------------------------------


class CourseQuizzesView(GenericAPIView):
    """GET /courses/{course_id}/quizzes/: the quizzes the caller may see, the
    earliest end date first. Students holding a seat in the published course
    see published ones; the course's staff see all. Filters: updated_since,
    is_published, module_id; ordering.
    POST: create one (no questions yet). The instructor and admins. Accepts
    `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = QuizOutput
    filterset_class = QuizFilter
    queryset = Quiz.objects.none()  # the real one depends on the caller

    @extend_schema(responses=QuizOutput(many=True))
    def get(self, request, course_id):
        access = _content_access(request, course_id)
        page = self.paginate_queryset(self.filter_queryset(selectors.quizzes_for(access)))
        return self.get_paginated_response(QuizOutput(page, many=True).data)

    @extend_schema(request=QuizInput, responses={201: QuizOutput, 409: _conflict(ARCHIVED)})
    @idempotent
    def post(self, request, course_id):
        access = _content_access(request, course_id)
        if not policies.can_edit_quiz(access):
            raise PermissionDenied("Only the course's instructors may create quizzes.")
        data = QuizInput(data=request.data)
        data.is_valid(raise_exception=True)
        quiz = services.quiz_create(
            course=access.course, **_quiz_fields(access.course, data.validated_data)
        )
        return Response(
            _quiz_output(access, quiz.pk),
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/quizzes/{quiz.pk}/"},
        )


class QuizDetailView(GenericAPIView):
    """GET /quizzes/{id}/: whoever may see it (see the course's list).
    PUT, PATCH: the instructor and admins; PUT needs title and end_date,
    PATCH any subset. A quiz with attempts cannot be unpublished (409).
    DELETE: the same people; a soft delete that takes the quiz's column out
    of the gradebook."""

    permission_classes = [IsActiveMember]
    serializer_class = QuizOutput

    def get(self, request, pk):
        _, quiz = selectors.quiz_visible_or_404(request.user, pk)
        return Response(QuizOutput(quiz).data)

    def _update(self, request, pk, *, partial: bool):
        access, quiz = _editable_quiz(request, pk)
        data = QuizInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        services.quiz_update(quiz=quiz, **_quiz_fields(access.course, data.validated_data))
        return Response(_quiz_output(access, pk))

    @extend_schema(
        request=QuizInput, responses={200: QuizOutput, 409: _conflict(ARCHIVED, HAS_ATTEMPTS)}
    )
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(
        request=QuizInput, responses={200: QuizOutput, 409: _conflict(ARCHIVED, HAS_ATTEMPTS)}
    )
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None, 409: _conflict(ARCHIVED)})
    def delete(self, request, pk):
        _, quiz = _editable_quiz(request, pk)
        services.quiz_delete(quiz=quiz)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- questions ------------------------------------------------------------------------


class QuizQuestionsView(GenericAPIView):
    """GET /quizzes/{id}/questions/: the questions with their answer keys, by
    position. The course's staff only (students see questions through their
    attempts). Filters: updated_since; ordering.
    POST: add one. The instructor and admins, while the quiz has no attempt
    (409 after). Accepts `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = QuestionOutput
    filterset_class = QuestionFilter
    queryset = Question.objects.none()  # the real one depends on the quiz

    @extend_schema(responses=QuestionOutput(many=True))
    def get(self, request, pk):
        access, quiz = selectors.quiz_visible_or_404(request.user, pk)
        if not policies.can_see_drafts(access):
            raise PermissionDenied("Only the course's staff may see the questions' answer keys.")
        page = self.paginate_queryset(self.filter_queryset(selectors.questions_of(quiz)))
        return self.get_paginated_response(QuestionOutput(page, many=True).data)

    @extend_schema(
        request=QuestionInput,
        responses={201: QuestionOutput, 409: _conflict(ARCHIVED, HAS_ATTEMPTS)},
    )
    @idempotent
    def post(self, request, pk):
        _, quiz = _editable_quiz(request, pk)
        data = QuestionInput(data=request.data)
        data.is_valid(raise_exception=True)
        question = services.question_create(quiz=quiz, **data.validated_data)
        return Response(
            QuestionOutput(question).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/quiz-questions/{question.pk}/"},
        )


class QuestionDetailView(GenericAPIView):
    """GET /quiz-questions/{id}/: the course's staff. PUT, PATCH: the
    instructor and admins; once the quiz has attempts only text, explanation
    and position may change (409 for what grades the question). DELETE: the
    same people, only while the quiz has no attempt."""

    permission_classes = [IsActiveMember]
    serializer_class = QuestionOutput

    def _editable(self, request, pk) -> Question:
        access, question = selectors.question_visible_or_404(request.user, pk)
        if not policies.can_edit_quiz(access):
            raise PermissionDenied("Only the course's instructors may change questions.")
        return question

    def get(self, request, pk):
        _, question = selectors.question_visible_or_404(request.user, pk)
        return Response(QuestionOutput(question).data)

    def _update(self, request, pk, *, partial: bool):
        question = self._editable(request, pk)
        data = QuestionInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        question = services.question_update(question=question, **data.validated_data)
        return Response(QuestionOutput(question).data)

    @extend_schema(
        request=QuestionInput,
        responses={200: QuestionOutput, 409: _conflict(ARCHIVED, HAS_ATTEMPTS)},
    )
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(
        request=QuestionInput,
        responses={200: QuestionOutput, 409: _conflict(ARCHIVED, HAS_ATTEMPTS)},
    )
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None, 409: _conflict(ARCHIVED, HAS_ATTEMPTS)})
    def delete(self, request, pk):
        services.question_delete(question=self._editable(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- attempts -------------------------------------------------------------------------


class QuizAttemptStartView(GenericAPIView):
    """POST /quizzes/{id}/attempt/: a student holding a seat starts their next
    attempt (201), or gets back the one in progress (200), with its questions
    in its own order and no answer key. Refused (409): before the start date,
    from the end date, past the attempt limit, without questions. Staff do not
    take quizzes (403). Accepts `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = AttemptOutput

    @extend_schema(
        request=None,
        responses={
            200: AttemptOutput,
            201: AttemptOutput,
            409: _conflict(
                "`quiz_not_open`: before the start date",
                "`quiz_closed`: from the end date",
                "`attempt_limit_reached`: every attempt used",
                "`quiz_empty`: no questions",
                ARCHIVED,
            ),
        },
    )
    @idempotent
    def post(self, request, pk):
        access, quiz = selectors.quiz_visible_or_404(request.user, pk)
        if not policies.can_take(access):
            raise PermissionDenied("Only the course's students take its quizzes.")
        attempt, created = services.attempt_start(quiz=quiz, student=request.user)
        attempt.quiz = quiz
        return Response(
            _attempt_output(access, attempt),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": f"/api/v1/quiz-attempts/{attempt.pk}/"},
        )


class QuizAttemptsView(GenericAPIView):
    """GET /quizzes/{id}/attempts/: the course's staff see every attempt; a
    student sees their own (scores once their grade is released). Filters:
    updated_since, student_id, status; ordering."""

    permission_classes = [IsActiveMember]
    serializer_class = AttemptSummaryOutput
    filterset_class = AttemptFilter
    queryset = Attempt.objects.none()  # the real one depends on the caller

    @extend_schema(responses=AttemptSummaryOutput(many=True))
    def get(self, request, pk):
        access, quiz = selectors.quiz_visible_or_404(request.user, pk)
        staff = policies.can_see_drafts(access)
        services.attempts_overdue_close(quiz=quiz, student=None if staff else request.user)
        page = self.paginate_queryset(self.filter_queryset(selectors.attempts_for(access, quiz)))
        shown = staff or selectors.score_released(quiz, request.user)
        rows = []
        for attempt in page:
            attempt.quiz = quiz
            graded = attempt.status == AttemptStatus.GRADED
            rows.append(selectors.attempt_summary(attempt, score_shown=staff or (shown and graded)))
        return self.get_paginated_response(AttemptSummaryOutput(rows, many=True).data)


class AttemptDetailView(GenericAPIView):
    """GET /quiz-attempts/{id}/: its student and the course's staff. The
    questions come in the attempt's fixed order with options in its fixed
    order; the answer key, explanations, marks and score only as the quiz's
    rules and the grade's release allow (staff see everything)."""

    permission_classes = [IsActiveMember]
    serializer_class = AttemptOutput

    def get(self, request, pk):
        access, attempt = _visible_attempt(request, pk)
        return Response(_attempt_output(access, attempt))


class AttemptAnswersView(GenericAPIView):
    """PUT /quiz-attempts/{id}/answers/: the attempt's student saves answers
    while it is in progress (the questions named change, the others keep
    theirs). Past the deadline nothing is saved and the attempt is closed
    with what was saved before (409 `attempt_closed`). Without backtracking an
    answered question cannot change (409 `answer_locked`)."""

    permission_classes = [IsActiveMember]
    serializer_class = AttemptOutput

    @extend_schema(
        request=AnswersInput,
        responses={
            200: AttemptOutput,
            409: _conflict(
                "`attempt_closed`: submitted, or its time ran out",
                "`answer_locked`: the quiz does not allow backtracking",
                ARCHIVED,
            ),
        },
    )
    def put(self, request, pk):
        access, attempt = _own_attempt(request, pk)
        data = AnswersInput(data=request.data)
        data.is_valid(raise_exception=True)
        saved = services.attempt_answers_save(
            attempt=attempt, answers=data.validated_data["answers"]
        )
        return Response(_attempt_output(access, saved))


class AttemptSubmitView(GenericAPIView):
    """POST /quiz-attempts/{id}/submit/: the attempt's student submits it; it
    is graded at once (essays wait for their grader). Idempotent by nature:
    submitting a closed attempt returns it as it is, graded once, so no
    Idempotency-Key."""

    permission_classes = [IsActiveMember]
    serializer_class = AttemptOutput

    @extend_schema(request=None, responses=AttemptOutput)
    def post(self, request, pk):
        access, attempt = _own_attempt(request, pk)
        submitted = services.attempt_submit(attempt=attempt, request=request)
        return Response(_attempt_output(access, submitted))


# --- statistics and grading -----------------------------------------------------------


class QuizStatisticsView(GenericAPIView):
    """GET /quizzes/{id}/statistics/: per question, over submitted attempts:
    answered, correct and graded counts, the correct ratio, the average
    points, and how often each option was chosen. The course's staff."""

    permission_classes = [IsActiveMember]
    serializer_class = QuizStatisticsOutput

    def get(self, request, pk):
        _, quiz = _staff_quiz(request, pk)
        return Response(QuizStatisticsOutput(selectors.quiz_statistics(quiz)).data)


class CourseQuizGradingQueueView(GenericAPIView):
    """GET /courses/{course_id}/quiz-grading-queue/: answered essays of
    submitted attempts waiting for a grader, the oldest first. The course's
    staff. Filters: quiz_id, updated_since; ordering."""

    permission_classes = [IsActiveMember]
    serializer_class = GradingQueueOutput
    filterset_class = GradingQueueFilter
    queryset = QuizResponse.objects.none()  # the real one depends on the course

    @extend_schema(responses=GradingQueueOutput(many=True))
    def get(self, request, course_id):
        access = _content_access(request, course_id)
        if not policies.can_grade(access):
            raise PermissionDenied("Only the course's staff grade quizzes.")
        page = self.paginate_queryset(self.filter_queryset(selectors.grading_queue(access)))
        return self.get_paginated_response(GradingQueueOutput(page, many=True).data)


class ResponseGradeView(GenericAPIView):
    """PUT /quiz-responses/{id}/grade/: points (at most the question's) and
    feedback for one response of a submitted attempt: an essay, or a
    correction of an automatic mark. The attempt is rescored and, once no
    essay waits, its student's kept score goes to the gradebook. The course's
    staff (admins, the instructor, TAs, graders)."""

    permission_classes = [IsActiveMember]
    serializer_class = ResponseOutput

    @extend_schema(
        request=ResponseGradeInput,
        responses={
            200: ResponseOutput,
            409: _conflict("`attempt_in_progress`: not submitted yet", ARCHIVED),
        },
    )
    def put(self, request, pk):
        access, response = selectors.response_visible_or_404(request.user, pk)
        if not policies.can_grade(access):
            raise PermissionDenied("Only the course's staff grade quizzes.")
        data = ResponseGradeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.response_grade(response=response, grader=request.user, **data.validated_data)
        graded = QuizResponse.objects.select_related("attempt", "grader").get(pk=pk)
        return Response(ResponseOutput(graded).data)
