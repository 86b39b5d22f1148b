"""Every write to grades and gradebook items. Who may call them is decided
before (tenant_apps.grading.policies and the course's CourseAccess); these keep
the data's own rules: one grade per student and item, every change kept as a
revision, no lost update between two graders, and a student never shown a
grade before it is released.
"""

import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from tenant_apps.courses.api import Course, Enrollment, seat_holder

from .models import (
    AssignmentGroup,
    Grade,
    GradeAction,
    GradeItem,
    GradeRevision,
    ItemKind,
    PostingPolicy,
    Rubric,
)

CENT = Decimal("0.01")
MAX_POINTS = Decimal("99999999.99")  # DecimalField(max_digits=10, decimal_places=2)


def _points(value, *, field: str) -> Decimal:
    try:
        points = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        raise ApplicationError(
            "Points must be a number.", code="invalid", fields={field: ["Not a number."]}
        ) from None
    if not points.is_finite() or points < 0 or points > MAX_POINTS:
        raise ApplicationError(
            "Points must be between 0 and 99,999,999.99.",
            code="invalid",
            fields={field: ["Must be between 0 and 99999999.99."]},
        )
    return points


# --- gradebook items ---------------------------------------------------------


def grade_item_sync(
    *,
    kind: ItemKind | str,
    source_id,
    course: Course,
    title: str,
    points_possible,
    group: AssignmentGroup | None = None,
    rubric: Rubric | None = None,
    due_at=None,
    is_published: bool = False,
    posting_policy: str | None = None,
) -> GradeItem:
    """Creates or updates the gradebook column of an assignment or quiz, in the
    caller's transaction. `posting_policy` None keeps the item's own (manual
    for a new one). A group or rubric of another course is refused."""
    for name, other in (("group", group), ("rubric", rubric)):
        if other is not None and other.course_id != course.pk:
            raise ApplicationError(
                f"The {name} belongs to another course.",
                code="invalid",
                fields={f"{name}_id": [f"Not a {name} of this course."]},
            )
    values = {
        "course": course,
        "title": title,
        "points_possible": _points(points_possible, field="points"),
        "group": group,
        "rubric": rubric,
        "due_at": due_at,
        "is_published": is_published,
        "deleted_at": None,
    }
    if posting_policy is not None:
        values["posting_policy"] = posting_policy
    item, _ = GradeItem.objects.update_or_create(kind=kind, source_id=source_id, defaults=values)
    return item


def grade_item_delete(*, kind: ItemKind | str, source_id) -> None:
    """The assignment or quiz was deleted: its column leaves the gradebook (its
    grades are kept with it, as the source is soft-deleted too)."""
    GradeItem.objects.filter(kind=kind, source_id=source_id, deleted_at__isnull=True).update(
        deleted_at=timezone.now()
    )


def grade_item_for(*, kind: ItemKind | str, source_id) -> GradeItem | None:
    return GradeItem.objects.filter(kind=kind, source_id=source_id).first()


# --- rubrics -------------------------------------------------------------------


