"""The grading API: assignment groups, the grading policy, rubrics, gradebook
items, grades (with their posting and history), the gradebook and its CSV
export, and a student's own grades. Who may call what is stated on each view;
the course's `CourseAccess` and tenant_apps.grading.policies decide.

An object a caller may not see (another course's, a draft item or a hidden
grade for a student) is a 404, so its existence does not leak; one they see
but may not change is a 403. Students only ever get released grades of
published items, with totals from those alone, in every endpoint.
"""

import csv

import django_filters
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from conceptspro.api import OrderingFilter, updated_since_filter
from tenant_apps.accounts.api import IsActiveMember
from tenant_apps.courses.api import (
    CourseAccess,
    course_access_or_403,
    course_access_or_404,
    course_material_writable,
)
from tenant_apps.grading import policies, selectors, services
from tenant_apps.grading.calculations import letter_scheme_from
from tenant_apps.grading.models import (
    AssignmentGroup,
    Grade,
    GradeItem,
    GradeRevision,
    GradingPolicy,
    Rubric,
)
from tenant_apps.idempotency.api import idempotent

from .gradebook_formats import gradebook_csv_rows, gradebook_json
from .serializers import (
    AssignmentGroupInput,
    AssignmentGroupOutput,
    GradebookOutput,
    GradebookQuery,
    GradeChangeInput,
    GradeItemOutput,
    GradeItemPolicyInput,
    GradeOutput,
    GradeRevisionOutput,
    GradingPolicyInput,
    GradingPolicyOutput,
    MyGradesOutput,
    MyGradesQuery,
    ReleaseOutput,
    RubricInput,
    RubricOutput,
)
from .versioning import IF_MATCH, expected_version

ARCHIVED = OpenApiResponse(description="Conflict: `course_archived`, the course is archived.")
GRADE_CONFLICT = OpenApiResponse(
    description="Conflict: `grade_conflict` (someone changed the grade since the given "
    "version; the error carries `current_version`), `not_a_student` (the student no "
    "longer holds a seat) or `course_archived`."
)
RUBRIC_IN_USE = OpenApiResponse(
    description="Conflict: `rubric_in_use` (grades were given with it: send force=true; "
    "or, to delete, an assignment uses it) or `course_archived`."
)


def _course_access(request, course_id, check) -> CourseAccess:
    """The caller's access to the course, refused with 403 unless `check`."""
    return course_access_or_403(request.user, course_id, check)


def _writable(access: CourseAccess, check, message: str) -> None:
    if not check(access):
        raise PermissionDenied(message)
    course_material_writable(access.course)


def _owned(model, pk, request, *, visible) -> tuple[CourseAccess, object]:
    """The object of a course the caller may see with `visible`; 404 otherwise."""
    obj = model.objects.filter(pk=pk).first()
    if obj is None or getattr(obj, "deleted_at", None) is not None:
        raise Http404
    access = course_access_or_404(request.user, obj.course_id)
    if not visible(access):
        raise Http404
    return access, obj


# --- assignment groups -----------------------------------------------------------------


class AssignmentGroupFilter(django_filters.FilterSet):
    updated_since = updated_since_filter()
    ordering = OrderingFilter(
        fields=["position", "name", "weight"], help_text="Default: by position."
    )

    class Meta:
        model = AssignmentGroup
        fields = ["updated_since"]


