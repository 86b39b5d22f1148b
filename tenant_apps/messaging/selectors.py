"""Reads of messaging: the caller's conversations with their unread counts
and last messages (one query for the page, one for its last messages, one for
their attachments, one for its participants), a conversation's messages (with
their attachments in one more query), who shares a course with whom, and who
may read a file through a message.

Unread: messages of others, not deleted, created after the participant's
`last_read_at` (all of them while it is empty). Leaving marks everything read,
and a leaver sees nothing after `left_at`, so a leaver has nothing unread.
"""

from datetime import UTC, datetime

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, Least

from tenant_apps.accounts.api import User
from tenant_apps.courses.api import (
    Course,
    CourseRole,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    seat_holder,
)
from tenant_apps.files.api import StoredFile, live_files

from .models import (
    Conversation,
    ConversationParticipant,
    Message,
    MessageRevision,
    MessagingPolicy,
)

PARTICIPANTS_SHOWN = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FOREVER = datetime(9999, 12, 31, tzinfo=UTC)


def messaging_policy() -> MessagingPolicy:
    """The institution's policy (its defaults until an admin saves one)."""
    return MessagingPolicy.objects.filter(pk=1).first() or MessagingPolicy()


def live_users() -> QuerySet[User]:
    """Members who may sign in and be messaged."""
    return User.objects.filter(is_active=True, is_suspended=False, deleted_at__isnull=True)


def _course_member(prefix: str = "") -> Q:
    """An enrollment that makes its user a current member of the course: a
    student holding a seat, or an enrolled TA or grader."""
    return seat_holder(prefix) | Q(
        **{
            f"{prefix}role__in": (CourseRole.TA, CourseRole.GRADER),
            f"{prefix}status": EnrollmentStatus.ENROLLED,
        }
    )


def course_member_ids(course: Course) -> set:
    """The course's current members with live accounts: its instructor, its
    students holding a seat, and its enrolled TAs and graders."""
    enrolled = Enrollment.objects.filter(
        _course_member(), course=course, user__in=live_users()
    ).values_list("user_id", flat=True)
    ids = set(enrolled)
    if course.instructor_id and live_users().filter(pk=course.instructor_id).exists():
        ids.add(course.instructor_id)
    return ids


def course_mates_among(user, candidate_ids) -> set:
    """Those of `candidate_ids` who share a live, published course with
    `user`, both being current members of it (seat-holding student, enrolled
    TA or grader, or its instructor). One query."""
    my_enrollments = Enrollment.objects.filter(_course_member(), user=user).values("course_id")
    my_courses = Course.objects.filter(
        Q(instructor=user) | Q(pk__in=my_enrollments),
        deleted_at__isnull=True,
        status=CourseStatus.PUBLISHED,
    ).values("pk")
    enrolled = Enrollment.objects.filter(
        _course_member(), course__in=my_courses, user_id__in=candidate_ids
    ).values_list("user_id", flat=True)
    teaching = Course.objects.filter(
        pk__in=my_courses, instructor_id__in=candidate_ids
    ).values_list("instructor_id", flat=True)
    return set(enrolled.union(teaching))


def _unread_messages(user) -> QuerySet[Message]:
    """The outer conversation's messages `user` has not read (the outer query
    carries `my_read_mark` and `my_visible_until`)."""
    return Message.objects.filter(
        conversation=OuterRef("pk"),
        deleted_at__isnull=True,
        created_at__gt=OuterRef("my_read_mark"),
        created_at__lte=OuterRef("my_visible_until"),
    ).exclude(sender_id=user.pk)


