"""Who may message whom, and who may do what in a conversation.

Reaching someone (starting a conversation with them, or adding them to one):
the institution's admins, instructors and TAs may reach any active member.
Students may reach only people they share a course with (both current members
of one live, published course: a student holding a seat, an enrolled TA or
grader, or its instructor), unless the institution's messaging policy lets
students message anyone. Replies in an existing conversation are not checked
again: a conversation, once legitimately started, may go on.

Attachments: whoever may read a message may read its attached files (through
the files API; registered with the files app as a read grant), and nobody
else gains anything: not after the message is deleted, nor a leaver for
messages sent after they left.
"""

from tenant_apps.accounts.api import Role, is_active_member
from tenant_apps.courses.api import CourseAccess

from .models import Conversation, ConversationType, Message, MessagingPolicy
from .selectors import course_mates_among, file_readable_through_messages

UNRESTRICTED_ROLES = (Role.ADMIN, Role.INSTRUCTOR, Role.TA)


def unreachable_recipients(sender, recipients: list, *, policy: MessagingPolicy) -> list:
    """Those of `recipients` (active members) whom `sender` may not reach."""
    if sender.role in UNRESTRICTED_ROLES or policy.students_message_anyone:
        return []
    mates = course_mates_among(sender, [user.pk for user in recipients])
    return [user for user in recipients if user.pk not in mates]


def is_active_participant(conversation: Conversation) -> bool:
    """`conversation` as selectors.conversation_for gives it: the caller has
    not left it."""
    return conversation.my_left_at is None


def can_post(conversation: Conversation) -> bool:
    return is_active_participant(conversation)


def can_create_course_conversation(access: CourseAccess) -> bool:
    """The course's teaching staff: admins, its instructor, TAs and graders."""
    return access.is_staff


def can_rename(conversation: Conversation, *, course_access: CourseAccess | None) -> bool:
    """A group's active participants; a course conversation's active
    participants who teach the course. A direct conversation has no title."""
    if not is_active_participant(conversation):
        return False
    if conversation.conversation_type == ConversationType.GROUP:
        return True
    if conversation.conversation_type == ConversationType.COURSE:
        return course_access is not None and course_access.is_staff
    return False


def can_add_participants(conversation: Conversation, *, course_access: CourseAccess | None) -> bool:
    """The same people who may rename it: a group's members, a course
    conversation's teaching staff. Direct conversations stay two people."""
    return can_rename(conversation, course_access=course_access)


def can_edit_message(user, message: Message, conversation: Conversation) -> bool:
    """Only its sender, while still in the conversation."""
    return can_delete_message(user, message) and is_active_participant(conversation)


def can_delete_message(user, message: Message) -> bool:
    """Only its sender, also after leaving the conversation: one may always
    take back what one said."""
    return is_active_member(user) and message.sender_id == user.pk


def can_read_attached_file(user, file) -> bool:
    """The files app's read grant (MessagingConfig.ready): `file` is attached
    to a live message `user` may read. The files app has already checked that
    the user is an active member and the file is live."""
    return file_readable_through_messages(user, file)
