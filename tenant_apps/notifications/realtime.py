"""Sending events to WebSocket clients through the channel layer.

Every group name carries the institution's schema, so a user or course of one
institution never shares a group with another's, even where ids collide. The
consumer (consumers.py) joins exactly the groups this module names for the
user it authenticated in the schema its host resolved to: the user's own
group and those of `realtime_course_ids(user)`.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.db.models import Q

from tenant_apps.accounts.api import Role, is_active_member

# Channels dispatches a message to the consumer method named by its type.
EVENT = "realtime.event"
MEMBERSHIP = "realtime.membership"
REVALIDATE = "realtime.revalidate"


def user_group(schema: str, user_id) -> str:
    return f"{schema}.user.{user_id}"


def course_group(schema: str, course_id) -> str:
    return f"{schema}.course.{course_id}"


def realtime_course_ids(user, *, course_id=None) -> set[str]:
    """The courses of the current institution whose events `user` receives:
    where they are teaching staff (TA, grader, or the instructor while they
    may teach) or a student holding a seat. Not waitlisted students, and not
    admins by their role alone. With `course_id`, that course or nothing."""
    # Here, not at the top: courses' services send notifications (a cycle).
    from tenant_apps.courses.api import (
        Course,
        CourseRole,
        Enrollment,
        EnrollmentStatus,
        seat_holder,
    )

    if not is_active_member(user):
        return set()
    courses = Course.objects.filter(deleted_at__isnull=True)
    if course_id is not None:
        courses = courses.filter(pk=course_id)
    enrolled = Enrollment.objects.filter(
        Q(role__in=(CourseRole.TA, CourseRole.GRADER)) | seat_holder(),
        user=user,
        status=EnrollmentStatus.ENROLLED,
        course__in=courses,
    ).values_list("course_id", flat=True)
    found = {str(pk) for pk in enrolled}
    if user.role in (Role.INSTRUCTOR, Role.ADMIN):
        found |= {str(pk) for pk in courses.filter(instructor=user).values_list("pk", flat=True)}
    return found


def realtime_send_to_users(user_ids, event: dict) -> None:
    """`event` ({"type": ..., "payload": {...}}) to every open connection of
    these users of the current institution. Call it after the commit that
    made the event true (transaction.on_commit)."""
    _send([user_group(connection.schema_name, user_id) for user_id in user_ids], event)


def realtime_send_to_course(course_id, event: dict) -> None:
    """`event` to every open connection of the course's members."""
    _send([course_group(connection.schema_name, course_id)], event)


def realtime_send_each(events: list[tuple[object, dict]]) -> None:
    """Many (user_id, event) pairs, each event to its own user, in one batch:
    what a delivery of many notifications (a grade release for a course)
    sends, without a round of set-up per user."""
    schema = connection.schema_name
    _send_messages([_event_to(user_group(schema, user_id), event) for user_id, event in events])


def realtime_membership_changed(*, user_id, course_id, joined: bool) -> None:
    """Tells the user's open connections that their place in a course changed
    (enrolled, dropped, made TA, named instructor...), so they join or leave
    the course's group without reconnecting. Call it on commit. The consumer
    asks the database which it is, so `joined` is only a hint and a late or
    repeated message does no harm."""
    realtime_memberships_changed(user_ids=[user_id], course_id=course_id, joined=joined)


def realtime_memberships_changed(*, user_ids, course_id, joined: bool) -> None:
    """realtime_membership_changed for many users of one course (a roster
    import, a deleted course), sent in one batch."""
    schema = connection.schema_name
    message = {"type": MEMBERSHIP, "course_id": str(course_id), "joined": bool(joined)}
    _send_messages([(user_group(schema, user_id), message) for user_id in dict.fromkeys(user_ids)])


def realtime_sessions_ended(*, user_id) -> None:
    """Tells the user's open connections that a session of theirs ended or
    their access changed (logout, refresh-token reuse, password change,
    suspension, deletion, erasure, a new role): each checks its own access
    token again, as at connect, and closes with 4401 if it is refused, or
    follows the courses the user now has. Call it on commit; it says nothing
    but "check", so a late or repeated message does no harm."""
    _send_messages([(user_group(connection.schema_name, user_id), {"type": REVALIDATE})])


def _send(groups: list[str], event: dict) -> None:
    _send_messages([_event_to(group, event) for group in groups])


def _event_to(group: str, event: dict) -> tuple[str, dict]:
    # The group rides along: a socket that has just left it (a dropped
    # student) drops what was already on its way from it.
    return group, {"type": EVENT, "event": event, "group": group}


def _send_messages(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all():
        for group, message in messages:
            await layer.group_send(group, message)

    async_to_sync(send_all)()