def rubric_criteria_clean(criteria) -> tuple[list[dict], Decimal]:
    """Criteria as stored, with ids given to those without, and their total.

    Each criterion: description, points (> 0) and ratings (at least one, points
    between 0 and the criterion's, distinct ids); 400 with the path of what is
    wrong otherwise."""
    if not isinstance(criteria, list) or not criteria or len(criteria) > 100:
        raise ApplicationError(
            "A rubric has between 1 and 100 criteria.",
            code="invalid",
            fields={"criteria": ["Give between 1 and 100 criteria."]},
        )
    errors: dict[str, list[str]] = {}
    cleaned: list[dict] = []
    total = Decimal("0")
    seen: set[str] = set()
    for index, criterion in enumerate(criteria):
        where = f"criteria[{index}]"
        if not isinstance(criterion, dict):
            errors[where] = ["Must be an object."]
            continue
        description = criterion.get("description")
        if not isinstance(description, str) or not description.strip() or len(description) > 1000:
            errors[f"{where}.description"] = ["Required, at most 1000 characters."]
        try:
            points = _points(criterion.get("points"), field=f"{where}.points")
        except ApplicationError as error:
            errors.update(error.fields)
            continue
        if points <= 0:
            errors[f"{where}.points"] = ["Must be more than 0."]
        criterion_id = str(criterion.get("id") or uuid.uuid4())
        if criterion_id in seen or len(criterion_id) > 64:
            errors[f"{where}.id"] = ["Ids must be unique and at most 64 characters."]
        seen.add(criterion_id)
        ratings = criterion.get("ratings")
        if not isinstance(ratings, list) or not ratings or len(ratings) > 20:
            errors[f"{where}.ratings"] = ["Give between 1 and 20 rating levels."]
            continue
        cleaned_ratings = []
        for r_index, rating in enumerate(ratings):
            r_where = f"{where}.ratings[{r_index}]"
            if not isinstance(rating, dict):
                errors[r_where] = ["Must be an object."]
                continue
            r_description = rating.get("description")
            if not isinstance(r_description, str) or len(r_description) > 1000:
                errors[f"{r_where}.description"] = ["Required, at most 1000 characters."]
            try:
                r_points = _points(rating.get("points"), field=f"{r_where}.points")
            except ApplicationError as error:
                errors.update(error.fields)
                continue
            if r_points > points:
                errors[f"{r_where}.points"] = ["At most the criterion's points."]
            rating_id = str(rating.get("id") or uuid.uuid4())
            if rating_id in seen or len(rating_id) > 64:
                errors[f"{r_where}.id"] = ["Ids must be unique and at most 64 characters."]
            seen.add(rating_id)
            cleaned_ratings.append(
                {"id": rating_id, "description": r_description, "points": str(r_points)}
            )
        total += points
        cleaned.append(
            {
                "id": criterion_id,
                "description": description,
                "points": str(points),
                "ratings": cleaned_ratings,
            }
        )
    if errors:
        raise ApplicationError("The rubric is not valid.", code="invalid", fields=errors)
    return cleaned, total


def rubric_scores_clean(rubric: Rubric, scores) -> tuple[list[dict], Decimal]:
    """Rubric scores checked against `rubric`: [{"criterion_id", "rating_id"?,
    "points"?, "comments"?}], each criterion at most once; a rating's points
    are the score unless points are given, which must lie within the
    criterion's. Returns the scores as stored and their sum."""
    if not isinstance(scores, list) or len(scores) > len(rubric.criteria):
        raise ApplicationError(
            "Rubric scores are a list with at most one entry per criterion.",
            code="invalid_rubric_scores",
            fields={"rubric_scores": ["At most one entry per criterion."]},
        )
    criteria = {c["id"]: c for c in rubric.criteria}
    errors: dict[str, list[str]] = {}
    cleaned: list[dict] = []
    total = Decimal("0")
    done: set[str] = set()
    for index, score in enumerate(scores):
        where = f"rubric_scores[{index}]"
        if not isinstance(score, dict):
            errors[where] = ["Must be an object."]
            continue
        criterion = criteria.get(str(score.get("criterion_id")))
        if criterion is None:
            errors[f"{where}.criterion_id"] = ["Not a criterion of this rubric."]
            continue
        if criterion["id"] in done:
            errors[f"{where}.criterion_id"] = ["This criterion is scored twice."]
            continue
        done.add(criterion["id"])
        rating = None
        if score.get("rating_id") is not None:
            rating = next(
                (r for r in criterion["ratings"] if r["id"] == str(score["rating_id"])), None
            )
            if rating is None:
                errors[f"{where}.rating_id"] = ["Not a rating of this criterion."]
                continue
        raw = score.get("points", rating["points"] if rating else None)
        if raw is None:
            errors[f"{where}.points"] = ["Give a rating or points."]
            continue
        try:
            points = _points(raw, field=f"{where}.points")
        except ApplicationError as error:
            errors.update(error.fields)
            continue
        if points > Decimal(criterion["points"]):
            errors[f"{where}.points"] = [f"At most {criterion['points']} for this criterion."]
            continue
        comments = score.get("comments", "")
        if not isinstance(comments, str) or len(comments) > 10_000:
            errors[f"{where}.comments"] = ["Text of at most 10,000 characters."]
            continue
        total += points
        cleaned.append(
            {
                "criterion_id": criterion["id"],
                "rating_id": rating["id"] if rating else None,
                "points": str(points),
                "comments": comments,
            }
        )
    if errors:
        raise ApplicationError(
            "The rubric scores do not match the rubric.",
            code="invalid_rubric_scores",
            fields=errors,
        )
    return cleaned, total


