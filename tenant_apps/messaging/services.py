"""Every write to messaging. Who may call them is decided before, by
tenant_apps.messaging.policies; these keep the data's own rules.

Side effects: a new message notifies the other active participants (one
pending MESSAGE notification per participant and conversation: none again
until they have read the conversation after the last one), inside the
write's transaction; WebSocket events go out after the commit to every active
participant, the sender's own other tabs and devices included (clients drop
events for message ids they already have).

Attachments are files the sender uploaded, checked and linked when the
message is sent, and fixed from then on; attaching changes nothing of the
file (its course, level and expiry stay as the uploader set them). Deleting
the message, or erasing its sender, forgets its attachments with its text.
"""

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from rest_framework import status

from conceptspro.api import ApplicationError
from tenant_apps.audit.api import AuditEventType, audit_record
from tenant_apps.courses.api import Course
from tenant_apps.files.api import StoredFile, file_ids_in_order, live_files
from tenant_apps.notifications.api import (
    NotificationKind,
    notification_naming,
    notification_send,
    realtime_send_to_users,
)

from .models import (
    DELETED_PLACEHOLDER,
    MAX_ATTACHMENTS,
    MAX_CONTENT_LENGTH,
    Conversation,
    ConversationParticipant,
    ConversationType,
    Message,
    MessageRevision,
    MessagingPolicy,
)
from .selectors import course_member_ids, live_users


def conversation_link(conversation_id) -> str:
    """Where the conversation lives on the institution's site."""
    return f"/messages/{conversation_id}"


def _content_clean(content: str) -> str:
    content = content.strip()
    if not content:
        raise ApplicationError(
            "A message needs some text.", code="invalid", fields={"content": ["May not be blank."]}
        )
    if len(content) > MAX_CONTENT_LENGTH:
        raise ApplicationError(
            "This message is too long.",
            code="invalid",
            fields={"content": [f"At most {MAX_CONTENT_LENGTH} characters."]},
        )
    return content


def _attachments_resolve(*, sender, attachment_ids) -> list[StoredFile]:
    """The files named, in the order asked (a repeated id is one attachment):
    each must be live and uploaded by `sender` (in any course or none, at any
    level). Otherwise 400 `invalid_attachment` naming the ids, as the files
    app's files_for_attachment does. The rows stay locked until the message
    is committed, so none is deleted halfway."""
    wanted, invalid = file_ids_in_order(attachment_ids)
    if len(wanted) + len(invalid) > MAX_ATTACHMENTS:
        raise ApplicationError(
            f"A message may carry at most {MAX_ATTACHMENTS} files.",
            code="invalid",
            fields={"attachment_ids": [f"At most {MAX_ATTACHMENTS} files."]},
        )
    found = {
        str(f.pk): f
        for f in live_files().select_for_update().filter(pk__in=wanted, uploader=sender)
    }
    invalid += [file_id for file_id in wanted if file_id not in found]
    if invalid:
        raise ApplicationError(
            "Some attachments are not files you uploaded.",
            code="invalid_attachment",
            fields={"attachment_ids": [f"Not an attachable file: {i}." for i in invalid]},
        )
    return [found[file_id] for file_id in wanted]


def _active_participant_ids(conversation_id) -> list:
    return list(
        ConversationParticipant.objects.filter(
            conversation_id=conversation_id, left_at__isnull=True
        ).values_list("user_id", flat=True)
    )


def _realtime_after_commit(conversation_id, event: dict) -> None:
    user_ids = _active_participant_ids(conversation_id)
    transaction.on_commit(lambda: realtime_send_to_users(user_ids, event))


def _participants_create(conversation: Conversation, user_ids, *, now) -> None:
    ConversationParticipant.objects.bulk_create(
        [
            ConversationParticipant(conversation=conversation, user_id=user_id, joined_at=now)
            for user_id in dict.fromkeys(user_ids)
        ],
        batch_size=1000,
    )


def _direct_key(a, b) -> str:
    return ":".join(sorted((str(a), str(b))))


