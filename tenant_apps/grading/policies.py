"""Who may do what with grades, on top of the course's one `CourseAccess`
(tenant_apps.courses.api).

- Assignment groups, the grading policy and the list of gradebook items are
  read by whoever sees the course's content; groups and the policy are set by
  those who edit the course (the instructor and admins).
- Rubrics are the staff's (read) and the editors' (write).
- Grades are given and changed by every grader of the course (`can_grade`:
  admins, the instructor, TAs and graders).
- Posting (releasing and hiding grades, an item's posting policy) is for the
  instructor, admins and TAs, not for graders: a grader marks, someone who
  answers for the course decides when students see it (Canvas lets anyone who
  grades post; we keep the two apart, so hired markers cannot publish).
- The gradebook, its export and a grade's history are the staff's.
"""

from tenant_apps.courses.api import CourseAccess

from .models import Grade


def can_view_course_grading(access: CourseAccess) -> bool:
    return access.can_view_content


def can_configure_grading(access: CourseAccess) -> bool:
    return access.can_edit


def can_view_rubrics(access: CourseAccess) -> bool:
    return access.is_staff


def can_grade(access: CourseAccess) -> bool:
    return access.can_grade


def can_post_grades(access: CourseAccess) -> bool:
    return access.can_edit or access.is_ta


def can_view_gradebook(access: CourseAccess) -> bool:
    return access.can_view_roster


def can_view_grade(access: CourseAccess, grade: Grade, *, released_to_student: bool) -> bool:
    """Staff see any grade of the course; a student only their own, once it
    is released (of a live, published item)."""
    if access.can_view_roster:
        return True
    return access.is_learner and grade.student_id == access.user.id and released_to_student
