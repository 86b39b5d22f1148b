"""URLs of the bare domain: the public site (signup and operator console come later)."""

from django.urls import include, path

from . import health, views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("health/", health.health, name="health"),
    path("health/live/", health.live, name="health-live"),
    # Sign-in of the operator's staff (public-schema accounts).
    path("accounts/", include("allauth.urls")),
]
