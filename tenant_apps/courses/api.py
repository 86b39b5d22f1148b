"""What other apps may use of courses."""

from .models import Course, CourseRole, CourseStatus, Enrollment, EnrollmentStatus, EnrollmentType
from .policies import CourseAccess, course_access, course_access_or_404

__all__ = [
    "Course",
    "CourseAccess",
    "CourseRole",
    "CourseStatus",
    "Enrollment",
    "EnrollmentStatus",
    "EnrollmentType",
    "course_access",
    "course_access_or_404",
]
