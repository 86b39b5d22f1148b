"""Course discussion forums, their threaded posts and one vote per user per post.

Post bodies are rich text: HTML sanitised (`sanitising.py`) before it is
stored, so what the database holds is already safe to serve; raw input is
never stored. Titles are plain text, stored as written, for clients to escape.

The counters on a post (`upvotes`, `downvotes`, `reply_count`, `view_count`)
are kept by the services: votes and replies are recounted while the post's row
is locked, views are added with an atomic `F()` update, so concurrent requests
never lose one.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Forum(models.Model):
    """The design document's discussion_forums."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="discussion_forums"
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, help_text="Sanitised HTML.")
    is_pinned = models.BooleanField(default=False)
    allow_anonymous = models.BooleanField(default=False)
    require_moderation = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="discussion_forums_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["course", "deleted_at"], name="discussion_forum_course_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class PostStatus(models.TextChoices):
    """Moderation: in a forum that requires it, a participant's post waits
    (`pending`) until a moderator approves or rejects it."""

    PUBLISHED = "published", "Published"
    PENDING = "pending", "Waiting for moderation"
    REJECTED = "rejected", "Rejected by a moderator"


class Post(models.Model):
    """The design document's discussion_posts, with a moderation `status`.
    A reply names its `parent_post`; threads nest without a limit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    forum = models.ForeignKey(Forum, on_delete=models.CASCADE, related_name="posts")
    parent_post = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="discussion_posts",
    )
    title = models.CharField(max_length=255, blank=True)
    content = models.TextField(help_text="Sanitised HTML, never the raw input.")
    is_pinned = models.BooleanField(default=False)
    is_locked = models.BooleanField(default=False)
    is_anonymous = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=PostStatus.choices, default=PostStatus.PUBLISHED
    )
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    upvotes = models.PositiveIntegerField(default=0)
    downvotes = models.PositiveIntegerField(default=0)
    reply_count = models.PositiveIntegerField(
        default=0, help_text="Published, not deleted direct replies."
    )
    view_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["forum", "parent_post"], name="discussion_post_forum_idx"),
            models.Index(fields=["parent_post", "created_at"], name="discussion_post_parent_idx"),
            models.Index(fields=["author"], name="discussion_post_author_idx"),
            models.Index(fields=["created_at"], name="discussion_post_created_idx"),
            models.Index(
                fields=["forum"],
                condition=Q(status=PostStatus.PENDING, deleted_at__isnull=True),
                name="discussion_post_pending_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"reply {self.pk}"


class Vote(models.TextChoices):
    UP = "up", "Up"
    DOWN = "down", "Down"


class PostVote(models.Model):
    """One vote per user per post; changing it updates the row, withdrawing
    it deletes the row."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="discussion_votes"
    )
    value = models.CharField(max_length=4, choices=Vote.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("post", "user", name="discussion_vote_unique"),
            models.CheckConstraint(
                condition=Q(value__in=["up", "down"]), name="discussion_vote_value"
            ),
        ]
        indexes = [models.Index(fields=["user"], name="discussion_vote_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.value} {self.post_id}"
