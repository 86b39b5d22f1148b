"""The analytics API (the design document's "Analytics Endpoints"):
/analytics/courses/{id}/overview|students|content|assignments/ and
/analytics/system/overview/. Who may call what is stated on each view;
tenant_apps.analytics.policies decides. Analytics is a plan feature: once the
caller is allowed, a plan without it is a 403 `plan_limit_reached` (limit kind
"feature"). How each figure is counted: tenant_apps.analytics.selectors."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from shared_apps.plans.api import PlanFeature, feature_require
from tenant_apps.accounts.api import IsActiveMember, IsInstitutionAdmin
from tenant_apps.analytics import policies, selectors
from tenant_apps.courses.api import Course, CourseAccess, course_access_or_403

from .serializers import (
    AssignmentStatisticsOutput,
    ContentEngagementOutput,
    CourseOverviewOutput,
    DaysQuery,
    InstitutionOverviewOutput,
    StudentAnalyticsOutput,
    StudentsQuery,
)


def _query(serializer_class, request) -> dict:
    data = serializer_class(data=request.query_params)
    data.is_valid(raise_exception=True)
    return data.validated_data


class _CourseAnalyticsView(GenericAPIView):
    """A course the caller may not see is a 404; one they see without the
    right to its analytics a 403; then the plan must include analytics."""

    permission_classes = [IsActiveMember]
    queryset = Course.objects.none()  # the rows come from the selectors
    allowed = staticmethod(policies.can_view_course_analytics)
    refusal = "Only the course's instructor, its TAs and admins may see its analytics."

    def _access(self, request, course_id) -> CourseAccess:
        access = course_access_or_403(request.user, course_id, self.allowed, self.refusal)
        feature_require(PlanFeature.ANALYTICS)
        return access


class CourseOverviewView(_CourseAnalyticsView):
    """GET /analytics/courses/{course_id}/overview/: the course's students,
    how many were active in the last 7 and 30 days, views, submissions and
    active students in the window (`days`, default 30, at most 365), the
    average current grade, assignment completion, and the window's activity
    per day. Who: the course's instructor, its TAs and admins."""

    serializer_class = CourseOverviewOutput

    @extend_schema(parameters=[DaysQuery], responses=CourseOverviewOutput)
    def get(self, request, course_id):
        access = self._access(request, course_id)
        days = _query(DaysQuery, request)["days"]
        return Response(
            CourseOverviewOutput(selectors.course_overview(access.course, days=days)).data
        )


class CourseStudentsView(_CourseAnalyticsView):
    """GET /analytics/courses/{course_id}/students/: each student holding a
    seat with their last activity, views, assignments on time / late /
    missing, current grade and whether they are at risk (no activity in the
    course for 14 days once enrolled that long, or 2 or more missing
    assignments), paginated; ordering by name (default), last_active, views,
    grade or missing; filter at_risk. Who: the course's instructor and admins
    (not TAs: this is each student's behaviour, not the class's)."""

    serializer_class = StudentAnalyticsOutput
    allowed = staticmethod(policies.can_view_student_analytics)
    refusal = "Only the course's instructor and admins may see each student's analytics."

    @extend_schema(parameters=[StudentsQuery], responses=StudentAnalyticsOutput(many=True))
    def get(self, request, course_id):
        access = self._access(request, course_id)
        query = _query(StudentsQuery, request)
        rows = selectors.course_student_rows(access.course)
        if query["at_risk"] is not None:
            rows = [row for row in rows if row["at_risk"] == query["at_risk"]]
        page = self.paginate_queryset(selectors.student_rows_sorted(rows, query["ordering"]))
        return self.get_paginated_response(StudentAnalyticsOutput(page, many=True).data)


class CourseContentView(_CourseAnalyticsView):
    """GET /analytics/courses/{course_id}/content/: each live content item in
    module order (drafts too) with its views and unique viewers among the
    course's students, and from their progress reports how many started and
    completed it and the time they spent, paginated. Who: the course's
    instructor, its TAs and admins."""

    serializer_class = ContentEngagementOutput

    @extend_schema(responses=ContentEngagementOutput(many=True))
    def get(self, request, course_id):
        access = self._access(request, course_id)
        page = self.paginate_queryset(selectors.course_content_items(access.course))
        rows = selectors.content_engagement(access.course, page)
        return self.get_paginated_response(ContentEngagementOutput(rows, many=True).data)


class CourseAssignmentsView(_CourseAnalyticsView):
    """GET /analytics/courses/{course_id}/assignments/: each live assignment
    by due time (drafts too) with how many of the course's students submitted
    (on time, late), are missing it once past due, and were graded, and the
    mean, median, lowest and highest score in points (excused grades left
    out), paginated. Who: the course's instructor, its TAs and admins."""

    serializer_class = AssignmentStatisticsOutput

    @extend_schema(responses=AssignmentStatisticsOutput(many=True))
    def get(self, request, course_id):
        access = self._access(request, course_id)
        page = self.paginate_queryset(selectors.course_assignments(access.course))
        rows = selectors.assignment_statistics(access.course, page)
        return self.get_paginated_response(AssignmentStatisticsOutput(rows, many=True).data)


class SystemOverviewView(GenericAPIView):
    """GET /analytics/system/overview/: the institution's users by role,
    users active in the last 7 and 30 days, sign-ins, views and submissions
    in the window (`days`, default 30, at most 365), submissions of the last
    7 days, courses by status, enrollments, the plan with its limits and
    usage, and the window's activity per day. Who: the institution's admins
    (others 403); the plan must include analytics."""

    permission_classes = [IsInstitutionAdmin]
    serializer_class = InstitutionOverviewOutput

    @extend_schema(parameters=[DaysQuery], responses=InstitutionOverviewOutput)
    def get(self, request):
        feature_require(PlanFeature.ANALYTICS)
        days = _query(DaysQuery, request)["days"]
        return Response(InstitutionOverviewOutput(selectors.institution_overview(days=days)).data)
