"""The REST API of an institution, under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("users/", include("tenant_apps.accounts.rest_api.v1.urls")),
]
