"""Reads of the activity log for analytics: counts, distinct users and last
times, each aggregated by PostgreSQL in one query whatever the log's size.

Every function takes a queryset of log rows (`course_activity` or
`institution_activity`, narrowed as the caller needs), so a course's figures
read the (course_id, activity_type, created_at) index."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate

from .models import ActivityLog, ActivityType

VIEW_TYPES = (
    ActivityType.VIEW_COURSE,
    ActivityType.VIEW_CONTENT,
    ActivityType.VIEW_ASSIGNMENT,
    ActivityType.VIEW_DISCUSSION,
)
SUBMISSION_TYPES = (ActivityType.SUBMIT_ASSIGNMENT, ActivityType.SUBMIT_QUIZ)

_IS_VIEW = Q(activity_type__in=VIEW_TYPES)
_IS_SUBMISSION = Q(activity_type__in=SUBMISSION_TYPES)
_IS_LOGIN = Q(activity_type=ActivityType.LOGIN)


def course_activity(course_id, *, user_ids=None) -> QuerySet[ActivityLog]:
    """The course's rows; with `user_ids` (ids or a values("…") queryset, run as
    a subquery), only those users' rows."""
    rows = ActivityLog.objects.filter(course_id=course_id)
    if user_ids is not None:
        rows = rows.filter(user_id__in=user_ids)
    return rows


def institution_activity() -> QuerySet[ActivityLog]:
    """Every row of the institution's log by a user (rows of erased users,
    whose user is gone, count for nobody)."""
    return ActivityLog.objects.filter(user__isnull=False)


TOTALS = ("views", "submissions", "logins", "active_users")


def activity_totals(rows: QuerySet[ActivityLog], *, windows: dict[str, datetime]) -> dict:
    """For each window (name -> its start, up to now): views, submissions,
    logins and distinct active users, as {name: {kind: count}}: one query."""
    aggregates = {}
    for name, since in windows.items():
        recent = Q(created_at__gte=since)
        aggregates |= {
            f"{name}_views": Count("pk", filter=recent & _IS_VIEW),
            f"{name}_submissions": Count("pk", filter=recent & _IS_SUBMISSION),
            f"{name}_logins": Count("pk", filter=recent & _IS_LOGIN),
            f"{name}_active_users": Count("user", distinct=True, filter=recent),
        }
    earliest = min(windows.values())
    counted = rows.filter(created_at__gte=earliest).order_by().aggregate(**aggregates)
    return {name: {kind: counted[f"{name}_{kind}"] for kind in TOTALS} for name in windows}


def activity_per_day(
    rows: QuerySet[ActivityLog], *, first_day: date, last_day: date, zone: ZoneInfo
) -> list[dict]:
    """Views, submissions, logins and distinct users of each day from
    `first_day` to `last_day` (days of `zone`), days without activity as
    zeros: one query."""
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    counted = (
        rows.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .order_by()
        .values("day")
        .annotate(
            views=Count("pk", filter=_IS_VIEW),
            submissions=Count("pk", filter=_IS_SUBMISSION),
            logins=Count("pk", filter=_IS_LOGIN),
            active_users=Count("user", distinct=True),
        )
    )
    by_day = {row.pop("day"): row for row in counted}
    zero = {"views": 0, "submissions": 0, "logins": 0, "active_users": 0}
    days = (first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1))
    return [{"date": day, **by_day.get(day, zero)} for day in days]


def activity_per_user(rows: QuerySet[ActivityLog]) -> dict:
    """User id -> {"last_active_at", "views", "submissions"}: one query."""
    counted = (
        rows.filter(user__isnull=False)
        .order_by()
        .values("user_id")
        .annotate(
            last_active_at=Max("created_at"),
            views=Count("pk", filter=_IS_VIEW),
            submissions=Count("pk", filter=_IS_SUBMISSION),
        )
    )
    return {row.pop("user_id"): row for row in counted}


def views_per_entity(rows: QuerySet[ActivityLog], *, activity_type: str, entity_ids) -> dict:
    """Entity id -> {"views", "unique_viewers"} of one kind of view, for the
    given entities: one query."""
    counted = (
        rows.filter(activity_type=activity_type, entity_id__in=entity_ids)
        .order_by()
        .values("entity_id")
        .annotate(views=Count("pk"), unique_viewers=Count("user", distinct=True))
    )
    return {row.pop("entity_id"): row for row in counted}
