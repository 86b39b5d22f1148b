"""What other apps may use of assignments."""

from .models import Assignment, Submission, SubmissionStatus

__all__ = ["Assignment", "Submission", "SubmissionStatus"]
