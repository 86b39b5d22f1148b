"""What other apps may use of grading: the assignments and quizzes apps keep
their gradebook item in step and record grades through these."""

from .calculations import letter_scheme_of
from .models import AssignmentGroup, Grade, GradeItem, ItemKind, PostingPolicy, Rubric
from .rest_api.v1.serializers import GradeOutput
from .rest_api.v1.versioning import IF_MATCH, expected_version
from .selectors import gradebook_for_course
from .services import (
    GradeInput,
    grade_item_delete,
    grade_item_for,
    grade_item_sync,
    grade_save,
    released_to_student,
)

__all__ = [
    "IF_MATCH",
    "AssignmentGroup",
    "Grade",
    "GradeInput",
    "GradeItem",
    "GradeOutput",
    "ItemKind",
    "PostingPolicy",
    "Rubric",
    "expected_version",
    "grade_item_delete",
    "grade_item_for",
    "grade_item_sync",
    "grade_save",
    "gradebook_for_course",
    "letter_scheme_of",
    "released_to_student",
]