# --- grades ----------------------------------------------------------------------


def late_penalty(*, points_possible: Decimal, points_earned: Decimal, percent) -> Decimal:
    """`percent` of the points possible, never more than what was earned."""
    if not percent:
        return Decimal("0")
    penalty = (points_possible * Decimal(str(percent)) / 100).quantize(CENT, ROUND_HALF_UP)
    return min(penalty, points_earned)


def _revision(grade: Grade, *, action: str, actor, save: bool = True) -> GradeRevision:
    revision = GradeRevision(
        grade=grade,
        version=grade.version,
        action=action,
        actor=actor,
        submission_id=grade.submission_id,
        points_earned=grade.points_earned,
        late_penalty_points=grade.late_penalty_points,
        score=grade.score,
        excused=grade.excused,
        feedback=grade.feedback,
        rubric_scores=grade.rubric_scores,
        released=grade.released_at is not None,
    )
    if save:
        revision.save()
    return revision


def _conflict(grade: Grade) -> ApplicationError:
    return ApplicationError(
        "Someone else changed this grade since you loaded it; reload it and try again.",
        code="grade_conflict",
        status=status.HTTP_409_CONFLICT,
        extra={"current_version": grade.version, "grade_id": str(grade.pk)},
    )


def _student_check(item: GradeItem, student) -> None:
    holds_seat = Enrollment.objects.filter(
        seat_holder(), course_id=item.course_id, user=student
    ).exists()
    if not holds_seat:
        raise ApplicationError(
            "Only students holding a seat in the course can be graded.",
            code="not_a_student",
            status=status.HTTP_409_CONFLICT,
        )


@dataclass(frozen=True)
class GradeInput:
    """What a grader (or the quiz engine) gives. Exactly one of points_earned
    or rubric_scores may be None; with a rubric and no points, the rubric's sum
    is the points."""

    points_earned: object = None
    rubric_scores: list | None = None
    feedback: str | None = None
    excused: bool = False


