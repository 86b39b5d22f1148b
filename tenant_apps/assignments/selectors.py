"""Reads of assignments and submissions, fetched through the caller's course
access, with what a list shows loaded in a fixed number of queries.

What a student sees: published assignments of a published course they hold a
seat in; their own submissions, drafts included; a grade only once it is
released (grading's `released_to_student`). The course's teaching staff see
every live assignment and every student's submissions and grades.
"""

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from tenant_apps.courses.api import CourseAccess, course_access_or_404
from tenant_apps.files.api import StoredFile
from tenant_apps.grading.api import Grade, GradeItem, ItemKind, released_to_student

from . import policies
from .models import Assignment, Submission


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
