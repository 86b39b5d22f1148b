"""The notifications API: /notifications/ and /notifications/{id}/. Every
active member of the institution uses it for their own notifications only;
another's id is a 404 and changes nothing."""

import django_filters
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from tenant_apps.accounts.api import IsActiveMember
from tenant_apps.notifications import selectors, services
from tenant_apps.notifications.models import Notification, NotificationKind

from .serializers import NotificationCountOutput, NotificationOutput


class NotificationFilter(django_filters.FilterSet):
    # "true" or "false"; anything else is a 400 rather than silently ignored.
    is_read = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="_is_read",
        help_text="true: only read ones; false: only unread ones.",
    )
    notification_type = django_filters.ChoiceFilter(choices=NotificationKind.choices)

    class Meta:
        model = Notification
        fields = ["is_read", "notification_type"]

    def _is_read(self, queryset, name, value):
        return queryset.filter(is_read=value == "true")


class NotificationsView(GenericAPIView):
    """GET /notifications/: the caller's notifications, newest first,
    paginated. Any active member. Filters: is_read, notification_type."""

    permission_classes = [IsActiveMember]
    serializer_class = NotificationOutput
    filterset_class = NotificationFilter
    queryset = Notification.objects.none()  # the caller's own, below

    @extend_schema(responses=NotificationOutput(many=True))
    def get(self, request):
        queryset = self.filter_queryset(selectors.notifications_of(request.user))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(NotificationOutput(page, many=True).data)


class NotificationsUnreadView(GenericAPIView):
    """GET /notifications/unread/: how many of the caller's notifications are
    unread, as {"count": n}. Any active member."""

    permission_classes = [IsActiveMember]
    serializer_class = NotificationCountOutput

    def get(self, request):
        return Response({"count": selectors.unread_count(request.user)})


class NotificationsMarkAllReadView(GenericAPIView):
    """POST /notifications/mark-all-read/: every unread notification of the
    caller read now; {"count": n} says how many were unread. Any active
    member; idempotent by nature (a second call marks 0)."""

    permission_classes = [IsActiveMember]
    serializer_class = NotificationCountOutput

    @extend_schema(request=None, responses=NotificationCountOutput)
    def post(self, request):
        return Response({"count": services.notifications_mark_all_read(user=request.user)})


class _OwnNotificationView(GenericAPIView):
    permission_classes = [IsActiveMember]
    serializer_class = NotificationOutput

    def _own(self, request, pk) -> Notification:
        notification = selectors.notification_of(request.user, pk)
        if notification is None:
            raise Http404
        return notification


class NotificationMarkReadView(_OwnNotificationView):
    """POST /notifications/{id}/mark-read/: one of the caller's notifications
    read; the first read's time is kept. Any active member, their own only
    (another's is a 404)."""

    @extend_schema(request=None, responses=NotificationOutput)
    def post(self, request, pk):
        notification = services.notification_mark_read(notification=self._own(request, pk))
        return Response(NotificationOutput(notification).data)


class NotificationDetailView(_OwnNotificationView):
    """DELETE /notifications/{id}/: removes one of the caller's notifications.
    Any active member, their own only (another's is a 404)."""

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        services.notification_delete(notification=self._own(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
