"""The announcements API: /courses/{id}/announcements/ and /announcements/{id}/.
Who may call what is stated on each view; the course's `CourseAccess` and
tenant_apps.announcements.policies decide.

An announcement a caller may not see (another course's, a draft, scheduled or
expired one for a student, a deleted one) is a 404, so its existence does not
leak; one they see but may not change is a 403.
"""

import django_filters
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from conceptspro.api import IsoDateTimeFilter, OrderingFilter
from tenant_apps.accounts.api import IsActiveMember
from tenant_apps.announcements import policies, selectors, services
from tenant_apps.announcements.models import Announcement, AnnouncementRead, AnnouncementState
from tenant_apps.courses.api import CourseAccess, course_access_or_403, course_access_or_404
from tenant_apps.idempotency.api import idempotent

from .serializers import (
    AnnouncementInput,
    AnnouncementOutput,
    AnnouncementReadOutput,
    MarkReadOutput,
)

# Writing to an archived course's announcements (409).
ARCHIVED = OpenApiResponse(description="Conflict: `course_archived`, the course is archived.")


class AnnouncementFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        method="_updated_since",
        help_text="Changed, published or expired since this time (scheduled announcements "
        "appear when their publication time comes, without being changed).",
    )
    is_pinned = django_filters.BooleanFilter()
    unread = django_filters.BooleanFilter(
        method="_unread", help_text="true: only those the caller has not read."
    )
    state = django_filters.ChoiceFilter(
        choices=AnnouncementState.choices,
        method="_state",
        help_text="Students only ever see published ones.",
    )
    ordering = OrderingFilter(
        fields=["publish_at", "created_at", "updated_at", "title", "is_pinned"],
        help_text="Default: pinned first, then the newest publication.",
    )

    class Meta:
        model = Announcement
        fields = ["updated_since", "is_pinned", "unread", "state"]

    def _updated_since(self, queryset, name, value):
        now = timezone.now()
        return queryset.filter(
            Q(updated_at__gte=value)
            | Q(publish_at__gte=value, publish_at__lte=now)
            | Q(expires_at__gte=value, expires_at__lte=now)
        )

    def _unread(self, queryset, name, value):
        return queryset.filter(is_read=not value)

    def _state(self, queryset, name, value):
        return queryset.filter(state=value)


class AnnouncementReadFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        field_name="read_at", lookup_expr="gte", help_text="Read since this time."
    )
    ordering = OrderingFilter(
        fields=["read_at", ("user__last_name", "last_name")],
        help_text="Default: the most recent read first.",
    )

    class Meta:
        model = AnnouncementRead
        fields = ["updated_since"]


def _output(access: CourseAccess, announcement_id) -> dict:
    # A delete may commit between the write and this read (no request-wide transaction).
    announcement = selectors.announcements_for(access).filter(pk=announcement_id).first()
    if announcement is None:
        raise Http404
    return AnnouncementOutput(announcement).data