def _first_message_send(conversation, creator, message: str | None, attachment_ids) -> None:
    """The message a conversation is opened with, if any (as message_send)."""
    if message is not None:
        message_send(
            conversation=conversation,
            sender=creator,
            content=message,
            attachment_ids=attachment_ids,
        )


@transaction.atomic
def conversation_direct_open(*, creator, other, message: str | None = None, attachment_ids=()):
    """The direct conversation of these two people: the existing one, or a new
    one. Returns (conversation, created). With `message`, posts it (with
    `attachment_ids`, as message_send)."""
    key = _direct_key(creator.pk, other.pk)
    conversation = Conversation.objects.filter(direct_key=key).first()
    created = False
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    conversation_type=ConversationType.DIRECT, direct_key=key, created_by=creator
                )
                _participants_create(conversation, [creator.pk, other.pk], now=timezone.now())
                created = True
        except IntegrityError:  # the same pair opened it at the same moment
            conversation = Conversation.objects.get(direct_key=key)
    if not created:
        # Both stay in a direct conversation; one whose row was erased comes back.
        now = timezone.now()
        for user in (creator, other):
            ConversationParticipant.objects.get_or_create(
                conversation=conversation, user=user, defaults={"joined_at": now}
            )
    _first_message_send(conversation, creator, message, attachment_ids)
    return conversation, created


@transaction.atomic
def conversation_group_create(
    *,
    creator,
    participants: list,
    title: str = "",
    message: str | None = None,
    attachment_ids=(),
) -> Conversation:
    conversation = Conversation.objects.create(
        conversation_type=ConversationType.GROUP, title=title.strip(), created_by=creator
    )
    _participants_create(
        conversation, [creator.pk, *(u.pk for u in participants)], now=timezone.now()
    )
    _first_message_send(conversation, creator, message, attachment_ids)
    return conversation


@transaction.atomic
def conversation_course_create(
    *,
    creator,
    course: Course,
    title: str = "",
    message: str | None = None,
    attachment_ids=(),
) -> Conversation:
    """A conversation with the course's current members (see
    selectors.course_member_ids) and its creator. Later members are not added."""
    conversation = Conversation.objects.create(
        conversation_type=ConversationType.COURSE,
        course=course,
        title=title.strip() or f"{course.code}: {course.title}"[:255],
        created_by=creator,
    )
    members = course_member_ids(course) - {creator.pk}
    _participants_create(conversation, [creator.pk, *members], now=timezone.now())
    _first_message_send(conversation, creator, message, attachment_ids)
    return conversation


@transaction.atomic
def conversation_rename(*, conversation: Conversation, title: str) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        title=title.strip(), updated_at=timezone.now()
    )
    _realtime_after_commit(
        conversation.pk,
        {
            "type": "conversation.updated",
            "payload": {"conversationId": str(conversation.pk), "title": title.strip()},
        },
    )


@transaction.atomic
def conversation_participants_add(*, conversation: Conversation, users: list) -> list:
    """Adds these users (back). They see the whole history, none of it unread.
    Returns the users who were not already active participants."""
    now = timezone.now()
    rows = {
        p.user_id: p
        for p in ConversationParticipant.objects.select_for_update().filter(
            conversation=conversation, user__in=users
        )
    }
    added, new = [], []
    for user in users:
        row = rows.get(user.pk)
        if row is None:
            new.append(user)
        elif row.left_at is not None:
            row.left_at, row.joined_at, row.last_read_at = None, now, now
            row.save(update_fields=["left_at", "joined_at", "last_read_at"])
            added.append(user)
    # Two members adding the same person at once: the second insert is skipped.
    ConversationParticipant.objects.bulk_create(
        [
            ConversationParticipant(
                conversation=conversation, user=user, joined_at=now, last_read_at=now
            )
            for user in new
        ],
        ignore_conflicts=True,
    )
    added += new
    if added:
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=now)
        _realtime_after_commit(
            conversation.pk,
            {
                "type": "conversation.participants_added",
                "payload": {
                    "conversationId": str(conversation.pk),
                    "userIds": [str(u.pk) for u in added],
                },
            },
        )
    return added


