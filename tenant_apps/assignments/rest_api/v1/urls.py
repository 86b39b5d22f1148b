"""Routes of the assignments API, under /api/v1/ (the design document's
assignment endpoints, and POST /submissions/{id}/grade/)."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/assignments/",
        views.CourseAssignmentsView.as_view(),
        name="course-assignments",
    ),
    path("assignments/<uuid:pk>/", views.AssignmentDetailView.as_view(), name="assignment-detail"),
    path(
        "assignments/<uuid:pk>/submissions/",
        views.AssignmentSubmissionsView.as_view(),
        name="assignment-submissions",
    ),
    path(
        "assignments/<uuid:pk>/submit/",
        views.AssignmentSubmitView.as_view(),
        name="assignment-submit",
    ),
    path("submissions/<uuid:pk>/", views.SubmissionDetailView.as_view(), name="submission-detail"),
    path(
        "submissions/<uuid:pk>/files/",
        views.SubmissionFilesView.as_view(),
        name="submission-files",
    ),
    path(
        "submissions/<uuid:pk>/grade/",
        views.SubmissionGradeView.as_view(),
        name="submission-grade",
    ),
]
