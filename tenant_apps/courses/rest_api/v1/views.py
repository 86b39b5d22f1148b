"""The courses and enrollment API (/api/v1/courses/). Each view states who may
call it; the decision is `CourseAccess`'s (tenant_apps.courses.policies). A
course the caller may not see is a 404, one they see but may not change a 403."""

import django_filters
from django.db.models import Q
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from conceptspro.api import ApplicationError, OrderingFilter, updated_since_filter
from tenant_apps.accounts.api import IsActiveMember, User
from tenant_apps.activity.api import ActivityType, activity_record
from tenant_apps.courses import selectors, services
from tenant_apps.courses.models import (
    Course,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentType,
)
from tenant_apps.courses.policies import CourseAccess, course_access_or_404
from tenant_apps.idempotency.api import idempotent

from .serializers import (
    CourseCopyInput,
    CourseDetailOutput,
    CourseInput,
    CourseOutput,
    EnrollInput,
    EnrollmentImportInput,
    EnrollmentImportOutput,
    EnrollmentOutput,
    EnrollResultOutput,
    UnenrollInput,
)


def _with_caller(access: CourseAccess) -> Course:
    """The access's course, carrying the caller's enrollment as a list would."""
    course = access.course
    setattr(course, selectors.CALLER_ENROLLMENTS, [access.enrollment] if access.enrollment else [])
    return course


def _conflict(*codes: str) -> OpenApiResponse:
    """A documented 409; the error body is filled in by the schema hook."""
    return OpenApiResponse(description="Conflict: " + ", ".join(f"`{c}`" for c in codes) + ".")


