"""What grading holds of a person, for their data export and erasure: their
grades. Grades they gave others are those students' data, not theirs."""

from .models import Grade
from .services import released_to_student


def grades_export(user) -> dict:
    """The grades released to them, as the gradebook shows them: a grade not
    yet released is not shown to its student anywhere, the export included."""
    grades = (
        Grade.objects.filter(released_to_student(), student=user)
        .select_related("item__course")
        .order_by("item__course__code", "item__due_at", "item__title", "id")
    )
    return {
        "grades": [
            {
                "course": {"id": g.item.course_id, "code": g.item.course.code},
                "item": {
                    "id": g.item_id,
                    "kind": g.item.kind,
                    "title": g.item.title,
                    "points_possible": g.item.points_possible,
                },
                "points_earned": g.points_earned,
                "late_penalty_points": g.late_penalty_points,
                "score": g.score,
                "excused": g.excused,
                "feedback": g.feedback,
                "rubric_scores": g.rubric_scores,
                "graded_at": g.graded_at,
                "released_at": g.released_at,
            }
            for g in grades
        ]
    }


def grades_erase(user, *, keep_academic_records: bool) -> None:
    """Kept with the policy (transcripts and the course's statistics stay
    whole, naming the anonymised user); deleted without it, their history
    with them."""
    if not keep_academic_records:
        Grade.objects.filter(student=user).delete()
