"""What other apps may use of quizzes."""

from .models import Quiz
from .selectors import quiz_due_dates

__all__ = ["Quiz", "quiz_due_dates"]
