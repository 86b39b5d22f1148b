"""The weekly digest: one email per member, Monday morning, with their unread
notifications of the past week and what they have due in the next one.

Monday morning is the institution's: 07:00 in its time zone, so an
institution in New York does not get it at 2 a.m. Beat runs
`weekly_digest_queue` every hour in each institution; it does nothing until
it is Monday, 07:00 or later, there (a beat down at 07:00 is caught up
later that Monday, not on Tuesday). Then it claims the institution's ISO
week (job "weekly_digest", period "2026-W48") and, once that commits,
queues one email task per member with something to say. Each email task
claims its own period (job "weekly_digest_email", period "2026-W48:<user
id>") in the transaction that renders and sends the email, so a duplicated
or retried task sends nothing again, and a send that fails rolls its claim
back for the retry. (A crash after the mail server took the message but
before the commit would send it twice: the price of never losing one.)

Who: active members (not suspended or deleted) whose email preferences do not
say `"digest": false` (a missing flag is yes). Members with no unread
notification of the week and nothing due get no email. Times are shown in the
member's own time zone.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conceptspro.tenancy import institution_timezone
from tenant_apps.accounts.api import User
from tenant_apps.assignments.api import assignments_due_with_students_pending

from .periods import week_period
from .services import job_period_claim, job_result_record

logger = structlog.get_logger(__name__)

WEEK = timedelta(days=7)
NOTIFICATIONS_LISTED = 20
MONDAY, SEND_HOUR = 0, 7  # the institution's local weekday and hour


def _members_wanting_digest():
    return User.objects.filter(is_active=True, is_suspended=False, deleted_at__isnull=True).exclude(
        preferences__email_notifications__digest=False
    )


def _unread_of_week(as_of: datetime) -> Q:
    """Notifications (through the user's `notifications`) unread, of the week
    up to `as_of`."""
    return Q(
        notifications__is_read=False,
        notifications__created_at__gt=as_of - WEEK,
        notifications__created_at__lte=as_of,
    )


def digest_recipients(*, as_of: datetime) -> list:
    """Ids of the members who get a digest for the week up to `as_of`."""
    with_unread = set(
        _members_wanting_digest().filter(_unread_of_week(as_of)).values_list("pk", flat=True)
    )
    owing = {
        student_id
        for _, student_ids in assignments_due_with_students_pending(after=as_of, until=as_of + WEEK)
        for student_id in student_ids
    }
    owing = set(_members_wanting_digest().filter(pk__in=owing).values_list("pk", flat=True))
    return sorted(with_unread | owing, key=str)


def weekly_digest_queue(*, now: datetime | None = None) -> dict:
    """This week's digest in this institution, once it is Monday morning
    there: claimed once, then one email task per recipient queued after the
    commit."""
    from .tasks import weekly_digest_email_send

    now = now or timezone.now()
    zone = institution_timezone()
    local = now.astimezone(zone)
    if local.weekday() != MONDAY or local.hour < SEND_HOUR:
        return {"not_due": True}
    job, week = "weekly_digest", week_period(now, zone)
    with transaction.atomic():
        if not job_period_claim(job=job, period=week):
            return {"skipped": True}
        recipients = digest_recipients(as_of=now)
        for user_id in recipients:
            # robust: one email the broker refuses does not stop the others.
            transaction.on_commit(
                partial(weekly_digest_email_send.delay, str(user_id), week, now.isoformat()),
                robust=True,
            )
        result = {"recipients": len(recipients)}
        job_result_record(job=job, period=week, result=result)
    return result


@dataclass
class Digest:
    notifications: list = field(default_factory=list)
    unread_count: int = 0
    due: list = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.unread_count and not self.due


def _zone_of(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return institution_timezone()


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%a %d %b, %H:%M}"


def digest_for(user: User, *, as_of: datetime, site_url: str = "") -> Digest:
    """What `user`'s digest says for the week up to `as_of`."""
    zone = _zone_of(user)
    unread = user.notifications.filter(
        is_read=False, created_at__gt=as_of - WEEK, created_at__lte=as_of
    ).order_by("-created_at", "-id")
    digest = Digest(unread_count=unread.count())
    for notification in unread[:NOTIFICATIONS_LISTED]:
        digest.notifications.append(
            {
                "title": notification.title,
                "message": notification.message,
                "url": f"{site_url}{notification.link_url}" if notification.link_url else "",
                "when": _when(notification.created_at, zone),
            }
        )
    for assignment, _ in assignments_due_with_students_pending(
        after=as_of, until=as_of + WEEK, student_ids=[user.pk]
    ):
        course = assignment.course
        digest.due.append(
            {
                "title": assignment.title,
                "course": f"{course.code} {course.title}",
                "due": _when(assignment.due_at, zone),
                "url": f"{site_url}/courses/{course.pk}/assignments/{assignment.pk}",
            }
        )
    return digest


def _institution() -> tuple[str, str]:
    """The institution's name and its site's address, from the connection."""
    tenant = getattr(connection, "tenant", None)
    domain = tenant.get_primary_domain() if hasattr(tenant, "get_primary_domain") else None
    protocol = getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "https")
    name = getattr(tenant, "name", "") or "ConceptsPro"
    return name, f"{protocol}://{domain.domain}" if domain else ""


def weekly_digest_email_send(*, user_id: str, week: str, as_of: str) -> bool:
    """One member's digest for `week`, at most once (see the module's
    docstring). False when already sent, or there is nothing to say now (they
    read everything meanwhile, turned the digest off, or left)."""
    job, period = "weekly_digest_email", f"{week}:{user_id}"
    moment = parse_datetime(as_of)
    with transaction.atomic():
        if not job_period_claim(job=job, period=period):
            return False
        user = _members_wanting_digest().filter(pk=user_id).first()
        institution_name, site_url = _institution()
        digest = digest_for(user, as_of=moment, site_url=site_url) if user else None
        if digest is None or digest.empty:
            job_result_record(job=job, period=period, result={"sent": False})
            return False
        # Recorded before the send: whatever fails after the claim, the send
        # included, rolls it all back.
        job_result_record(
            job=job,
            period=period,
            result={"sent": True, "unread": digest.unread_count, "due": len(digest.due)},
        )
        context = {
            "user": user,
            "digest": digest,
            "more_unread": digest.unread_count - len(digest.notifications),
            "institution_name": institution_name,
            "site_url": site_url,
            "week": week,
        }
        message = mail.EmailMultiAlternatives(
            f"Your week at {institution_name}",
            render_to_string("jobs/weekly_digest_email.txt", context),
            settings.DEFAULT_FROM_EMAIL,
            [user.email],
        )
        message.attach_alternative(
            render_to_string("jobs/weekly_digest_email.html", context), "text/html"
        )
        message.send()
    logger.info("weekly_digest_sent", user_id=user_id, week=week)
    return True
