"""The assignments API: /courses/{id}/assignments/, /assignments/{id}/ with
its submissions and submit, /submissions/{id}/ with its files and grade. Who
may call what is stated on each view; the course's `CourseAccess` and
tenant_apps.assignments.policies decide.

An assignment or submission a caller may not see (another course's, a draft
assignment for a student, another student's submission) is a 404, so its
existence does not leak; one they see but may not change is a 403.
"""

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from conceptspro.api import IsoDateTimeFilter, OrderingFilter
from tenant_apps.accounts.api import IsActiveMember
from tenant_apps.activity.api import ActivityType, activity_record
from tenant_apps.assignments import policies, selectors, services
from tenant_apps.assignments.models import Assignment, Submission, SubmissionStatus
from tenant_apps.courses.api import CourseAccess, course_access_or_403
from tenant_apps.files.api import file_download_url, file_output
from tenant_apps.grading.api import (
    IF_MATCH,
    Grade,
    GradeInput,
    GradeOutput,
    ItemKind,
    expected_version,
    letter_scheme_of,
    released_to_student,
)
from tenant_apps.idempotency.api import idempotent

from .serializers import (
    AssignmentInput,
    AssignmentOutput,
    GradeSubmissionInput,
    SubmissionContentInput,
    SubmissionFileOutput,
    SubmissionOutput,
    SubmitInput,
)

ARCHIVED = "`course_archived`: the course is archived"
_WRITE_CONFLICT = OpenApiResponse(description=f"Conflict: {ARCHIVED}.")
_ASSIGNMENT_CONFLICT = OpenApiResponse(
    description=f"Conflict: {ARCHIVED}; `assignment_has_submissions`: an assignment with "
    "submitted attempts cannot be unpublished."
)
_SUBMIT_CONFLICT = OpenApiResponse(
    description=f"Conflict: {ARCHIVED}; `late_submission_not_allowed`: past the due time and "
    "late work is refused; `submission_closed`: more than max_late_days late (`closed_at` "
    "says when it closed); `submission_limit_reached`: max_submissions attempts used."
)
_DRAFT_CONFLICT = OpenApiResponse(
    description=f"Conflict: {ARCHIVED}; `submission_not_editable` / `submission_not_deletable`: "
    "the submission was submitted (attempts never change)."
)
_GRADE_CONFLICT = OpenApiResponse(
    description=f"Conflict: {ARCHIVED}; `grade_conflict`: the grade changed since the version "
    "sent (`current_version` names it); `submission_not_submitted`: a draft; "
    "`not_a_student`: the student no longer holds a seat."
)


class AssignmentFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this time."
    )
    module_id = django_filters.UUIDFilter(field_name="module_id")
    is_published = django_filters.BooleanFilter()
    due_after = IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    ordering = OrderingFilter(
        fields=["due_at", "title", "created_at", "updated_at", "points"],
        help_text="Default: by due time.",
    )

    class Meta:
        model = Assignment
        fields = ["updated_since", "module_id", "is_published", "due_after", "due_before"]


class SubmissionFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        method="_updated_since",
        help_text="Changed, or its grade given, changed or released, at or after this time "
        "(for a student, only grades they may see count).",
    )
    student = django_filters.UUIDFilter(field_name="student_id", help_text="Staff: one student.")
    status = django_filters.ChoiceFilter(choices=SubmissionStatus.choices)
    late = django_filters.BooleanFilter(field_name="is_late")
    latest = django_filters.BooleanFilter(
        method="_latest", help_text="true: each student's latest submitted attempt only."
    )
    ordering = OrderingFilter(
        fields=[
            "submitted_at",
            "submission_number",
            "updated_at",
            "days_late",
            ("student__last_name", "last_name"),
        ],
        help_text="Default: by student, then attempt.",
    )

    class Meta:
        model = Submission
        fields = ["updated_since", "student", "status", "late", "latest"]

    def _updated_since(self, queryset, name, value):
        # A grade is not part of the submission's row; its changes count too,
        # but a student's own rows move only for grades released to them.
        own = Q(student=self.request.user)
        grades = Grade.objects.filter(
            (released_to_student() & own) | ~own,
            item__kind=ItemKind.ASSIGNMENT,
            submission_id=OuterRef("pk"),
            updated_at__gte=value,
        )
        return queryset.filter(Q(updated_at__gte=value) | Exists(grades))

    def _latest(self, queryset, name, value):
        later = Submission.objects.filter(
            assignment=OuterRef("assignment"),
            student=OuterRef("student"),
            submission_number__gt=OuterRef("submission_number"),
        )
        latest = queryset.filter(status=SubmissionStatus.SUBMITTED).filter(~Exists(later))
        return latest if value else queryset.exclude(pk__in=latest.values("pk"))


