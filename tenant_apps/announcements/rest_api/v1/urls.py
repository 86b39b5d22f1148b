"""Routes of the announcements API, under /api/v1/ (the design document's
paths)."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/announcements/",
        views.CourseAnnouncementsView.as_view(),
        name="course-announcements",
    ),
    path(
        "announcements/<uuid:pk>/",
        views.AnnouncementDetailView.as_view(),
        name="announcement-detail",
    ),
    path(
        "announcements/<uuid:pk>/mark-read/",
        views.AnnouncementMarkReadView.as_view(),
        name="announcement-mark-read",
    ),
    path(
        "announcements/<uuid:pk>/reads/",
        views.AnnouncementReadsView.as_view(),
        name="announcement-reads",
    ),
]
