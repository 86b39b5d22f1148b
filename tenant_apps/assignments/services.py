"""Every write to assignments and submissions. Who may call them is decided
before, by tenant_apps.assignments.policies; these keep the data's own rules.

- Each assignment keeps its gradebook column (tenant_apps.grading) in step:
  every create, change, publish and delete calls grade_item_sync or
  grade_item_delete in the same transaction.
- A student's submission writes queue on their enrollment row (locked for the
  transaction), so two requests of one student for one assignment run one
  after the other: numbers stay 1..n, there is one draft, and a double click
  can be recognised (see submission_submit).
- Lateness is decided here, by the server's clock and the institution's time
  zone (lateness.py), never by the client.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from conceptspro.tenancy import institution_timezone
from tenant_apps.activity.api import ActivityType, activity_record
from tenant_apps.content.api import Module
from tenant_apps.courses.api import Course, Enrollment, course_material_writable, seat_holder
from tenant_apps.files.api import files_for_submission
from tenant_apps.grading.api import (
    AssignmentGroup,
    Grade,
    GradeInput,
    GradeItem,
    ItemKind,
    Rubric,
    grade_item_delete,
    grade_item_for,
    grade_item_sync,
    grade_save,
)

from . import lateness
from .models import Assignment, Submission, SubmissionStatus, SubmissionType

MB = 1024 * 1024
# A submit identical to the student's latest attempt within this window is the
# same click arriving twice: it answers that attempt instead of a new one.
REPEAT_WINDOW = timedelta(seconds=60)

_OPTIONS = (
    "description",
    "instructions",
    "assignment_type",
    "allow_late_submission",
    "late_penalty_per_day",
    "max_late_days",
    "submission_type",
    "allowed_file_types",
    "max_file_size_mb",
    "max_submissions",
    "is_published",
)
_EDITABLE = ("title", "points", "due_at", *_OPTIONS)
_LINKS = ("module_id", "group_id", "rubric_id")


def _gone(what: str) -> ApplicationError:
    return ApplicationError(
        f"This {what} no longer exists.", code="not_found", status=status.HTTP_404_NOT_FOUND
    )


def _unknown_check(changes: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"{where}() got unexpected fields: {sorted(unknown)}")


# --- assignments -----------------------------------------------------------------


def _links_resolve(course: Course, links: dict) -> dict:
    """module_id, group_id, rubric_id given (None clears) as the course's own
    live module, group and rubric; 400 naming the field otherwise."""
    sources = {
        "module_id": ("module", Module.objects.filter(deleted_at__isnull=True)),
        "group_id": ("group", AssignmentGroup.objects.all()),
        "rubric_id": ("rubric", Rubric.objects.filter(deleted_at__isnull=True)),
    }
    resolved = {}
    for key, value in links.items():
        name, rows = sources[key]
        found = None if value is None else rows.filter(pk=value, course=course).first()
        if value is not None and found is None:
            raise ApplicationError(
                f"The {name} is not one of this course's.",
                code="invalid",
                fields={key: [f"Not a {name} of this course."]},
            )
        resolved[name] = found
    return resolved


def assignment_grade_item_sync(
    assignment: Assignment, *, posting_policy: str | None = None
) -> GradeItem:
    return grade_item_sync(
        kind=ItemKind.ASSIGNMENT,
        source_id=assignment.pk,
        course=assignment.course,
        title=assignment.title,
        points_possible=assignment.points,
        group=assignment.group,
        rubric=assignment.rubric,
        due_at=assignment.due_at,
        is_published=assignment.is_published,
        posting_policy=posting_policy,
    )


@transaction.atomic
def assignment_create(
    *,
    course: Course,
    title: str,
    points,
    due_at: datetime,
    posting_policy: str | None = None,
    **options,
) -> Assignment:
    """A new assignment with its gradebook column. `options` are the other
    editable fields and module_id, group_id, rubric_id. Published now: its
    publication time is now."""
    _unknown_check(options, (*_OPTIONS, *_LINKS), "assignment_create")
    course_material_writable(course)
    links = _links_resolve(course, {k: options.pop(k) for k in _LINKS if k in options})
    assignment = Assignment(course=course, title=title, points=points, due_at=due_at, **options)
    for name, value in links.items():
        setattr(assignment, name, value)
    if assignment.is_published:
        assignment.published_at = timezone.now()
    assignment.save(force_insert=True)
    assignment_grade_item_sync(assignment, posting_policy=posting_policy)
    return assignment


def _locked(assignment: Assignment) -> Assignment:
    locked = (
        Assignment.objects.select_for_update()
        .select_related("course")
        .filter(pk=assignment.pk, deleted_at__isnull=True)
        .first()
    )
    if locked is None:  # deleted while this change waited on the row
        raise _gone("assignment")
    return locked


def _unpublish_check(assignment: Assignment) -> None:
    """An assignment with submitted attempts stays published: unpublishing
    would hide the students' work and their released grades from them."""
    submitted = assignment.submissions.filter(status=SubmissionStatus.SUBMITTED).exists()
    if submitted:
        raise ApplicationError(
            "Students have submitted this assignment; it can no longer be unpublished.",
            code="assignment_has_submissions",
            status=status.HTTP_409_CONFLICT,
        )


