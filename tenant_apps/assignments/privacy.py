"""What assignments holds of a person, for their data export and erasure:
their submissions and drafts (the files themselves are in the files section)."""

from django.db.models import Prefetch

from tenant_apps.files.api import StoredFile

from .models import Submission, SubmissionStatus


def submissions_export(user) -> dict:
    submissions = (
        Submission.objects.filter(student=user)
        .select_related("assignment__course")
        .prefetch_related(Prefetch("files", queryset=StoredFile.objects.order_by("created_at")))
        .order_by("assignment__course__code", "assignment__due_at", "submission_number", "id")
    )
    return {
        "submissions": [
            {
                "id": s.pk,
                "assignment": {
                    "id": s.assignment_id,
                    "title": s.assignment.title,
                    "course_code": s.assignment.course.code,
                    "due_at": s.assignment.due_at,
                },
                "submission_number": s.submission_number,
                "status": s.status,
                "text": s.text,
                "url": s.url,
                "files": [
                    {
                        "id": f.pk,
                        "original_name": f.original_name,
                        "deleted": f.deleted_at is not None,
                    }
                    for f in s.files.all()
                ],
                "submitted_at": s.submitted_at,
                "is_late": s.is_late,
                "days_late": s.days_late,
                "created_at": s.created_at,
                "updated_at": s.updated_at,
            }
            for s in submissions
        ]
    }


def submissions_erase(user, *, keep_academic_records: bool) -> None:
    """Drafts always go (they were never handed in). Submitted attempts are
    academic records: kept with the policy, naming the anonymised user;
    deleted without it (their files then go with the files section)."""
    mine = Submission.objects.filter(student=user)
    if keep_academic_records:
        mine = mine.filter(status=SubmissionStatus.DRAFT)
    mine.delete()
