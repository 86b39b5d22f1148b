"""/api/v1/ paths of notifications (the design document's)."""

from django.urls import path

from . import views

urlpatterns = [
    path("notifications/", views.NotificationsView.as_view(), name="notifications"),
    path(
        "notifications/unread/",
        views.NotificationsUnreadView.as_view(),
        name="notifications-unread",
    ),
    path(
        "notifications/mark-all-read/",
        views.NotificationsMarkAllReadView.as_view(),
        name="notifications-mark-all-read",
    ),
    path(
        "notifications/<uuid:pk>/",
        views.NotificationDetailView.as_view(),
        name="notification-detail",
    ),
    path(
        "notifications/<uuid:pk>/mark-read/",
        views.NotificationMarkReadView.as_view(),
        name="notification-mark-read",
    ),
]
