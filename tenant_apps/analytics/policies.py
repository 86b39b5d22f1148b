"""Who may see analytics, on top of the course's one `CourseAccess`
(tenant_apps.courses.api) and the institution's roles.

- A course's aggregate figures (overview, content engagement, assignment
  statistics): its instructor, the institution's admins and its TAs (the
  design document's "view course analytics (limited)").
- The per-student list (each student's activity, submissions, grade and
  at-risk flag): the instructor and admins only. It is a profile of each
  student's behaviour from the activity log, more than a TA needs to help a
  class; the gradebook already gives TAs the grades.
- Graders and students: 403 (404 when they may not see the course at all).
- The institution-wide overview: the institution's admins.
"""

from tenant_apps.accounts.api import is_institution_admin
from tenant_apps.courses.api import CourseAccess


def can_view_course_analytics(access: CourseAccess) -> bool:
    return access.is_admin or access.is_instructor or access.is_ta


def can_view_student_analytics(access: CourseAccess) -> bool:
    return access.is_admin or access.is_instructor


def can_view_system_analytics(user) -> bool:
    return is_institution_admin(user)
