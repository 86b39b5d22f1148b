"""Copying a course's forums into a new term: the forums and their settings,
not the posts (a new term's students start their own discussions)."""

from tenant_apps.courses.api import CopyContext

from .models import Forum


def forums_copy(context: CopyContext) -> None:
    forums = Forum.objects.filter(course=context.source, deleted_at__isnull=True).order_by(
        "created_at", "id"
    )
    copies = []
    for forum in forums:
        copy = Forum(
            course=context.target,
            title=forum.title,
            description=forum.description,
            is_pinned=forum.is_pinned,
            allow_anonymous=forum.allow_anonymous,
            require_moderation=forum.require_moderation,
            created_by=context.target.instructor,
        )
        copies.append(copy)
        context.remember("discussion_forum", forum.id, copy.id)
    Forum.objects.bulk_create(copies)