class CourseAssignmentGroupsView(GenericAPIView):
    """GET /courses/{course_id}/assignment-groups/: whoever sees the course's
    content (staff; students holding a seat in the published course).
    POST: the instructor and admins. Accepts `Idempotency-Key`.

    When the course weights its groups (grading policy), the total is
    Σ weight * group percentage / Σ weight over the groups that have graded
    items, so weights need not sum to 100: they are scaled (as in Canvas)."""

    permission_classes = [IsActiveMember]
    serializer_class = AssignmentGroupOutput
    filterset_class = AssignmentGroupFilter
    queryset = AssignmentGroup.objects.none()  # the real one is the course's

    @extend_schema(responses=AssignmentGroupOutput(many=True))
    def get(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_course_grading)
        groups = self.filter_queryset(selectors.assignment_groups_of(access.course))
        page = self.paginate_queryset(groups)
        return self.get_paginated_response(AssignmentGroupOutput(page, many=True).data)

    @extend_schema(
        request=AssignmentGroupInput, responses={201: AssignmentGroupOutput, 409: ARCHIVED}
    )
    @idempotent
    def post(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_course_grading)
        _writable(access, policies.can_configure_grading, "Only the course's editors may.")
        data = AssignmentGroupInput(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.assignment_group_create(course=access.course, **data.validated_data)
        return Response(
            AssignmentGroupOutput(group).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/assignment-groups/{group.pk}/"},
        )


class AssignmentGroupDetailView(GenericAPIView):
    """GET /assignment-groups/{id}/: whoever sees the course's content.
    PUT (name required), PATCH, DELETE: the instructor and admins. Deleting a
    group leaves its items outside any group (counting for nothing in a
    weighted course until they are put in another)."""

    permission_classes = [IsActiveMember]
    serializer_class = AssignmentGroupOutput

    def _group(self, request, pk) -> tuple[CourseAccess, AssignmentGroup]:
        return _owned(AssignmentGroup, pk, request, visible=policies.can_view_course_grading)

    def get(self, request, pk):
        _, group = self._group(request, pk)
        return Response(AssignmentGroupOutput(group).data)

    def _update(self, request, pk, *, partial: bool):
        access, group = self._group(request, pk)
        _writable(access, policies.can_configure_grading, "Only the course's editors may.")
        data = AssignmentGroupInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        group = services.assignment_group_update(group=group, **data.validated_data)
        return Response(AssignmentGroupOutput(group).data)

    @extend_schema(
        request=AssignmentGroupInput, responses={200: AssignmentGroupOutput, 409: ARCHIVED}
    )
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(
        request=AssignmentGroupInput, responses={200: AssignmentGroupOutput, 409: ARCHIVED}
    )
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None, 409: ARCHIVED})
    def delete(self, request, pk):
        access, group = self._group(request, pk)
        _writable(access, policies.can_configure_grading, "Only the course's editors may.")
        services.assignment_group_delete(group=group)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the grading policy -------------------------------------------------------------------


def _policy_output(course) -> dict:
    policy = GradingPolicy.objects.filter(course=course).first()
    raw = policy.letter_scheme if policy else None
    return GradingPolicyOutput(
        {
            "course_id": course.pk,
            "weight_groups": bool(policy and policy.weight_groups),
            "letter_scheme": [
                {"letter": letter, "minimum": minimum}
                for letter, minimum in letter_scheme_from(raw)
            ],
            "is_default_scheme": not raw,
        }
    ).data


class GradingPolicyView(GenericAPIView):
    """GET /courses/{course_id}/grading-policy/: whoever sees the course's
    content. PUT: the instructor and admins; `weight_groups`, and
    `letter_scheme` (letters unique, minimums 0-100 and distinct, one at 0;
    left out or empty: the default scheme)."""

    permission_classes = [IsActiveMember]
    serializer_class = GradingPolicyOutput

    def get(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_course_grading)
        return Response(_policy_output(access.course))

    @extend_schema(request=GradingPolicyInput, responses={200: GradingPolicyOutput, 409: ARCHIVED})
    def put(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_course_grading)
        _writable(access, policies.can_configure_grading, "Only the course's editors may.")
        data = GradingPolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        scheme = [
            (row["letter"], row["minimum"]) for row in data.validated_data.get("letter_scheme", [])
        ]
        services.grading_policy_set(
            course=access.course,
            weight_groups=data.validated_data["weight_groups"],
            letter_scheme=scheme,
        )
        return Response(_policy_output(access.course))


# --- rubrics ---------------------------------------------------------------------------------


class RubricFilter(django_filters.FilterSet):
    updated_since = updated_since_filter()
    ordering = OrderingFilter(fields=["title", "created_at"], help_text="Default: by title.")

    class Meta:
        model = Rubric
        fields = ["updated_since"]


