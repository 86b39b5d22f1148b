"""The public iCal feed's path on an institution's host (not under /api/:
calendar programs fetch it without signing in)."""

from django.urls import path

from .feed_views import calendar_feed

urlpatterns = [
    path("feed/<str:token>.ics", calendar_feed, name="calendar-feed"),
]