@transaction.atomic
def grade_save(
    *,
    item: GradeItem,
    student,
    grader,
    given: GradeInput,
    submission_id=None,
    late_penalty_percent=None,
    expected_version: int | None = None,
    check_version: bool = True,
) -> Grade:
    """Gives or changes `student`'s grade for `item`.

    Optimistic concurrency: changing an existing grade needs the version the
    caller read (`expected_version`); a different one, or none when someone
    has graded first, is a 409 `grade_conflict` naming the current version, and
    nothing changes. The quiz engine passes check_version=False: it recomputes
    from the responses, so the last computation is right. Every change adds a
    revision; an item posted automatically releases the grade at once.

    `late_penalty_percent` (days late times the assignment's penalty per day, at
    most 100) is kept on the grade; None keeps the grade's own, so a regrade
    through the grade alone keeps the submission's penalty."""
    _student_check(item, student)
    rubric_scores: list = []
    points = None
    if given.rubric_scores is not None:
        if item.rubric is None:
            raise ApplicationError(
                "This item has no rubric.",
                code="invalid_rubric_scores",
                fields={"rubric_scores": ["This item has no rubric."]},
            )
        rubric_scores, rubric_total = rubric_scores_clean(item.rubric, given.rubric_scores)
        points = rubric_total
    if given.points_earned is not None:
        points = _points(given.points_earned, field="points_earned")
    if points is None and not given.excused:
        raise ApplicationError(
            "Give points, rubric scores, or excuse the student.",
            code="invalid",
            fields={"points_earned": ["Required unless rubric scores are given or excused."]},
        )
    now = timezone.now()
    grade = Grade.objects.select_for_update().filter(item=item, student=student).first()
    if late_penalty_percent is None:
        percent = grade.late_penalty_percent if grade is not None else Decimal("0")
    else:
        percent = min(Decimal("100"), max(Decimal("0"), Decimal(str(late_penalty_percent))))
    penalty = Decimal("0")
    score = None
    if points is not None:
        penalty = late_penalty(
            points_possible=item.points_possible, points_earned=points, percent=percent
        )
        score = points - penalty

    if grade is None:
        if expected_version not in (None, 0) and check_version:
            raise ApplicationError(
                "This grade no longer exists.", code="not_found", status=status.HTTP_404_NOT_FOUND
            )
        grade = Grade(item=item, student=student, version=1)
        action = GradeAction.GRADED
    else:
        if check_version and expected_version != grade.version:
            raise _conflict(grade)
        grade.version += 1
        action = GradeAction.REGRADED
    grade.submission_id = submission_id if submission_id is not None else grade.submission_id
    grade.grader = grader
    grade.points_earned = points
    grade.late_penalty_percent = percent
    grade.late_penalty_points = penalty
    grade.score = score
    grade.excused = given.excused
    if given.feedback is not None:
        grade.feedback = given.feedback
    grade.rubric_scores = rubric_scores
    grade.graded_at = now
    if item.posting_policy == PostingPolicy.AUTOMATIC and grade.released_at is None:
        grade.released_at = now
    if grade._state.adding:
        try:
            with transaction.atomic():
                grade.save(force_insert=True)
        except IntegrityError:
            # Another grader created it between our read and our insert.
            current = Grade.objects.get(item=item, student=student)
            if not check_version:
                return grade_save(
                    item=item,
                    student=student,
                    grader=grader,
                    given=given,
                    submission_id=submission_id,
                    late_penalty_percent=late_penalty_percent,
                    check_version=False,
                )
            raise _conflict(current) from None
    else:
        grade.save()
    _revision(grade, action=action, actor=grader)
    return grade


def _set_released(grades, *, actor, released: bool) -> int:
    """Locks the grades whose visibility changes, flips it in one UPDATE, and
    writes one revision each. Returns how many changed."""
    now = timezone.now()
    targets = list(grades.select_for_update().filter(released_at__isnull=released).order_by("pk"))
    if not targets:
        return 0
    Grade.objects.filter(pk__in=[g.pk for g in targets]).update(
        released_at=now if released else None, version=F("version") + 1, updated_at=now
    )
    action = GradeAction.RELEASED if released else GradeAction.HIDDEN
    revisions = []
    for grade in targets:
        grade.released_at = now if released else None
        grade.version += 1
        revisions.append(_revision(grade, action=action, actor=actor, save=False))
    GradeRevision.objects.bulk_create(revisions)
    return len(targets)


@transaction.atomic
def grades_release(*, grade_ids, actor) -> int:
    """Makes these grades visible to their students. Releasing only changes
    visibility, under the row lock, so it never conflicts with a regrade."""
    return _set_released(Grade.objects.filter(pk__in=grade_ids), actor=actor, released=True)


@transaction.atomic
def grades_hide(*, grade_ids, actor) -> int:
    return _set_released(Grade.objects.filter(pk__in=grade_ids), actor=actor, released=False)


@transaction.atomic
def item_grades_release(*, item: GradeItem, actor) -> int:
    """Posts every grade of the item (Canvas's "post grades")."""
    return _set_released(Grade.objects.filter(item=item), actor=actor, released=True)


@transaction.atomic
def item_grades_hide(*, item: GradeItem, actor) -> int:
    return _set_released(Grade.objects.filter(item=item), actor=actor, released=False)


# --- what students may see ----------------------------------------------------------


def released_to_student() -> Q:
    """The grades a student may see: released, of a live, published item."""
    return Q(released_at__isnull=False, item__deleted_at__isnull=True, item__is_published=True)
