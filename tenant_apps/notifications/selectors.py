"""Reads of notifications: a user's own, newest first."""

from django.db.models import QuerySet

from .models import Notification


def notifications_of(user) -> QuerySet:
    """`user`'s notifications, newest first (the user_recent index)."""
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def notification_of(user, notification_id) -> Notification | None:
    """One of `user`'s notifications; None for another's (or no such id), so
    the caller answers 404 and another's id does not leak."""
    return Notification.objects.filter(pk=notification_id, user=user).first()


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, is_read=False).count()


def notifications_export(user) -> list[dict]:
    """A person's notifications for their data export."""
    return [
        {
            "id": str(n.pk),
            "notification_type": n.notification_type,
            "title": n.title,
            "message": n.message,
            "link_url": n.link_url,
            "is_read": n.is_read,
            "read_at": n.read_at.isoformat() if n.read_at else None,
            "metadata": n.metadata,
            "created_at": n.created_at.isoformat(),
            "emailed_at": n.emailed_at.isoformat() if n.emailed_at else None,
        }
        for n in notifications_of(user).iterator()
    ]
