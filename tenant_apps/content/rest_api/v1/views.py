"""The modules, content and progress API under /api/v1/. Who may call what is
stated on each view and decided by tenant_apps.content.policies (which asks the
course's CourseAccess); what students see is in tenant_apps.content.selectors.

Not visible (a non-member, a waitlisted student, another institution's id, a
draft or scheduled module or an unpublished item to a student) is 404; visible
but not allowed (a student or TA editing) is 403 and changes nothing.
"""

import uuid

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from conceptspro.api import ApplicationError, IsoDateTimeFilter, OrderingFilter, PagePagination
from tenant_apps.accounts.api import IsActiveMember, User
from tenant_apps.activity.api import ActivityType, activity_record
from tenant_apps.content import policies, selectors, services
from tenant_apps.content.models import ContentItem, ContentType, Module
from tenant_apps.idempotency.api import idempotent

from .serializers import (
    STAFF,
    STUDENT,
    ContentItemInput,
    ContentItemOutput,
    ContentReorderInput,
    ContentReorderOutput,
    CourseProgressOutput,
    ModuleInput,
    ModuleOutput,
    ModuleReorderInput,
    ModuleReorderOutput,
    ProgressInput,
    ProgressOutput,
    RosterProgressOutput,
    RosterProgressPageOutput,
)

# Every change of a course's material: an archived course is frozen (409).
ARCHIVED = OpenApiResponse(description="Conflict: `course_archived`, the course is archived.")


def _audience(access) -> str:
    return STAFF if access.is_staff else STUDENT


def _module_context(access) -> dict:
    return {"audience": _audience(access), "now": timezone.now()}


def _item_context(access, module: Module) -> dict:
    return {
        "audience": _audience(access),
        "module_locked": selectors.module_is_locked(module, timezone.now()),
    }


def _module_output(access, module: Module) -> dict:
    return ModuleOutput(selectors.module_get(module.pk), context=_module_context(access)).data


def _valid(serializer_class, request, *, partial: bool = False):
    data = serializer_class(data=request.data, partial=partial)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _opened_since(value, prefix: str = "") -> Q:
    """Modules made visible or unlocked by the clock (no row changed) since
    `value`: a syncing client must fetch them although updated_at is older."""
    now = timezone.now()
    return Q(**{f"{prefix}publish_at__gte": value, f"{prefix}publish_at__lte": now}) | Q(
        **{f"{prefix}unlock_at__gte": value, f"{prefix}unlock_at__lte": now}
    )


class ModuleFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        method="_updated_since",
        help_text="Modules changed, or made visible or unlocked by their dates, since then.",
    )
    ordering = OrderingFilter(fields=["order_index", "title", "created_at", "updated_at"])

    class Meta:
        model = Module
        fields = ["updated_since"]

    def _updated_since(self, queryset, name, value):
        return queryset.filter(Q(updated_at__gte=value) | _opened_since(value))


class ContentItemFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        method="_updated_since",
        help_text="Items changed, or whose module was made visible or unlocked, since then.",
    )
    content_type = django_filters.ChoiceFilter(choices=ContentType.choices)
    is_required = django_filters.BooleanFilter()
    ordering = OrderingFilter(fields=["order_index", "title", "created_at", "updated_at"])

    class Meta:
        model = ContentItem
        fields = ["updated_since", "content_type", "is_required"]

    def _updated_since(self, queryset, name, value):
        return queryset.filter(Q(updated_at__gte=value) | _opened_since(value, prefix="module__"))


# --- modules ---


class CourseModulesView(ListAPIView):
    """GET /courses/{course_id}/modules/: the course's modules in order,
    paginated. Staff (admins, instructor, TAs, graders) get every live module;
    students with a seat in the published course the visible ones (locked ones
    as an outline). Filters: updated_since; ordering.
    POST: a new module at the end. The instructor and admins (can_edit)."""

    permission_classes = [IsActiveMember]
    serializer_class = ModuleOutput
    filterset_class = ModuleFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Module.objects.none()
        return selectors.module_list(access=self.access)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), **_module_context(self.access)}

    def list(self, request, course_id):
        self.access = policies.content_access_or_404(request.user, course_id)
        return super().list(request)

    @extend_schema(request=ModuleInput, responses={201: ModuleOutput, 409: ARCHIVED})
    @idempotent
    def post(self, request, course_id):
        access = policies.content_access_or_404(request.user, course_id)
        policies.require_edit(access)
        module = services.module_create(course=access.course, **_valid(ModuleInput, request))
        return Response(_module_output(access, module), status=status.HTTP_201_CREATED)


