"""Every write to discussions. Who may call them is decided before, by
tenant_apps.discussions.policies; these keep the data's own rules: an archived
course is read-only, a locked thread takes no replies, bodies are sanitised,
and the counters stay exact under concurrent requests.

Counters: a post's `reply_count` and its votes are recounted while its row is
locked (SELECT ... FOR UPDATE first, then the count in a later statement: under
READ COMMITTED the count then sees every competing transaction that held the
lock before). Whoever changes a reply locks its parent before the reply, so
two such writes never wait on each other in opposite orders. `view_count` only
grows, by an atomic `F()` update.

Side effects run after the commit: the reply notification is created in the
transaction (notifications deliver it on commit) and the realtime event is
queued with `transaction.on_commit`; a pending post announces nothing until it
is approved, and an anonymous post never names its author in either.
"""

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from tenant_apps.activity.api import ActivityType, activity_record
from tenant_apps.courses.api import (
    Course,
    CourseStatus,
    course_access,
    course_material_writable,
)
from tenant_apps.notifications.api import (
    NotificationKind,
    notification_naming,
    notification_send,
    realtime_send_to_course,
)

from .models import Forum, Post, PostStatus, PostVote, Vote
from .sanitising import rich_text_clean, rich_text_is_blank

ENTITY_TYPE = "discussion_post"
_FORUM_FIELDS = ("title", "description", "is_pinned", "allow_anonymous", "require_moderation")


def _gone(what: str) -> ApplicationError:
    return ApplicationError(
        f"This {what} was deleted.", code="not_found", status=status.HTTP_404_NOT_FOUND
    )


def _conflict(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, status=status.HTTP_409_CONFLICT)


def _body_clean(html: str, *, field: str = "content", required: bool = True) -> str:
    cleaned = rich_text_clean(html)
    if required and rich_text_is_blank(cleaned):
        raise ApplicationError(
            "Nothing is left of the text once unsafe markup is removed.",
            code="invalid",
            fields={field: ["This field may not be blank."]},
        )
    return cleaned


# --- forums --------------------------------------------------------------------


@transaction.atomic
def forum_create(
    *,
    course: Course,
    actor,
    title: str,
    description: str = "",
    is_pinned: bool = False,
    allow_anonymous: bool = False,
    require_moderation: bool = False,
) -> Forum:
    course_material_writable(course)
    return Forum.objects.create(
        course=course,
        created_by=actor,
        title=title,
        description=_body_clean(description, field="description", required=False),
        is_pinned=is_pinned,
        allow_anonymous=allow_anonymous,
        require_moderation=require_moderation,
    )


@transaction.atomic
def forum_update(*, forum: Forum, **changes) -> Forum:
    unknown = set(changes) - set(_FORUM_FIELDS)
    if unknown:
        raise TypeError(f"forum_update() got unexpected fields: {sorted(unknown)}")
    forum = (
        Forum.objects.select_for_update()
        .select_related("course")
        .filter(pk=forum.pk, deleted_at__isnull=True)
        .first()
    )
    if forum is None:
        raise _gone("forum")
    course_material_writable(forum.course)
    if "description" in changes:
        changes["description"] = _body_clean(
            changes["description"], field="description", required=False
        )
    for field, value in changes.items():
        setattr(forum, field, value)
    forum.save()
    return forum


@transaction.atomic
def forum_delete(*, forum: Forum) -> None:
    """A soft delete: the forum and every post in it are gone for everyone."""
    course_material_writable(forum.course)
    Forum.objects.filter(pk=forum.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )


# --- counters ------------------------------------------------------------------


def _post_lock(post_id) -> Post | None:
    return Post.objects.select_for_update().filter(pk=post_id).select_related("forum").first()


def _reply_count_refresh(parent_id) -> None:
    """Recount the parent's published, live replies. The caller holds the
    parent's row lock (taken in an earlier statement)."""
    n = Post.objects.filter(
        parent_post_id=parent_id, status=PostStatus.PUBLISHED, deleted_at__isnull=True
    ).count()
    Post.objects.filter(pk=parent_id).update(reply_count=n)


def votes_refresh(post_id) -> tuple[int, int]:
    """Recount the post's votes; the caller holds the post's row lock."""
    counts = PostVote.objects.filter(post_id=post_id).aggregate(
        up=Count("pk", filter=Q(value=Vote.UP)), down=Count("pk", filter=Q(value=Vote.DOWN))
    )
    Post.objects.filter(pk=post_id).update(upvotes=counts["up"], downvotes=counts["down"])
    return counts["up"], counts["down"]


