"""What discussions hold of a person, for their data export and erasure:
the posts they wrote and their votes."""

from django.db.models import Case, Value, When
from django.utils import timezone

from .models import Forum, Post, PostVote
from .services import votes_refresh

ERASED_CONTENT = "<p>[This post was removed at its author's request.]</p>"
ERASED_TITLE = "[Removed]"


def discussions_export(user) -> dict:
    """The user's own posts (anonymous ones included: they are theirs) and votes."""
    posts = (
        Post.objects.filter(author=user)
        .select_related("forum")
        .order_by("created_at", "id")
        .values(
            "id",
            "forum_id",
            "forum__title",
            "forum__course_id",
            "parent_post_id",
            "title",
            "content",
            "is_anonymous",
            "status",
            "created_at",
            "updated_at",
            "deleted_at",
        )
    )
    votes = PostVote.objects.filter(user=user).order_by("created_at", "id")
    return {
        "posts": [
            {
                "id": str(p["id"]),
                "course_id": str(p["forum__course_id"]),
                "forum_id": str(p["forum_id"]),
                "forum_title": p["forum__title"],
                "parent_post_id": str(p["parent_post_id"]) if p["parent_post_id"] else None,
                "title": p["title"],
                "content": p["content"],
                "is_anonymous": p["is_anonymous"],
                "status": p["status"],
                "created_at": p["created_at"].isoformat(),
                "updated_at": p["updated_at"].isoformat(),
                "deleted_at": p["deleted_at"].isoformat() if p["deleted_at"] else None,
            }
            for p in posts
        ],
        "votes": [
            {"post_id": str(v.post_id), "vote": v.value, "created_at": v.created_at.isoformat()}
            for v in votes
        ],
    }


def discussions_erase(user, *, keep_academic_records: bool) -> None:
    """Posts are not academic records: whatever the policy, the user's posts
    stay in their threads (replies keep their place) without author, title or
    content, and their votes go, the counters recounted. Runs inside the
    erasure's transaction."""
    Post.objects.filter(author=user).update(
        author=None,
        title=Case(When(parent_post__isnull=True, then=Value(ERASED_TITLE)), default=Value("")),
        content=ERASED_CONTENT,
        updated_at=timezone.now(),
    )
    Post.objects.filter(moderated_by=user).update(moderated_by=None)
    Forum.objects.filter(created_by=user).update(created_by=None)
    voted = list(
        PostVote.objects.filter(user=user).order_by("post_id").values_list("post_id", flat=True)
    )
    # Locked in one order, as every other writer of votes locks one post.
    list(Post.objects.select_for_update().filter(pk__in=voted).order_by("pk").values_list("pk"))
    PostVote.objects.filter(user=user).delete()
    for post_id in voted:
        votes_refresh(post_id)