class ModuleDetailView(APIView):
    """GET /modules/{module_id}/: staff any live module; students a visible
    one (a locked one as an outline).
    PUT, PATCH: any subset of title, description, is_published, publish_at,
    unlock_at (order only through reorder). DELETE: a soft delete of the
    module and its items. Both for the instructor and admins (can_edit)."""

    permission_classes = [IsActiveMember]

    @extend_schema(responses=ModuleOutput)
    def get(self, request, module_id):
        access, module = policies.module_or_404(request.user, module_id)
        return Response(ModuleOutput(module, context=_module_context(access)).data)

    @extend_schema(request=ModuleInput, responses={200: ModuleOutput, 409: ARCHIVED})
    def put(self, request, module_id):
        access, module = policies.module_or_404(request.user, module_id)
        policies.require_edit(access)
        changes = _valid(ModuleInput, request, partial=True)
        module = services.module_update(module=module, **changes)
        return Response(_module_output(access, module))

    patch = put

    @extend_schema(responses={204: None, 409: ARCHIVED})
    def delete(self, request, module_id):
        access, module = policies.module_or_404(request.user, module_id)
        policies.require_edit(access)
        services.module_delete(module=module)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CourseModulesReorderView(APIView):
    """POST /courses/{course_id}/modules/reorder/ {"module_ids": [...]}: the
    course's live modules in their new order; the list must hold every one
    exactly once (else 400). The instructor and admins (can_edit)."""

    permission_classes = [IsActiveMember]

    @extend_schema(request=ModuleReorderInput, responses={200: ModuleReorderOutput, 409: ARCHIVED})
    def post(self, request, course_id):
        access = policies.content_access_or_404(request.user, course_id)
        policies.require_edit(access)
        ids = _valid(ModuleReorderInput, request)["module_ids"]
        ordered = services.module_reorder(course=access.course, module_ids=ids)
        return Response(ModuleReorderOutput({"module_ids": ordered}).data)


# --- content items ---


class ModuleContentsView(ListAPIView):
    """GET /modules/{module_id}/contents/: the module's items in order,
    paginated. Staff get every live item; students the published items of a
    visible module (of a locked module, their outline only). Filters:
    updated_since, content_type, is_required; ordering.
    POST: a new item at the end of the module. The instructor and admins."""

    permission_classes = [IsActiveMember]
    serializer_class = ContentItemOutput
    filterset_class = ContentItemFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ContentItem.objects.none()
        return selectors.content_item_list(access=self.access, module=self.module)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), **_item_context(self.access, self.module)}

    def list(self, request, module_id):
        self.access, self.module = policies.module_or_404(request.user, module_id)
        return super().list(request)

    @extend_schema(request=ContentItemInput, responses={201: ContentItemOutput, 409: ARCHIVED})
    @idempotent
    def post(self, request, module_id):
        access, module = policies.module_or_404(request.user, module_id)
        policies.require_edit(access)
        fields = _valid(ContentItemInput, request)
        if "module_id" in fields:
            raise ValidationError({"module_id": ["The module is the one in the URL."]})
        item = services.content_item_create(actor=request.user, module=module, **fields)
        output = ContentItemOutput(item, context=_item_context(access, module))
        return Response(output.data, status=status.HTTP_201_CREATED)


class ContentDetailView(APIView):
    """GET /contents/{content_id}/: staff any live item; students an open one
    (published, in a visible and unlocked module), else 404.
    PUT, PATCH: any subset of the fields, and module_id to move the item to
    the end of another module of the same course. DELETE: a soft delete. Both
    for the instructor and admins (can_edit)."""

    permission_classes = [IsActiveMember]

    @extend_schema(responses=ContentItemOutput)
    def get(self, request, content_id):
        access, item = policies.content_item_or_404(request.user, content_id)
        output = ContentItemOutput(item, context=_item_context(access, item.module))
        activity_record(
            user=request.user,
            activity_type=ActivityType.VIEW_CONTENT,
            entity_type="content",
            entity_id=item.pk,
            course_id=access.course.pk,
            request=request,
        )
        return Response(output.data)

    @extend_schema(request=ContentItemInput, responses={200: ContentItemOutput, 409: ARCHIVED})
    def put(self, request, content_id):
        access, item = policies.content_item_or_404(request.user, content_id)
        policies.require_edit(access)
        changes = _valid(ContentItemInput, request, partial=True)
        target = None
        if "module_id" in changes:
            target = selectors.module_get(changes.pop("module_id"))
            if target is None or target.course_id != access.course.pk:
                raise ApplicationError(
                    "Items move only between the course's modules.",
                    code="invalid",
                    fields={"module_id": ["Not a module of this course."]},
                )
        item = services.content_item_update(actor=request.user, item=item, module=target, **changes)
        output = ContentItemOutput(item, context=_item_context(access, item.module))
        return Response(output.data)

    patch = put

    @extend_schema(responses={204: None, 409: ARCHIVED})
    def delete(self, request, content_id):
        access, item = policies.content_item_or_404(request.user, content_id)
        policies.require_edit(access)
        services.content_item_delete(item=item)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModuleContentsReorderView(APIView):
    """POST /modules/{module_id}/contents/reorder/ {"content_ids": [...]}: the
    module's live items in their new order; every one exactly once (else
    400). The instructor and admins (can_edit)."""

    permission_classes = [IsActiveMember]

    @extend_schema(
        request=ContentReorderInput, responses={200: ContentReorderOutput, 409: ARCHIVED}
    )
    def post(self, request, module_id):
        access, module = policies.module_or_404(request.user, module_id)
        policies.require_edit(access)
        ids = _valid(ContentReorderInput, request)["content_ids"]
        ordered = services.content_item_reorder(module=module, content_ids=ids)
        return Response(ContentReorderOutput({"content_ids": ordered}).data)