def _submissions_output(access: CourseAccess, submissions) -> list[dict]:
    """Submissions with the grades the caller may see, in a fixed number of
    queries whatever their number."""
    context = {
        "grades": selectors.grades_of(submissions, access=access),
        "letter_scheme": letter_scheme_of(access.course),
    }
    return SubmissionOutput(submissions, many=True, context=context).data


def _submission_output(user, pk) -> dict:
    # Read again after the write: what the caller may see of it now.
    access, submission = selectors.submission_visible_or_404(user, pk)
    return _submissions_output(access, [submission])[0]


def _assignment_output(access: CourseAccess, pk) -> dict:
    assignment = selectors.assignments_for(access).filter(pk=pk).first()
    if assignment is None:  # deleted between the write and this read
        raise Http404
    return AssignmentOutput(assignment).data


class CourseAssignmentsView(GenericAPIView):
    """GET /courses/{course_id}/assignments/: the course's staff see every live
    assignment; students holding a seat in the published course see the
    published ones. Filters: updated_since, module_id, is_published,
    due_after, due_before; ordering.
    POST: create one, with its gradebook column. The instructor and admins.
    Accepts `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = AssignmentOutput
    filterset_class = AssignmentFilter
    queryset = Assignment.objects.none()  # the real one depends on the caller

    def _access(self, request, course_id) -> CourseAccess:
        return course_access_or_403(
            request.user,
            course_id,
            lambda access: access.can_view_content,
            "Only the course's staff and students may see its assignments.",
        )

    @extend_schema(responses=AssignmentOutput(many=True))
    def get(self, request, course_id):
        access = self._access(request, course_id)
        page = self.paginate_queryset(self.filter_queryset(selectors.assignments_for(access)))
        return self.get_paginated_response(AssignmentOutput(page, many=True).data)

    @extend_schema(request=AssignmentInput, responses={201: AssignmentOutput, 409: _WRITE_CONFLICT})
    @idempotent
    def post(self, request, course_id):
        access = self._access(request, course_id)
        if not policies.can_change_assignment(access):
            raise PermissionDenied("Only the course's instructor may create assignments.")
        data = AssignmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = services.assignment_create(course=access.course, **data.validated_data)
        return Response(
            _assignment_output(access, assignment.pk),
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/assignments/{assignment.pk}/"},
        )


class AssignmentDetailView(GenericAPIView):
    """GET /assignments/{id}/: whoever may see it (see the course's list).
    PUT, PATCH: the instructor and admins; PUT needs title, points and due_at,
    PATCH any subset; `is_published` publishes. DELETE: the same people; a
    soft delete that takes its gradebook column with it."""

    permission_classes = [IsActiveMember]
    serializer_class = AssignmentOutput

    def get(self, request, pk):
        _, assignment = selectors.assignment_visible_or_404(request.user, pk)
        activity_record(
            user=request.user,
            activity_type=ActivityType.VIEW_ASSIGNMENT,
            entity_type="assignment",
            entity_id=assignment.pk,
            course_id=assignment.course_id,
            request=request,
        )
        return Response(AssignmentOutput(assignment).data)

    def _changeable(self, request, pk) -> tuple[CourseAccess, Assignment]:
        access, assignment = selectors.assignment_visible_or_404(request.user, pk)
        if not policies.can_change_assignment(access):
            raise PermissionDenied("Only the course's instructor may change assignments.")
        return access, assignment

    def _update(self, request, pk, *, partial: bool):
        access, assignment = self._changeable(request, pk)
        data = AssignmentInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        services.assignment_update(assignment=assignment, **data.validated_data)
        return Response(_assignment_output(access, pk))

    @extend_schema(
        request=AssignmentInput, responses={200: AssignmentOutput, 409: _ASSIGNMENT_CONFLICT}
    )
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(
        request=AssignmentInput, responses={200: AssignmentOutput, 409: _ASSIGNMENT_CONFLICT}
    )
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None, 409: _WRITE_CONFLICT})
    def delete(self, request, pk):
        _, assignment = self._changeable(request, pk)
        services.assignment_delete(assignment=assignment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssignmentSubmissionsView(GenericAPIView):
    """GET /assignments/{id}/submissions/: the course's staff see every
    student's submissions (drafts included) with their grades; a student sees
    only their own, with grades once released. Filters: student, status,
    late, latest, updated_since; ordering."""

    permission_classes = [IsActiveMember]
    serializer_class = SubmissionOutput
    filterset_class = SubmissionFilter
    queryset = Submission.objects.none()  # the real one depends on the caller

    @extend_schema(responses=SubmissionOutput(many=True))
    def get(self, request, pk):
        access, assignment = selectors.assignment_visible_or_404(request.user, pk)
        queryset = self.filter_queryset(selectors.submissions_for(access, assignment))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(_submissions_output(access, page))


class AssignmentSubmitView(GenericAPIView):
    """POST /assignments/{id}/submit/: a student holding a seat in the
    published course, for a published assignment. `is_draft` true saves their
    one draft (201 the first time, then 200); false submits the next attempt,
    the draft's content under whatever the request gives (201). A submit
    identical to the student's latest attempt of the last 60 seconds (a
    double click, with or without `Idempotency-Key`) answers that attempt with
    200 and adds nothing. Lateness is the server's: days late on the
    institution's clock, refused after the due time without late work or
    beyond max_late_days (409)."""

    permission_classes = [IsActiveMember]
    serializer_class = SubmissionOutput

    @extend_schema(
        request=SubmitInput,
        responses={201: SubmissionOutput, 200: SubmissionOutput, 409: _SUBMIT_CONFLICT},
    )
    @idempotent
    def post(self, request, pk):
        access, assignment = selectors.assignment_visible_or_404(request.user, pk)
        if not policies.can_submit(access):
            raise PermissionDenied("Only the course's students may submit.")
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        is_draft = data.validated_data.pop("is_draft")
        submission, created = services.submission_submit(
            assignment=assignment,
            student=request.user,
            content=services.SubmissionContent(**data.validated_data),
            is_draft=is_draft,
            request=request,
        )
        return Response(
            _submission_output(request.user, submission.pk),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": f"/api/v1/submissions/{submission.pk}/"},
        )


class SubmissionDetailView(GenericAPIView):
    """GET /submissions/{id}/: its student or the course's staff.
    PUT, PATCH: its student, while it is a draft (fields left out keep their
    values). DELETE: its student discards the draft; submitted attempts are
    kept (409)."""

    permission_classes = [IsActiveMember]
    serializer_class = SubmissionOutput

    def get(self, request, pk):
        access, submission = selectors.submission_visible_or_404(request.user, pk)
        return Response(_submissions_output(access, [submission])[0])

    def _changeable(self, request, pk) -> Submission:
        access, submission = selectors.submission_visible_or_404(request.user, pk)
        if not policies.can_change_submission(access, submission):
            raise PermissionDenied("Only the student may change their submission.")
        return submission

    def _update(self, request, pk):
        submission = self._changeable(request, pk)
        data = SubmissionContentInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.submission_update(
            submission=submission, content=services.SubmissionContent(**data.validated_data)
        )
        return Response(_submission_output(request.user, pk))

    @extend_schema(
        request=SubmissionContentInput, responses={200: SubmissionOutput, 409: _DRAFT_CONFLICT}
    )
    def put(self, request, pk):
        return self._update(request, pk)

    @extend_schema(
        request=SubmissionContentInput, responses={200: SubmissionOutput, 409: _DRAFT_CONFLICT}
    )
    def patch(self, request, pk):
        return self._update(request, pk)

    @extend_schema(responses={204: None, 409: _DRAFT_CONFLICT})
    def delete(self, request, pk):
        submission = self._changeable(request, pk)
        services.submission_delete(submission=submission)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubmissionFilesView(GenericAPIView):
    """GET /submissions/{id}/files/: its student or the course's staff: the
    submission's files, each with a signed download URL valid for a few
    minutes."""

    permission_classes = [IsActiveMember]
    serializer_class = SubmissionFileOutput
    pagination_class = None
    filter_backends = []

    @extend_schema(responses=SubmissionFileOutput(many=True))
    def get(self, request, pk):
        _, submission = selectors.submission_visible_or_404(request.user, pk)
        rows = [
            {**file_output(f), "download_url": file_download_url(request=request, file=f)}
            for f in submission.files.all()
        ]
        response = Response(SubmissionFileOutput(rows, many=True).data)
        response["Cache-Control"] = "no-store"
        return response


class SubmissionGradeView(GenericAPIView):
    """POST /submissions/{id}/grade/: admins, the course's instructor, its TAs
    and graders. Grades a submitted attempt with points and/or rubric scores
    (checked against the assignment's rubric), feedback, or excuses it; the
    attempt's late penalty is applied. Changing a grade needs the version read
    (`version`, or `If-Match`); a stale one is a 409 `grade_conflict`. Answers
    the grade with its version as `ETag`. Accepts `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = GradeOutput

    @extend_schema(
        request=GradeSubmissionInput,
        parameters=[IF_MATCH],
        responses={200: GradeOutput, 409: _GRADE_CONFLICT},
    )
    @idempotent
    def post(self, request, pk):
        access, submission = selectors.submission_visible_or_404(request.user, pk)
        if not policies.can_grade(access):
            raise PermissionDenied("Only the course's teaching staff may grade.")
        data = GradeSubmissionInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        grade = services.submission_grade(
            submission=submission,
            grader=request.user,
            given=GradeInput(
                points_earned=values.get("points_earned"),
                rubric_scores=values.get("rubric_scores"),
                feedback=values.get("feedback"),
                excused=values["excused"],
            ),
            expected_version=expected_version(request, values.get("version"), required=False),
        )
        body = GradeOutput(grade, context={"letter_scheme": letter_scheme_of(access.course)}).data
        return Response(body, headers={"ETag": f'"{grade.version}"'})
