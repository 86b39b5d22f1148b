"""Reads of assignments and submissions, fetched through the caller's course
access, with what a list shows loaded in a fixed number of queries.

What a student sees: published assignments of a published course they hold a
seat in; their own submissions, drafts included; a grade only once it is
released (grading's `released_to_student`). The course's teaching staff see
every live assignment and every student's submissions and grades.
"""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from tenant_apps.courses.api import (
    CourseAccess,
    CourseStatus,
    Enrollment,
    course_access_or_404,
    seat_holder,
)
from tenant_apps.files.api import StoredFile
from tenant_apps.grading.api import Grade, GradeItem, ItemKind, released_to_student

from . import policies
from .models import Assignment, Submission, SubmissionStatus


def _grade_item() -> QuerySet:
    return GradeItem.objects.filter(kind=ItemKind.ASSIGNMENT, source_id=OuterRef("pk"))


def assignments_for(access: CourseAccess) -> QuerySet[Assignment]:
    """The course's live assignments the caller may see, by due time, each
    with its gradebook column's id and posting policy."""
    queryset = Assignment.objects.filter(course=access.course, deleted_at__isnull=True).annotate(
        grade_item_id=Subquery(_grade_item().values("pk")[:1]),
        posting_policy=Subquery(_grade_item().values("posting_policy")[:1]),
    )
    if not policies.can_see_unpublished(access):
        queryset = queryset.filter(is_published=True)
    return queryset.order_by("due_at", "title", "id")


def assignment_visible_or_404(user, pk) -> tuple[CourseAccess, Assignment]:
    """The live assignment with the caller's access to its course, or 404 when
    they may not see it (another course's, a draft for a student)."""
    course_id = (
        Assignment.objects.filter(pk=pk, deleted_at__isnull=True)
        .values_list("course_id", flat=True)
        .first()
    )
    if course_id is None:
        raise Http404
    access = course_access_or_404(user, course_id)
    assignment = assignments_for(access).filter(pk=pk).first()
    if assignment is None or not policies.can_see_assignment(access, assignment):
        raise Http404
    return access, assignment


