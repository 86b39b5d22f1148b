"""Course copy steps of the content app (registered in ContentConfig.ready):
modules and their items first (order 10), and, once assignments (20) and
quizzes (30) have been copied, items pointed at the copies (40)."""

from tenant_apps.courses.api import CopyContext

from .models import ContentItem, Module


def _shifted(value, context: CopyContext):
    return None if value is None else value + context.date_shift


def modules_copy(context: CopyContext) -> None:
    """The source's live modules and items, in order, into the target. Flags
    are kept as they are (a published module stays published) and the publish
    and unlock datetimes move by the copy's date shift, so the new term opens
    its modules on the same schedule."""
    modules = list(
        Module.objects.filter(course=context.source, deleted_at__isnull=True).order_by(
            "order_index", "created_at", "id"
        )
    )
    copies = []
    for index, module in enumerate(modules):
        copy = Module(
            course=context.target,
            title=module.title,
            description=module.description,
            order_index=index,
            is_published=module.is_published,
            publish_at=_shifted(module.publish_at, context),
            unlock_at=_shifted(module.unlock_at, context),
        )
        copies.append(copy)
        context.remember("module", module.id, copy.id)
    Module.objects.bulk_create(copies)

    new_module = context.id_map.get("module", {})
    items = ContentItem.objects.filter(module__in=modules, deleted_at__isnull=True).order_by(
        "module_id", "order_index", "created_at", "id"
    )
    item_copies = []
    index_in_module: dict = {}
    for item in items:
        index = index_in_module.get(item.module_id, 0)
        index_in_module[item.module_id] = index + 1
        copy = ContentItem(
            module_id=new_module[item.module_id],
            title=item.title,
            content_type=item.content_type,
            description=item.description,
            content_url=item.content_url,
            video_url=item.video_url,
            document_url=item.document_url,
            file_id=item.file_id,
            interactive_content_id=item.interactive_content_id,
            assignment_id=item.assignment_id,
            quiz_id=item.quiz_id,
            order_index=index,
            duration_minutes=item.duration_minutes,
            is_required=item.is_required,
            is_published=item.is_published,
        )
        item_copies.append(copy)
        context.remember("content", item.id, copy.id)
    ContentItem.objects.bulk_create(item_copies)


def content_references_remap(context: CopyContext) -> None:
    """Copied items that point at an assignment or quiz the copy has also
    copied now point at the copy. Until those apps register their steps the
    maps are empty and the references stay as they were."""
    copied = context.id_map.get("content", {}).values()
    for kind, column in (("assignment", "assignment_id"), ("quiz", "quiz_id")):
        mapping = context.id_map.get(kind, {})
        if not mapping:
            continue
        for old, new in mapping.items():
            ContentItem.objects.filter(pk__in=copied, **{column: old}).update(**{column: new})
