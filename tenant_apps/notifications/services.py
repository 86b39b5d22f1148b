"""Every write to notifications: creating them (delivery by email and WebSocket
runs after the commit, see delivery.py), reading and deleting them."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from .models import Notification, NotificationKind

TITLE_MAX = 255
ERASED_NAME = "Erased user"


@dataclass(frozen=True)
class NotificationDraft:
    """One recipient's notification, for `notifications_send`."""

    user_id: object
    kind: NotificationKind | str
    title: str
    message: str = ""
    link_url: str = ""
    metadata: dict = field(default_factory=dict)


def notifications_send(drafts: Iterable[NotificationDraft]) -> list[Notification]:
    """These notifications, in one INSERT in the caller's transaction (each
    recipient's own title, link and metadata). Once it commits one Celery task
    delivers them by email and WebSocket as each user's preferences say; a
    rolled-back event notifies nobody."""
    rows = Notification.objects.bulk_create(
        [
            Notification(
                user_id=draft.user_id,
                notification_type=draft.kind,
                title=draft.title[:TITLE_MAX],
                message=draft.message,
                link_url=draft.link_url,
                metadata=draft.metadata or {},
            )
            for draft in drafts
        ],
        batch_size=1000,
    )
    if rows:
        from .tasks import notifications_deliver  # tasks call delivery: import here

        ids = [str(row.pk) for row in rows]
        # robust: the event stands even when the broker is unreachable (the
        # in-app row is kept; only the email and push are lost).
        transaction.on_commit(lambda: notifications_deliver.delay(ids), robust=True)
    return rows


def notification_send(
    *,
    user_ids,
    kind: NotificationKind | str,
    title: str,
    message: str = "",
    link_url: str = "",
    metadata: dict | None = None,
) -> list[Notification]:
    """The same notification for each of these users (a repeated id counts
    once), in the caller's transaction: see `notifications_send`."""
    return notifications_send(
        NotificationDraft(
            user_id=user_id,
            kind=kind,
            title=title,
            message=message,
            link_url=link_url,
            metadata=metadata or {},
        )
        for user_id in dict.fromkeys(user_ids)
    )


@transaction.atomic
def notification_mark_read(*, notification: Notification) -> Notification:
    """Idempotent: the first read's time is kept."""
    Notification.objects.filter(pk=notification.pk, is_read=False).update(
        is_read=True, read_at=timezone.now()
    )
    notification.refresh_from_db()
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    """Every unread notification of `user` read now; how many were unread."""
    return Notification.objects.filter(user=user, is_read=False).update(
        is_read=True, read_at=timezone.now()
    )


@transaction.atomic
def notification_delete(*, notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk).delete()


def notification_naming(user_id, name: str) -> dict:
    """Metadata for a notification whose title or message names a person other
    than its recipient (a message's sender, a reply's author), as `name` (""
    when it does not name them): `actor_id` and `actor_name`. That person's
    erasure puts ERASED_NAME in place of the name and drops both keys, in
    everyone's notifications (notifications_erase)."""
    return {"actor_id": str(user_id), "actor_name": name}


def _unnamed(text: str, name: str, *, limit: int | None = None) -> str:
    """`text` with `name` replaced by ERASED_NAME; a text cut at `limit` when
    written may end within the name."""
    if not name:
        return text
    if name in text:
        return text.replace(name, ERASED_NAME)[:limit]
    if limit is not None and len(text) >= limit:
        for kept in range(len(name) - 1, 0, -1):
            if text.endswith(name[:kept]):
                return (text[:-kept] + ERASED_NAME)[:limit]
    return text


@transaction.atomic
def notifications_erase(*, user) -> int:
    """A person's erasure: all their notifications go, and the notifications
    the system wrote to others naming them (see notification_naming) say
    ERASED_NAME instead, without their id. Emails and pushes already
    delivered cannot be recalled. Returns how many of theirs were deleted."""
    deleted, _ = Notification.objects.filter(user=user).delete()
    naming = Notification.objects.filter(metadata__actor_id=str(user.pk)).only(
        "title", "message", "metadata"
    )
    unnamed = []
    for row in naming.iterator(chunk_size=1000):
        name = row.metadata.pop("actor_name", "")
        row.metadata.pop("actor_id", None)
        row.title = _unnamed(row.title, name, limit=TITLE_MAX)
        row.message = _unnamed(row.message, name)
        unnamed.append(row)
    Notification.objects.bulk_update(unnamed, ["title", "message", "metadata"], batch_size=1000)
    return deleted
