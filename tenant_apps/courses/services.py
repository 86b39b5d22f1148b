"""Writes of courses and enrollments.

Every change to who holds a seat happens here with the course row locked
(`SELECT ... FOR UPDATE`), so `max_enrollment` holds and `current_enrollment`
stays exact however many requests arrive at once. Permission checks are the
views' (through `CourseAccess`); these functions enforce the course's own
rules: statuses, dates, seats, windows. A new course (created or copied) takes
one of the plan's courses (403 `plan_limit_reached`); a deleted one frees it.
"""

import csv
import io
import logging
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    transaction,
)
from django.utils import timezone
from rest_framework import status as http

from conceptspro.api import ApplicationError
from shared_apps.plans.api import LimitKind, usage_release, usage_reserve
from tenant_apps.accounts.api import Role, User
from tenant_apps.notifications.api import (
    NotificationDraft,
    NotificationKind,
    notifications_send,
    realtime_memberships_changed,
)

from .copying import CopyContext, course_copy_steps
from .models import (
    ACCOUNT_LIVE,
    Course,
    CourseEnrollmentImport,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    EnrollmentType,
    ImportStatus,
)
from .policies import may_teach, self_enrollment_open

logger = logging.getLogger(__name__)

# What a course's `settings` holds, and what it holds when nobody said otherwise.
COURSE_SETTINGS_DEFAULTS = {
    "self_enrollment": False,  # students may enroll themselves (published courses)
    "ta_can_announce": False,  # TAs may post announcements
    "waitlist": True,  # a full course waitlists students rather than refusing them
}

STATUS_TRANSITIONS = {
    (CourseStatus.DRAFT, CourseStatus.PUBLISHED),
    (CourseStatus.PUBLISHED, CourseStatus.ARCHIVED),
    (CourseStatus.ARCHIVED, CourseStatus.PUBLISHED),
}

IMPORT_MAX_BYTES = 1024 * 1024
IMPORT_MAX_ROWS = 5000
IMPORT_REQUEUE_AFTER = timedelta(minutes=2)
IMPORT_ROLES = (CourseRole.STUDENT, CourseRole.TA, CourseRole.GRADER)
SECTION_MAX_LENGTH = 50


def course_settings(course: Course) -> dict:
    return {**COURSE_SETTINGS_DEFAULTS, **(course.settings or {})}


# --- Courses ---------------------------------------------------------------------------


def _invalid(fields: dict) -> ApplicationError:
    return ApplicationError("The request has invalid fields.", code="invalid", fields=fields)


def _check_dates(course: Course) -> None:
    fields = {}
    if course.end_date < course.start_date:
        fields["end_date"] = ["Must be on or after start_date."]
    if (
        course.enrollment_start is not None
        and course.enrollment_end is not None
        and course.enrollment_end < course.enrollment_start
    ):
        fields["enrollment_end"] = ["Must be on or after enrollment_start."]
    if fields:
        raise _invalid(fields)


def _code_taken() -> ApplicationError:
    message = "A course with this code already exists in this term."
    return ApplicationError(
        message,
        code="course_code_taken",
        status=http.HTTP_409_CONFLICT,
        fields={"code": [message]},
    )


def _check_code_free(course: Course) -> None:
    others = Course.objects.filter(code=course.code, term=course.term, deleted_at__isnull=True)
    if others.exclude(pk=course.pk).exists():
        raise _code_taken()


def _save(course: Course, **kwargs) -> None:
    """Save; a concurrent insert of the same (code, term) becomes the same 409
    as the check before it."""
    try:
        with transaction.atomic():
            course.save(**kwargs)
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if constraint == "courses_code_term_unique":
            raise _code_taken() from error
        raise


