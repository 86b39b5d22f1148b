"""/api/v1/ paths of analytics (the design document's, under /analytics/)."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "analytics/courses/<uuid:course_id>/overview/",
        views.CourseOverviewView.as_view(),
        name="analytics-course-overview",
    ),
    path(
        "analytics/courses/<uuid:course_id>/students/",
        views.CourseStudentsView.as_view(),
        name="analytics-course-students",
    ),
    path(
        "analytics/courses/<uuid:course_id>/content/",
        views.CourseContentView.as_view(),
        name="analytics-course-content",
    ),
    path(
        "analytics/courses/<uuid:course_id>/assignments/",
        views.CourseAssignmentsView.as_view(),
        name="analytics-course-assignments",
    ),
    path(
        "analytics/system/overview/",
        views.SystemOverviewView.as_view(),
        name="analytics-system-overview",
    ),
]
