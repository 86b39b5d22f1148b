"""The REST API of an institution, under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("auth/", include("tenant_apps.accounts.rest_api.v1.auth_urls")),
    path("users/", include("tenant_apps.accounts.rest_api.v1.urls")),
    path("institution/", include("tenant_apps.accounts.rest_api.v1.institution_urls")),
    path("audit-events/", include("tenant_apps.audit.rest_api.v1.urls")),
]
