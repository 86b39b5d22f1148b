"""The REST API of an institution, under /api/v1/, and its OpenAPI schema and
interactive documentation (drf-spectacular), open to anyone who can reach the
institution's subdomain."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("auth/", include("tenant_apps.accounts.rest_api.v1.auth_urls")),
    path("users/", include("tenant_apps.accounts.rest_api.v1.urls")),
    path("institution/", include("tenant_apps.accounts.rest_api.v1.institution_urls")),
    path("institution/subscription/", include("shared_apps.subscriptions.rest_api.urls")),
    path("audit-events/", include("tenant_apps.audit.rest_api.v1.urls")),
    # Courses, enrollment, modules, content, files and announcements; paths
    # follow the design document (/courses/{id}/modules/ lives with modules).
    path("", include("tenant_apps.courses.rest_api.v1.urls")),
    path("", include("tenant_apps.content.rest_api.v1.urls")),
    path("", include("tenant_apps.files.rest_api.v1.urls")),
    path("", include("tenant_apps.announcements.rest_api.v1.urls")),
    # Assessment: assignments and submissions, quizzes, grades and the gradebook.
    path("", include("tenant_apps.assignments.rest_api.v1.urls")),
    path("", include("tenant_apps.quizzes.rest_api.v1.urls")),
    path("", include("tenant_apps.grading.rest_api.v1.urls")),
    # Communication and time: notifications, discussions, messaging, calendar,
    # analytics and data rights.
    path("", include("tenant_apps.notifications.rest_api.v1.urls")),
    path("", include("tenant_apps.discussions.rest_api.v1.urls")),
    path("", include("tenant_apps.messaging.rest_api.v1.urls")),
    path("", include("tenant_apps.calendar.rest_api.v1.urls")),
    path("", include("tenant_apps.analytics.rest_api.v1.urls")),
    path("", include("tenant_apps.privacy.rest_api.v1.urls")),
]