@transaction.atomic
def conversation_leave(*, conversation: Conversation, user) -> None:
    """The user keeps what they saw, up to now, all read; nothing after."""
    if conversation.conversation_type == ConversationType.DIRECT:
        raise ApplicationError(
            "A direct conversation cannot be left.", code="cannot_leave_direct", status=409
        )
    now = timezone.now()
    left = ConversationParticipant.objects.filter(
        conversation=conversation, user=user, left_at__isnull=True
    ).update(left_at=now, last_read_at=now)
    if left:
        _realtime_after_commit(
            conversation.pk,
            {
                "type": "conversation.participant_left",
                "payload": {"conversationId": str(conversation.pk), "userId": str(user.pk)},
            },
        )


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, user):
    """Everything in it up to now is read. Returns the new `last_read_at`."""
    now = timezone.now()
    ConversationParticipant.objects.filter(
        conversation=conversation, user=user, left_at__isnull=True
    ).update(last_read_at=Greatest(Coalesce(F("last_read_at"), now), now))
    return (
        ConversationParticipant.objects.filter(conversation=conversation, user=user)
        .values_list("last_read_at", flat=True)
        .first()
    )


def _sender_name(sender) -> str:
    return f"{sender.first_name} {sender.last_name}".strip()


def _notify(conversation: Conversation, message: Message) -> None:
    """The other active participants with no pending notification for this
    conversation (never notified, or read it since) get one. The notification
    does not quote the message: a deleted message leaves no copy in anyone's
    notifications or mailbox."""
    pending_free = Q(notified_at__isnull=True) | Q(last_read_at__gte=F("notified_at"))
    recipients = list(
        ConversationParticipant.objects.filter(
            pending_free,
            conversation=conversation,
            left_at__isnull=True,
            user__in=live_users(),
        )
        .exclude(user_id=message.sender_id)
        .values_list("pk", "user_id")
    )
    if not recipients:
        return
    ConversationParticipant.objects.filter(pk__in=[pk for pk, _ in recipients]).update(
        notified_at=message.created_at
    )
    name = _sender_name(message.sender)
    shown = name or "someone"
    where = f" in {conversation.title}" if conversation.title else ""
    notification_send(
        user_ids=[user_id for _, user_id in recipients],
        kind=NotificationKind.MESSAGE,
        title=f"New message from {shown}{where}",
        message=f"{shown} sent you a message{where}.",
        link_url=conversation_link(conversation.pk),
        metadata={
            "conversation_id": str(conversation.pk),
            "message_id": str(message.pk),
            # the sender, who the title names: their erasure unnames it
            **notification_naming(message.sender_id, name),
        },
    )


@transaction.atomic
def message_send(*, conversation: Conversation, sender, content: str, attachment_ids=()) -> Message:
    """Posts a message, with the files `attachment_ids` names (see
    _attachments_resolve: the sender's own live uploads, at most
    MAX_ATTACHMENTS); the sender has read everything up to it."""
    content = _content_clean(content)
    in_it = ConversationParticipant.objects.filter(
        conversation=conversation, user=sender, left_at__isnull=True
    )
    if not in_it.exists():
        raise ApplicationError(
            "You are no longer in this conversation.", code="not_a_participant", status=403
        )
    files = _attachments_resolve(sender=sender, attachment_ids=attachment_ids)
    message = Message.objects.create(conversation=conversation, sender=sender, content=content)
    if files:
        message.attachments.add(*files)
    created = message.created_at
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=Greatest(Coalesce(F("last_message_at"), created), created),
        updated_at=timezone.now(),
    )
    in_it.update(last_read_at=Greatest(Coalesce(F("last_read_at"), created), created))
    _notify(conversation, message)
    _realtime_after_commit(
        conversation.pk,
        {
            "type": "message",
            "payload": {
                "conversationId": str(conversation.pk),
                "messageId": str(message.pk),
                "senderId": str(sender.pk),
                "content": content,
                "createdAt": created.isoformat(),
            },
        },
    )
    return message