@transaction.atomic
def assignment_update(
    *, assignment: Assignment, posting_policy: str | None = None, **changes
) -> Assignment:
    """Changes any editable field or link; the gradebook column follows.
    Submissions keep the lateness they were given when submitted."""
    _unknown_check(changes, (*_EDITABLE, *_LINKS), "assignment_update")
    assignment = _locked(assignment)
    course_material_writable(assignment.course)
    links = _links_resolve(assignment.course, {k: changes.pop(k) for k in _LINKS if k in changes})
    if assignment.is_published and changes.get("is_published") is False:
        _unpublish_check(assignment)
    for field, value in (*changes.items(), *links.items()):
        setattr(assignment, field, value)
    if assignment.is_published and assignment.published_at is None:
        assignment.published_at = timezone.now()
    assignment.save()
    assignment_grade_item_sync(assignment, posting_policy=posting_policy)
    return assignment


@transaction.atomic
def assignment_delete(*, assignment: Assignment) -> None:
    """A soft delete: gone for everyone with its gradebook column; its
    submissions and grades are kept."""
    assignment = _locked(assignment)
    course_material_writable(assignment.course)
    now = timezone.now()
    Assignment.objects.filter(pk=assignment.pk).update(deleted_at=now, updated_at=now)
    grade_item_delete(kind=ItemKind.ASSIGNMENT, source_id=assignment.pk)


# --- submissions -------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionContent:
    """What a student sends; None is "not given" (a draft keeps its own)."""

    text: str | None = None
    url: str | None = None
    file_ids: list | None = None

    def given(self) -> bool:
        return any(v is not None for v in (self.text, self.url, self.file_ids))


_TAKES = {
    SubmissionType.TEXT: {"text"},
    SubmissionType.URL: {"url"},
    SubmissionType.FILE: {"file_ids"},
    SubmissionType.MULTIPLE: {"text", "url", "file_ids"},
}
_NEEDS = {
    SubmissionType.TEXT: "Write the text of your submission.",
    SubmissionType.URL: "Give the URL of your submission.",
    SubmissionType.FILE: "Attach at least one file.",
    SubmissionType.MULTIPLE: "Give text, a URL or at least one file.",
}


def _content_check(assignment: Assignment, content: SubmissionContent, *, final: bool) -> None:
    """Only what the submission type takes; a submitted attempt needs what it
    asks for (a draft may be incomplete)."""
    kind = assignment.submission_type
    values = {"text": content.text, "url": content.url, "file_ids": content.file_ids}
    errors = {
        name: [f"This assignment does not take a {name.removesuffix('_ids')}."]
        for name, value in values.items()
        if value and name not in _TAKES[kind]
    }
    if errors:
        raise ApplicationError(
            f"This assignment takes a {kind} submission.", code="invalid", fields=errors
        )
    has = {
        "text": bool((content.text or "").strip()),
        "url": bool(content.url),
        "file_ids": bool(content.file_ids),
    }
    if final and not any(has[name] for name in _TAKES[kind]):
        field = "non_field_errors" if kind == SubmissionType.MULTIPLE else next(iter(_TAKES[kind]))
        raise ApplicationError(_NEEDS[kind], code="invalid", fields={field: [_NEEDS[kind]]})


def _student_lock(assignment: Assignment, student) -> None:
    """Holds the student's enrollment row until the transaction ends: their
    submission writes for this course run one after the other."""
    held = (
        Enrollment.objects.select_for_update()
        .filter(seat_holder(), course_id=assignment.course_id, user=student)
        .exists()
    )
    if not held:
        raise ApplicationError(
            "Only students holding a seat in the course can submit.",
            code="not_a_student",
            status=status.HTTP_409_CONFLICT,
        )


