"""URLs of the bare domain: the public site and signup, Stripe's webhook, the operator console."""

from django.urls import include, path

from . import health

urlpatterns = [
    path("", include("shared_apps.signup.urls")),
    path("billing/", include("shared_apps.subscriptions.urls")),
    path("console/", include("shared_apps.console.urls")),
    path("health/", health.health, name="health"),
    path("health/live/", health.live, name="health-live"),
    # Sign-in of the operator's staff (public-schema accounts).
    path("accounts/", include("allauth.urls")),
]
