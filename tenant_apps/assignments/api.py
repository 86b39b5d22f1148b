"""What other apps may use of assignments."""

from .models import Assignment, Submission, SubmissionStatus
from .selectors import assignment_due_dates, assignments_due_with_students_pending

__all__ = [
    "Assignment",
    "Submission",
    "SubmissionStatus",
    "assignment_due_dates",
    "assignments_due_with_students_pending",
]
