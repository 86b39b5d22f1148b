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
from tenant_apps.notifications.api import NotificationDraft, NotificationKind, notifications_send

from .models import (
    AssignmentGroup,
    Grade,
    GradeAction,
    GradeItem,
    GradeRevision,
    GradingPolicy,
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
    for a new one). A group or rubric of another course, or a deleted rubric,
    is refused."""
    for name, other in (("group", group), ("rubric", rubric)):
        if other is not None and (
            other.course_id != course.pk or getattr(other, "deleted_at", None) is not None
        ):
            raise ApplicationError(
                f"The {name} is not one of this course's (or was deleted).",
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
    grades are kept with it, as the source is soft-deleted too). `updated_at`
    moves with it, so the gradebook's incremental pulls see the totals change."""
    now = timezone.now()
    GradeItem.objects.filter(kind=kind, source_id=source_id, deleted_at__isnull=True).update(
        deleted_at=now, updated_at=now
    )


def grade_item_for(*, kind: ItemKind | str, source_id) -> GradeItem | None:
    return GradeItem.objects.filter(kind=kind, source_id=source_id).first()


# --- assignment groups and the grading policy -------------------------------------


@transaction.atomic
def assignment_group_create(
    *, course: Course, name: str, weight=Decimal("0"), position: int | None = None
) -> AssignmentGroup:
    """A new group, last unless `position` says otherwise."""
    if position is None:
        last = (
            AssignmentGroup.objects.filter(course=course)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        position = 0 if last is None else last + 1
    return AssignmentGroup.objects.create(
        course=course, name=name, weight=weight, position=position
    )


@transaction.atomic
def assignment_group_update(*, group: AssignmentGroup, **changes) -> AssignmentGroup:
    """Changes name, weight or position; a changed weight moves every
    student's weighted total, which `updated_at` tells incremental pulls."""
    for field, value in changes.items():
        setattr(group, field, value)
    group.save()
    return group


@transaction.atomic
def assignment_group_delete(*, group: AssignmentGroup) -> None:
    """Deletes the group; its items stay in the gradebook outside any group
    (in a weighted course they then count for nothing until regrouped). The
    items' `updated_at` moves, so incremental pulls see the totals change."""
    GradeItem.objects.filter(group=group).update(group=None, updated_at=timezone.now())
    group.delete()


def _letter_row(row) -> tuple[str, Decimal] | None:
    """(letter, minimum) from a [letter, minimum] pair, or None if it is not one."""
    if not isinstance(row, list | tuple) or len(row) != 2 or not isinstance(row[0], str):
        return None
    try:
        minimum = Decimal(str(row[1]))
    except InvalidOperation:
        return None
    return (row[0].strip(), minimum) if minimum.is_finite() else None


def letter_scheme_clean(raw) -> list[list]:
    """A letter scheme as stored, highest minimum first: [letter, minimum]
    pairs, letters unique, non-blank and at most 10 characters, minimums
    between 0 and 100 and distinct, one of them 0 (so every percentage has a
    letter). 400 naming the entry otherwise."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= 50:
        raise ApplicationError(
            "A letter scheme has between 1 and 50 letters.",
            code="invalid",
            fields={"letter_scheme": ["Give between 1 and 50 letters."]},
        )
    errors: dict[str, list[str]] = {}
    rows: list[tuple[str, Decimal]] = []
    for index, raw_row in enumerate(raw):
        where = f"letter_scheme[{index}]"
        row = _letter_row(raw_row)
        if row is None:
            errors[where] = ["A letter and its minimum percentage."]
            continue
        letter, minimum = row
        if not letter or len(letter) > 10:
            errors[f"{where}.letter"] = ["Between 1 and 10 characters."]
        elif letter in {r[0] for r in rows}:
            errors[f"{where}.letter"] = ["Letters must be unique."]
        if not Decimal("0") <= minimum <= Decimal("100"):
            errors[f"{where}.minimum"] = ["Must be between 0 and 100."]
            continue
        minimum = minimum.quantize(CENT)
        if minimum in {r[1] for r in rows}:
            errors[f"{where}.minimum"] = ["Minimums must be distinct."]
        rows.append((letter, minimum))
    if not errors and Decimal("0") not in {r[1] for r in rows}:
        errors["letter_scheme"] = ["One letter must start at 0, so every percentage has one."]
    if errors:
        raise ApplicationError("The letter scheme is not valid.", code="invalid", fields=errors)
    return [[letter, str(minimum)] for letter, minimum in sorted(rows, key=lambda r: -r[1])]


@transaction.atomic
def grading_policy_set(*, course: Course, weight_groups: bool, letter_scheme=None):
    """Sets how the course totals; `letter_scheme` None or empty means the
    default scheme. Returns the policy."""
    scheme = letter_scheme_clean(letter_scheme) if letter_scheme else []
    policy, _ = GradingPolicy.objects.update_or_create(
        course=course, defaults={"weight_groups": weight_groups, "letter_scheme": scheme}
    )
    return policy


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


def rubric_in_use(rubric: Rubric) -> bool:
    """Some grade was given with this rubric's criteria."""
    return Grade.objects.filter(item__rubric=rubric).exclude(rubric_scores=[]).exists()


def _rubric_conflict(message: str) -> ApplicationError:
    return ApplicationError(message, code="rubric_in_use", status=status.HTTP_409_CONFLICT)


@transaction.atomic
def rubric_create(*, course: Course, title: str, criteria) -> Rubric:
    cleaned, total = rubric_criteria_clean(criteria)
    return Rubric.objects.create(
        course=course, title=title, criteria=cleaned, points_possible=total
    )


@transaction.atomic
def rubric_update(*, rubric: Rubric, title: str, criteria, force: bool = False) -> Rubric:
    """Replaces title and criteria. Once grades were given with the rubric,
    changing its criteria is a 409 `rubric_in_use` unless `force`: with it,
    those grades keep the scores and points they were given (a snapshot of
    the old criteria), and only later grading uses the new ones."""
    rubric = Rubric.objects.select_for_update().get(pk=rubric.pk)
    cleaned, total = rubric_criteria_clean(criteria)
    if cleaned != rubric.criteria and not force and rubric_in_use(rubric):
        raise _rubric_conflict(
            "Grades were given with this rubric; send force=true to change its criteria "
            "(those grades keep their scores)."
        )
    rubric.title, rubric.criteria, rubric.points_possible = title, cleaned, total
    rubric.save()
    return rubric


@transaction.atomic
def rubric_delete(*, rubric: Rubric) -> None:
    """A soft delete, refused (409 `rubric_in_use`) while a live gradebook
    item uses the rubric: detach it from the assignment first. Grades given
    with it keep their scores."""
    if GradeItem.objects.filter(rubric=rubric, deleted_at__isnull=True).exists():
        raise _rubric_conflict("An assignment uses this rubric; detach it first.")
    Rubric.objects.filter(pk=rubric.pk).update(deleted_at=timezone.now())


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


def _shown(grade: Grade) -> tuple:
    """What a student is shown of a grade."""
    return (
        grade.points_earned,
        grade.late_penalty_points,
        grade.score,
        grade.excused,
        grade.feedback,
        grade.rubric_scores,
    )


# GradeInput.rubric_scores: keep the grade's stored scores as they are, not
# checked again (a PATCH of feedback after the rubric changed or left the item).
KEEP_RUBRIC_SCORES = object()


@dataclass(frozen=True)
class GradeInput:
    """What a grader (or the quiz engine) gives. Exactly one of points_earned
    or rubric_scores may be None; with a rubric and no points, the rubric's sum
    is the points. `excused` None keeps the grade's own (the quiz engine's
    recomputed score does not undo a grader's excusal)."""

    points_earned: object = None
    rubric_scores: list | object | None = None
    feedback: str | None = None
    excused: bool | None = False


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
    keep_rubric = given.rubric_scores is KEEP_RUBRIC_SCORES
    if given.rubric_scores is not None and not keep_rubric:
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
        shown_before = _shown(grade)
        rubric_scores = grade.rubric_scores if keep_rubric else rubric_scores
    grade.submission_id = submission_id if submission_id is not None else grade.submission_id
    grade.grader = grader
    grade.points_earned = points
    grade.late_penalty_percent = percent
    grade.late_penalty_points = penalty
    grade.score = score
    if given.excused is not None:
        grade.excused = given.excused
    if given.feedback is not None:
        grade.feedback = given.feedback
    grade.rubric_scores = rubric_scores
    grade.graded_at = now
    if item.posting_policy == PostingPolicy.AUTOMATIC and grade.released_at is None:
        grade.released_at = now
    elif (
        item.posting_policy == PostingPolicy.MANUAL
        and grade.released_at is not None
        and action == GradeAction.REGRADED
        and _shown(grade) != shown_before
    ):
        # Under manual posting a regrade is not released by being saved: the
        # grade is hidden again until someone who may post releases it.
        grade.released_at = None
    newly_released = grade.released_at == now
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
    if newly_released:
        grades_released_notify([grade], items={item.pk: item})
    return grade


def grades_released_notify(grades, *, items: dict | None = None) -> int:
    """Tells each student whose grade just became visible to them: one
    notification per grade, all in one INSERT, in the caller's transaction.
    Only grades a student may now see (`released_to_student`): a grade of an
    unpublished or deleted item notifies nobody, and its later publication
    does not either (students find it in their grades). Returns how many."""
    grades = list(grades)
    item_ids = {grade.item_id for grade in grades}
    if items is None or not item_ids <= set(items):
        items = {item.pk: item for item in GradeItem.objects.filter(pk__in=item_ids)}
    drafts = []
    for grade in grades:
        item = items[grade.item_id]
        if not item.is_published or item.deleted_at is not None:
            continue
        drafts.append(
            NotificationDraft(
                user_id=grade.student_id,
                kind=NotificationKind.GRADE_POSTED,
                title=f"Grade posted: {item.title}",
                message=f"Your grade for {item.title} is now available.",
                link_url=f"/courses/{item.course_id}/grades",
                metadata={
                    "course_id": str(item.course_id),
                    "item_id": str(item.pk),
                    "grade_id": str(grade.pk),
                },
            )
        )
    return len(notifications_send(drafts))


def _set_released(grades, *, actor, released: bool) -> int:
    """Locks the grades whose visibility changes, flips it in one UPDATE, and
    writes one revision each. Returns how many changed. The time is taken
    once the transaction has begun (with the lock), so `updated_at` is never
    earlier than it: a gradebook pull whose `as_of` is read meanwhile still
    finds the change."""
    targets = list(grades.select_for_update().filter(released_at__isnull=released).order_by("pk"))
    if not targets:
        return 0
    now = timezone.now()
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
    if released:
        grades_released_notify(targets)
    return len(targets)


@transaction.atomic
def grades_release(*, grade_ids, actor) -> int:
    """Makes these grades visible to their students, under the row lock. A
    release moves the grade's version, so a grader who loaded it before gets a
    409 and reloads rather than saving over what was just released."""
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


@transaction.atomic
def grade_item_posting_policy_set(
    *, item: GradeItem, posting_policy: str, actor, release_hidden: bool = False
) -> GradeItem:
    """Sets how the item's grades are posted. Switching to automatic posts the
    grades given from now on; those already hidden stay hidden unless
    `release_hidden` (a grader may have kept them back on purpose)."""
    GradeItem.objects.filter(pk=item.pk).update(
        posting_policy=posting_policy, updated_at=timezone.now()
    )
    item.refresh_from_db()
    if release_hidden and posting_policy == PostingPolicy.AUTOMATIC:
        _set_released(Grade.objects.filter(item=item), actor=actor, released=True)
    return item


# Grade fields a grader sets through the API, and what PUT resets them to.
GRADE_FIELD_DEFAULTS = {
    "points_earned": None,
    "rubric_scores": None,
    "feedback": "",
    "excused": False,
    "late_penalty_percent": None,
}


@transaction.atomic
def grade_update(
    *, grade: Grade, grader, changes: dict, expected_version: int, partial: bool
) -> Grade:
    """A grader's change to an existing grade through grade_save (so the same
    409 on a stale version, and a revision). PUT (`partial` False) resets the
    fields left out (`late_penalty_percent` left out keeps the grade's own);
    PATCH keeps them, rubric scores included unless new points come from new
    rubric scores."""
    if partial:
        current = {
            "points_earned": grade.points_earned,
            "rubric_scores": KEEP_RUBRIC_SCORES,
            "feedback": None,
            "excused": grade.excused,
            "late_penalty_percent": None,
        }
        if "rubric_scores" in changes and "points_earned" not in changes:
            current["points_earned"] = None
        values = current | changes
    else:
        values = GRADE_FIELD_DEFAULTS | changes
    late = values.pop("late_penalty_percent")
    return grade_save(
        item=grade.item,
        student=grade.student,
        grader=grader,
        given=GradeInput(**values),
        late_penalty_percent=late,
        expected_version=expected_version,
    )


# --- what students may see ----------------------------------------------------------


def released_to_student() -> Q:
    """The grades a student may see: released, of a live, published item."""
    return Q(released_at__isnull=False, item__deleted_at__isnull=True, item__is_published=True)
