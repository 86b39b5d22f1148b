"""The design document's conversations, conversation_participants and
messages, and the institution's messaging policy.

A message's `content` is plain text, stored trimmed and never rendered by the
server; clients must escape it (it carries no HTML, unlike discussions).

A participant who leaves keeps their row with `left_at`: they still see the
conversation as it was when they left, and nothing after. A message's
attachments are files its sender uploaded; whoever may read the message may
read them, and nobody else gains access (policies.can_read_attached_file).
Unread counts compare a message's `created_at` with the participant's
`last_read_at`.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

MAX_CONTENT_LENGTH = 10_000
MAX_ATTACHMENTS = 10
DELETED_PLACEHOLDER = "This message was deleted."


class ConversationType(models.TextChoices):
    DIRECT = "direct", "Direct"
    GROUP = "group", "Group"
    COURSE = "course", "Course"


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation_type = models.CharField(
        max_length=20, choices=ConversationType.choices, default=ConversationType.DIRECT
    )
    course = models.ForeignKey(
        "courses.Course",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        help_text="The course whose members a course conversation was sent to.",
    )
    title = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations_started",
    )
    direct_key = models.CharField(
        max_length=80,
        blank=True,
        default="",
        editable=False,
        help_text="A direct conversation's two user ids, sorted: one conversation per pair.",
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "direct_key", condition=~Q(direct_key=""), name="conversations_direct_pair_unique"
            ),
            models.CheckConstraint(
                condition=(Q(conversation_type=ConversationType.DIRECT) & ~Q(direct_key=""))
                | (~Q(conversation_type=ConversationType.DIRECT) & Q(direct_key="")),
                name="conversations_direct_key_iff_direct",
            ),
        ]
        indexes = [models.Index(fields=["updated_at"], name="conversations_updated_idx")]

    def __str__(self) -> str:
        return self.title or f"{self.conversation_type} {self.pk}"


class ConversationParticipant(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_memberships"
    )
    last_read_at = models.DateTimeField(
        null=True, blank=True, help_text="Messages after this are unread; empty: all are."
    )
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(
        null=True, blank=True, help_text="Left: sees the conversation only up to this time."
    )
    notified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The last message notification; none again until read after it.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "conversation", "user", name="conversation_participants_unique"
            ),
        ]
        indexes = [models.Index(fields=["user", "left_at"], name="participants_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id}"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages_sent",
    )
    content = models.TextField(help_text="Plain text; emptied when the message is deleted.")
    attachments = models.ManyToManyField(
        "files.StoredFile",
        blank=True,
        related_name="messages",
        help_text="Files the sender uploaded, fixed when it is sent; forgotten when it is "
        "deleted. Its readers may read them (the files app's read grant).",
    )
    is_edited = models.BooleanField(default=False)
    edited_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="messages_conversation_idx"),
            models.Index(fields=["sender"], name="messages_sender_idx"),
            models.Index(fields=["created_at"], name="messages_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sender_id} in {self.conversation_id} at {self.created_at}"


class MessageRevision(models.Model):
    """A message's text as it was before an edit (and when that text had been
    edited, if it had), kept only for someone who left the conversation after
    the message was sent: they keep what they saw (conversation_leave), not
    what was written after. Deleting the message forgets its revisions."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="revisions")
    content = models.TextField()
    edited_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["message", "replaced_at"], name="revisions_message_idx")]

    def __str__(self) -> str:
        return f"{self.message_id} until {self.replaced_at}"


class MessagingPolicy(models.Model):
    """Who may start conversations with whom, beyond the built-in rule. One row
    per schema (pk 1), edited by the institution's admins."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    students_message_anyone = models.BooleanField(
        default=False,
        help_text="Students may message any active member, not only people they share "
        "a course with.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="messagingpolicy_single_row")]

    def __str__(self) -> str:
        return "Messaging policy"
