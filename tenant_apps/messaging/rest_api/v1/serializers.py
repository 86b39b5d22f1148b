"""Input and output shapes of the messaging API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.api import PersonOutput
from tenant_apps.files.api import FileAttachmentOutput, file_download_path, file_output
from tenant_apps.messaging.models import (
    DELETED_PLACEHOLDER,
    MAX_ATTACHMENTS,
    MAX_CONTENT_LENGTH,
    ConversationType,
)

MAX_RECIPIENTS = 100

CONTENT_HELP = (
    f"Plain text, at most {MAX_CONTENT_LENGTH} characters, trimmed; never HTML. "
    "The server stores it as written and does not sanitise it: clients must escape it "
    "when they display it."
)


ATTACHMENTS_HELP = (
    f"Ids of files you uploaded (POST /files/upload/), at most {MAX_ATTACHMENTS}; a repeated "
    "id is one attachment. Any of your live files, in a course or not, at any level: "
    "attaching changes nothing of the file, and the message's readers may then read it "
    "through /files/{id}/. Someone else's file or an unknown id: 400 `invalid_attachment`. "
    "Attachments are fixed once the message is sent."
)


def _content_field(**kwargs) -> serializers.CharField:
    kwargs.setdefault("help_text", CONTENT_HELP)
    return serializers.CharField(max_length=MAX_CONTENT_LENGTH, trim_whitespace=True, **kwargs)


def _attachment_ids_field(**kwargs) -> serializers.ListField:
    kwargs.setdefault("help_text", ATTACHMENTS_HELP)
    return serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=MAX_ATTACHMENTS, **kwargs
    )


class ConversationInput(KnownKeysSerializer):
    """Start a conversation. `direct`: exactly one other person in
    `participant_ids` (an existing direct conversation of the two is answered
    instead of a new one). `group`: one or more others and an optional title.
    `course`: `course_id`, sent to the course's current members."""

    conversation_type = serializers.ChoiceField(choices=ConversationType.choices)
    participant_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=MAX_RECIPIENTS,
        help_text="Ids of the other people (direct and group). The caller is always in it.",
    )
    course_id = serializers.UUIDField(required=False, help_text="Course conversations only.")
    title = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Group and course only."
    )
    message = _content_field(
        required=False, help_text="A first message, posted with the conversation. " + CONTENT_HELP
    )
    attachment_ids = _attachment_ids_field(
        help_text="The first message's attachments (only with `message`). " + ATTACHMENTS_HELP
    )

    def validate(self, data):
        kind = data["conversation_type"]
        ids = list(dict.fromkeys(data.get("participant_ids") or []))
        errors = {}
        if data.get("attachment_ids") and "message" not in data:
            errors["attachment_ids"] = ["Attachments go with a first `message`."]
        if kind == ConversationType.COURSE:
            if "course_id" not in data:
                errors["course_id"] = ["Required for a course conversation."]
            if ids:
                errors["participant_ids"] = ["A course conversation goes to the course's members."]
        else:
            if "course_id" in data:
                errors["course_id"] = ["Only for a course conversation."]
            if not ids:
                errors["participant_ids"] = ["Name at least one other person."]
        if kind == ConversationType.DIRECT:
            if len(ids) > 1:
                errors["participant_ids"] = ["A direct conversation has one other person."]
            if data.get("title"):
                errors["title"] = ["A direct conversation has no title."]
        if errors:
            raise serializers.ValidationError(errors)
        data["participant_ids"] = ids
        return data


class ConversationUpdateInput(KnownKeysSerializer):
    title = serializers.CharField(max_length=255, allow_blank=True)


class ParticipantsAddInput(KnownKeysSerializer):
    user_ids = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=MAX_RECIPIENTS
    )

    def validate_user_ids(self, value):
        return list(dict.fromkeys(value))


class MessageInput(KnownKeysSerializer):
    """A new message: its text and, optionally, files you uploaded."""

    content = _content_field()
    attachment_ids = _attachment_ids_field()


class MessageEditInput(KnownKeysSerializer):
    """An edit changes the text only: attachments are fixed when a message is
    sent (sending `attachment_ids` is refused, never ignored). To change
    them, delete the message and send another."""

    content = _content_field()

    def to_internal_value(self, data):
        if isinstance(data, dict) and "attachment_ids" in data:
            raise serializers.ValidationError(
                {
                    "attachment_ids": [
                        "Attachments are fixed when a message is sent; delete it and send "
                        "another to change them."
                    ]
                }
            )
        return super().to_internal_value(data)


