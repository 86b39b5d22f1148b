"""What other apps may use of grading: the assignments and quizzes apps keep
their gradebook item in step and record grades through these."""

from .models import AssignmentGroup, Grade, GradeItem, ItemKind, PostingPolicy, Rubric
from .services import (
    GradeInput,
    grade_item_delete,
    grade_item_for,
    grade_item_sync,
    grade_save,
    released_to_student,
)

__all__ = [
    "AssignmentGroup",
    "Grade",
    "GradeInput",
    "GradeItem",
    "ItemKind",
    "PostingPolicy",
    "Rubric",
    "grade_item_delete",
    "grade_item_for",
    "grade_item_sync",
    "grade_save",
    "released_to_student",
]
