"""The messaging API: /conversations/, /messages/{id}/ and the institution's
messaging policy. Who may call what is stated on each view;
tenant_apps.messaging.policies decides.

Only a conversation's participants see it: anyone else gets 404, so its
existence does not leak. A participant who left still sees it as it was when
they left (read only). Message content is plain text: clients must escape it.
"""

import django_filters
from django.db.models import Q
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from conceptspro.api import ApplicationError, IsoDateTimeFilter, OrderingFilter
from tenant_apps.accounts.api import IsActiveMember, IsInstitutionAdmin
from tenant_apps.courses.api import course_access, course_access_or_404
from tenant_apps.idempotency.api import idempotent
from tenant_apps.messaging import policies, selectors, services
from tenant_apps.messaging.models import (
    Conversation,
    ConversationParticipant,
    ConversationType,
    Message,
)

from .serializers import (
    ConversationInput,
    ConversationOpenedOutput,
    ConversationOutput,
    ConversationUpdateInput,
    MessageEditInput,
    MessageInput,
    MessageOutput,
    MessagingPolicyInput,
    MessagingPolicyOutput,
    ParticipantOutput,
    ParticipantsAddInput,
    ReadOutput,
    UnreadCountOutput,
)

NOT_A_GROUP = OpenApiResponse(
    description="Conflict: `not_a_group`, a direct conversation stays between two people."
)


class ConversationFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        method="_updated_since",
        help_text="With a message or a change (title, participants) at or after this time.",
    )
    unread = django_filters.BooleanFilter(
        method="_unread", help_text="true: only those with unread messages; false: without."
    )
    conversation_type = django_filters.ChoiceFilter(choices=ConversationType.choices)
    course_id = django_filters.UUIDFilter(field_name="course_id")
    left = django_filters.BooleanFilter(
        method="_left", help_text="true: only those the caller left; false: only current ones."
    )
    ordering = OrderingFilter(
        fields=[("activity_at", "last_activity_at"), "created_at"],
        help_text="Default: the most recent activity first.",
    )

    class Meta:
        model = Conversation
        fields = ["updated_since", "unread", "conversation_type", "course_id", "left"]

    def _updated_since(self, queryset, name, value):
        return queryset.filter(Q(activity_at__gte=value) | Q(updated_at__gte=value))

    def _unread(self, queryset, name, value):
        return queryset.filter(unread_count__gt=0) if value else queryset.filter(unread_count=0)

    def _left(self, queryset, name, value):
        return queryset.filter(my_left_at__isnull=not value)


class MessageFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Sent, edited or deleted at or after this time.",
    )
    before = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Sent before this time (older)."
    )
    after = IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gt", help_text="Sent after this time (newer)."
    )

    class Meta:
        model = Message
        fields = ["updated_since", "before", "after"]


def _visible(request, pk) -> Conversation:
    conversation = selectors.conversation_for(request.user, pk)
    if conversation is None:
        raise Http404
    return conversation


def _output(request, pk, serializer=ConversationOutput, **extra) -> dict:
    conversation = _visible(request, pk)
    for name, value in extra.items():
        setattr(conversation, name, value)
    return serializer(conversation).data


def _recipients(sender, user_ids, *, field: str = "participant_ids") -> list:
    """The live members these ids name (the sender left out), checked against
    who the sender may reach: 400 `unknown_recipients`, 403
    `recipient_not_reachable`, each naming whom."""
    ids = [user_id for user_id in user_ids if user_id != sender.pk]
    if not ids:
        raise ApplicationError(
            "Name at least one other person.",
            code="invalid",
            fields={field: ["Name at least one other person."]},
        )
    users = {user.pk: user for user in selectors.live_users().filter(pk__in=ids)}
    unknown = [str(user_id) for user_id in ids if user_id not in users]
    if unknown:
        raise ApplicationError(
            "Some of these people are not members here.",
            code="unknown_recipients",
            fields={field: [f"Not an active member: {i}" for i in unknown]},
            extra={"user_ids": unknown},
        )
    recipients = [users[user_id] for user_id in ids]
    refused = policies.unreachable_recipients(
        sender, recipients, policy=selectors.messaging_policy()
    )
    if refused:
        names = ", ".join(f"{u.first_name} {u.last_name}".strip() for u in refused)
        raise ApplicationError(
            f"You may only message people you share a course with; not: {names}.",
            code="recipient_not_reachable",
            status=status.HTTP_403_FORBIDDEN,
            extra={"user_ids": [str(u.pk) for u in refused]},
        )
    return recipients