def _open_assignment(assignment: Assignment) -> Assignment:
    """The assignment as it is now: live, published, its course writable."""
    fresh = (
        Assignment.objects.select_related("course")
        .filter(pk=assignment.pk, deleted_at__isnull=True, is_published=True)
        .first()
    )
    if fresh is None:
        raise _gone("assignment")
    course_material_writable(fresh.course)
    return fresh


def _days_late(assignment: Assignment, now: datetime) -> int:
    """Days late at `now`, or the refusal: 409 `late_submission_not_allowed`
    after the due time when the assignment takes no late work, 409
    `submission_closed` once `max_late_days` have passed."""
    zone = institution_timezone()
    days = lateness.days_late(due_at=assignment.due_at, at=now, zone=zone)
    if days and not assignment.allow_late_submission:
        due = assignment.due_at.astimezone(zone).isoformat()
        raise ApplicationError(
            f"This assignment was due at {due} and does not take late submissions.",
            code="late_submission_not_allowed",
            status=status.HTTP_409_CONFLICT,
            extra={"due_at": due},
        )
    if days and assignment.max_late_days is not None and days > assignment.max_late_days:
        closed = lateness.closes_at(
            due_at=assignment.due_at, max_late_days=assignment.max_late_days, zone=zone
        ).isoformat()
        raise ApplicationError(
            f"Late submissions for this assignment closed at {closed}.",
            code="submission_closed",
            status=status.HTTP_409_CONFLICT,
            extra={"closed_at": closed},
        )
    return days


def _files(assignment: Assignment, student, file_ids: list, *, hold: bool) -> list:
    if not file_ids:
        return []
    return files_for_submission(
        user=student,
        file_ids=file_ids,
        course=assignment.course,
        allowed_types=assignment.allowed_file_types,
        max_bytes=assignment.max_file_size_mb * MB,
        hold=hold,
    )


def _merged(draft: Submission | None, content: SubmissionContent) -> SubmissionContent:
    """The request's content over the draft's, field by field."""
    if draft is None:
        return SubmissionContent(
            text=content.text or "", url=content.url or "", file_ids=content.file_ids or []
        )
    return SubmissionContent(
        text=draft.text if content.text is None else content.text,
        url=draft.url if content.url is None else content.url,
        file_ids=(
            [str(f.pk) for f in draft.files.all()] if content.file_ids is None else content.file_ids
        ),
    )


def _same(submission: Submission, content: SubmissionContent) -> bool:
    files = {str(f.pk) for f in submission.files.all()}
    return (
        submission.text == content.text
        and submission.url == content.url
        and files == {str(i) for i in content.file_ids}
    )


def _repeated(
    latest: Submission | None,
    *,
    draft: Submission | None,
    request: SubmissionContent,
    content: SubmissionContent,
    now: datetime,
) -> bool:
    """The same submit arriving twice: the latest attempt is under a minute old
    and has this content, or the request gave none and there is no draft left
    ("submit my draft", clicked twice)."""
    if latest is None or latest.submitted_at < now - REPEAT_WINDOW:
        return False
    return (draft is None and not request.given()) or _same(latest, content)


def _fill(submission: Submission, assignment, student, content: SubmissionContent) -> Submission:
    """Writes the content; files go through the files service's checks, and
    a submitted attempt's files are held as submitted."""
    held = submission.status == SubmissionStatus.SUBMITTED
    files = _files(assignment, student, content.file_ids, hold=held)
    submission.text = content.text
    submission.url = content.url
    submission.save()
    submission.files.set(files)
    return submission


def _draft_save(
    assignment: Assignment, student, draft: Submission | None, content: SubmissionContent
) -> Submission:
    _content_check(assignment, content, final=False)
    merged = _merged(draft, content)
    if draft is None:
        draft = Submission(assignment=assignment, student=student, status=SubmissionStatus.DRAFT)
    return _fill(draft, assignment, student, merged)