def live_files() -> QuerySet[StoredFile]:
    now = timezone.now()
    return StoredFile.objects.filter(
        Q(deleted_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    ).order_by("created_at", "id")


def _submissions() -> QuerySet[Submission]:
    return Submission.objects.select_related("student", "assignment").prefetch_related(
        Prefetch("files", queryset=live_files())
    )


def submissions_for(access: CourseAccess, assignment: Assignment) -> QuerySet[Submission]:
    """Every student's submissions for the staff, the caller's own for a
    student: by student, then attempt, their draft last."""
    queryset = _submissions().filter(assignment=assignment)
    if not policies.can_see_all_submissions(access):
        queryset = queryset.filter(student=access.user)
    return queryset.order_by(
        "student__last_name",
        "student__first_name",
        "student_id",
        "submission_number",
    )


def submission_visible_or_404(user, pk) -> tuple[CourseAccess, Submission]:
    """The submission with the caller's course access, if they may see it: its
    owner or the course's staff, its assignment live (and published for a
    student). Anyone else gets 404, so a submission's existence never leaks."""
    submission = (
        _submissions()
        .select_related("assignment__course")
        .filter(pk=pk, assignment__deleted_at__isnull=True)
        .first()
    )
    if submission is None:
        raise Http404
    access = course_access_or_404(user, submission.assignment.course_id)
    if not policies.can_see_submission(access, submission) or not policies.can_see_assignment(
        access, submission.assignment
    ):
        raise Http404
    return access, submission


def grades_of(submissions, *, access: CourseAccess) -> dict:
    """submission id -> the grade given for that submission, in one query;
    for a student only released grades."""
    ids = [s.pk for s in submissions if s.submission_number is not None]
    if not ids:
        return {}
    grades = Grade.objects.filter(
        item__kind=ItemKind.ASSIGNMENT, submission_id__in=ids
    ).select_related("item", "student", "grader")
    if not policies.can_see_all_submissions(access):
        grades = grades.filter(released_to_student(), student=access.user)
    return {grade.submission_id: grade for grade in grades}


def assignments_due_with_students_pending(
    *, after, until, student_ids=None
) -> list[tuple[Assignment, list]]:
    """For reminders and digests (no caller: beat runs them). Published live
    assignments of live published courses due in (after, until], by due time
    (course loaded), each with the ids of the students who still owe it:
    holding a seat in its course with a live account, no submitted attempt
    (a draft is not one), not excused in the gradebook. Assignments nobody
    owes are left out. `student_ids` limits it to those students. Four
    queries, whatever the number of assignments."""
    assignments = list(
        Assignment.objects.filter(
            is_published=True,
            deleted_at__isnull=True,
            due_at__gt=after,
            due_at__lte=until,
            course__status=CourseStatus.PUBLISHED,
            course__deleted_at__isnull=True,
        )
        .select_related("course")
        .order_by("due_at", "id")
    )
    if not assignments:
        return []
    seats = Enrollment.objects.filter(
        seat_holder(),
        course_id__in={a.course_id for a in assignments},
        user__is_active=True,
        user__is_suspended=False,
        user__deleted_at__isnull=True,
    )
    if student_ids is not None:
        seats = seats.filter(user_id__in=student_ids)
    students_of: dict = {}
    for course_id, user_id in seats.order_by("user_id").values_list("course_id", "user_id"):
        students_of.setdefault(course_id, []).append(user_id)
    ids = [a.pk for a in assignments]
    done = set(
        Submission.objects.filter(assignment_id__in=ids, status=SubmissionStatus.SUBMITTED)
        .values_list("assignment_id", "student_id")
        .distinct()
    )
    done |= set(
        Grade.objects.filter(
            item__kind=ItemKind.ASSIGNMENT, item__source_id__in=ids, excused=True
        ).values_list("item__source_id", "student_id")
    )
    pending = []
    for assignment in assignments:
        owing = [
            user_id
            for user_id in students_of.get(assignment.course_id, [])
            if (assignment.pk, user_id) not in done
        ]
        if owing:
            pending.append((assignment, owing))
    return pending


def assignment_due_dates(accesses, *, due_from, due_before) -> list[Assignment]:
    """For calendars: the live assignments due in [due_from, due_before) of the
    courses of `accesses` (one caller's `CourseAccess` per course), as that
    caller may see them (staff every one, students the published ones), by
    due time. Each has `submission_status` for a caller who may submit in its
    course: "graded" (a grade released to them), "late" (their latest attempt
    was late), "submitted", "not_submitted"; None for the staff. One query."""
    accesses = [a for a in accesses if a.can_view_content]
    if not accesses:
        return []
    user = accesses[0].user
    by_course = {access.course.pk: access for access in accesses}
    staff = [pk for pk, a in by_course.items() if policies.can_see_unpublished(a)]
    students = [pk for pk, a in by_course.items() if pk not in staff]
    latest = Submission.objects.filter(
        assignment=OuterRef("pk"), student=user, status=SubmissionStatus.SUBMITTED
    ).order_by("-submission_number")
    released = Grade.objects.filter(
        released_to_student(),
        item__kind=ItemKind.ASSIGNMENT,
        item__source_id=OuterRef("pk"),
        student=user,
    )
    assignments = (
        Assignment.objects.filter(
            Q(course_id__in=staff) | Q(course_id__in=students, is_published=True),
            deleted_at__isnull=True,
            due_at__gte=due_from,
            due_at__lt=due_before,
        )
        .annotate(
            caller_submitted=Exists(latest),
            caller_late=Subquery(latest.values("is_late")[:1]),
            caller_graded=Exists(released),
        )
        .order_by("due_at", "title", "id")
    )
    found = list(assignments)
    for assignment in found:
        if not policies.can_submit(by_course[assignment.course_id]):
            assignment.submission_status = None
        elif assignment.caller_graded:
            assignment.submission_status = "graded"
        elif assignment.caller_late:
            assignment.submission_status = "late"
        elif assignment.caller_submitted:
            assignment.submission_status = "submitted"
        else:
            assignment.submission_status = "not_submitted"
    return found
