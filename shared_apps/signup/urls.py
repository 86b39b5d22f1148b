"""Self-serve signup on the bare domain: landing, pricing, signup and its progress."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("pricing/", views.pricing, name="pricing"),
    path("signup/", views.signup, name="signup"),
    path("signup/check/", views.slug_check, name="signup-check"),
    path("signup/progress/<str:token>/", views.progress, name="signup-progress"),
    path(
        "signup/progress/<str:token>/status/",
        views.progress_status,
        name="signup-progress-status",
    ),
    path("signup/cancelled/<str:token>/", views.cancelled, name="signup-cancelled"),
]
