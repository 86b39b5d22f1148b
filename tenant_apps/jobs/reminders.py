"""Assignment reminders: students who still owe a published assignment hear
about it a day before it is due and again an hour before.

Beat runs `assignment_reminders_send` every five minutes in each institution.
Each reminder is claimed in the ledger under job "assignment_reminder_1d" or
"assignment_reminder_1h" and period "<assignment id>:<due time, UTC ISO>", in
the same transaction as its notifications, so:

- a retried task or a second beat sends nothing again (it waits on the
  claim's unique index, then skips), while a run that failed rolled its claim
  back with its notifications, and the next run sends them;
- a moved due date is a new period: the students are reminded again of the new
  time (as they should be when it comes into a window);
- a run missed (beat down) is caught up on the next one: any assignment due
  within the window whose reminder is not claimed gets it.

Decisions:
- Who: students holding a seat in the published course with a live account,
  without a submitted attempt (a draft is not one), not excused for it in the
  gradebook (an excused student owes nothing). The teaching staff get none.
- An assignment first seen within its last hour (published, or created, or
  moved there late) gets only the 1-hour reminder: two reminders minutes
  apart would be noise. One first seen with less than a day left gets the
  "1d" reminder at once, titled with the time actually left ("Due in 5
  hours"), then the 1-hour one.
- There are no per-student due dates (extensions) in assignments yet; when
  there are, the selector should yield each student's own due time, and the
  period should name it.
"""

import math
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from conceptspro.tenancy import institution_timezone
from tenant_apps.assignments.api import Assignment, assignments_due_with_students_pending
from tenant_apps.notifications.api import NotificationKind, notification_send

from .services import job_period_claim, job_result_record

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
WINDOWS = {"1d": DAY, "1h": HOUR}


def reminder_job(window: str) -> str:
    return f"assignment_reminder_{window}"


def reminder_period(assignment: Assignment) -> str:
    return f"{assignment.pk}:{assignment.due_at.astimezone(UTC).isoformat()}"


def _time_left(left: timedelta, window: str) -> str:
    """How the title says the time left: "1 day" and "1 hour" when the
    reminder goes out on time (within beat's five minutes), else the time
    actually left, rounded up."""
    if window == "1d":
        if left > DAY - HOUR:
            return "1 day"
        hours = math.ceil(left / HOUR)
        return f"{hours} hours"
    if left > HOUR - timedelta(minutes=10):
        return "1 hour"
    minutes = max(1, math.ceil(left / timedelta(minutes=1)))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _local_time(moment: datetime) -> str:
    zone = institution_timezone()
    return f"{moment.astimezone(zone):%a %d %b %Y, %H:%M} ({zone.key})"


@transaction.atomic
def assignment_reminder_send(
    *, assignment: Assignment, student_ids: list, window: str, now: datetime
) -> int:
    """One reminder (assignment, window, due time): its notifications to these
    students, unless another run has claimed it. How many were notified."""
    job, period = reminder_job(window), reminder_period(assignment)
    if not job_period_claim(job=job, period=period):
        return 0
    course = assignment.course
    notification_send(
        user_ids=student_ids,
        kind=NotificationKind.ASSIGNMENT_DUE,
        title=f"Due in {_time_left(assignment.due_at - now, window)}: {assignment.title}",
        message=(
            f"{course.code} {course.title}: \u201c{assignment.title}\u201d is due "
            f"{_local_time(assignment.due_at)}, and you have not submitted it yet."
        ),
        link_url=f"/courses/{course.pk}/assignments/{assignment.pk}",
        metadata={
            "course_id": str(course.pk),
            "assignment_id": str(assignment.pk),
            "due_at": assignment.due_at.astimezone(UTC).isoformat(),
            "window": window,
        },
    )
    job_result_record(job=job, period=period, result={"students": len(student_ids)})
    return len(student_ids)


def assignment_reminders_send(*, now: datetime | None = None) -> dict:
    """Every reminder due now in this institution, each in its own transaction
    (one failing assignment does not hold back the others' reminders, and
    each claim is held only while its own notifications are written).
    Assignments in ascending due time, so two runs claim in the same order."""
    now = now or timezone.now()
    counts = {"reminders_1d": 0, "reminders_1h": 0, "notifications": 0}
    for assignment, student_ids in assignments_due_with_students_pending(
        after=now, until=now + DAY
    ):
        window = "1h" if assignment.due_at <= now + HOUR else "1d"
        sent = assignment_reminder_send(
            assignment=assignment, student_ids=student_ids, window=window, now=now
        )
        if sent:
            counts[f"reminders_{window}"] += 1
            counts["notifications"] += sent
    return counts
