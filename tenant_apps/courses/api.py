"""What other apps may use of courses."""

from .copying import CopyContext, course_copy_step_register
from .models import (
    Course,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentType,
    seat_holder,
)
from .policies import (
    CourseAccess,
    course_access,
    course_access_or_403,
    course_access_or_404,
    course_material_writable,
)
from .services import course_create, enrollment_add

__all__ = [
    "CopyContext",
    "Course",
    "CourseAccess",
    "CourseRole",
    "CourseStatus",
    "Enrollment",
    "EnrollmentStatus",
    "EnrollmentType",
    "course_access",
    "course_access_or_403",
    "course_access_or_404",
    "course_copy_step_register",
    "course_create",
    "course_material_writable",
    "enrollment_add",
    "seat_holder",
]
