"""Reads for the operator console: institutions with their plan, subscription,
usage and revenue, and the operator audit log, each page in a fixed number of
queries whatever the number of institutions."""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from shared_apps.institutions.models import Institution
from shared_apps.plans.models import Interval, Plan
from shared_apps.subscriptions.models import SubscriptionStatus

from .models import OperatorAction, OperatorActionType

INSTITUTIONS_PER_PAGE = 25
ACTIONS_PER_PAGE = 50
RECENT_ACTIONS = 20

# Subscriptions that bring money in every month; a trial, a free plan or a
# canceled subscription brings none.
REVENUE_STATUSES = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)

# The sort keys the list accepts: their label, and the column each orders by.
SORTS = {
    "name": ("Name", "name"),
    "slug": ("Address", "slug"),
    "status": ("Status", "status"),
    "plan": ("Plan", "plan__sort_order"),
    "subscription": ("Subscription", "subscription_status"),
    "users": ("Users", "usage_users"),
    "courses": ("Courses", "usage_courses"),
    "storage": ("Storage", "usage_storage_bytes"),
    "activity": ("Last activity", "usage_last_activity_at"),
    "mrr": ("MRR", "mrr_cents"),
    "created": ("Created", "created_at"),
}


def _mrr_cents() -> Case:
    """Monthly recurring revenue in cents: the monthly price, or the yearly one
    divided by 12 (rounded down) for a yearly subscription."""
    paying = Q(subscription__status__in=REVENUE_STATUSES)
    return Case(
        When(
            paying
            & Q(subscription__interval=Interval.YEAR)
            & Q(subscription__plan__price_yearly_cents__isnull=False),
            then=F("subscription__plan__price_yearly_cents") / Value(12),
        ),
        When(paying, then=F("subscription__plan__price_monthly_cents")),
        default=Value(0),
        output_field=IntegerField(),
    )


def institutions_for_console() -> QuerySet[Institution]:
    """Institutions with everything a console row shows, in one query."""
    return Institution.objects.select_related("plan").annotate(
        subscription_status=F("subscription__status"),
        subscription_interval=F("subscription__interval"),
        usage_users=Coalesce(F("usage__users"), 0),
        usage_courses=Coalesce(F("usage__courses"), 0),
        usage_storage_bytes=Coalesce(F("usage__storage_bytes"), 0),
        usage_last_activity_at=F("usage__last_activity_at"),
        admin_email=F("provisioning_job__admin_email"),
        mrr_cents=_mrr_cents(),
    )


def institution_search(
    *,
    q: str = "",
    status: str = "",
    plan: Plan | None = None,
    subscription_status: str = "",
    sort: str = "name",
) -> QuerySet[Institution]:
    """The list's rows: `q` matches the name, the slug, the first admin's
    email and the institution's email domain; `sort` is a key of SORTS, with
    '-' for descending."""
    institutions = institutions_for_console()
    q = q.strip()
    if q:
        institutions = institutions.filter(
            Q(name__icontains=q)
            | Q(slug__icontains=q.lower())
            | Q(provisioning_job__admin_email__icontains=q)
            | Q(email_domain__icontains=q.lstrip("@"))
        )
    if status:
        institutions = institutions.filter(status=status)
    if plan is not None:
        institutions = institutions.filter(plan=plan)
    if subscription_status:
        institutions = institutions.filter(subscription__status=subscription_status)
    descending = sort.startswith("-")
    column = F(SORTS.get(sort.lstrip("-"), SORTS["name"])[1])
    # Empty values (never measured, no subscription) last either way; then a
    # unique key, so pages never overlap.
    order = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    return institutions.order_by(order, "name", "pk")


def institution_page(institutions: QuerySet[Institution], page_number) -> Page:
    return Paginator(institutions, INSTITUTIONS_PER_PAGE).get_page(page_number)


@dataclass(frozen=True)
class Totals:
    institutions: int
    by_status: list[tuple[str, str, int]]  # (status, label, count), every status
    mrr_cents: int


def institution_totals() -> Totals:
    """Institutions by status and the total MRR, over all institutions, in one query."""
    counts = {status: Count("pk", filter=Q(status=status)) for status in Institution.Status.values}
    row = Institution.objects.aggregate(
        total=Count("pk"), mrr=Coalesce(Sum(_mrr_cents()), 0), **counts
    )
    return Totals(
        institutions=row["total"],
        by_status=[(s.value, s.label, row[s.value]) for s in Institution.Status],
        mrr_cents=row["mrr"],
    )


@dataclass(frozen=True)
class UsageLine:
    name: str
    used: int
    limit: int | None  # None: unlimited

    @property
    def percent(self) -> int | None:
        if self.limit is None:
            return None
        if self.limit == 0:
            return 100
        return min(100, round(self.used * 100 / self.limit))

    @property
    def over(self) -> bool:
        return self.limit is not None and self.used > self.limit


def institution_usage(institution: Institution) -> list[UsageLine]:
    """Users, courses and storage against the limits in force: the
    institution's own override, else its plan's. Reads the annotations of
    `institutions_for_console`, so no query."""
    plan = institution.plan

    def limit(field: str) -> int | None:
        override = getattr(institution, field)
        if override is not None:
            return override
        return getattr(plan, field) if plan is not None else None

    return [
        UsageLine("users", institution.usage_users, limit("max_users")),
        UsageLine("courses", institution.usage_courses, limit("max_courses")),
        UsageLine("storage", institution.usage_storage_bytes, limit("max_storage_bytes")),
    ]


def institution_for_console(pk) -> Institution | None:
    """One institution with its subscription, provisioning job and usage."""
    return (
        institutions_for_console()
        .select_related("subscription__plan", "provisioning_job", "usage")
        .filter(pk=pk)
        .first()
    )


def institution_recent_actions(institution: Institution) -> list[OperatorAction]:
    return list(OperatorAction.objects.filter(institution=institution)[:RECENT_ACTIONS])


def institution_exports(institution: Institution) -> list[OperatorAction]:
    """The exports started from the console whose file is written, newest first."""
    return list(
        OperatorAction.objects.filter(
            institution=institution,
            action=OperatorActionType.INSTITUTION_EXPORT,
            details__has_key="export_name",
        )[:RECENT_ACTIONS]
    )


def operator_action_search(
    *, actor: str = "", action: str = "", institution: str = ""
) -> QuerySet[OperatorAction]:
    """The audit log, newest first. `actor` matches part of the staff member's
    email; `institution` the slug exactly or part of the name, so that rows of
    deleted institutions are found too."""
    actions = OperatorAction.objects.all()
    if actor.strip():
        actions = actions.filter(actor_email__icontains=actor.strip())
    if action:
        actions = actions.filter(action=action)
    if institution.strip():
        term = institution.strip()
        actions = actions.filter(
            Q(institution_slug=term.lower()) | Q(institution_name__icontains=term)
        )
    return actions


def operator_action_page(actions: QuerySet[OperatorAction], page_number) -> Page:
    return Paginator(actions, ACTIONS_PER_PAGE).get_page(page_number)


def plans_all() -> list[Plan]:
    return list(Plan.objects.all())
