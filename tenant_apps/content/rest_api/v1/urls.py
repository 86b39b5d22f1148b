"""Modules, content items and progress; paths follow the design document."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/modules/",
        views.CourseModulesView.as_view(),
        name="course-modules",
    ),
    path(
        "courses/<uuid:course_id>/modules/reorder/",
        views.CourseModulesReorderView.as_view(),
        name="course-modules-reorder",
    ),
    path(
        "courses/<uuid:course_id>/progress/",
        views.CourseProgressView.as_view(),
        name="course-progress",
    ),
    path("modules/<uuid:module_id>/", views.ModuleDetailView.as_view(), name="module-detail"),
    path(
        "modules/<uuid:module_id>/contents/",
        views.ModuleContentsView.as_view(),
        name="module-contents",
    ),
    path(
        "modules/<uuid:module_id>/contents/reorder/",
        views.ModuleContentsReorderView.as_view(),
        name="module-contents-reorder",
    ),
    path("contents/<uuid:content_id>/", views.ContentDetailView.as_view(), name="content-detail"),
    path(
        "contents/<uuid:content_id>/progress/",
        views.ContentProgressView.as_view(),
        name="content-progress",
    ),
]