class CourseRubricsView(GenericAPIView):
    """GET /courses/{course_id}/rubrics/: the course's staff (admins, the
    instructor, TAs, graders). POST: the instructor and admins; criteria with
    rating levels, checked by services.rubric_criteria_clean. Accepts
    `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = RubricOutput
    filterset_class = RubricFilter
    queryset = Rubric.objects.none()  # the real one is the course's

    @extend_schema(responses=RubricOutput(many=True))
    def get(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_rubrics)
        page = self.paginate_queryset(self.filter_queryset(selectors.rubrics_of(access.course)))
        return self.get_paginated_response(RubricOutput(page, many=True).data)

    @extend_schema(request=RubricInput, responses={201: RubricOutput, 409: ARCHIVED})
    @idempotent
    def post(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_rubrics)
        _writable(access, policies.can_configure_grading, "Only the course's editors may.")
        data = RubricInput(data=request.data)
        data.is_valid(raise_exception=True)
        rubric = services.rubric_create(
            course=access.course,
            title=data.validated_data["title"],
            criteria=data.validated_data["criteria"],
        )
        return Response(
            RubricOutput(rubric).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/rubrics/{rubric.pk}/"},
        )


class RubricDetailView(GenericAPIView):
    """GET /rubrics/{id}/: the course's staff. PUT (title and criteria): the
    instructor and admins; once grades were given with the rubric, changing
    its criteria is a 409 `rubric_in_use` unless `force` is true, and those
    grades then keep the scores they were given. DELETE: the same people; a
    soft delete, refused (409 `rubric_in_use`) while an assignment uses it."""

    permission_classes = [IsActiveMember]
    serializer_class = RubricOutput

    def _rubric(self, request, pk) -> tuple[CourseAccess, Rubric]:
        return _owned(Rubric, pk, request, visible=policies.can_view_rubrics)

    def get(self, request, pk):
        _, rubric = self._rubric(request, pk)
        return Response(RubricOutput(rubric).data)

    @extend_schema(request=RubricInput, responses={200: RubricOutput, 409: RUBRIC_IN_USE})
    def put(self, request, pk):
        access, rubric = self._rubric(request, pk)
        _writable(access, policies.can_configure_grading, "Only the course's editors may.")
        data = RubricInput(data=request.data)
        data.is_valid(raise_exception=True)
        rubric = services.rubric_update(rubric=rubric, **data.validated_data)
        return Response(RubricOutput(rubric).data)

    @extend_schema(responses={204: None, 409: RUBRIC_IN_USE})
    def delete(self, request, pk):
        access, rubric = self._rubric(request, pk)
        _writable(access, policies.can_configure_grading, "Only the course's editors may.")
        services.rubric_delete(rubric=rubric)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- gradebook items ----------------------------------------------------------------------------


class GradeItemFilter(django_filters.FilterSet):
    updated_since = updated_since_filter()
    kind = django_filters.CharFilter()
    ordering = OrderingFilter(
        fields=["due_at", "title", "created_at"], help_text="Default: by due date, then title."
    )

    class Meta:
        model = GradeItem
        fields = ["updated_since", "kind"]


class CourseGradeItemsView(GenericAPIView):
    """GET /courses/{course_id}/grade-items/: the gradebook's columns. The
    course's staff see every live item; its students the published ones."""

    permission_classes = [IsActiveMember]
    serializer_class = GradeItemOutput
    filterset_class = GradeItemFilter
    queryset = GradeItem.objects.none()  # the real one depends on the caller

    @extend_schema(responses=GradeItemOutput(many=True))
    def get(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_course_grading)
        page = self.paginate_queryset(self.filter_queryset(selectors.grade_items_for(access)))
        return self.get_paginated_response(GradeItemOutput(page, many=True).data)


def _visible_item(request, pk) -> tuple[CourseAccess, GradeItem]:
    access, item = _owned(GradeItem, pk, request, visible=policies.can_view_course_grading)
    if not (item.is_published or access.is_staff):
        raise Http404
    return access, item


class GradeItemDetailView(GenericAPIView):
    """GET /grade-items/{id}/: as the course's list. PATCH: `posting_policy`
    only, by the instructor, admins and TAs (not graders). Switching to
    automatic posts grades given from then on; grades already hidden stay
    hidden unless `release_hidden` is true."""

    permission_classes = [IsActiveMember]
    serializer_class = GradeItemOutput

    def get(self, request, pk):
        _, item = _visible_item(request, pk)
        return Response(GradeItemOutput(item).data)

    @extend_schema(request=GradeItemPolicyInput, responses={200: GradeItemOutput, 409: ARCHIVED})
    def patch(self, request, pk):
        access, item = _visible_item(request, pk)
        _writable(access, policies.can_post_grades, "Graders may not post grades.")
        data = GradeItemPolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.grade_item_posting_policy_set(
            item=item, actor=request.user, **data.validated_data
        )
        return Response(GradeItemOutput(item).data)


