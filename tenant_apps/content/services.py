"""Every write to modules, content items and progress.

Ordering is kept under row locks: anything that changes which modules a course
has, or their order, first locks the course's row; anything that changes a
module's items, or their order, locks the module's row (both modules, in id
order, for a move). Two reorders, or a reorder and a create, therefore run one
after the other, and a reorder always sees the set of ids it must be given.
Lock order is course, then modules, then items, everywhere, so they cannot
deadlock each other.
"""

from datetime import datetime
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from tenant_apps.courses.api import Course
from tenant_apps.files.api import files_for_attachment

from .models import ContentItem, ContentProgress, Module

# One progress report adds at most this much time: a client that was left
# open overnight, or that lies, cannot inflate the total by more.
MAX_TIME_DELTA_SECONDS = 3600

MODULE_FIELDS = ("title", "description", "is_published", "publish_at", "unlock_at")
CONTENT_FIELDS = (
    "title",
    "content_type",
    "description",
    "content_url",
    "video_url",
    "document_url",
    "file_id",
    "interactive_content_id",
    "assignment_id",
    "quiz_id",
    "duration_minutes",
    "is_required",
    "is_published",
)


def _gone(what: str) -> ApplicationError:
    return ApplicationError(
        f"This {what} no longer exists.", code="not_found", status=status.HTTP_404_NOT_FOUND
    )


def _lock_course(course_id) -> None:
    Course.objects.select_for_update().filter(pk=course_id).first()


def _lock_live_module(module_id) -> Module:
    module = Module.objects.select_for_update().filter(pk=module_id).first()
    if module is None or module.deleted_at is not None:
        raise _gone("module")
    return module


def _next_index(rows: QuerySet) -> int:
    highest = rows.filter(deleted_at__isnull=True).aggregate(n=Max("order_index"))["n"]
    return 0 if highest is None else highest + 1


def _unknown_fields(changes: dict, allowed: tuple[str, ...]) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"unexpected fields: {sorted(unknown)}")


# --- modules ---


@transaction.atomic
def module_create(
    *,
    course: Course,
    title: str,
    description: str = "",
    is_published: bool = False,
    publish_at: datetime | None = None,
    unlock_at: datetime | None = None,
) -> Module:
    """A new module at the end of the course."""
    _lock_course(course.pk)
    return Module.objects.create(
        course=course,
        title=title,
        description=description,
        is_published=is_published,
        publish_at=publish_at,
        unlock_at=unlock_at,
        order_index=_next_index(Module.objects.filter(course=course)),
    )


@transaction.atomic
def module_update(*, module: Module, **changes) -> Module:
    """Title, description, publication and dates; order only by reorder."""
    _unknown_fields(changes, MODULE_FIELDS)
    locked = _lock_live_module(module.pk)
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*changes, "updated_at"])
    for name in (*changes, "updated_at"):
        setattr(module, name, getattr(locked, name))
    return module


@transaction.atomic
def module_delete(*, module: Module) -> None:
    """Soft-deletes the module and its items (progress stays, uncounted)."""
    _lock_course(module.course_id)
    _lock_live_module(module.pk)
    now = timezone.now()
    ContentItem.objects.filter(module=module, deleted_at__isnull=True).update(
        deleted_at=now, updated_at=now
    )
    Module.objects.filter(pk=module.pk).update(deleted_at=now, updated_at=now)


def _reorder(rows: QuerySet, ids: list[UUID], *, field: str) -> list[UUID]:
    current = list(rows.values_list("id", flat=True))
    if len(ids) != len(set(ids)) or set(ids) != set(current):
        raise ApplicationError(
            f"{field} must list every current id exactly once.",
            code="invalid",
            fields={field: ["Must list every current id exactly once (the list has changed?)."]},
        )
    now = timezone.now()
    model = rows.model
    reordered = [model(pk=pk, order_index=index, updated_at=now) for index, pk in enumerate(ids)]
    model.objects.bulk_update(reordered, ["order_index", "updated_at"])
    return ids


@transaction.atomic
def module_reorder(*, course: Course, module_ids: list[UUID]) -> list[UUID]:
    """Puts the course's live modules in the given order (all of them, each
    once); positions become 0..n-1."""
    _lock_course(course.pk)
    live = Module.objects.filter(course=course, deleted_at__isnull=True).order_by(
        "order_index", "created_at", "id"
    )
    return _reorder(live, module_ids, field="module_ids")


# --- content items ---


def _validated(item: ContentItem) -> ContentItem:
    try:
        item.clean()
    except ValidationError as error:
        raise ApplicationError(
            "The content item is invalid for its type.",
            code="invalid",
            fields=error.message_dict,
        ) from error
    return item


