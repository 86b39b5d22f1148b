"""Who may do what in a course. Every course-scoped endpoint (courses,
enrollment, modules, content, files, announcements, and later assessment) asks
one `CourseAccess` built here, so the rules live in one place.

Roles in a course: the institution's admins, the course's instructor, its TAs
and graders (enrollments with those roles), its students (enrolled, regular or
audit) and its waitlisted students.
"""

from dataclasses import dataclass

from django.http import Http404
from rest_framework.exceptions import PermissionDenied

from conceptspro.api import ApplicationError
from tenant_apps.accounts.api import Role, is_active_member

from .models import Course, CourseRole, CourseStatus, Enrollment, EnrollmentStatus, EnrollmentType


def may_teach(user) -> bool:
    """May create courses and be named a course's instructor: the institution's
    active instructors and admins."""
    return is_active_member(user) and user.role in (Role.INSTRUCTOR, Role.ADMIN)


def self_enrollment_open(course: Course) -> bool:
    """Students may enroll themselves: the course allows it and is published."""
    return course.status == CourseStatus.PUBLISHED and bool(
        course.settings.get("self_enrollment", False)
    )


@dataclass(frozen=True)
class CourseAccess:
    user: object
    course: Course
    enrollment: Enrollment | None

    @property
    def is_admin(self) -> bool:
        return is_active_member(self.user) and self.user.role == Role.ADMIN

    @property
    def is_instructor(self) -> bool:
        """The course's instructor, while they may still teach: one demoted to
        student or TA keeps the name on the course but none of its rights."""
        return self.course.instructor_id == self.user.id and may_teach(self.user)

    def _enrolled_as(self, *roles: str) -> bool:
        e = self.enrollment
        return e is not None and e.status == EnrollmentStatus.ENROLLED and e.role in roles

    @property
    def is_ta(self) -> bool:
        return self._enrolled_as(CourseRole.TA)

    @property
    def is_grader(self) -> bool:
        return self._enrolled_as(CourseRole.GRADER)

    @property
    def is_staff(self) -> bool:
        """Teaching staff: admin, instructor, TA or grader. They see drafts."""
        return (
            self.is_admin
            or self.is_instructor
            or self._enrolled_as(CourseRole.TA, CourseRole.GRADER)
        )

    @property
    def is_learner(self) -> bool:
        """A student holding a seat (regular or audit), not a waitlisted one."""
        return self._enrolled_as(CourseRole.STUDENT) and self.enrollment.holds_seat

    @property
    def is_waitlisted(self) -> bool:
        return (
            self._enrolled_as(CourseRole.STUDENT)
            and self.enrollment.enrollment_type == EnrollmentType.WAITLIST
        )

    @property
    def role(self) -> str | None:
        """The caller's role in this course, as the API reports it."""
        for name, held in (
            ("admin", self.is_admin),
            ("instructor", self.is_instructor),
            ("ta", self.is_ta),
            ("grader", self.is_grader),
            ("student", self.is_learner),
            ("waitlisted", self.is_waitlisted),
        ):
            if held:
                return name
        return None

    # --- the named checks ---
    @property
    def can_view(self) -> bool:
        """The course card: staff always; students once it is published and they
        are in it (or may enroll themselves)."""
        if self.is_staff:
            return True
        published = self.course.status == CourseStatus.PUBLISHED
        return published and (
            self.is_learner or self.is_waitlisted or self_enrollment_open(self.course)
        )

    @property
    def can_view_content(self) -> bool:
        """Modules, content, announcements, course files: staff, and students
        holding a seat in a published course."""
        return self.is_staff or (self.course.status == CourseStatus.PUBLISHED and self.is_learner)

    @property
    def can_edit(self) -> bool:
        """Course settings, modules and content: the instructor and admins."""
        return self.is_admin or self.is_instructor

    @property
    def can_manage_enrollment(self) -> bool:
        return self.is_admin or self.is_instructor

    @property
    def can_assign_instructor(self) -> bool:
        """Hand the course to another instructor: admins only."""
        return self.is_admin

    @property
    def can_view_roster(self) -> bool:
        """Students list, everyone's progress: teaching staff."""
        return self.is_staff

    @property
    def can_grade(self) -> bool:
        return self.is_staff

    @property
    def can_announce(self) -> bool:
        """Instructor and admins; TAs when the course allows it."""
        return self.can_edit or (
            self.is_ta and bool(self.course.settings.get("ta_can_announce", False))
        )


def course_material_writable(course: Course) -> None:
    """An archived course is frozen: its modules, content and announcements
    change only once it is published again (409 `course_archived`)."""
    if course.status == CourseStatus.ARCHIVED:
        raise ApplicationError(
            "This course is archived; publish it again to change its material.",
            code="course_archived",
            status=409,
        )


def course_access(user, course: Course) -> CourseAccess:
    """The caller's standing in `course` (one query for their enrollment)."""
    enrollment = None
    if is_active_member(user):
        enrollment = Enrollment.objects.filter(course=course, user=user).first()
    return CourseAccess(user=user, course=course, enrollment=enrollment)


def course_access_or_403(
    user, course_id, allowed, message: str = "You may not do this in this course."
) -> CourseAccess:
    """As course_access_or_404, then 403 with `message` unless
    `allowed(access)`: seen but not allowed."""
    access = course_access_or_404(user, course_id)
    if not allowed(access):
        raise PermissionDenied(message)
    return access


def course_access_or_404(user, course_id) -> CourseAccess:
    """The access to a live course the caller may see; otherwise 404, so a
    course's existence does not leak to those who may not see it."""
    course = Course.objects.filter(pk=course_id, deleted_at__isnull=True).first()
    if course is None or not is_active_member(user):
        raise Http404
    access = course_access(user, course)
    if not access.can_view:
        raise Http404
    return access
