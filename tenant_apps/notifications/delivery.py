"""Delivering committed notifications: WebSocket push and email, each as the
recipient's preferences say and each at most once per notification.

Preferences (accounts' UserPreferences) hold one flag per category in
`push_notifications` (WebSocket) and `email_notifications`; the in-app list
always has every notification. A kind with no category (a data export being
ready) goes to every channel. A missing flag (or no preferences row yet) says
yes, as the defaults do.

The email is rendered from templates/notifications/email.{txt,html} with the
institution's name and an absolute link on its own host, and sent through
whatever EMAIL_BACKEND says (console by default; an anymail provider when
configured).
"""

import unicodedata

from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from tenant_apps.accounts.api import UserPreferences

from .models import Notification, NotificationKind
from .realtime import realtime_send_each

# The preference flag (accounts' NOTIFICATION_KINDS) each kind answers to.
CATEGORY = {
    NotificationKind.GRADE_POSTED: "grades",
    NotificationKind.ANNOUNCEMENT: "announcements",
    NotificationKind.MESSAGE: "messages",
    NotificationKind.ASSIGNMENT_DUE: "assignments",
    NotificationKind.ENROLLMENT_PROMOTED: "enrollment",
    NotificationKind.DISCUSSION_REPLY: "discussions",
}


def wants(preferences: dict | None, kind: str) -> bool:
    """A channel's flags say yes to this kind (missing flags say yes)."""
    category = CATEGORY.get(kind)
    if category is None or not isinstance(preferences, dict):
        return True
    return bool(preferences.get(category, True))


def notification_event(notification: Notification) -> dict:
    """The design document's WebSocket message for a notification."""
    return {
        "type": "notification",
        "payload": {
            "notificationId": str(notification.pk),
            "notificationType": notification.notification_type,
            "title": notification.title,
            "message": notification.message,
            "linkUrl": notification.link_url,
            "metadata": notification.metadata,
            "createdAt": notification.created_at.isoformat(),
        },
    }


def notifications_deliver(*, notification_ids: list[str]) -> dict:
    notifications = list(Notification.objects.filter(pk__in=notification_ids))
    preferences = {
        p.user_id: p
        for p in UserPreferences.objects.filter(user_id__in={n.user_id for n in notifications})
    }
    push, email = [], []
    for notification in notifications:
        prefs = preferences.get(notification.user_id)
        kind = notification.notification_type
        if wants(prefs.push_notifications if prefs else None, kind):
            push.append(notification.pk)
        if wants(prefs.email_notifications if prefs else None, kind):
            email.append(notification.pk)
    pushed = _push(push)
    emailed = _queue_emails(email)
    return {"pushed": pushed, "emails_queued": emailed}


def _claim(ids: list, field: str) -> list[Notification]:
    """The notifications among `ids` not yet sent on this channel, marked sent
    in one UPDATE: a retried or duplicated task finds none left to send."""
    if not ids:
        return []
    with transaction.atomic():
        claimed = list(
            Notification.objects.select_for_update(skip_locked=True).filter(
                Q(pk__in=ids) & Q(**{f"{field}__isnull": True})
            )
        )
        Notification.objects.filter(pk__in=[n.pk for n in claimed]).update(
            **{field: timezone.now()}
        )
    return claimed


def _push(ids: list) -> int:
    claimed = _claim(ids, "pushed_at")
    realtime_send_each([(n.user_id, notification_event(n)) for n in claimed])
    return len(claimed)


def _queue_emails(ids: list) -> int:
    """One task per email, so one bad address or a provider's refusal delays
    only its own. Queued only for those not emailed yet (the send claims)."""
    ids = list(
        Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if not ids:
        return 0
    from .tasks import notification_email_send

    for notification_id in ids:
        notification_email_send.delay(str(notification_id))
    return len(ids)


def site_url() -> str:
    """The current institution's address (its primary domain), without the
    trailing slash; empty outside an institution."""
    tenant = getattr(connection, "tenant", None)
    domain = tenant.get_primary_domain() if hasattr(tenant, "get_primary_domain") else None
    if domain is None:
        return ""
    protocol = getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "https")
    return f"{protocol}://{domain.domain}"


SUBJECT_MAX = 200
_LINE_BREAKING = {"Cc", "Zl", "Zp"}  # control characters, line and paragraph separators


def email_subject(title: str) -> str:
    """The title on one line, as a header must be: every run of whitespace or
    control characters becomes one space (titles are user text, e.g. a group
    conversation's, and Django refuses a header with a line break), at most
    SUBJECT_MAX characters."""
    spaced = "".join(
        " " if unicodedata.category(char) in _LINE_BREAKING else char for char in title
    )
    one_line = " ".join(spaced.split())
    if len(one_line) > SUBJECT_MAX:
        one_line = one_line[: SUBJECT_MAX - 1].rstrip() + "…"
    return one_line


def notification_email(notification: Notification) -> mail.EmailMultiAlternatives:
    """The notification as an email to its recipient: plain text and HTML."""
    tenant = getattr(connection, "tenant", None)
    base = site_url()
    # Only a path on the institution's own host becomes a link.
    path = notification.link_url
    link = f"{base}{path}" if base and path.startswith("/") and not path.startswith("//") else ""
    context = {
        "institution_name": getattr(tenant, "name", "") or "ConceptsPro",
        "site_url": f"{base}/" if base else "",
        "user": notification.user,
        "notification": notification,
        "link": link,
    }
    message = mail.EmailMultiAlternatives(
        subject=email_subject(notification.title),
        body=render_to_string("notifications/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.user.email],
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return message


def _unclaim(notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk).update(emailed_at=None)


def notification_email_send(*, notification_id: str) -> bool:
    """Email one notification, once: claimed with `emailed_at` before sending,
    so a duplicated or redelivered task sends nothing more. A send that fails
    with an error gives the claim back, so the task's retry sends it (a worker
    lost in the middle of sending does not: at most once)."""
    claimed = _claim([notification_id], "emailed_at")
    if not claimed:
        return False
    notification = Notification.objects.select_related("user").get(pk=claimed[0].pk)
    user = notification.user
    if not user.email or not user.is_active or user.deleted_at is not None:
        return False
    try:
        notification_email(notification).send()
    except Exception:
        _unclaim(notification)
        raise
    return True
