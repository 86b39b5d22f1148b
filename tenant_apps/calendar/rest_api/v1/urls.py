"""/api/v1/ paths of calendar (the design document's Calendar Endpoints)."""

from django.urls import path

from . import views

urlpatterns = [
    path("calendar/events/", views.CalendarEventsView.as_view(), name="calendar-events"),
    path(
        "calendar/events/<uuid:pk>/",
        views.CalendarEventDetailView.as_view(),
        name="calendar-event-detail",
    ),
    path("calendar/upcoming/", views.CalendarUpcomingView.as_view(), name="calendar-upcoming"),
    path("calendar/feed/", views.CalendarFeedView.as_view(), name="calendar-feed-token"),
]
