"""The operator console on the bare domain, under /console/."""

from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.institution_list, name="institutions"),
    path("institutions/<uuid:pk>/", views.institution_detail, name="institution"),
    path(
        "institutions/<uuid:pk>/<slug:action>/",
        views.institution_action,
        name="institution-action",
    ),
    path("audit/", views.audit_log, name="audit"),
]