class _ItemPostingView(GenericAPIView):
    permission_classes = [IsActiveMember]
    serializer_class = ReleaseOutput
    release: bool

    @extend_schema(request=None, responses={200: ReleaseOutput, 409: ARCHIVED})
    def post(self, request, pk):
        access, item = _visible_item(request, pk)
        _writable(access, policies.can_post_grades, "Graders may not post grades.")
        change = services.item_grades_release if self.release else services.item_grades_hide
        changed = change(item=item, actor=request.user)
        return Response(ReleaseOutput({"item_id": item.pk, "changed": changed}).data)


class GradeItemReleaseView(_ItemPostingView):
    """POST /grade-items/{id}/release/: shows every grade of the item to its
    student (Canvas's "post grades"). The instructor, admins and TAs; not
    graders. Releasing what is released changes nothing (`changed` 0)."""

    release = True


class GradeItemHideView(_ItemPostingView):
    """POST /grade-items/{id}/hide/: hides every grade of the item again. The
    instructor, admins and TAs; not graders."""

    release = False


# --- grades -------------------------------------------------------------------------------------


def _etag(grade: Grade) -> dict[str, str]:
    return {"ETag": f'"{grade.version}"'}


def _grade_output(grade: Grade, access: CourseAccess) -> Response:
    scheme = letter_scheme_from(
        GradingPolicy.objects.filter(course=access.course)
        .values_list("letter_scheme", flat=True)
        .first()
    )
    data = GradeOutput(grade, context={"letter_scheme": scheme}).data
    return Response(data, headers=_etag(grade))


def _visible_grade(request, pk) -> tuple[CourseAccess, Grade]:
    """The grade as the caller may see it: staff any of the course's; the
    student their own once released; 404 otherwise."""
    grade = selectors.grade_of(pk)
    if grade is None:
        raise Http404
    access = course_access_or_404(request.user, grade.item.course_id)
    if access.can_view_roster:
        return access, grade
    if grade.student_id != request.user.pk or not policies.can_view_grade(
        access, grade, released_to_student=selectors.grade_released_to_student(grade)
    ):
        raise Http404
    return access, grade


class GradeDetailView(GenericAPIView):
    """GET /grades/{id}/: the course's staff; the student it is for, only once
    it is released (else 404). The ETag header is its version.
    PUT, PATCH: whoever grades in the course (admins, the instructor, TAs,
    graders), with the version they read (`version` or If-Match): a stale one
    is a 409 `grade_conflict` carrying `current_version`, and nothing changes.
    PUT resets what it leaves out (feedback, rubric scores, excused); PATCH
    keeps it. Each change is kept in the history; on an item posted
    automatically the grade is shown at once, otherwise it stays hidden."""

    permission_classes = [IsActiveMember]
    serializer_class = GradeOutput

    @extend_schema(responses=GradeOutput)
    def get(self, request, pk):
        access, grade = _visible_grade(request, pk)
        return _grade_output(grade, access)

    def _update(self, request, pk, *, partial: bool):
        access, grade = _visible_grade(request, pk)
        _writable(access, policies.can_grade, "Only the course's graders may grade.")
        data = GradeChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        expected = expected_version(request, changes.pop("version", None))
        grade = services.grade_update(
            grade=grade,
            grader=request.user,
            changes=changes,
            expected_version=expected,
            partial=partial,
        )
        return _grade_output(selectors.grade_of(grade.pk), access)

    @extend_schema(
        request=GradeChangeInput,
        parameters=[IF_MATCH],
        responses={200: GradeOutput, 409: GRADE_CONFLICT},
    )
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(
        request=GradeChangeInput,
        parameters=[IF_MATCH],
        responses={200: GradeOutput, 409: GRADE_CONFLICT},
    )
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)


class _GradePostingView(GenericAPIView):
    permission_classes = [IsActiveMember]
    serializer_class = GradeOutput
    release: bool

    @extend_schema(request=None, responses={200: GradeOutput, 409: ARCHIVED})
    def post(self, request, pk):
        access, grade = _visible_grade(request, pk)
        _writable(access, policies.can_post_grades, "Graders may not post grades.")
        change = services.grades_release if self.release else services.grades_hide
        change(grade_ids=[grade.pk], actor=request.user)
        return _grade_output(selectors.grade_of(grade.pk), access)


class GradeReleaseView(_GradePostingView):
    """POST /grades/{id}/release/: shows this grade to its student. The
    instructor, admins and TAs; not graders."""

    release = True


class GradeHideView(_GradePostingView):
    """POST /grades/{id}/hide/: hides this grade from its student again. The
    instructor, admins and TAs; not graders."""

    release = False


