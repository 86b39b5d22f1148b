"""What courses holds of a person, for their data export and erasure: their
enrollments (with final grades), the courses they teach, and their address
in enrollment imports' files."""

import re

from tenant_apps.privacy.api import erased_email

from .models import Course, CourseEnrollmentImport, Enrollment
from .services import enrollment_drop


def courses_export(user) -> dict:
    enrollments = (
        Enrollment.objects.filter(user=user).select_related("course").order_by("enrolled_at", "id")
    )
    taught = Course.objects.filter(instructor=user).order_by("-academic_year", "term", "code")
    return {
        "enrollments": [
            {
                "course": {
                    "id": e.course_id,
                    "code": e.course.code,
                    "title": e.course.title,
                    "term": e.course.term,
                },
                "role": e.role,
                "status": e.status,
                "enrollment_type": e.enrollment_type,
                "section": e.section,
                "enrolled_at": e.enrolled_at,
                "drop_date": e.drop_date,
                "grade": e.grade,
                "gpa_points": e.gpa_points,
            }
            for e in enrollments
        ],
        "courses_taught": [
            {"id": c.pk, "code": c.code, "title": c.title, "term": c.term, "status": c.status}
            for c in taught
        ],
    }


def _imports_scrub(user) -> None:
    """Enrollment imports keep the uploaded CSV and its per-row report: the
    person's address there becomes their erased address."""
    address = erased_email(user.pk)
    pattern = re.compile(re.escape(user.email), re.IGNORECASE)
    for job in CourseEnrollmentImport.objects.filter(csv_text__icontains=user.email):
        job.csv_text = pattern.sub(address, job.csv_text)
        job.rows = [
            {**row, "email": address}
            if isinstance(row, dict) and str(row.get("email", "")).strip().lower() == user.email
            else row
            for row in job.rows
        ]
        job.save(update_fields=["csv_text", "rows", "updated_at"])


def courses_erase(user, *, keep_academic_records: bool) -> None:
    """With academic records kept, enrollments stay as they are (the course's
    roster, seats and statistics unchanged, under the anonymised name).
    Without, the user leaves every course: a seat they held goes to the
    waitlist as a drop would, and their enrollments are deleted. Courses they
    teach stay the institution's, naming the anonymised user."""
    _imports_scrub(user)
    if keep_academic_records:
        return
    for enrollment in Enrollment.objects.filter(user=user).select_related("course"):
        if enrollment.holds_seat and enrollment.course.deleted_at is None:
            enrollment_drop(course=enrollment.course, user=user)
    Enrollment.objects.filter(user=user).delete()
