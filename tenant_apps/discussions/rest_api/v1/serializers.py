"""Input and output shapes of the discussions API.

Bodies (`content`, a forum's `description`) are rich text: the server keeps a
small set of HTML tags and removes the rest before storing (see
tenant_apps.discussions.sanitising), so what it answers is safe to render as
HTML. Titles are plain text: render them as text.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.api import PersonOutput
from tenant_apps.discussions.models import Forum, Post, PostStatus, Vote
from tenant_apps.discussions.sanitising import ALLOWED_TAGS

MAX_BODY = 100_000
RICH_TEXT_HELP = (
    "HTML; kept: "
    + ", ".join(sorted(ALLOWED_TAGS))
    + " (links: absolute http, https or mailto only). Anything else is removed before "
    "it is stored."
)


class ForumInput(KnownKeysSerializer):
    title = serializers.CharField(max_length=255, help_text="Plain text.")
    description = serializers.CharField(
        max_length=MAX_BODY,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=RICH_TEXT_HELP,
    )
    is_pinned = serializers.BooleanField(required=False)
    allow_anonymous = serializers.BooleanField(
        required=False, help_text="Participants may post without their name shown to students."
    )
    require_moderation = serializers.BooleanField(
        required=False,
        help_text="Participants' posts wait for a moderator's approval before others see them.",
    )


class ForumOutput(serializers.ModelSerializer):
    course_id = serializers.UUIDField(read_only=True)
    created_by = PersonOutput(read_only=True, allow_null=True)
    thread_count = serializers.IntegerField(read_only=True)
    post_count = serializers.IntegerField(read_only=True, help_text="Published posts.")
    last_post_at = serializers.DateTimeField(read_only=True, allow_null=True)
    # Not read_only: absent (not null) for those who do not moderate.
    pending_count = serializers.IntegerField(
        required=False, help_text="Moderators only: posts waiting for approval."
    )

    class Meta:
        model = Forum
        fields = [
            "id",
            "course_id",
            "title",
            "description",
            "is_pinned",
            "allow_anonymous",
            "require_moderation",
            "created_by",
            "thread_count",
            "post_count",
            "last_post_at",
            "pending_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [f for f in fields if f != "pending_count"]


class PostInput(KnownKeysSerializer):
    """A new thread (a title is needed) or, with `parent_post_id`, a reply."""

    title = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Plain text."
    )
    content = serializers.CharField(
        max_length=MAX_BODY, trim_whitespace=False, help_text=RICH_TEXT_HELP
    )
    is_anonymous = serializers.BooleanField(
        required=False,
        help_text="Only where the forum allows it: students do not see who wrote it; "
        "the course's instructor, TAs and admins do.",
    )
    parent_post_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="The post this replies to."
    )


class ReplyInput(KnownKeysSerializer):
    title = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Plain text."
    )
    content = serializers.CharField(
        max_length=MAX_BODY, trim_whitespace=False, help_text=RICH_TEXT_HELP
    )
    is_anonymous = serializers.BooleanField(required=False)


class PostUpdateInput(KnownKeysSerializer):
    """The author changes `title` and `content`; moderators `is_pinned` and
    `is_locked` (a locked post, and everything under it, takes no replies)."""

    title = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Plain text."
    )
    content = serializers.CharField(
        max_length=MAX_BODY, trim_whitespace=False, help_text=RICH_TEXT_HELP
    )
    is_pinned = serializers.BooleanField(required=False)
    is_locked = serializers.BooleanField(required=False)


class PostOutput(serializers.ModelSerializer):
    """A post as the caller may see it. The author of an anonymous post is
    shown only to the course's moderators (instructor, TAs, admins); `is_own`
    tells its author it is theirs. A deleted post kept for its replies has no
    title, content or author (`is_deleted`)."""

    forum_id = serializers.UUIDField(read_only=True)
    course_id = serializers.UUIDField(source="forum.course_id", read_only=True)
    parent_post_id = serializers.UUIDField(read_only=True, allow_null=True)
    author = serializers.SerializerMethodField()
    is_own = serializers.SerializerMethodField()
    title = serializers.SerializerMethodField()
    content = serializers.SerializerMethodField()
    is_deleted = serializers.SerializerMethodField()
    status = serializers.ChoiceField(
        choices=PostStatus.choices,
        read_only=True,
        help_text="pending and rejected posts are seen only by their author and moderators.",
    )
    my_vote = serializers.ChoiceField(
        choices=Vote.choices, read_only=True, allow_null=True, help_text="The caller's vote."
    )

    class Meta:
        model = Post
        fields = [
            "id",
            "forum_id",
            "course_id",
            "parent_post_id",
            "author",
            "is_own",
            "title",
            "content",
            "is_pinned",
            "is_locked",
            "is_anonymous",
            "is_deleted",
            "status",
            "upvotes",
            "downvotes",
            "my_vote",
            "reply_count",
            "view_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PersonOutput(allow_null=True))
    def get_author(self, post) -> dict | None:
        if post.deleted_at is not None or post.author is None:
            return None
        if post.is_anonymous and not self.context.get("see_authors", False):
            return None
        return PersonOutput(post.author).data

    def get_is_own(self, post) -> bool:
        return post.author_id is not None and post.author_id == self.context.get("user_id")

    def get_title(self, post) -> str:
        return "" if post.deleted_at is not None else post.title

    @extend_schema_field(serializers.CharField(help_text="Sanitised HTML."))
    def get_content(self, post) -> str:
        return "" if post.deleted_at is not None else post.content

    def get_is_deleted(self, post) -> bool:
        return post.deleted_at is not None


WITHDRAW = "none"


class VoteInput(KnownKeysSerializer):
    vote = serializers.ChoiceField(
        choices=[*Vote.values, WITHDRAW],
        allow_null=True,
        help_text="up, down, or none (or null) to withdraw the caller's vote.",
    )

    def validate_vote(self, value):
        return None if value == WITHDRAW else value


class VoteOutput(serializers.Serializer):
    post_id = serializers.UUIDField()
    my_vote = serializers.ChoiceField(
        choices=Vote.choices, allow_null=True, help_text="The caller's vote now."
    )
    upvotes = serializers.IntegerField()
    downvotes = serializers.IntegerField()