# --- progress ---


class ContentProgressView(APIView):
    """GET /contents/{content_id}/progress/: the caller's own progress on an
    open item (zeros before the first report).
    POST: records a report (see ProgressInput). Students holding a seat
    only (staff: 403); items they cannot open are a 404."""

    permission_classes = [IsActiveMember]

    @extend_schema(responses=ProgressOutput)
    def get(self, request, content_id):
        access, item = policies.content_item_or_404(request.user, content_id)
        policies.require_progress_tracking(access)
        return Response(
            ProgressOutput(selectors.content_progress_get(user=request.user, item=item)).data
        )

    @extend_schema(request=ProgressInput, responses=ProgressOutput)
    @idempotent
    def post(self, request, content_id):
        access, item = policies.content_item_or_404(request.user, content_id)
        policies.require_progress_tracking(access)
        report = _valid(ProgressInput, request)
        progress = services.content_progress_record(user=request.user, item=item, **report)
        return Response(ProgressOutput(progress).data)


def _uuid_param(request, name: str) -> uuid.UUID | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise ValidationError({name: ["Must be a valid UUID."]}) from error


class RosterProgressFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        field_name="last_accessed_at",
        lookup_expr="gte",
        help_text="Students who reported progress in this course since then.",
    )
    ordering = OrderingFilter(
        fields=[
            "last_name",
            "first_name",
            "email",
            "completed_count",
            "time_spent_seconds",
            "last_accessed_at",
        ]
    )

    class Meta:
        model = User
        fields = ["updated_since"]


class CourseProgressView(APIView):
    """GET /courses/{course_id}/progress/: a student (with a seat) gets their
    own summary: required items completed, percent, time spent, per module.
    Teaching staff (can_view_roster) get every seated student's totals,
    paginated (filters: updated_since; ordering), or with ?user_id= one
    student's summary (404 if they hold no seat). Counts cover the items
    students can see; deleted items never count."""

    permission_classes = [IsActiveMember]

    @extend_schema(
        parameters=[
            OpenApiParameter("user_id", OpenApiTypes.UUID, description="Staff: one student."),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("per_page", OpenApiTypes.INT, description="At most 100."),
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME),
            OpenApiParameter("ordering", OpenApiTypes.STR),
        ],
        responses=PolymorphicProxySerializer(
            component_name="CourseProgressForCaller",
            serializers=[CourseProgressOutput, RosterProgressPageOutput],
            resource_type_field_name=None,
        ),
    )
    def get(self, request, course_id):
        access = policies.content_access_or_404(request.user, course_id)
        user_id = _uuid_param(request, "user_id")
        if not access.is_staff:
            policies.require_progress_tracking(access)
            if user_id is not None and user_id != request.user.pk:
                policies.require_roster(access)
            summary = selectors.progress_summary(course=access.course, user=request.user)
            return Response(CourseProgressOutput(summary).data)
        policies.require_roster(access)
        if user_id is not None:
            return self._one_student(access, user_id)
        return self._roster(request, access)

    def _one_student(self, access, user_id):
        student = selectors.seated_students(access.course).filter(pk=user_id).first()
        if student is None:
            raise ApplicationError(
                "No student with a seat in this course has that id.", code="not_found", status=404
            )
        summary = selectors.progress_summary(course=access.course, user=student)
        return Response(CourseProgressOutput(summary).data)

    def _roster(self, request, access):
        students = selectors.progress_roster(course=access.course).order_by(
            "last_name", "first_name", "id"
        )
        filtered = RosterProgressFilter(request.query_params, queryset=students, request=request)
        if not filtered.is_valid():
            raise ValidationError(filtered.errors)
        paginator = PagePagination()
        page = paginator.paginate_queryset(filtered.qs, request, view=self)
        context = {"required_count": selectors.required_item_count(access.course)}
        return paginator.get_paginated_response(
            RosterProgressOutput(page, many=True, context=context).data
        )