def _file_check(*, actor, file_id, course: Course) -> None:
    """An item's file must be one the editor may attach to the course (their
    own, or one shared in it); like an announcement's attachment, it is then
    shared with the course's members."""
    if file_id is None:
        return
    try:
        files_for_attachment(user=actor, file_ids=[file_id], course=course)
    except ApplicationError as error:
        raise ApplicationError(
            "The file is not one you may use in this course.",
            code="invalid",
            fields={"file_id": ["Not a file you may use in this course."]},
        ) from error


@transaction.atomic
def content_item_create(
    *, actor, module: Module, title: str, content_type: str, **fields
) -> ContentItem:
    """A new item at the end of the module; what its type needs is checked."""
    _unknown_fields(fields, CONTENT_FIELDS)
    _lock_live_module(module.pk)
    _file_check(actor=actor, file_id=fields.get("file_id"), course=module.course)
    item = ContentItem(
        module=module,
        title=title,
        content_type=content_type,
        order_index=_next_index(ContentItem.objects.filter(module=module)),
        **fields,
    )
    _validated(item).save()
    return item


@transaction.atomic
def content_item_update(
    *, actor, item: ContentItem, module: Module | None = None, **changes
) -> ContentItem:
    """Changes fields; with `module`, moves the item to the end of that module
    (a live module of the same course)."""
    _unknown_fields(changes, CONTENT_FIELDS)
    if changes.get("file_id") not in (None, item.file_id):
        _file_check(actor=actor, file_id=changes["file_id"], course=item.module.course)
    moving = module is not None and module.pk != item.module_id
    if moving:
        if module.course_id != item.module.course_id or module.deleted_at is not None:
            raise ApplicationError(
                "Items move only between the course's modules.",
                code="invalid",
                fields={"module_id": ["Not a module of this course."]},
            )
        for module_id in sorted([item.module_id, module.pk]):
            _lock_live_module(module_id)
    locked = ContentItem.objects.select_for_update().filter(pk=item.pk).first()
    if locked is None or locked.deleted_at is not None:
        raise _gone("content item")
    for name, value in changes.items():
        setattr(locked, name, value)
    update_fields = [*changes, "updated_at"]
    if moving:
        locked.module = module
        locked.order_index = _next_index(ContentItem.objects.filter(module=module))
        update_fields += ["module", "order_index"]
    _validated(locked).save(update_fields=update_fields)
    return locked


@transaction.atomic
def content_item_delete(*, item: ContentItem) -> None:
    _lock_live_module(item.module_id)
    now = timezone.now()
    ContentItem.objects.filter(pk=item.pk).update(deleted_at=now, updated_at=now)


@transaction.atomic
def content_item_reorder(*, module: Module, content_ids: list[UUID]) -> list[UUID]:
    """Puts the module's live items in the given order (all, each once)."""
    _lock_live_module(module.pk)
    live = ContentItem.objects.filter(module=module, deleted_at__isnull=True).order_by(
        "order_index", "created_at", "id"
    )
    return _reorder(live, content_ids, field="content_ids")


# --- progress ---


@transaction.atomic
def content_progress_record(
    *,
    user,
    item: ContentItem,
    completion_percentage: int | None = None,
    last_position: int | None = None,
    time_spent_seconds_delta: int = 0,
    completed: bool = False,
) -> ContentProgress:
    """Records one report from the student's client, in one UPDATE so that
    concurrent reports add up: time spent grows by the delta (at most
    MAX_TIME_DELTA_SECONDS per report), the percentage only rises, reaching
    100 or `completed` marks the item completed, and completed_at is set once."""
    now = timezone.now()
    progress, _ = ContentProgress.objects.get_or_create(
        user=user, content=item, defaults={"first_accessed_at": now, "last_accessed_at": now}
    )
    delta = min(max(time_spent_seconds_delta, 0), MAX_TIME_DELTA_SECONDS)
    updates = {
        "time_spent_seconds": F("time_spent_seconds") + delta,
        "first_accessed_at": Coalesce(F("first_accessed_at"), Value(now)),
        "last_accessed_at": now,
        "updated_at": now,
    }
    if last_position is not None:
        updates["last_position"] = last_position
    if completed or (completion_percentage or 0) >= 100:
        updates["completion_percentage"] = 100
        updates["is_completed"] = True
        updates["completed_at"] = Coalesce(F("completed_at"), Value(now))
    elif completion_percentage is not None:
        updates["completion_percentage"] = Greatest(
            F("completion_percentage"), Value(completion_percentage)
        )
    ContentProgress.objects.filter(pk=progress.pk).update(**updates)
    progress.refresh_from_db()
    return progress