def _course_access_of(request, conversation: Conversation):
    if conversation.conversation_type != ConversationType.COURSE or conversation.course is None:
        return None
    return course_access(request.user, conversation.course)


def _not_direct(conversation: Conversation) -> None:
    if conversation.conversation_type == ConversationType.DIRECT:
        raise ApplicationError(
            "A direct conversation stays between two people; start a group instead.",
            code="not_a_group",
            status=status.HTTP_409_CONFLICT,
        )


class ConversationListView(GenericAPIView):
    """GET /conversations/: the caller's conversations, the most recent
    activity first, each with `unread_count` and its `last_message`. Any
    active member. Filters: updated_since, unread, conversation_type,
    course_id, left; ordering.
    POST: start one. Any active member, for `direct` and `group`: students
    only with people they share a course with, unless the institution's
    messaging policy lets them message anyone (403 `recipient_not_reachable`,
    naming them in `user_ids`). `course`: the course's teaching staff (admins,
    its instructor, TAs, graders); it goes to the course's current members.
    A direct conversation that exists already is answered (200, `created`
    false) instead of a new one (201). A first `message` may carry
    `attachment_ids` (as POST /conversations/{id}/messages/). Accepts
    `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = ConversationOutput
    filterset_class = ConversationFilter
    queryset = Conversation.objects.none()  # the real one depends on the caller

    @extend_schema(responses=ConversationOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(
            self.filter_queryset(selectors.conversations_for(request.user))
        )
        selectors.conversations_attach_last_messages(page)
        return self.get_paginated_response(ConversationOutput(page, many=True).data)

    @extend_schema(
        request=ConversationInput,
        responses={
            200: ConversationOpenedOutput,
            201: ConversationOpenedOutput,
            400: OpenApiResponse(
                description="Invalid fields; `unknown_recipients`: ids that name no active "
                "member; `no_recipients`: the course has no other members; "
                "`invalid_attachment`: files that are not the caller's live uploads."
            ),
            403: OpenApiResponse(
                description="`recipient_not_reachable` (error.user_ids names them), or not "
                "the course's staff."
            ),
        },
    )
    @idempotent
    def post(self, request):
        data = ConversationInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        kind, message = fields["conversation_type"], fields.get("message")
        attachment_ids = fields.get("attachment_ids", [])
        created = True
        if kind == ConversationType.COURSE:
            access = course_access_or_404(request.user, fields["course_id"])
            if not policies.can_create_course_conversation(access):
                raise PermissionDenied("Only the course's teaching staff may message the course.")
            if not selectors.course_member_ids(access.course) - {request.user.pk}:
                raise ApplicationError("This course has no other members.", code="no_recipients")
            conversation = services.conversation_course_create(
                creator=request.user,
                course=access.course,
                title=fields.get("title", ""),
                message=message,
                attachment_ids=attachment_ids,
            )
        else:
            recipients = _recipients(request.user, fields["participant_ids"])
            if kind == ConversationType.DIRECT:
                conversation, created = services.conversation_direct_open(
                    creator=request.user,
                    other=recipients[0],
                    message=message,
                    attachment_ids=attachment_ids,
                )
            else:
                conversation = services.conversation_group_create(
                    creator=request.user,
                    participants=recipients,
                    title=fields.get("title", ""),
                    message=message,
                    attachment_ids=attachment_ids,
                )
        return Response(
            _output(request, conversation.pk, ConversationOpenedOutput, created=created),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={"Location": f"/api/v1/conversations/{conversation.pk}/"},
        )


class ConversationUnreadCountView(APIView):
    """GET /conversations/unread-count/: the caller's unread messages, and how
    many conversations have any. Any active member."""

    permission_classes = [IsActiveMember]

    @extend_schema(responses=UnreadCountOutput)
    def get(self, request):
        return Response(UnreadCountOutput(selectors.conversation_unread_totals(request.user)).data)


class ConversationDetailView(APIView):
    """GET /conversations/{id}/: its participants (current or past).
    PATCH: the title. A group's current participants; a course conversation's
    current participants who teach the course; a direct conversation has no
    title (409 `not_a_group`)."""

    permission_classes = [IsActiveMember]

    @extend_schema(responses=ConversationOutput)
    def get(self, request, pk):
        return Response(ConversationOutput(_visible(request, pk)).data)

    @extend_schema(
        request=ConversationUpdateInput, responses={200: ConversationOutput, 409: NOT_A_GROUP}
    )
    def patch(self, request, pk):
        conversation = _visible(request, pk)
        data = ConversationUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        _not_direct(conversation)
        access = _course_access_of(request, conversation)
        if not policies.can_rename(conversation, course_access=access):
            raise PermissionDenied("You may not rename this conversation.")
        services.conversation_rename(conversation=conversation, title=data.validated_data["title"])
        return Response(_output(request, pk))


class ConversationParticipantsView(GenericAPIView):
    """GET /conversations/{id}/participants/: its current participants, in the
    order they joined. Its participants (current or past).
    POST: add people (`user_ids`), or bring back people who left. A group's
    current participants; a course conversation's current participants who
    teach the course. Whom one may add follows the same rule as starting a
    conversation (403 `recipient_not_reachable`). Added people see the whole
    history, none of it unread. A direct conversation stays two people (409
    `not_a_group`). Answers the conversation."""

    permission_classes = [IsActiveMember]
    serializer_class = ParticipantOutput
    queryset = ConversationParticipant.objects.none()

    @extend_schema(responses=ParticipantOutput(many=True))
    def get(self, request, pk):
        conversation = _visible(request, pk)
        page = self.paginate_queryset(selectors.conversation_participants(conversation))
        return self.get_paginated_response(ParticipantOutput(page, many=True).data)

    @extend_schema(
        request=ParticipantsAddInput,
        responses={
            200: ConversationOutput,
            400: OpenApiResponse(description="Invalid fields; `unknown_recipients`."),
            403: OpenApiResponse(description="`recipient_not_reachable`, or not allowed."),
            409: NOT_A_GROUP,
        },
    )
    def post(self, request, pk):
        conversation = _visible(request, pk)
        data = ParticipantsAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        _not_direct(conversation)
        access = _course_access_of(request, conversation)
        if not policies.can_add_participants(conversation, course_access=access):
            raise PermissionDenied("You may not add people to this conversation.")
        users = _recipients(request.user, data.validated_data["user_ids"], field="user_ids")
        services.conversation_participants_add(conversation=conversation, users=users)
        return Response(_output(request, pk))


class ConversationParticipantView(APIView):
    """DELETE /conversations/{id}/participants/{user_id}/: leave (only one's
    own id; 403 otherwise). Any participant of a group or course conversation;
    leaving again does nothing. A direct conversation cannot be left (409
    `cannot_leave_direct`). The leaver keeps what they saw, read only."""

    permission_classes = [IsActiveMember]

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(description="`cannot_leave_direct`."),
        }
    )
    def delete(self, request, pk, user_id):
        conversation = _visible(request, pk)
        if user_id != request.user.pk:
            raise PermissionDenied("You may only remove yourself from a conversation.")
        services.conversation_leave(conversation=conversation, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationMessagesView(GenericAPIView):
    """GET /conversations/{id}/messages/: newest first (page 1 is the latest;
    clients show a page reversed). Its participants; one who left sees those
    up to when they left. Deleted messages keep their place as placeholders.
    Filters: updated_since (sent, edited or deleted since), before, after
    (by sending time; `before` pages back steadily while messages arrive).
    POST: send one. Its current participants (403 `not_a_participant` after
    leaving). Notifies the others and pushes a `message` WebSocket event.
    Content is plain text that clients must escape. `attachment_ids` (at most
    10): files the sender uploaded, live; anything else is 400
    `invalid_attachment` naming the ids, and nothing is sent. The message's
    readers may then read them through /files/{id}/ (the file's own level
    and course do not change). Accepts `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = MessageOutput
    filterset_class = MessageFilter
    queryset = Message.objects.none()  # the real one depends on the conversation

    @extend_schema(responses=MessageOutput(many=True))
    def get(self, request, pk):
        conversation = _visible(request, pk)
        page = self.paginate_queryset(
            self.filter_queryset(selectors.conversation_messages(conversation))
        )
        return self.get_paginated_response(MessageOutput(page, many=True).data)

    @extend_schema(
        request=MessageInput,
        responses={
            201: MessageOutput,
            400: OpenApiResponse(
                description="Invalid fields; `invalid_attachment`: files that are not the "
                "caller's live uploads (`fields.attachment_ids` names them)."
            ),
        },
    )
    @idempotent
    def post(self, request, pk):
        conversation = _visible(request, pk)
        if not policies.can_post(conversation):
            raise ApplicationError(
                "You are no longer in this conversation.",
                code="not_a_participant",
                status=status.HTTP_403_FORBIDDEN,
            )
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_send(
            conversation=conversation,
            sender=request.user,
            content=data.validated_data["content"],
            attachment_ids=data.validated_data.get("attachment_ids", []),
        )
        selectors.messages_attach_files([message])
        return Response(
            MessageOutput(message).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/messages/{message.pk}/"},
        )


class ConversationReadView(APIView):
    """POST /conversations/{id}/read/: everything in it up to now is read
    (`last_read_at` moves forward, never back). Its participants; for one who
    left it changes nothing."""

    permission_classes = [IsActiveMember]

    @extend_schema(request=None, responses=ReadOutput)
    def post(self, request, pk):
        conversation = _visible(request, pk)
        services.conversation_mark_read(conversation=conversation, user=request.user)
        conversation = _visible(request, pk)
        return Response(
            ReadOutput(
                {
                    "conversation_id": conversation.pk,
                    "last_read_at": conversation.my_last_read_at,
                    "unread_count": conversation.unread_count,
                }
            ).data
        )


class MessageDetailView(APIView):
    """GET /messages/{id}/: the conversation's participants (one who left, up
    to when they left).
    PATCH: change its `content`. Its sender only, while in the conversation
    (403 for anyone else; 409 `message_deleted` once deleted); it is marked
    edited. Attachments are fixed when a message is sent: PATCH keeps them,
    and `attachment_ids` in it is refused (400).
    DELETE: its sender only (also after leaving; 403 for anyone else); a soft
    delete that forgets the text and leaves the placeholder "This message was
    deleted." and no attachments (the message's readers lose their access to
    them). Deleting it again does nothing."""

    permission_classes = [IsActiveMember]

    def _visible(self, request, pk):
        found = selectors.message_for(request.user, pk)
        if found is None:
            raise Http404
        return found

    @extend_schema(responses=MessageOutput)
    def get(self, request, pk):
        _, message = self._visible(request, pk)
        return Response(MessageOutput(message).data)

    @extend_schema(
        request=MessageEditInput,
        responses={
            200: MessageOutput,
            409: OpenApiResponse(description="`message_deleted`: it was deleted."),
        },
    )
    def patch(self, request, pk):
        conversation, message = self._visible(request, pk)
        if not policies.can_edit_message(request.user, message, conversation):
            raise PermissionDenied("Only its sender, while in the conversation, may edit it.")
        data = MessageEditInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.message_edit(message=message, content=data.validated_data["content"])
        _, message = self._visible(request, pk)
        return Response(MessageOutput(message).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        _, message = self._visible(request, pk)
        if not policies.can_delete_message(request.user, message):
            raise PermissionDenied("Only its sender may delete a message.")
        services.message_delete(message=message)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessagingPolicyView(APIView):
    """GET, PUT, PATCH /institution/messaging-policy/: who students may
    message. Institution admins only. By default students message only people
    they share a course with; `students_message_anyone` lets them message any
    active member. The institution's admins, instructors and TAs may always
    message anyone."""

    permission_classes = [IsInstitutionAdmin]

    @extend_schema(responses=MessagingPolicyOutput)
    def get(self, request):
        return Response(MessagingPolicyOutput(selectors.messaging_policy()).data)

    @extend_schema(request=MessagingPolicyInput, responses=MessagingPolicyOutput)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=MessagingPolicyInput(partial=True), responses=MessagingPolicyOutput)
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        data = MessagingPolicyInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        policy = services.messaging_policy_update(
            actor=request.user, request=request, **data.validated_data
        )
        return Response(MessagingPolicyOutput(policy).data)
