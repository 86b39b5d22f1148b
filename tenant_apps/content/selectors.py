"""Reads of modules, content items and progress, and what students may see.

Who is who comes from `CourseAccess` (tenant_apps.courses.api): *staff* are the
course's teaching staff and the institution's admins (`is_staff`); *students*
are everyone else allowed in (`can_view_content`: a seat in a published course).

What a student sees, at the moment of the request:
- A module is **visible** when it is live (not deleted), published, and its
  `publish_at` is empty or past. Other modules do not exist for a student:
  absent from lists and counts, 404 when asked for.
- A visible module is **locked** while its `unlock_at` is in the future. It is
  listed as an outline: id, course_id, title, order_index, unlock_at,
  item_count, `locked: true` (no description). Listing its contents gives each
  published item's outline only: id, module_id, title, content_type,
  order_index, duration_minutes, is_required, `locked: true` - no description,
  URLs, file id or other references. Reading such an item (GET /contents/{id}/)
  or recording progress on it is a 404 until the module unlocks.
- An item is **visible** when it is live, published, and its module visible;
  **open** when its module is also unlocked. Only open items are shown in full.
- Progress summaries count the visible items (locked modules' included: they
  are part of the course the student can see coming); deleted items never count.

Staff see every live module and item, drafts and scheduled ones included.
"""

from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenant_apps.accounts.api import User
from tenant_apps.courses.api import (
    Course,
    CourseAccess,
    Enrollment,
    seat_holder,
)

from .models import ContentItem, ContentProgress, Module


def module_visible_q(now: datetime, prefix: str = "") -> Q:
    """Modules a student sees (`prefix` reaches them from another model)."""
    return Q(**{f"{prefix}deleted_at__isnull": True, f"{prefix}is_published": True}) & (
        Q(**{f"{prefix}publish_at__isnull": True}) | Q(**{f"{prefix}publish_at__lte": now})
    )


def module_is_visible(module: Module, now: datetime) -> bool:
    return (
        module.deleted_at is None
        and module.is_published
        and (module.publish_at is None or module.publish_at <= now)
    )


def module_is_locked(module: Module, now: datetime) -> bool:
    return module.unlock_at is not None and module.unlock_at > now


def content_item_is_open(item: ContentItem, now: datetime) -> bool:
    """A student may read it and record progress on it."""
    return (
        item.deleted_at is None
        and item.is_published
        and module_is_visible(item.module, now)
        and not module_is_locked(item.module, now)
    )


def _with_item_counts(modules: QuerySet[Module]) -> QuerySet[Module]:
    live = Q(items__deleted_at__isnull=True)
    return modules.annotate(
        live_item_count=Count("items", filter=live),
        published_item_count=Count("items", filter=live & Q(items__is_published=True)),
    )


def module_list(*, access: CourseAccess) -> QuerySet[Module]:
    """The course's modules the caller may see, in order, with item counts."""
    modules = Module.objects.filter(course=access.course, deleted_at__isnull=True)
    if not access.is_staff:
        modules = modules.filter(module_visible_q(timezone.now()))
    return _with_item_counts(modules).order_by("order_index", "created_at", "id")


def module_get(module_id) -> Module | None:
    """A live module with its item counts, whoever may see it."""
    return _with_item_counts(Module.objects.filter(pk=module_id, deleted_at__isnull=True)).first()


def content_item_list(*, access: CourseAccess, module: Module) -> QuerySet[ContentItem]:
    """The module's items the caller may see (its visibility already checked)."""
    items = ContentItem.objects.filter(module=module, deleted_at__isnull=True)
    if not access.is_staff:
        items = items.filter(is_published=True)
    return items.order_by("order_index", "created_at", "id")


def content_item_get(content_id) -> ContentItem | None:
    """A live item of a live module, its module alongside."""
    return (
        ContentItem.objects.filter(
            pk=content_id, deleted_at__isnull=True, module__deleted_at__isnull=True
        )
        .select_related("module")
        .first()
    )


def content_progress_get(*, user, item: ContentItem) -> ContentProgress:
    """The user's progress on the item; an unsaved blank one if none yet."""
    progress = ContentProgress.objects.filter(user=user, content=item).first()
    return progress or ContentProgress(user=user, content=item)


# --- progress summaries ---


def student_visible_items(course: Course, now: datetime) -> QuerySet[ContentItem]:
    return ContentItem.objects.filter(
        module_visible_q(now, prefix="module__"),
        module__course=course,
        deleted_at__isnull=True,
        is_published=True,
    )


def seated_students(course: Course) -> QuerySet[User]:
    """Students holding a seat (regular or audit; not waitlisted)."""
    seated = Enrollment.objects.filter(seat_holder(), course=course).values("user_id")
    return User.objects.filter(pk__in=seated)


def required_item_count(course: Course) -> int:
    return student_visible_items(course, timezone.now()).filter(is_required=True).count()


def progress_roster(*, course: Course) -> QuerySet[User]:
    """Every seated student with `completed_count` (required visible items
    completed), `time_spent_seconds` and `last_accessed_at` over the visible
    items: one grouped query whatever the number of students."""
    items = student_visible_items(course, timezone.now())
    on_items = Q(content_progress__content__in=items)
    completed = Q(
        content_progress__content__in=items.filter(is_required=True),
        content_progress__is_completed=True,
    )
    return seated_students(course).annotate(
        completed_count=Count("content_progress", filter=completed),
        time_spent_seconds=Coalesce(
            Sum("content_progress__time_spent_seconds", filter=on_items), 0
        ),
        last_accessed_at=Max("content_progress__last_accessed_at", filter=on_items),
    )


def progress_percent(completed: int, required: int) -> int | None:
    """Whole percent of the required items completed; None when none is required."""
    return completed * 100 // required if required else None


def progress_summary(*, course: Course, user) -> dict:
    """One student's progress through the course, per visible module (two
    queries)."""
    now = timezone.now()
    modules = list(
        Module.objects.filter(module_visible_q(now), course=course)
        .annotate(
            required_count=Count(
                "items",
                filter=Q(
                    items__deleted_at__isnull=True,
                    items__is_published=True,
                    items__is_required=True,
                ),
            )
        )
        .order_by("order_index", "created_at", "id")
    )
    per_module = {
        row["content__module_id"]: row
        for row in ContentProgress.objects.filter(
            user=user, content__in=student_visible_items(course, now)
        )
        .values("content__module_id")
        .annotate(
            completed=Count("id", filter=Q(is_completed=True, content__is_required=True)),
            seconds=Sum("time_spent_seconds"),
            last=Max("last_accessed_at"),
        )
    }
    rows = []
    for module in modules:
        mine = per_module.get(module.id, {})
        completed = mine.get("completed", 0)
        rows.append(
            {
                "module_id": module.id,
                "title": module.title,
                "order_index": module.order_index,
                "locked": module_is_locked(module, now),
                "required_count": module.required_count,
                "completed_count": completed,
                "percent": progress_percent(completed, module.required_count),
                "time_spent_seconds": mine.get("seconds", 0),
            }
        )
    required = sum(row["required_count"] for row in rows)
    completed = sum(row["completed_count"] for row in rows)
    accessed = [row["last"] for row in per_module.values() if row["last"]]
    return {
        "user": user,
        "required_count": required,
        "completed_count": completed,
        "percent": progress_percent(completed, required),
        "time_spent_seconds": sum(row["time_spent_seconds"] for row in rows),
        "last_accessed_at": max(accessed, default=None),
        "modules": rows,
    }