class CourseAnnouncementsView(GenericAPIView):
    """GET /courses/{course_id}/announcements/: those the caller may see, pinned
    first, then the newest. Students holding a seat in the published course see
    published, current ones with `is_read`; the course's staff (admins, the
    instructor, TAs, graders) also see drafts, scheduled and expired ones with
    their `state`, `read_count` and `audience_count`. Filters: updated_since,
    is_pinned, unread, state; ordering.
    POST: create one. The instructor, admins, and TAs when the course's
    settings allow (`ta_can_announce`). Accepts `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = AnnouncementOutput
    filterset_class = AnnouncementFilter
    queryset = Announcement.objects.none()  # the real one depends on the caller

    def _access(self, request, course_id) -> CourseAccess:
        return course_access_or_403(
            request.user,
            course_id,
            lambda access: access.can_view_content,
            "Only the course's staff and students may see its content.",
        )

    @extend_schema(responses=AnnouncementOutput(many=True))
    def get(self, request, course_id):
        access = self._access(request, course_id)
        page = self.paginate_queryset(self.filter_queryset(selectors.announcements_for(access)))
        return self.get_paginated_response(AnnouncementOutput(page, many=True).data)

    @extend_schema(
        request=AnnouncementInput,
        responses={201: AnnouncementOutput, 409: ARCHIVED},
    )
    @idempotent
    def post(self, request, course_id):
        access = self._access(request, course_id)
        if not policies.can_create_announcement(access):
            raise PermissionDenied("Only the course's instructors may post announcements.")
        data = AnnouncementInput(data=request.data)
        data.is_valid(raise_exception=True)
        announcement = services.announcement_create(
            course=access.course, author=request.user, **data.validated_data
        )
        return Response(
            _output(access, announcement.pk),
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/announcements/{announcement.pk}/"},
        )


class _AnnouncementView(GenericAPIView):
    permission_classes = [IsActiveMember]

    def _visible(self, request, pk) -> tuple[CourseAccess, Announcement]:
        """The announcement as the caller may see it, with their course access."""
        course_id = (
            Announcement.objects.filter(pk=pk, deleted_at__isnull=True)
            .values_list("course_id", flat=True)
            .first()
        )
        if course_id is None:
            raise Http404
        access = course_access_or_404(request.user, course_id)
        if not access.can_view_content:
            raise Http404
        announcement = selectors.announcements_for(access).filter(pk=pk).first()
        if announcement is None:
            raise Http404
        return access, announcement


class AnnouncementDetailView(_AnnouncementView):
    """GET /announcements/{id}/: whoever may see it (see the course's list).
    PUT, PATCH: the instructor and admins; a TA allowed to announce, only their
    own. PUT needs the title and content, PATCH any subset; fields left out
    keep their values, and `attachment_ids` replaces the attachments.
    DELETE: the same people; a soft delete."""

    serializer_class = AnnouncementOutput

    def get(self, request, pk):
        _, announcement = self._visible(request, pk)
        return Response(AnnouncementOutput(announcement).data)

    def _changeable(self, request, pk) -> tuple[CourseAccess, Announcement]:
        access, announcement = self._visible(request, pk)
        if not policies.can_change_announcement(access, announcement):
            raise PermissionDenied("You may not change this announcement.")
        return access, announcement

    def _update(self, request, pk, *, partial: bool):
        access, announcement = self._changeable(request, pk)
        data = AnnouncementInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        services.announcement_update(
            announcement=announcement, actor=request.user, **data.validated_data
        )
        return Response(_output(access, pk))

    @extend_schema(request=AnnouncementInput, responses={200: AnnouncementOutput, 409: ARCHIVED})
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(request=AnnouncementInput, responses={200: AnnouncementOutput, 409: ARCHIVED})
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None, 409: ARCHIVED})
    def delete(self, request, pk):
        _, announcement = self._changeable(request, pk)
        services.announcement_delete(announcement=announcement)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnouncementMarkReadView(_AnnouncementView):
    """POST /announcements/{id}/mark-read/: whoever may see it. Idempotent by
    nature (a second call keeps the first read's time), so no Idempotency-Key.
    Only reads by the course's students count in `read_count`."""

    serializer_class = MarkReadOutput

    @extend_schema(request=None, responses=MarkReadOutput)
    def post(self, request, pk):
        _, announcement = self._visible(request, pk)
        read = services.announcement_mark_read(announcement=announcement, user=request.user)
        return Response(MarkReadOutput(read).data)


class AnnouncementReadsView(_AnnouncementView):
    """GET /announcements/{id}/reads/: which of the course's students (holding a
    seat) read it and when, most recent first; `count` is the read count. The
    course's staff only. Filters: updated_since (read since); ordering."""

    serializer_class = AnnouncementReadOutput
    filterset_class = AnnouncementReadFilter
    queryset = AnnouncementRead.objects.none()  # the real one depends on the announcement

    @extend_schema(responses=AnnouncementReadOutput(many=True))
    def get(self, request, pk):
        access, announcement = self._visible(request, pk)
        if not policies.can_view_reads(access):
            raise PermissionDenied("Only the course's staff may see who read an announcement.")
        page = self.paginate_queryset(
            self.filter_queryset(selectors.announcement_readers(announcement))
        )
        return self.get_paginated_response(AnnouncementReadOutput(page, many=True).data)