def _membership_changed(course_id, user_ids, *, joined: bool) -> None:
    """After the commit, tells these users' open WebSockets that their place in
    the course changed, so they follow it or stop at once (one batch)."""
    user_ids = [user_id for user_id in dict.fromkeys(user_ids) if user_id is not None]
    if user_ids:
        transaction.on_commit(
            lambda: realtime_memberships_changed(
                user_ids=user_ids, course_id=course_id, joined=joined
            ),
            robust=True,
        )


def _memberships_tell(course_id, user_ids) -> None:
    """realtime_memberships_changed now, for a caller whose transaction has
    committed; a failure is logged, as on_commit(robust=True) would."""
    try:
        if user_ids:
            realtime_memberships_changed(user_ids=user_ids, course_id=course_id, joined=True)
    except Exception:
        logger.exception("Live membership update failed for course %s", course_id)


def _check_instructor(instructor: User) -> None:
    if not may_teach(instructor):
        raise _invalid({"instructor_id": ["Not an active instructor or administrator here."]})


@transaction.atomic
def course_create(
    *,
    actor: User,
    code: str,
    title: str,
    term: str,
    academic_year: int,
    start_date: date,
    end_date: date,
    instructor: User | None = None,
    settings: dict | None = None,
    **fields,
) -> Course:
    """A new course taught by `instructor` (the actor by default). Only an
    admin may name someone else; `status` may be draft (default) or published."""
    if not may_teach(actor):
        raise ApplicationError(
            "Only instructors and administrators create courses.",
            code="permission_denied",
            status=http.HTTP_403_FORBIDDEN,
        )
    instructor = instructor or actor
    if instructor.pk != actor.pk and actor.role != Role.ADMIN:
        raise ApplicationError(
            "Only administrators may create a course for another instructor.",
            code="permission_denied",
            status=http.HTTP_403_FORBIDDEN,
        )
    _check_instructor(instructor)
    if fields.get("status", CourseStatus.DRAFT) == CourseStatus.ARCHIVED:
        raise _invalid({"status": ["A new course is a draft or published."]})
    course = Course(
        code=code,
        title=title,
        term=term,
        academic_year=academic_year,
        start_date=start_date,
        end_date=end_date,
        instructor=instructor,
        settings={**COURSE_SETTINGS_DEFAULTS, **(settings or {})},
        **fields,
    )
    _check_dates(course)
    _check_code_free(course)
    usage_reserve(kind=LimitKind.COURSES)
    _save(course, force_insert=True)
    return course


@transaction.atomic
def course_update(*, course: Course, instructor: User | None = None, **changes) -> Course:
    """Change a course. `settings` are merged key by key. Status moves
    draft -> published -> archived, and archived -> published; an archived
    course accepts nothing but a change of status (values equal to the
    current ones are not changes). Raising `max_enrollment` promotes
    waitlisted students into the new seats."""
    course = Course.objects.select_for_update().get(pk=course.pk)
    if instructor is not None:
        changes["instructor_id"] = instructor.pk
    if "settings" in changes:
        changes["settings"] = {**course_settings(course), **changes["settings"]}
    current = {
        name: course_settings(course) if name == "settings" else getattr(course, name)
        for name in changes
    }
    changes = {name: value for name, value in changes.items() if current[name] != value}
    if not changes:
        return course

    new_status = changes.pop("status", None)
    if course.status == CourseStatus.ARCHIVED and changes:
        raise ApplicationError(
            "An archived course can only be published again; change its status first.",
            code="course_archived",
            status=http.HTTP_409_CONFLICT,
            fields={name: ["An archived course cannot be edited."] for name in sorted(changes)},
        )
    if new_status is not None:
        if (course.status, new_status) not in STATUS_TRANSITIONS:
            message = f"A {course.status} course cannot become {new_status}."
            raise ApplicationError(
                message,
                code="invalid_status_transition",
                status=http.HTTP_409_CONFLICT,
                fields={"status": [message]},
            )
        course.status = new_status
    if instructor is not None:
        _check_instructor(instructor)
        # As enrolling the instructor is refused: one person, one role in a course.
        if Enrollment.objects.filter(
            course=course, user=instructor, status=EnrollmentStatus.ENROLLED
        ).exists():
            raise ApplicationError(
                "Enrolled in this course; drop them before they teach it.",
                code="already_enrolled",
                status=http.HTTP_409_CONFLICT,
                fields={"instructor_id": ["Enrolled in this course; drop them first."]},
            )
    for name, value in changes.items():
        setattr(course, name, value)
    _check_dates(course)
    if {"code", "term"} & set(changes):
        _check_code_free(course)
    if "max_enrollment" in changes:
        _promote_waitlisted(course)
    if "instructor_id" in changes:
        _membership_changed(course.pk, [current["instructor_id"]], joined=False)
        _membership_changed(course.pk, [course.instructor_id], joined=True)
    _save(course)
    return course


