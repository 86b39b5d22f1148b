"""Reads of discussions: a course's forums and the posts a caller may see,
with what the lists show (counts, the caller's own vote) computed in the same
query."""

from django.db.models import (
    Count,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from tenant_apps.courses.api import CourseAccess

from .models import Forum, Post, PostStatus, PostVote
from .policies import can_moderate


def _count(queryset: QuerySet, group_by: str) -> Coalesce:
    counted = queryset.order_by().values(group_by).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _published_posts() -> QuerySet:
    return Post.objects.filter(status=PostStatus.PUBLISHED, deleted_at__isnull=True)


def forums_for(access: CourseAccess) -> QuerySet:
    """The course's live forums, pinned first, then in the order they were
    made; with `thread_count`, `post_count` (published, live) and
    `last_post_at`, and for moderators `pending_count`."""
    published = _published_posts().filter(forum=OuterRef("pk"))
    queryset = (
        Forum.objects.filter(course=access.course, deleted_at__isnull=True)
        .select_related("created_by")
        .annotate(
            thread_count=_count(published.filter(parent_post__isnull=True), "forum"),
            post_count=_count(published, "forum"),
            last_post_at=Subquery(
                published.order_by().values("forum").annotate(last=Max("created_at")).values("last")
            ),
        )
    )
    if can_moderate(access):
        pending = Post.objects.filter(
            forum=OuterRef("pk"), status=PostStatus.PENDING, deleted_at__isnull=True
        )
        queryset = queryset.annotate(pending_count=_count(pending, "forum"))
    return queryset.order_by("-is_pinned", "created_at", "id")


def posts_visible(access: CourseAccess) -> Q:
    """Published posts for everyone, pending and rejected ones for moderators
    and their author. A deleted post stays, as a placeholder, while it has
    published replies."""
    shown = Q(deleted_at__isnull=True) | Q(reply_count__gt=0)
    if can_moderate(access):
        return shown
    return shown & (Q(status=PostStatus.PUBLISHED) | Q(author=access.user))


def posts_for(access: CourseAccess) -> QuerySet:
    """Every post of the course's live forums the caller may see, with
    `my_vote`."""
    return (
        Post.objects.filter(
            posts_visible(access), forum__course=access.course, forum__deleted_at__isnull=True
        )
        .select_related("forum__course", "author")
        .annotate(
            my_vote=Subquery(
                PostVote.objects.filter(post=OuterRef("pk"), user=access.user).values("value")[:1]
            )
        )
    )


def forum_threads(access: CourseAccess, forum: Forum) -> QuerySet:
    """The forum's threads (top-level posts), pinned first, then the newest."""
    return (
        posts_for(access)
        .filter(forum=forum, parent_post__isnull=True)
        .order_by("-is_pinned", "-created_at", "id")
    )


def post_replies(access: CourseAccess, post: Post) -> QuerySet:
    """The post's direct replies, pinned first, then in the order written."""
    return posts_for(access).filter(parent_post=post).order_by("-is_pinned", "created_at", "id")


def moderation_queue(access: CourseAccess) -> QuerySet:
    """The course's pending posts, oldest first (moderators only)."""
    return (
        posts_for(access)
        .filter(status=PostStatus.PENDING, deleted_at__isnull=True)
        .order_by("created_at", "id")
    )