def thread_locked(post_id) -> bool:
    """The post or one of its ancestors is locked: a lock closes the subtree."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE up(id, parent_post_id, is_locked) AS (
                SELECT id, parent_post_id, is_locked FROM {Post._meta.db_table} WHERE id = %s
                UNION ALL
                SELECT p.id, p.parent_post_id, p.is_locked
                FROM {Post._meta.db_table} p JOIN up ON p.id = up.parent_post_id
            )
            SELECT coalesce(bool_or(is_locked), false) FROM up
            """,  # noqa: S608 - the table name is ours, the id a parameter
            [post_id],
        )
        return bool(cursor.fetchone()[0])


# --- announcing a post -----------------------------------------------------------


def _author_shown(post: Post) -> dict | None:
    if post.is_anonymous or post.author is None:
        return None
    author = post.author
    return {"id": str(author.pk), "first_name": author.first_name, "last_name": author.last_name}


def post_link(post: Post) -> str:
    """The post's place in the institution's site: under the post it replies
    to, if any (never names the author)."""
    around = post.parent_post_id or post.pk
    return (
        f"/courses/{post.forum.course_id}/discussions/{post.forum_id}/posts/{around}#post-{post.pk}"
    )


def _published_announce(post: Post) -> None:
    """A post everyone may now see: its parent's author is notified (unless
    they wrote the reply, or no longer see the course), and the course's
    members get a realtime event once the transaction commits (not in a
    course its students may not read: a draft's seat holders listen too)."""
    forum = post.forum
    parent = post.parent_post
    if (
        parent is not None
        and parent.author_id is not None
        and parent.author_id != post.author_id
        and course_access(parent.author, forum.course).can_view_content
    ):
        who = _author_shown(post)
        name = f"{who['first_name']} {who['last_name']}".strip() if who else ""
        notification_send(
            user_ids=[parent.author_id],
            kind=NotificationKind.DISCUSSION_REPLY,
            title=f"New reply in {forum.title}",
            message=f"{name or 'Someone'} replied to your post"
            + (f" “{parent.title}”." if parent.title else "."),
            link_url=post_link(post),
            metadata={
                "course_id": str(forum.course_id),
                "forum_id": str(forum.pk),
                "post_id": str(post.pk),
                "parent_post_id": str(parent.pk),
                # the author it names, if any (an anonymous reply names nobody):
                # their erasure unnames it
                **(notification_naming(post.author_id, name) if who else {}),
            },
        )
    event = {
        "type": "discussion.post",
        "payload": {
            "action": "created",
            "course_id": str(forum.course_id),
            "forum_id": str(forum.pk),
            "post_id": str(post.pk),
            "parent_post_id": str(post.parent_post_id) if post.parent_post_id else None,
            "title": post.title,
            "is_anonymous": post.is_anonymous,
            "author": _author_shown(post),
            "created_at": post.created_at.isoformat(),
        },
    }
    if forum.course.status != CourseStatus.PUBLISHED:
        return  # its students hold seats and listen, but may not read it yet
    course_id = forum.course_id
    transaction.on_commit(lambda: realtime_send_to_course(course_id, event), robust=True)


# --- posts -----------------------------------------------------------------------


@transaction.atomic
def post_create(
    *,
    forum: Forum,
    author,
    content: str,
    title: str = "",
    is_anonymous: bool = False,
    parent_post: Post | None = None,
    awaits_moderation: bool = False,
    request=None,
) -> Post:
    """A new thread, or with `parent_post` a reply to a published, live post
    of the same forum whose thread is not locked. `awaits_moderation` (decided
    by the policies) makes it pending."""
    course_material_writable(forum.course)
    if is_anonymous and not forum.allow_anonymous:
        raise ApplicationError(
            "This forum does not allow anonymous posts.",
            code="anonymous_not_allowed",
            fields={"is_anonymous": ["This forum does not allow anonymous posts."]},
        )
    if parent_post is None and not title.strip():
        raise ApplicationError(
            "A new thread needs a title.",
            code="invalid",
            fields={"title": ["A new thread needs a title."]},
        )
    content = _body_clean(content)
    parent = None
    if parent_post is not None:
        parent = _post_lock(parent_post.pk)
        if parent is None or parent.forum_id != forum.pk:
            raise _gone("post")
        _writable_post_check(parent)
        if parent.status != PostStatus.PUBLISHED:
            raise _conflict("Replies wait until this post is approved.", code="post_not_published")
        if thread_locked(parent.pk):
            raise _conflict("This thread is locked: it takes no new replies.", code="post_locked")
    post = Post.objects.create(
        forum=forum,
        parent_post=parent,
        author=author,
        title=title,
        content=content,
        is_anonymous=is_anonymous,
        status=PostStatus.PENDING if awaits_moderation else PostStatus.PUBLISHED,
    )
    activity_record(
        user=author,
        activity_type=ActivityType.POST_DISCUSSION,
        entity_type=ENTITY_TYPE,
        entity_id=post.pk,
        course_id=forum.course_id,
        metadata={"forum_id": str(forum.pk), "status": post.status},
        request=request,
    )
    if post.status == PostStatus.PUBLISHED:
        if parent is not None:
            _reply_count_refresh(parent.pk)
        _published_announce(post)
    return post