def _message_locked(message: Message) -> Message:
    message = Message.objects.select_for_update().filter(pk=message.pk).first()
    if message is None:
        raise ApplicationError("Not found.", code="not_found", status=status.HTTP_404_NOT_FOUND)
    return message


@transaction.atomic
def message_edit(*, message: Message, content: str) -> Message:
    content = _content_clean(content)
    message = _message_locked(message)
    if message.deleted_at is not None:
        raise ApplicationError(
            "This message was deleted.", code="message_deleted", status=status.HTTP_409_CONFLICT
        )
    if message.content == content:
        return message
    now = timezone.now()
    # Someone who left after it was sent keeps the text they saw.
    if ConversationParticipant.objects.filter(
        conversation_id=message.conversation_id, left_at__gte=message.created_at
    ).exists():
        MessageRevision.objects.create(
            message=message, content=message.content, edited_at=message.edited_at, replaced_at=now
        )
    message.content = content
    message.is_edited = True
    message.edited_at = now
    message.save(update_fields=["content", "is_edited", "edited_at", "updated_at"])
    _realtime_after_commit(
        message.conversation_id,
        {
            "type": "message.updated",
            "payload": {
                "conversationId": str(message.conversation_id),
                "messageId": str(message.pk),
                "senderId": str(message.sender_id),
                "content": content,
                "editedAt": message.edited_at.isoformat(),
            },
        },
    )
    return message


@transaction.atomic
def message_delete(*, message: Message) -> None:
    """A soft delete that forgets the text and the attachments (the files
    stay their uploader's, readable by whom the files app's own rules allow):
    the message stays in its place as "This message was deleted." for
    everyone. Deleting it again does nothing."""
    message = _message_locked(message)
    if message.deleted_at is not None:
        return
    message.content = ""
    message.deleted_at = timezone.now()
    message.save(update_fields=["content", "deleted_at", "updated_at"])
    message.attachments.clear()
    MessageRevision.objects.filter(message=message).delete()
    _realtime_after_commit(
        message.conversation_id,
        {
            "type": "message.deleted",
            "payload": {
                "conversationId": str(message.conversation_id),
                "messageId": str(message.pk),
                "placeholder": DELETED_PLACEHOLDER,
            },
        },
    )


@transaction.atomic
def messaging_policy_update(*, actor, request=None, **changes) -> MessagingPolicy:
    unknown = set(changes) - {"students_message_anyone"}
    if unknown:
        raise TypeError(f"not messaging policy fields: {sorted(unknown)}")
    MessagingPolicy.objects.get_or_create(pk=1)
    policy = MessagingPolicy.objects.select_for_update().get(pk=1)
    changed = {
        field: {"from": getattr(policy, field), "to": value}
        for field, value in changes.items()
        if getattr(policy, field) != value
    }
    if not changed:
        return policy
    for field, change in changed.items():
        setattr(policy, field, change["to"])
    policy.save()
    audit_record(
        event=AuditEventType.POLICY_CHANGED,
        request=request,
        actor=actor,
        policy="messaging",
        changed=changed,
    )
    return policy


@transaction.atomic
def user_messages_erase(user, *, keep_academic_records: bool = True) -> None:
    """The privacy erasure: the text and the attachments of every message the
    user sent are forgotten (each stays as a deleted placeholder, so others'
    conversations keep their shape) and the user leaves every conversation.
    Messages are not academic records, so `keep_academic_records` keeps none
    of them."""
    now = timezone.now()
    Message.objects.filter(sender=user, deleted_at__isnull=True).update(
        content="", deleted_at=now, updated_at=now
    )
    Message.objects.filter(sender=user).exclude(content="").update(content="", updated_at=now)
    MessageRevision.objects.filter(message__sender=user).delete()
    Message.attachments.through.objects.filter(message__sender=user).delete()
    ConversationParticipant.objects.filter(user=user).delete()
    Conversation.objects.filter(created_by=user).update(created_by=None)