def _count(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("conversation").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _mine(user) -> QuerySet[Conversation]:
    """Conversations `user` is (or was) a participant of, with their own
    participant row's times."""
    return (
        Conversation.objects.annotate(
            mine=FilteredRelation("participants", condition=Q(participants__user=user.pk))
        )
        .filter(mine__id__isnull=False)
        .annotate(
            my_last_read_at=F("mine__last_read_at"),
            my_left_at=F("mine__left_at"),
            my_read_mark=Coalesce(F("mine__last_read_at"), Value(_EPOCH)),
            my_visible_until=Coalesce(F("mine__left_at"), Value(_FOREVER)),
        )
    )


def conversations_for(user) -> QuerySet[Conversation]:
    """The caller's conversations, the most recent activity first, each with
    `unread_count`, `participant_count`, `last_message_id`, `activity_at` and
    (prefetched) the first participants. A conversation the caller left stays,
    as it was when they left."""
    last_visible = (
        Message.objects.filter(
            conversation=OuterRef("pk"),
            deleted_at__isnull=True,
            created_at__lte=OuterRef("my_visible_until"),
        )
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    active = Coalesce(F("last_message_at"), F("created_at"))
    return (
        _mine(user)
        .select_related("created_by")
        .prefetch_related(
            Prefetch(
                "participants",
                queryset=ConversationParticipant.objects.filter(left_at__isnull=True)
                .select_related("user")
                .order_by("joined_at", "id")[:PARTICIPANTS_SHOWN],
                to_attr="participants_shown",
            )
        )
        .annotate(
            unread_count=_count(_unread_messages(user)),
            participant_count=_count(
                ConversationParticipant.objects.filter(
                    conversation=OuterRef("pk"), left_at__isnull=True
                )
            ),
            last_message_id=Subquery(last_visible),
            activity_at=Case(
                When(my_left_at__isnull=True, then=active),
                default=Least(active, F("my_left_at")),
                output_field=DateTimeField(),
            ),
        )
        .order_by("-activity_at", "-id")
    )


def _live_attachments() -> Prefetch:
    """A message's attachments still live (not deleted by their uploader,
    not past an expiry they set), oldest upload first."""
    return Prefetch("attachments", queryset=live_files().order_by("created_at", "id"))


def messages_attach_files(messages) -> None:
    """Prefetches the attachments of messages fetched without them (one
    query), as conversation_messages does for its own."""
    prefetch_related_objects(list(messages), _live_attachments())


def conversations_attach_last_messages(conversations) -> None:
    """Sets `last_message` on each (None without one), in one query."""
    ids = [c.last_message_id for c in conversations if c.last_message_id]
    left = [c for c in conversations if c.last_message_id and c.my_left_at is not None]
    left_at = Case(
        *[When(conversation_id=c.pk, then=Value(c.my_left_at)) for c in left],
        default=Value(None),
        output_field=DateTimeField(),
    )
    messages = (
        {
            m.pk: m
            for m in _as_seen_until(
                Message.objects.filter(pk__in=ids)
                .select_related("sender")
                .prefetch_related(_live_attachments()),
                left_at,
            )
        }
        if ids
        else {}
    )
    for conversation in conversations:
        conversation.last_message = messages.get(conversation.last_message_id)


def conversation_for(user, conversation_id) -> Conversation | None:
    """One of the caller's conversations, as in the list (None if they are
    not and never were a participant)."""
    conversation = conversations_for(user).filter(pk=conversation_id).first()
    if conversation is not None:
        conversations_attach_last_messages([conversation])
    return conversation


def conversation_unread_totals(user) -> dict:
    """Unread messages and conversations with any, over all the caller's
    conversations: one query."""
    totals = (
        _mine(user)
        .annotate(unread=_count(_unread_messages(user)))
        .aggregate(
            messages=Coalesce(Sum("unread"), 0),
            conversations=Count("pk", filter=Q(unread__gt=0)),
        )
    )
    return {
        "unread_messages": totals["messages"],
        "unread_conversations": totals["conversations"],
    }


def _as_seen_until(messages: QuerySet, left_at) -> QuerySet[Message]:
    """The messages annotated for someone who left at `left_at` (an
    expression, null for someone still in): `edited_since_left`, and then
    `content_when_left` and `edited_at_when_left`, the text they saw, kept by
    message_edit as a revision. MessageOutput shows those."""
    then = MessageRevision.objects.filter(
        message=OuterRef("pk"), replaced_at__gt=OuterRef("seen_until")
    ).order_by("replaced_at", "id")
    return messages.annotate(seen_until=left_at).annotate(
        edited_since_left=Exists(then),
        content_when_left=Subquery(then.values("content")[:1]),
        edited_at_when_left=Subquery(then.values("edited_at")[:1]),
    )


def conversation_messages(conversation: Conversation) -> QuerySet[Message]:
    """The messages the caller sees (`conversation` as conversation_for gives
    it): all of them, or, for someone who left, those sent up to then, as they
    were then (a later edit is not shown); newest first."""
    messages = (
        Message.objects.filter(conversation=conversation)
        .select_related("sender")
        .prefetch_related(_live_attachments())
    )
    if conversation.my_left_at is not None:
        messages = _as_seen_until(
            messages.filter(created_at__lte=conversation.my_left_at),
            Value(conversation.my_left_at, output_field=DateTimeField()),
        )
    return messages.order_by("-created_at", "-id")


def conversation_participants(conversation: Conversation) -> QuerySet[ConversationParticipant]:
    """Current participants, in the order they joined."""
    return (
        ConversationParticipant.objects.filter(conversation=conversation, left_at__isnull=True)
        .select_related("user")
        .order_by("joined_at", "id")
    )


def message_for(user, message_id) -> tuple[Conversation, Message] | None:
    """A message the caller may see, with its conversation as conversation_for
    gives it; None otherwise."""
    conversation_id = (
        Message.objects.filter(pk=message_id).values_list("conversation_id", flat=True).first()
    )
    if conversation_id is None:
        return None
    conversation = conversations_for(user).filter(pk=conversation_id).first()
    if conversation is None:
        return None
    message = conversation_messages(conversation).filter(pk=message_id).first()
    if message is None:
        return None
    return conversation, message


def file_readable_through_messages(user, file: StoredFile) -> bool:
    """`file` is attached to a message that is not deleted and that `user`
    may read: they are in its conversation, or left it after the message was
    sent (conversation_messages shows a leaver those). One query, on the
    attachment table's file index and the participants' (conversation, user)
    key."""
    readable = ConversationParticipant.objects.filter(
        Q(left_at__isnull=True) | Q(left_at__gte=OuterRef("created_at")),
        conversation=OuterRef("conversation"),
        user=user.pk,
    )
    return (
        Message.objects.filter(attachments=file.pk, deleted_at__isnull=True)
        .filter(Exists(readable))
        .exists()
    )


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def user_messaging_data(user) -> dict:
    """The user's data export: the conversations they are in (or left) and
    the messages they sent, with their attachments' ids and names (deleted
    messages hold none). Others' messages are theirs, not the user's."""
    memberships = (
        ConversationParticipant.objects.filter(user=user)
        .select_related("conversation")
        .order_by("joined_at", "id")
    )
    sent = (
        Message.objects.filter(sender=user)
        .prefetch_related(Prefetch("attachments", queryset=StoredFile.objects.order_by("pk")))
        .order_by("created_at", "id")
    )
    return {
        "conversations": [
            {
                "id": str(p.conversation_id),
                "conversation_type": p.conversation.conversation_type,
                "title": p.conversation.title,
                "course_id": str(p.conversation.course_id) if p.conversation.course_id else None,
                "joined_at": _iso(p.joined_at),
                "left_at": _iso(p.left_at),
                "last_read_at": _iso(p.last_read_at),
            }
            for p in memberships
        ],
        "messages_sent": [
            {
                "id": str(m.pk),
                "conversation_id": str(m.conversation_id),
                "content": m.content,
                "is_edited": m.is_edited,
                "created_at": _iso(m.created_at),
                "edited_at": _iso(m.edited_at),
                "deleted_at": _iso(m.deleted_at),
                # Their own uploads: the files section exports them as files/<id>/<name>.
                "attachments": [
                    {"id": str(f.pk), "original_name": f.original_name} for f in m.attachments.all()
                ],
            }
            for m in sent
        ],
    }
