"""What other apps may use of quizzes."""

from .models import Quiz

__all__ = ["Quiz"]
