"""What other apps may use of notifications."""

from .models import NotificationKind
from .realtime import (
    realtime_membership_changed,
    realtime_memberships_changed,
    realtime_send_to_course,
    realtime_send_to_users,
    realtime_sessions_ended,
)
from .services import (
    NotificationDraft,
    notification_naming,
    notification_send,
    notifications_send,
)

__all__ = [
    "NotificationDraft",
    "NotificationKind",
    "notification_naming",
    "notification_send",
    "notifications_send",
    "realtime_membership_changed",
    "realtime_memberships_changed",
    "realtime_send_to_course",
    "realtime_send_to_users",
    "realtime_sessions_ended",
]