def _writable_post_check(post: Post) -> None:
    if post.deleted_at is not None:
        raise _conflict("This post was deleted.", code="post_deleted")


@transaction.atomic
def post_update(*, post: Post, **changes) -> Post:
    """Title and content (sanitised) by the author; is_pinned and is_locked by
    moderators (the view decides who sent what). An edit does not send a
    published post back to moderation."""
    unknown = set(changes) - {"title", "content", "is_pinned", "is_locked"}
    if unknown:
        raise TypeError(f"post_update() got unexpected fields: {sorted(unknown)}")
    post = _post_lock(post.pk)
    if post is None or post.forum.deleted_at is not None:
        raise _gone("post")
    course_material_writable(post.forum.course)
    _writable_post_check(post)
    if "content" in changes:
        changes["content"] = _body_clean(changes["content"])
    if "title" in changes and post.parent_post_id is None and not changes["title"].strip():
        raise ApplicationError(
            "A thread needs a title.", code="invalid", fields={"title": ["A thread needs a title."]}
        )
    for field, value in changes.items():
        setattr(post, field, value)
    post.save()
    return post


@transaction.atomic
def post_delete(*, post: Post) -> None:
    """A soft delete. A post with published replies stays in its thread as a
    placeholder (no title, content or author) so the replies keep their place;
    one without disappears. Deleting again changes nothing."""
    course_material_writable(post.forum.course)
    if post.parent_post_id is not None:
        _post_lock(post.parent_post_id)
    deleted = Post.objects.filter(pk=post.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
    if deleted and post.parent_post_id is not None:
        _reply_count_refresh(post.parent_post_id)


@transaction.atomic
def post_moderate(*, post: Post, moderator, approve: bool) -> Post:
    """Approve a pending (or rejected) post, which publishes it: counted,
    notified and announced as if posted now. Reject a pending one, which only
    its author and moderators then see. Repeating a decision changes nothing;
    rejecting a published post is a 409 (delete it instead)."""
    course_material_writable(post.forum.course)
    if post.parent_post_id is not None:
        _post_lock(post.parent_post_id)
    post = _post_lock(post.pk)
    if post is None:
        raise _gone("post")
    _writable_post_check(post)
    target = PostStatus.PUBLISHED if approve else PostStatus.REJECTED
    if post.status == target:
        return post
    if not approve and post.status == PostStatus.PUBLISHED:
        raise _conflict(
            "A published post cannot be rejected; delete it instead.", code="post_not_pending"
        )
    post.status = target
    post.moderated_by = moderator
    post.moderated_at = timezone.now()
    post.save(update_fields=["status", "moderated_by", "moderated_at", "updated_at"])
    if approve:
        if post.parent_post_id is not None:
            _reply_count_refresh(post.parent_post_id)
        post = Post.objects.select_related("forum__course", "parent_post__author", "author").get(
            pk=post.pk
        )
        _published_announce(post)
    return post


@transaction.atomic
def post_view(*, post: Post, user, request=None) -> int:
    """Counts one view (atomically) and logs it; the new view count."""
    Post.objects.filter(pk=post.pk).update(view_count=F("view_count") + 1)
    activity_record(
        user=user,
        activity_type=ActivityType.VIEW_DISCUSSION,
        entity_type=ENTITY_TYPE,
        entity_id=post.pk,
        course_id=post.forum.course_id,
        metadata={"forum_id": str(post.forum_id)},
        request=request,
    )
    return Post.objects.filter(pk=post.pk).values_list("view_count", flat=True).get()


@transaction.atomic
def post_vote(*, post: Post, user, vote: str | None) -> tuple[str | None, int, int]:
    """The user's one vote on the post: "up", "down", or None to withdraw it.
    Returns (the vote, upvotes, downvotes)."""
    course_material_writable(post.forum.course)
    locked = _post_lock(post.pk)
    if locked is None:
        raise _gone("post")
    _writable_post_check(locked)
    if locked.status != PostStatus.PUBLISHED:
        raise _conflict("Only published posts take votes.", code="post_not_published")
    if vote is None:
        PostVote.objects.filter(post=locked, user=user).delete()
    else:
        PostVote.objects.update_or_create(post=locked, user=user, defaults={"value": vote})
    up, down = votes_refresh(locked.pk)
    return vote, up, down