class MessageAttachmentOutput(FileAttachmentOutput):
    """An attached file (as the files app describes it) and where its
    readers download it."""

    download_path = serializers.CharField(
        help_text="GET it (with your token) for a redirect to a short-lived signed URL: "
        "/api/v1/files/{id}/download/."
    )


class MessageOutput(serializers.Serializer):
    """A message. A deleted one keeps its place: `is_deleted` is true and
    `content` is the placeholder "This message was deleted." (its text is gone).
    `sender` is null once the sender's account is gone. For someone who left
    the conversation, a message edited since is shown as it was when they
    left (`content`, `is_edited`, `edited_at` as then). `attachments`: the
    files sent with it that are still live (one its uploader deleted, or one
    past the expiry they set, is gone), oldest upload first; fixed when it was
    sent, none once it is deleted. Its readers may read them at /files/{id}/."""

    id = serializers.UUIDField()
    conversation_id = serializers.UUIDField()
    sender = PersonOutput(allow_null=True)
    content = serializers.SerializerMethodField(help_text=CONTENT_HELP)
    is_edited = serializers.SerializerMethodField()
    edited_at = serializers.SerializerMethodField()
    is_deleted = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_content(self, message) -> str:
        if message.deleted_at:
            return DELETED_PLACEHOLDER
        if getattr(message, "edited_since_left", False):
            return message.content_when_left
        return message.content

    def get_is_edited(self, message) -> bool:
        if getattr(message, "edited_since_left", False):
            return message.edited_at_when_left is not None
        return message.is_edited

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_edited_at(self, message) -> str | None:
        if getattr(message, "edited_since_left", False):
            edited_at = message.edited_at_when_left
        else:
            edited_at = message.edited_at
        return serializers.DateTimeField().to_representation(edited_at) if edited_at else None

    def get_is_deleted(self, message) -> bool:
        return message.deleted_at is not None

    @extend_schema_field(MessageAttachmentOutput(many=True))
    def get_attachments(self, message) -> list[dict]:
        # Prefetched by the selectors (selectors.messages_attach_files).
        if message.deleted_at:
            return []
        return [
            {**file_output(f), "download_path": file_download_path(f)}
            for f in message.attachments.all()
        ]


class ParticipantOutput(serializers.Serializer):
    user = PersonOutput()
    joined_at = serializers.DateTimeField()


class ConversationOutput(serializers.Serializer):
    """A conversation as one of its participants sees it. `unread_count`:
    others' messages after the caller's `last_read_at`. `participants`: the
    first current participants (up to 20, the caller included; the full list
    at /conversations/{id}/participants/). `left_at`: set once the caller left;
    they then see it as it was then."""

    id = serializers.UUIDField()
    conversation_type = serializers.ChoiceField(choices=ConversationType.choices)
    title = serializers.CharField()
    course_id = serializers.UUIDField(allow_null=True)
    created_by = PersonOutput(allow_null=True)
    participants = serializers.SerializerMethodField()
    participant_count = serializers.IntegerField()
    unread_count = serializers.IntegerField()
    last_read_at = serializers.DateTimeField(source="my_last_read_at", allow_null=True)
    left_at = serializers.DateTimeField(source="my_left_at", allow_null=True)
    last_message = serializers.SerializerMethodField()
    last_activity_at = serializers.DateTimeField(source="activity_at")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(ParticipantOutput(many=True))
    def get_participants(self, conversation) -> list[dict]:
        return ParticipantOutput(conversation.participants_shown, many=True).data

    @extend_schema_field(MessageOutput(allow_null=True))
    def get_last_message(self, conversation) -> dict | None:
        message = getattr(conversation, "last_message", None)
        return MessageOutput(message).data if message else None


class ConversationOpenedOutput(ConversationOutput):
    """As ConversationOutput; `created` is false when an existing direct
    conversation was answered."""

    created = serializers.BooleanField()


class ReadOutput(serializers.Serializer):
    conversation_id = serializers.UUIDField()
    last_read_at = serializers.DateTimeField(allow_null=True)
    unread_count = serializers.IntegerField()


class UnreadCountOutput(serializers.Serializer):
    unread_messages = serializers.IntegerField(help_text="Across all the caller's conversations.")
    unread_conversations = serializers.IntegerField(help_text="Conversations with any unread.")


class MessagingPolicyInput(KnownKeysSerializer):
    students_message_anyone = serializers.BooleanField(
        help_text="Students may message any active member, not only people they share a "
        "course with."
    )


class MessagingPolicyOutput(serializers.Serializer):
    students_message_anyone = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)