def _refuse_unless(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _member_or_400(user_id, field: str = "user_id", *, deleted_too: bool = False) -> User:
    """A user of this institution; a deleted one only with `deleted_too` (to drop
    them, so the seat they still hold comes free)."""
    users = User.objects.all() if deleted_too else User.objects.filter(deleted_at__isnull=True)
    user = users.filter(pk=user_id).first()
    if user is None:
        raise ApplicationError(
            "The request has invalid fields.", code="invalid", fields={field: ["Unknown user."]}
        )
    return user


# --- Courses ---------------------------------------------------------------------------


class CourseFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CourseStatus.choices)
    term = django_filters.CharFilter()
    academic_year = django_filters.NumberFilter()
    q = django_filters.CharFilter(method="_search", help_text="Words in the code or title.")
    mine = django_filters.BooleanFilter(
        method="_mine",
        help_text="Admins: only courses they teach or are enrolled in (others always get theirs).",
    )
    updated_since = updated_since_filter()
    ordering = OrderingFilter(
        fields=[
            "code",
            "title",
            "term",
            "academic_year",
            "start_date",
            "status",
            "created_at",
            "updated_at",
        ]
    )

    class Meta:
        model = Course
        fields = ["status", "term", "academic_year", "q", "mine", "updated_since"]

    def _search(self, queryset, name, value):
        for term in value.split():
            queryset = queryset.filter(Q(code__icontains=term) | Q(title__icontains=term))
        return queryset

    def _mine(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(selectors.course_involving(self.request.user))


class CourseListView(ListAPIView):
    """GET /courses/: the courses the caller may list, paginated. Students: the
    published courses they are enrolled in (holding a seat or waitlisted);
    instructors, TAs and graders: the courses they teach or assist, in any
    status; admins: every course. Each carries the caller's `my_role`. Filters:
    status, term, academic_year, q, mine, updated_since; ordering.

    POST /courses/: create a course (201). Who: the institution's instructors
    (who become its instructor) and admins (who may name any active instructor
    or admin as `instructor_id`). 409 `course_code_taken` when the code is
    used in that term. Accepts Idempotency-Key.
    """

    permission_classes = [IsActiveMember]
    serializer_class = CourseOutput
    filterset_class = CourseFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Course.objects.none()
        return selectors.course_list_for(self.request.user).order_by(
            "-academic_year", "term", "code", "id"
        )

    @extend_schema(
        request=CourseInput,
        responses={201: CourseDetailOutput, 409: _conflict("course_code_taken")},
    )
    @idempotent
    def post(self, request):
        data = CourseInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        instructor_id = fields.pop("instructor_id", None)
        instructor = _member_or_400(instructor_id, "instructor_id") if instructor_id else None
        course = services.course_create(actor=request.user, instructor=instructor, **fields)
        access = CourseAccess(user=request.user, course=course, enrollment=None)
        location = reverse("courses-detail", kwargs={"course_id": course.pk})
        return Response(
            CourseDetailOutput(_with_caller(access), context={"request": request}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


class CourseCatalogView(ListAPIView):
    """GET /courses/catalog/: the published courses open to self-enrollment
    that the caller is not in yet, to find one and POST its enroll/. Who: any
    active member. Filters as the course list (term, academic_year, q,
    updated_since, ordering); each course shows its enrollment window and
    seats."""

    permission_classes = [IsActiveMember]
    serializer_class = CourseOutput
    filterset_class = CourseFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Course.objects.none()
        return selectors.course_catalog_for(self.request.user).order_by(
            "-academic_year", "term", "code", "id"
        )


_COURSE_UPDATE_RESPONSES = {
    200: CourseDetailOutput,
    409: _conflict(
        "course_archived", "invalid_status_transition", "course_code_taken", "already_enrolled"
    ),
}


class CourseDetailView(GenericAPIView):
    """GET /courses/{course_id}/: the course with the caller's role and own
    enrollment. Who: anyone who may see it (course staff, its enrolled or
    waitlisted students once published, anyone while it is published with
    self-enrollment on); else 404.

    PUT, PATCH: change it (both accept any subset of the fields; `settings`
    merge key by key). Who: the course's instructor and admins; only admins
    may change `instructor_id`. Status moves draft -> published -> archived
    and archived -> published (409 `invalid_status_transition`); an archived
    course only takes a status change (409 `course_archived`).

    DELETE: soft delete (204). Who: the course's instructor and admins.
    """

    permission_classes = [IsActiveMember]
    serializer_class = CourseDetailOutput

    def get(self, request, course_id):
        access = course_access_or_404(request.user, course_id)
        activity_record(
            user=request.user,
            activity_type=ActivityType.VIEW_COURSE,
            entity_type="course",
            entity_id=access.course.pk,
            course_id=access.course.pk,
            request=request,
        )
        return Response(self.get_serializer(_with_caller(access)).data)

    @extend_schema(request=CourseInput(partial=True), responses=_COURSE_UPDATE_RESPONSES)
    def put(self, request, course_id):
        access = course_access_or_404(request.user, course_id)
        _refuse_unless(access.can_edit, "Only the course's instructor and admins edit it.")
        data = CourseInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        instructor = None
        if "instructor_id" in fields:
            instructor_id = fields.pop("instructor_id")
            if instructor_id != access.course.instructor_id:
                _refuse_unless(
                    access.can_assign_instructor, "Only admins change a course's instructor."
                )
                instructor = _member_or_400(instructor_id, "instructor_id")
        course = services.course_update(course=access.course, instructor=instructor, **fields)
        access = CourseAccess(user=request.user, course=course, enrollment=access.enrollment)
        return Response(self.get_serializer(_with_caller(access)).data)

    @extend_schema(request=CourseInput(partial=True), responses=_COURSE_UPDATE_RESPONSES)
    def patch(self, request, course_id):
        return self.put(request, course_id)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted.")})
    def delete(self, request, course_id):
        access = course_access_or_404(request.user, course_id)
        _refuse_unless(access.can_edit, "Only the course's instructor and admins delete it.")
        services.course_soft_delete(course=access.course)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CourseCopyView(GenericAPIView):
    """POST /courses/{course_id}/copy/: a new draft course from this one for
    another term, with its modules and content (and later assignments and
    quizzes); every date moves by the new start date minus the old. No
    enrollments. 201 with the new course. Who: the course's instructor and
    admins. Accepts Idempotency-Key.
    """

    permission_classes = [IsActiveMember]
    serializer_class = CourseCopyInput

    @extend_schema(
        request=CourseCopyInput,
        responses={201: CourseDetailOutput, 409: _conflict("course_code_taken")},
    )
    @idempotent
    def post(self, request, course_id):
        access = course_access_or_404(request.user, course_id)
        _refuse_unless(access.can_edit, "Only the course's instructor and admins copy it.")
        data = CourseCopyInput(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.course_copy(actor=request.user, source=access.course, **data.validated_data)
        location = reverse("courses-detail", kwargs={"course_id": copy.pk})
        copy_access = CourseAccess(user=request.user, course=copy, enrollment=None)
        return Response(
            CourseDetailOutput(_with_caller(copy_access), context={"request": request}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


# --- Enrollment ------------------------------------------------------------------------


class CourseEnrollView(GenericAPIView):
    """POST /courses/{course_id}/enroll/: 201 with the enrollment.

    Without `user_id`: the caller enrolls themself as a student (regular or
    audit). The course must be published with self-enrollment on (403
    `self_enrollment_disabled`) and today inside its enrollment window (409
    `enrollment_closed`).

    With `user_id`, `role` (student, ta, grader), `enrollment_type`,
    `section`: the course's instructor or an admin enrolls that user, in any
    status of the course and outside the window.

    A student finding the course full joins its waitlist (type `waitlist`,
    `waitlisted` true, `waitlist_position`); with the course's `waitlist`
    setting off it is 409 `course_full`. Already in the course: 409
    `already_enrolled`. A dropped student coming back gets their old row back.
    Accepts Idempotency-Key.
    """

    permission_classes = [IsActiveMember]
    serializer_class = EnrollInput

    @extend_schema(
        request=EnrollInput,
        responses={
            201: EnrollResultOutput,
            409: _conflict(
                "already_enrolled", "enrollment_completed", "course_full", "enrollment_closed"
            ),
        },
    )
    @idempotent
    def post(self, request, course_id):
        access = course_access_or_404(request.user, course_id)
        data = EnrollInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "user_id" in fields:
            _refuse_unless(
                access.can_manage_enrollment,
                "Only the course's instructor and admins enroll other people.",
            )
            enrollment = services.enrollment_add(
                course=access.course,
                user=_member_or_400(fields.pop("user_id")),
                **fields,
            )
        else:
            enrollment = services.enrollment_self_enroll(
                course=access.course,
                user=request.user,
                enrollment_type=fields["enrollment_type"],
            )
        return Response(EnrollResultOutput(enrollment).data, status=status.HTTP_201_CREATED)


class CourseUnenrollView(GenericAPIView):
    """POST /courses/{course_id}/unenroll/: 200 with the dropped enrollment.
    Without `user_id`: the caller leaves the course (any enrolled user, the
    waitlisted included). With `user_id`: the course's instructor or an admin
    drops that user (a deleted account too, so its seat comes free). A seat
    that comes free goes to the first waitlisted student with a live account,
    who is emailed. Not in the course: 409 `not_enrolled`.
    """

    permission_classes = [IsActiveMember]
    serializer_class = UnenrollInput

    @extend_schema(
        request=UnenrollInput, responses={200: EnrollmentOutput, 409: _conflict("not_enrolled")}
    )
    def post(self, request, course_id):
        access = course_access_or_404(request.user, course_id)
        data = UnenrollInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        if "user_id" in data.validated_data:
            _refuse_unless(
                access.can_manage_enrollment,
                "Only the course's instructor and admins drop other people.",
            )
            user = _member_or_400(data.validated_data["user_id"], deleted_too=True)
        enrollment = services.enrollment_drop(course=access.course, user=user)
        return Response(EnrollmentOutput(enrollment).data)


class RosterFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=CourseRole.choices)
    status = django_filters.ChoiceFilter(choices=EnrollmentStatus.choices)
    enrollment_type = django_filters.ChoiceFilter(choices=EnrollmentType.choices)
    section = django_filters.CharFilter()
    q = django_filters.CharFilter(method="_search", help_text="Words in the name or email.")
    updated_since = updated_since_filter()
    ordering = OrderingFilter(
        fields=[
            ("user__last_name", "last_name"),
            ("user__email", "email"),
            "enrolled_at",
            "updated_at",
            "section",
        ]
    )

    class Meta:
        model = Enrollment
        fields = ["role", "status", "enrollment_type", "section", "q", "updated_since"]

    def _search(self, queryset, name, value):
        return selectors.roster_search(queryset, value)


class CourseRosterView(ListAPIView):
    """GET /courses/{course_id}/students/: the course's enrollments (students,
    TAs, graders; every status, so a sync with `updated_since` learns of
    drops), each with the user's name and email, paginated. Filters: role,
    status, enrollment_type, section, q, updated_since; ordering. Who: the
    course's staff (instructor, TAs, graders) and admins; students 403.
    """

    permission_classes = [IsActiveMember]
    serializer_class = EnrollmentOutput
    filterset_class = RosterFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Enrollment.objects.none()
        access = course_access_or_404(self.request.user, self.kwargs["course_id"])
        _refuse_unless(access.can_view_roster, "Only the course's staff see its roster.")
        return selectors.course_roster(access.course)


class EnrollmentImportView(GenericAPIView):
    """POST /courses/{course_id}/enrollments/import/ (multipart: `file`,
    `dry_run`): queue a bulk enrollment from a CSV file (columns email, role,
    section) and answer 202 with the job; follow its Location for the per-row
    report. Unknown addresses are row errors; nobody's account is created.
    `dry_run` reports what would happen without enrolling anyone. Over 1 MB or
    5,000 rows: 413 (`file_too_large`, `too_many_rows`); not a UTF-8 CSV with
    an email column: 400 `invalid_csv`. Who: the course's instructor and
    admins. Accepts Idempotency-Key.
    """

    permission_classes = [IsActiveMember]
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = EnrollmentImportInput

    @extend_schema(request=EnrollmentImportInput, responses={202: EnrollmentImportOutput})
    @idempotent
    def post(self, request, course_id):
        access = course_access_or_404(request.user, course_id)
        _refuse_unless(access.can_manage_enrollment, "Only the course's instructor and admins.")
        data = EnrollmentImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = services.enrollment_import_create(
            course=access.course,
            actor=request.user,
            data=upload.read(services.IMPORT_MAX_BYTES + 1),
            filename=upload.name or "",
            dry_run=data.validated_data["dry_run"],
        )
        location = reverse(
            "courses-enrollment-import-detail",
            kwargs={"course_id": access.course.pk, "import_id": job.pk},
        )
        return Response(
            EnrollmentImportOutput(job).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )


class EnrollmentImportDetailView(GenericAPIView):
    """GET /courses/{course_id}/enrollments/import/{import_id}/: the job's
    status (pending, running, done, failed), counts and per-row report (row,
    email, outcome enrolled / waitlisted / already_enrolled / error, message).
    Who: the course's instructor and admins.
    """

    permission_classes = [IsActiveMember]
    serializer_class = EnrollmentImportOutput

    def get(self, request, course_id, import_id):
        access = course_access_or_404(request.user, course_id)
        _refuse_unless(access.can_manage_enrollment, "Only the course's instructor and admins.")
        job = selectors.enrollment_import_for_course(access.course, import_id)
        if job is None:
            raise ApplicationError(
                "No such import.", code="not_found", status=status.HTTP_404_NOT_FOUND
            )
        services.enrollment_import_requeue_stalled(job=job)
        return Response(self.get_serializer(job).data)
