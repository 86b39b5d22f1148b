"""URLs of an institution's subdomain."""

from django.urls import include, path

from . import health, views

urlpatterns = [
    path("", views.institution_home, name="institution-home"),
    path("health/", health.health, name="health"),
    path("health/live/", health.live, name="health-live"),
    path("accounts/", include("tenant_apps.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("billing/", include("shared_apps.subscriptions.page_urls")),
    path("api/v1/", include("conceptspro.api_router")),
    path("calendar/", include("tenant_apps.calendar.feed_urls")),
]

# Under /api/, a path no URL matches (and a crash) answers in the API's error shape.
handler404 = "conceptspro.api.not_found_handler"
handler500 = "conceptspro.api.server_error_handler"