class GradeHistoryView(GenericAPIView):
    """GET /grades/{id}/history/: every revision of the grade, newest first,
    with who made it and when. The course's staff."""

    permission_classes = [IsActiveMember]
    serializer_class = GradeRevisionOutput
    queryset = GradeRevision.objects.none()  # the real one is the grade's

    @extend_schema(responses=GradeRevisionOutput(many=True))
    def get(self, request, pk):
        access, grade = _visible_grade(request, pk)
        if not policies.can_view_gradebook(access):
            raise PermissionDenied("Only the course's staff may see a grade's history.")
        page = self.paginate_queryset(selectors.grade_revisions_of(grade))
        return self.get_paginated_response(GradeRevisionOutput(page, many=True).data)


# --- the gradebook -----------------------------------------------------------------------------


def _since(request) -> selectors.Since | None:
    query = GradebookQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    for key, field in (("updated_since", "updated_at"), ("graded_since", "graded_at")):
        if key in query.validated_data:
            return selectors.Since(at=query.validated_data[key], field=field)
    return None


class GradebookView(GenericAPIView):
    """GET /courses/{course_id}/grades/: the course's staff. Every student
    holding a seat by every live item: cells {id, score, excused, released,
    late, version} by item id, group totals, the current total (graded items)
    and the final one (ungraded published items as zero), and the letter of
    the current total. Staff totals count every grade, released or not;
    unpublished items are columns but count in no total. With
    `updated_since` or `graded_since`, only what changed (see the
    parameters); `as_of` is where the next pull starts."""

    permission_classes = [IsActiveMember]
    serializer_class = GradebookOutput

    @extend_schema(parameters=[GradebookQuery], responses=GradebookOutput)
    def get(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_gradebook)
        gradebook = selectors.gradebook_for_course(access.course, since=_since(request))
        return HttpResponse(gradebook_json(gradebook), content_type="application/json")


class _Echo:
    """A file-like object whose write returns what it is given."""

    def write(self, value: str) -> str:
        return value


class GradebookExportView(GenericAPIView):
    """GET /courses/{course_id}/grades/export/: the gradebook as CSV, streamed,
    one row per student: name, email, id, each item's score ("EX" excused),
    group and course totals, letter. The course's staff. A cell that a
    spreadsheet would run as a formula (= + - @) is prefixed with a quote."""

    permission_classes = [IsActiveMember]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, course_id):
        access = _course_access(request, course_id, policies.can_view_gradebook)
        gradebook = selectors.gradebook_for_course(access.course)
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in gradebook_csv_rows(gradebook)),
            content_type="text/csv; charset=utf-8",
        )
        filename = f"grades-{slugify(access.course.code) or 'course'}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# --- a student's own grades -------------------------------------------------------------------


def _my_course(course, setup: selectors.GradingSetup, grades: list[Grade]) -> dict:
    """One course of a student's grades: released grades only, so `grades`
    holds nothing else and the totals cannot count a hidden grade."""
    by_item = {grade.item_id: grade for grade in grades}
    context = {"letter_scheme": setup.scheme}
    items = []
    for item in setup.items:
        grade = by_item.get(item["id"])
        output = GradeOutput(grade, context=context).data if grade else None
        items.append({**selectors.item_output(item), "grade": output})
    return {
        "course": {"id": course.pk, "code": course.code, "title": course.title},
        "weight_groups": setup.weight_groups,
        "groups": selectors.groups_output(setup),
        "items": items,
        **selectors.totals_of_grades(setup, grades),
    }


class MyGradesView(GenericAPIView):
    """GET /users/me/grades/: the caller's own grades, for every published
    course where they hold a seat (`?course=` for one): the published items
    with the grade once it is released (with its feedback), and totals from
    released grades alone, so a hidden grade never moves them. Any member;
    staff of a course get nothing for it here."""

    permission_classes = [IsActiveMember]
    serializer_class = MyGradesOutput

    @extend_schema(parameters=[MyGradesQuery], responses=MyGradesOutput)
    def get(self, request):
        query = MyGradesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        courses = selectors.student_courses(
            request.user, course_id=query.validated_data.get("course")
        )
        grades: dict = {}
        for grade in selectors.released_grades_of(request.user, courses):
            grades.setdefault(grade.item.course_id, []).append(grade)
        setups = selectors.grading_setups(courses, published_only=True)
        return Response(
            {
                "courses": [
                    _my_course(course, setups[course.pk], grades.get(course.pk, []))
                    for course in courses
                ]
            }
        )