@transaction.atomic
def submission_submit(
    *,
    assignment: Assignment,
    student,
    content: SubmissionContent,
    is_draft: bool = False,
    now: datetime | None = None,
    request=None,
) -> tuple[Submission, bool]:
    """Saves the student's draft (`is_draft`), or submits an attempt: the
    draft, if any, becomes the next numbered attempt with the request's
    content over the draft's. Returns (submission, created).

    A submit identical in content to the student's latest attempt made within
    the last 60 seconds answers that attempt (created False) instead of adding
    one: two clicks, with or without an Idempotency-Key, make one submission.
    Refusals: 409 `late_submission_not_allowed`, `submission_closed`,
    `submission_limit_reached`; 400 for content the assignment does not take
    or files the files service refuses."""
    now = now or timezone.now()
    _student_lock(assignment, student)
    assignment = _open_assignment(assignment)
    mine = Submission.objects.filter(assignment=assignment, student=student)
    draft = mine.filter(status=SubmissionStatus.DRAFT).prefetch_related("files").first()
    if is_draft:
        return _draft_save(assignment, student, draft, content), draft is None
    merged = _merged(draft, content)
    submitted = mine.filter(status=SubmissionStatus.SUBMITTED)
    latest = submitted.order_by("-submission_number").prefetch_related("files").first()
    if _repeated(latest, draft=draft, request=content, content=merged, now=now):
        return latest, False
    _content_check(assignment, merged, final=True)
    days = _days_late(assignment, now)
    count = submitted.count()
    if assignment.max_submissions is not None and count >= assignment.max_submissions:
        raise ApplicationError(
            f"You have used all {assignment.max_submissions} submission(s) of this assignment.",
            code="submission_limit_reached",
            status=status.HTTP_409_CONFLICT,
            extra={"max_submissions": assignment.max_submissions},
        )
    attempt = draft or Submission(assignment=assignment, student=student)
    attempt.status = SubmissionStatus.SUBMITTED
    attempt.submission_number = (mine.aggregate(n=Max("submission_number"))["n"] or 0) + 1
    attempt.submitted_at = now
    attempt.days_late = days
    attempt.is_late = days > 0
    attempt = _fill(attempt, assignment, student, merged)
    # `request` gives the activity log the client's address and agent.
    activity_record(
        user=student,
        activity_type=ActivityType.SUBMIT_ASSIGNMENT,
        entity_type="assignment",
        entity_id=assignment.pk,
        course_id=assignment.course_id,
        metadata={"submission_id": str(attempt.pk), "is_late": attempt.is_late},
        request=request,
    )
    return attempt, True


def _own_draft_locked(submission: Submission, *, refusal: ApplicationError) -> Submission:
    _student_lock(submission.assignment, submission.student)
    fresh = (
        Submission.objects.select_related("assignment__course")
        .prefetch_related("files")
        .filter(pk=submission.pk)
        .first()
    )
    if fresh is None:
        raise _gone("submission")
    if fresh.status != SubmissionStatus.DRAFT:
        raise refusal
    course_material_writable(fresh.assignment.course)
    return fresh


@transaction.atomic
def submission_update(*, submission: Submission, content: SubmissionContent) -> Submission:
    """Changes the student's draft; fields not given keep their values. A
    submitted attempt never changes (409 `submission_not_editable`)."""
    draft = _own_draft_locked(
        submission,
        refusal=ApplicationError(
            "A submitted attempt cannot be changed; submit again for a new attempt.",
            code="submission_not_editable",
            status=status.HTTP_409_CONFLICT,
        ),
    )
    return _draft_save(draft.assignment, draft.student, draft, content)


@transaction.atomic
def submission_delete(*, submission: Submission) -> None:
    """Discards the student's draft (its files stay theirs). Submitted attempts
    are kept (409 `submission_not_deletable`)."""
    draft = _own_draft_locked(
        submission,
        refusal=ApplicationError(
            "Submitted attempts are kept; only a draft can be deleted.",
            code="submission_not_deletable",
            status=status.HTTP_409_CONFLICT,
        ),
    )
    draft.delete()


# --- grading ---------------------------------------------------------------------


@transaction.atomic
def submission_grade(
    *,
    submission: Submission,
    grader,
    given: GradeInput,
    expected_version: int | None,
) -> Grade:
    """The student's grade for the assignment, given for this attempt, with
    the attempt's late penalty. Optimistic concurrency and rubric checks are
    the gradebook's (409 `grade_conflict`, 400 `invalid_rubric_scores`)."""
    assignment = submission.assignment
    course_material_writable(assignment.course)
    if submission.status != SubmissionStatus.SUBMITTED:
        raise ApplicationError(
            "Only a submitted attempt can be graded.",
            code="submission_not_submitted",
            status=status.HTTP_409_CONFLICT,
        )
    item = grade_item_for(kind=ItemKind.ASSIGNMENT, source_id=assignment.pk)
    if item is None or item.deleted_at is not None:
        item = assignment_grade_item_sync(assignment)
    return grade_save(
        item=item,
        student=submission.student,
        grader=grader,
        given=given,
        submission_id=submission.pk,
        late_penalty_percent=submission.late_penalty_percent,
        expected_version=expected_version,
    )
