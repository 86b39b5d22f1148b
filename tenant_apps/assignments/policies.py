"""Who may do what with assignments and submissions, on top of the course's
one `CourseAccess` (tenant_apps.courses.api).

- Assignments: the course's teaching staff see every live one, drafts
  included; students holding a seat in the published course see the
  published ones. Creating, changing, publishing and deleting: `can_edit`
  (the instructor and admins).
- Submissions: a student submits, and sees, changes and deletes their own
  (drafts only for the last two); the course's teaching staff see every
  student's. Nobody else learns that a submission exists (404).
- Grading: `can_grade` (admins, the instructor, the course's TAs and graders).
"""

from tenant_apps.courses.api import CourseAccess

from .models import Assignment, Submission


def can_see_unpublished(access: CourseAccess) -> bool:
    return access.is_staff


def can_see_assignment(access: CourseAccess, assignment: Assignment) -> bool:
    if access.is_staff:
        return True
    return access.can_view_content and assignment.is_published


def can_change_assignment(access: CourseAccess) -> bool:
    return access.can_edit


def can_submit(access: CourseAccess) -> bool:
    """Students holding a seat (regular or audit), not the staff."""
    return access.is_learner


def can_see_all_submissions(access: CourseAccess) -> bool:
    return access.is_staff


def can_see_submission(access: CourseAccess, submission: Submission) -> bool:
    if access.is_staff:
        return True
    return access.can_view_content and submission.student_id == access.user.id


def can_change_submission(access: CourseAccess, submission: Submission) -> bool:
    """The owner, while they hold a seat."""
    return access.is_learner and submission.student_id == access.user.id


def can_grade(access: CourseAccess) -> bool:
    return access.can_grade
