"""Courses and enrollment under /api/v1/courses/."""

from django.urls import path

from . import views

urlpatterns = [
    path("courses/", views.CourseListView.as_view(), name="courses-list"),
    path("courses/catalog/", views.CourseCatalogView.as_view(), name="courses-catalog"),
    path("courses/<uuid:course_id>/", views.CourseDetailView.as_view(), name="courses-detail"),
    path("courses/<uuid:course_id>/copy/", views.CourseCopyView.as_view(), name="courses-copy"),
    path(
        "courses/<uuid:course_id>/enroll/", views.CourseEnrollView.as_view(), name="courses-enroll"
    ),
    path(
        "courses/<uuid:course_id>/unenroll/",
        views.CourseUnenrollView.as_view(),
        name="courses-unenroll",
    ),
    path(
        "courses/<uuid:course_id>/students/",
        views.CourseRosterView.as_view(),
        name="courses-students",
    ),
    path(
        "courses/<uuid:course_id>/enrollments/import/",
        views.EnrollmentImportView.as_view(),
        name="courses-enrollment-import",
    ),
    path(
        "courses/<uuid:course_id>/enrollments/import/<uuid:import_id>/",
        views.EnrollmentImportDetailView.as_view(),
        name="courses-enrollment-import-detail",
    ),
]
