"""Routes of the grading API, under /api/v1/ (the design document's grade
paths, and the gradebook's configuration beside them)."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/assignment-groups/",
        views.CourseAssignmentGroupsView.as_view(),
        name="course-assignment-groups",
    ),
    path(
        "assignment-groups/<uuid:pk>/",
        views.AssignmentGroupDetailView.as_view(),
        name="assignment-group-detail",
    ),
    path(
        "courses/<uuid:course_id>/grading-policy/",
        views.GradingPolicyView.as_view(),
        name="course-grading-policy",
    ),
    path(
        "courses/<uuid:course_id>/rubrics/",
        views.CourseRubricsView.as_view(),
        name="course-rubrics",
    ),
    path("rubrics/<uuid:pk>/", views.RubricDetailView.as_view(), name="rubric-detail"),
    path(
        "courses/<uuid:course_id>/grade-items/",
        views.CourseGradeItemsView.as_view(),
        name="course-grade-items",
    ),
    path("grade-items/<uuid:pk>/", views.GradeItemDetailView.as_view(), name="grade-item-detail"),
    path(
        "grade-items/<uuid:pk>/release/",
        views.GradeItemReleaseView.as_view(),
        name="grade-item-release",
    ),
    path("grade-items/<uuid:pk>/hide/", views.GradeItemHideView.as_view(), name="grade-item-hide"),
    path("grades/<uuid:pk>/", views.GradeDetailView.as_view(), name="grade-detail"),
    path("grades/<uuid:pk>/release/", views.GradeReleaseView.as_view(), name="grade-release"),
    path("grades/<uuid:pk>/hide/", views.GradeHideView.as_view(), name="grade-hide"),
    path("grades/<uuid:pk>/history/", views.GradeHistoryView.as_view(), name="grade-history"),
    path(
        "courses/<uuid:course_id>/grades/", views.GradebookView.as_view(), name="course-gradebook"
    ),
    path(
        "courses/<uuid:course_id>/grades/export/",
        views.GradebookExportView.as_view(),
        name="course-gradebook-export",
    ),
    path("users/me/grades/", views.MyGradesView.as_view(), name="users-me-grades"),
]