@transaction.atomic
def course_soft_delete(*, course: Course) -> None:
    """The course disappears from every list and lookup; its rows stay, and its
    (code, term) is free again, and so is its place in the plan."""
    deleted = Course.objects.filter(pk=course.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
    if deleted:
        usage_release(kind=LimitKind.COURSES)
        members = Enrollment.objects.filter(course_id=course.pk, status=EnrollmentStatus.ENROLLED)
        instructor = Course.objects.filter(pk=course.pk).values_list("instructor_id", flat=True)
        _membership_changed(
            course.pk, [*members.values_list("user_id", flat=True), *instructor], joined=False
        )


@transaction.atomic
def course_copy(
    *,
    actor: User,
    source: Course,
    term: str,
    academic_year: int,
    start_date: date,
    end_date: date,
    code: str | None = None,
    title: str | None = None,
) -> Course:
    """A new draft course from `source` for another term: its description,
    settings, seats and the material every registered copy step brings
    (modules and content, later assignments and quizzes), with dates moved by
    the new start date minus the old one. No enrollments come along. The
    instructor stays the source's while they may still teach, else the actor."""
    shift = start_date - source.start_date
    instructor = source.instructor if source.instructor and may_teach(source.instructor) else actor
    target = Course(
        code=code or source.code,
        title=title or source.title,
        description=source.description,
        instructor=instructor,
        term=term,
        academic_year=academic_year,
        start_date=start_date,
        end_date=end_date,
        enrollment_start=source.enrollment_start and source.enrollment_start + shift,
        enrollment_end=source.enrollment_end and source.enrollment_end + shift,
        max_enrollment=source.max_enrollment,
        credits=source.credits,
        level=source.level,
        status=CourseStatus.DRAFT,
        settings=course_settings(source),
        syllabus_url=source.syllabus_url,
        banner_image_url=source.banner_image_url,
        copied_from=source,
    )
    _check_dates(target)
    _check_code_free(target)
    usage_reserve(kind=LimitKind.COURSES)
    _save(target, force_insert=True)
    context = CopyContext(source=source, target=target, date_shift=shift)
    for step in course_copy_steps():
        step(context)
    return target


# --- Enrollment ------------------------------------------------------------------------


def _course_locked(course: Course) -> Course:
    """The course row, locked until the transaction ends: every seat change
    in a course queues here, one after the other."""
    locked = Course.objects.select_for_update().filter(pk=course.pk).first()
    if locked is None or locked.deleted_at is not None:
        raise ApplicationError("No such course.", code="not_found", status=http.HTTP_404_NOT_FOUND)
    return locked


def _seats_free(course: Course) -> int | None:
    """Free student seats; None for an unlimited course."""
    if course.max_enrollment is None:
        return None
    return max(course.max_enrollment - course.current_enrollment, 0)


def _already_enrolled(message: str = "Already enrolled in this course.") -> ApplicationError:
    return ApplicationError(message, code="already_enrolled", status=http.HTTP_409_CONFLICT)


_NOT_LOADED = object()


def _enroll_locked(
    *,
    course: Course,
    user: User,
    role: str,
    enrollment_type: str,
    section: str,
    existing=_NOT_LOADED,
) -> Enrollment:
    """Enroll `user` in the locked `course`. Refusals are raised before
    anything is written. `existing`: the user's enrollment if the caller
    already fetched it (None for none)."""
    if course.instructor_id == user.pk:
        raise _already_enrolled("Teaches this course.")
    if existing is _NOT_LOADED:
        existing = Enrollment.objects.filter(course=course, user=user).first()
    if existing is not None and existing.status == EnrollmentStatus.ENROLLED:
        raise _already_enrolled()
    if existing is not None and existing.status == EnrollmentStatus.COMPLETED:
        raise ApplicationError(
            "Has already completed this course.",
            code="enrollment_completed",
            status=http.HTTP_409_CONFLICT,
        )

    # A dropped or withdrawn student coming back reuses their row: one per (course, user).
    enrollment = existing or Enrollment(course=course, user=user)
    enrollment.role = role
    enrollment.status = EnrollmentStatus.ENROLLED
    enrollment.section = section
    enrollment.enrolled_at = timezone.now()
    enrollment.drop_date = None
    if role == CourseRole.STUDENT:
        enrollment.requested_type = enrollment_type
        free = _seats_free(course)
        if free is None or free > 0:
            enrollment.enrollment_type = enrollment_type
            course.current_enrollment += 1
        elif course_settings(course)["waitlist"]:
            enrollment.enrollment_type = EnrollmentType.WAITLIST
        else:
            raise ApplicationError(
                "This course is full.", code="course_full", status=http.HTTP_409_CONFLICT
            )
    else:
        enrollment.enrollment_type = EnrollmentType.REGULAR
        enrollment.requested_type = EnrollmentType.REGULAR
    enrollment.save(force_insert=existing is None)
    return enrollment


def _follows(enrollment: Enrollment) -> bool:
    """Gets the course's live events (realtime_course_ids): not the waitlisted."""
    return enrollment.enrollment_type != EnrollmentType.WAITLIST


def _save_seats(course: Course) -> None:
    course.save(update_fields=["current_enrollment", "updated_at"])


def enrollment_window_open(course: Course, *, today: date | None = None) -> bool:
    """Today (UTC) is inside the course's enrollment window, where it has one."""
    today = today or timezone.now().date()
    if course.enrollment_start is not None and today < course.enrollment_start:
        return False
    return course.enrollment_end is None or today <= course.enrollment_end


@transaction.atomic
def enrollment_self_enroll(
    *, course: Course, user: User, enrollment_type: str = EnrollmentType.REGULAR
) -> Enrollment:
    """A student enrolls themself: the course must be published and allow it
    (403 `self_enrollment_disabled`) and today must be in its enrollment
    window (409 `enrollment_closed`). A full course puts them on its waitlist."""
    course = _course_locked(course)
    if not self_enrollment_open(course):
        raise ApplicationError(
            "This course does not take self-enrollment; ask its instructor.",
            code="self_enrollment_disabled",
            status=http.HTTP_403_FORBIDDEN,
        )
    if not enrollment_window_open(course):
        window = " to ".join(
            str(day) for day in (course.enrollment_start, course.enrollment_end) if day
        )
        raise ApplicationError(
            f"Enrollment in this course is closed (window: {window}).",
            code="enrollment_closed",
            status=http.HTTP_409_CONFLICT,
        )
    enrollment = _enroll_locked(
        course=course,
        user=user,
        role=CourseRole.STUDENT,
        enrollment_type=enrollment_type,
        section="",
    )
    _save_seats(course)
    _membership_changed(course.pk, [user.pk], joined=_follows(enrollment))
    return enrollment


@transaction.atomic
def enrollment_add(
    *,
    course: Course,
    user: User,
    role: str = CourseRole.STUDENT,
    enrollment_type: str = EnrollmentType.REGULAR,
    section: str = "",
) -> Enrollment:
    """Course staff enroll someone: any status of the course, whatever its
    window. Students still take a seat only if one is free (else the waitlist)."""
    if not user.is_active or user.is_suspended or user.deleted_at is not None:
        raise _invalid({"user_id": ["This user's account is not active."]})
    course = _course_locked(course)
    enrollment = _enroll_locked(
        course=course, user=user, role=role, enrollment_type=enrollment_type, section=section
    )
    _save_seats(course)
    _membership_changed(course.pk, [user.pk], joined=_follows(enrollment))
    return enrollment


@transaction.atomic
def enrollment_drop(*, course: Course, user: User) -> Enrollment:
    """`user` leaves the course (status dropped). A seat they held goes to the
    first student on the waitlist (by when they joined it), who is notified."""
    course = _course_locked(course)
    enrollment = Enrollment.objects.filter(
        course=course, user=user, status=EnrollmentStatus.ENROLLED
    ).first()
    if enrollment is None:
        raise ApplicationError(
            "Not enrolled in this course.", code="not_enrolled", status=http.HTTP_409_CONFLICT
        )
    held_seat = enrollment.holds_seat
    enrollment.status = EnrollmentStatus.DROPPED
    enrollment.drop_date = timezone.now()
    enrollment.save(update_fields=["status", "drop_date", "updated_at"])
    _membership_changed(course.pk, [user.pk], joined=False)
    if held_seat:
        course.current_enrollment = max(course.current_enrollment - 1, 0)
        _promote_waitlisted(course)
        _save_seats(course)
    return enrollment


def _promote_waitlisted(course: Course) -> list[Enrollment]:
    """Fill the locked course's free seats from its waitlist, first come first
    served, passing over accounts that are deleted or suspended; each promoted
    student is notified (in-app, and by email once the transaction commits).
    The caller saves the course."""
    free = _seats_free(course)
    if free == 0:
        return []
    waiting = Enrollment.objects.filter(
        ACCOUNT_LIVE,
        course=course,
        role=CourseRole.STUDENT,
        status=EnrollmentStatus.ENROLLED,
        enrollment_type=EnrollmentType.WAITLIST,
    ).order_by("enrolled_at", "id")
    promoted = list(waiting if free is None else waiting[:free])
    for enrollment in promoted:
        if enrollment.requested_type == EnrollmentType.WAITLIST:
            enrollment.requested_type = EnrollmentType.REGULAR
        enrollment.enrollment_type = enrollment.requested_type
        enrollment.save(update_fields=["enrollment_type", "requested_type", "updated_at"])
        course.current_enrollment += 1
    _notify_promoted(course, promoted)
    _membership_changed(course.pk, [e.user_id for e in promoted], joined=True)
    return promoted


def _notify_promoted(course: Course, promoted: list[Enrollment]) -> None:
    """Tells each promoted student, in the promotion's transaction: an in-app
    notification, pushed and emailed after the commit as their preferences
    ("enrollment") say. The notification's email is the only one sent."""
    if not promoted:
        return
    at = f" ({course.term})" if course.term else ""
    notifications_send(
        NotificationDraft(
            user_id=enrollment.user_id,
            kind=NotificationKind.ENROLLMENT_PROMOTED,
            title=f"You are now enrolled in {course.code}: {course.title}",
            message=(
                f"A seat came free in {course.code}: {course.title}{at}, and you were next "
                "on the waitlist. You are now enrolled"
                + (" as an auditor" if enrollment.enrollment_type == EnrollmentType.AUDIT else "")
                + ". If you no longer want this place, drop the course so the next student "
                "on the waitlist can have it."
            ),
            link_url=f"/courses/{course.pk}",
            metadata={"course_id": str(course.pk), "enrollment_id": str(enrollment.pk)},
        )
        for enrollment in promoted
    )


# --- Bulk enrollment from CSV ----------------------------------------------------------


def _csv_refused(message: str, code: str = "invalid_csv", status: int = 400) -> ApplicationError:
    return ApplicationError(message, code=code, status=status, fields={"file": [message]})


def _parse_csv(text: str) -> list[dict]:
    """Rows as dicts with lowercased, trimmed column names; header required."""
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        if header is None:
            raise _csv_refused("The file is empty.")
        names = [name.strip().lower() for name in header]
        if "email" not in names:
            raise _csv_refused("The header row has no 'email' column.")
        rows = []
        for values in reader:
            if not any(value.strip() for value in values):
                rows.append(None)  # a blank line still counts for row numbers
                continue
            rows.append(dict(zip(names, (value.strip() for value in values), strict=False)))
            if len(rows) > IMPORT_MAX_ROWS:
                raise _csv_refused(
                    f"At most {IMPORT_MAX_ROWS} rows per file.", code="too_many_rows", status=413
                )
    except csv.Error as error:
        raise _csv_refused(f"Not a readable CSV file: {error}.") from error
    return rows


def _decode_csv(data: bytes) -> str:
    if len(data) > IMPORT_MAX_BYTES:
        raise _csv_refused(
            f"The file is larger than {IMPORT_MAX_BYTES // 1024} KB.",
            code="file_too_large",
            status=http.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _csv_refused("The file is not UTF-8 text.") from error
    if "\x00" in text:
        raise _csv_refused("The file contains NUL characters; it is not a CSV file.")
    return text


@transaction.atomic
def enrollment_import_create(
    *, course: Course, actor: User, data: bytes, filename: str = "", dry_run: bool = False
) -> CourseEnrollmentImport:
    """Check the file's shape (size, encoding, header, row count), keep it, and
    queue a worker to enroll its rows once this transaction commits."""
    text = _decode_csv(data)
    _parse_csv(text)
    job = CourseEnrollmentImport.objects.create(
        course=course,
        created_by=actor,
        dry_run=dry_run,
        filename=filename.replace("\x00", "")[:255],
        csv_text=text,
    )
    from .tasks import enrollment_import_run_task  # tasks call services: import here

    job_id = str(job.pk)
    # robust: the job is stored either way; if the broker is down, the next
    # look at the job queues it again (enrollment_import_requeue_stalled).
    transaction.on_commit(lambda: enrollment_import_run_task.delay(import_id=job_id), robust=True)
    return job


def enrollment_import_requeue_stalled(*, job: CourseEnrollmentImport) -> bool:
    """Queue a job again that has waited IMPORT_REQUEUE_AFTER without a worker
    starting it (its message was lost, or never reached the broker). At most
    once per period, however many clients poll; running twice is harmless."""
    cutoff = timezone.now() - IMPORT_REQUEUE_AFTER
    claimed = CourseEnrollmentImport.objects.filter(
        pk=job.pk, status=ImportStatus.PENDING, updated_at__lt=cutoff
    ).update(updated_at=timezone.now())
    if not claimed:
        return False
    from .tasks import enrollment_import_run_task

    job_id = str(job.pk)
    transaction.on_commit(lambda: enrollment_import_run_task.delay(import_id=job_id), robust=True)
    return True


def _row_report(number: int, row: dict, outcome: str, message: str = "") -> dict:
    return {
        "row": number,
        "email": row.get("email", ""),
        "role": row.get("role", "") or CourseRole.STUDENT,
        "section": row.get("section", ""),
        "outcome": outcome,
        "message": message,
    }


def _import_rows(*, course: Course, rows: list[dict | None]) -> tuple[list[dict], list]:
    """Enroll every valid row into the locked course: one report per row, and
    the ids of the users who now follow the course's live events."""
    emails = {(row.get("email") or "").lower() for row in rows if row}
    users = {user.email: user for user in User.objects.filter(email__in=emails)}
    existing = {
        e.user_id: e for e in Enrollment.objects.filter(course=course, user__in=users.values())
    }
    seen: dict[str, int] = {}
    report, followers = [], []
    for number, row in enumerate(rows, start=2):  # the header is row 1
        if row is None:
            continue
        email = (row.get("email") or "").lower()
        role = (row.get("role") or CourseRole.STUDENT).lower()
        section = row.get("section") or ""
        try:
            validate_email(email)
        except ValidationError:
            report.append(_row_report(number, row, "error", "Not an email address."))
            continue
        error = None
        if role not in IMPORT_ROLES:
            error = "Role must be student, ta or grader."
        elif len(section) > SECTION_MAX_LENGTH:
            error = f"Section is longer than {SECTION_MAX_LENGTH} characters."
        elif email in seen:
            error = f"The same address is on row {seen[email]}."
        seen.setdefault(email, number)
        user = users.get(email)
        if error is None and user is None:
            error = "No user with this email address here."
        elif error is None and (not user.is_active or user.is_suspended or user.deleted_at):
            error = "This user's account is not active."
        if error:
            report.append(_row_report(number, row, "error", error))
            continue
        try:
            enrollment = _enroll_locked(
                course=course,
                user=user,
                role=role,
                enrollment_type=EnrollmentType.REGULAR,
                section=section,
                existing=existing.get(user.pk),
            )
        except ApplicationError as refusal:
            outcome = "already_enrolled" if refusal.code == "already_enrolled" else "error"
            report.append(_row_report(number, row, outcome, refusal.message))
            continue
        existing[user.pk] = enrollment
        waitlisted = enrollment.enrollment_type == EnrollmentType.WAITLIST
        report.append(_row_report(number, row, "waitlisted" if waitlisted else "enrolled"))
        if not waitlisted:
            followers.append(user.pk)
    return report, followers


def enrollment_import_run(*, import_id) -> CourseEnrollmentImport | None:
    """Run a queued import: all its enrollments in one transaction with the
    course locked, or (dry run) the same work rolled back, so the report says
    exactly what a real run would do at this moment. Safe to run twice: a
    finished import is left as it is."""
    CourseEnrollmentImport.objects.filter(pk=import_id, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    try:
        with transaction.atomic():
            job = (
                CourseEnrollmentImport.objects.select_for_update()
                .select_related("course")
                .filter(pk=import_id)
                .first()
            )
            if job is None or job.status in (ImportStatus.DONE, ImportStatus.FAILED):
                return job
            course = _course_locked(job.course)
            rows = _parse_csv(job.csv_text)
            savepoint = transaction.savepoint() if job.dry_run else None
            report, followers = _import_rows(course=course, rows=rows)
            _save_seats(course)
            if savepoint is not None:
                transaction.savepoint_rollback(savepoint)
                followers = []
            counts = {"enrolled": 0, "waitlisted": 0, "already_enrolled": 0, "error": 0}
            for entry in report:
                counts[entry["outcome"]] += 1
            job.rows, job.counts = report, counts
            job.status, job.finished_at = ImportStatus.DONE, timezone.now()
            job.save(update_fields=["rows", "counts", "status", "finished_at", "updated_at"])
        # Committed (the task runs outside any transaction): the whole roster's
        # open WebSockets follow the course, in one batch.
        _memberships_tell(course.pk, followers)
        return job
    except ApplicationError as refusal:
        _import_failed(import_id, refusal.message)
    except (OperationalError, InterfaceError):
        raise  # the database is unreachable: the task retries, the import stays queued
    except Exception:
        _import_failed(import_id, "The import failed unexpectedly; nothing was enrolled.")
        raise
    return CourseEnrollmentImport.objects.filter(pk=import_id).first()


def _import_failed(import_id, message: str) -> None:
    CourseEnrollmentImport.objects.filter(pk=import_id).exclude(status=ImportStatus.DONE).update(
        status=ImportStatus.FAILED, error=message, finished_at=timezone.now()
    )
