"""Input and output shapes of the announcements API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.api import PersonOutput, PersonWithEmailOutput
from tenant_apps.announcements.models import Announcement, AnnouncementRead, AnnouncementState
from tenant_apps.files.api import FileAttachmentOutput, file_output

MAX_ATTACHMENTS = 20


class AnnouncementInput(KnownKeysSerializer):
    """An announcement as written by the course's staff; unknown keys are
    refused. `content` is never rendered by the server."""

    title = serializers.CharField(max_length=255)
    content = serializers.CharField(
        max_length=100_000,
        trim_whitespace=False,
        help_text="Plain text or Markdown, stored as written; clients render it.",
    )
    is_pinned = serializers.BooleanField(required=False)
    is_published = serializers.BooleanField(required=False)
    publish_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Visible to students from this time; empty means when published. "
        "A time in the past is kept and means visible at once.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Not shown to students from this time."
    )
    attachment_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=MAX_ATTACHMENTS,
        help_text="Ids of uploaded files (POST /files/upload/); replaces the attachments.",
    )

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_attachment_ids(self, value):
        return list(dict.fromkeys(value))  # repeated ids are one attachment

    def validate(self, data):
        publish_at, expires_at = data.get("publish_at"), data.get("expires_at")
        if publish_at and expires_at and expires_at <= publish_at:
            raise serializers.ValidationError({"expires_at": ["Must be later than publish_at."]})
        return data


class AnnouncementOutput(serializers.ModelSerializer):
    """An announcement as its reader sees it. `read_count` (students holding a
    seat who read it) and `audience_count` (students holding a seat) are the
    course staff's only."""

    course_id = serializers.UUIDField(read_only=True)
    author = PersonOutput(read_only=True, allow_null=True)
    state = serializers.ChoiceField(choices=AnnouncementState.choices, read_only=True)
    is_read = serializers.BooleanField(read_only=True, help_text="The caller has read it.")
    attachments = serializers.SerializerMethodField()
    # Not read_only: absent (not null) for students, so optional in the schema.
    read_count = serializers.IntegerField(required=False, help_text="Staff only.")
    audience_count = serializers.IntegerField(required=False, help_text="Staff only.")

    class Meta:
        model = Announcement
        fields = [
            "id",
            "course_id",
            "author",
            "title",
            "content",
            "is_pinned",
            "is_published",
            "publish_at",
            "expires_at",
            "state",
            "is_read",
            "attachments",
            "read_count",
            "audience_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            f for f in fields if f not in ("read_count", "audience_count", "attachments")
        ]

    @extend_schema_field(FileAttachmentOutput(many=True))
    def get_attachments(self, announcement) -> list[dict]:
        return [file_output(f) for f in announcement.attachments.all()]


class AnnouncementReadOutput(serializers.ModelSerializer):
    user = PersonWithEmailOutput(read_only=True)

    class Meta:
        model = AnnouncementRead
        fields = ["user", "read_at"]
        read_only_fields = fields


class MarkReadOutput(serializers.Serializer):
    announcement_id = serializers.UUIDField()
    read_at = serializers.DateTimeField(help_text="The first read's time.")
