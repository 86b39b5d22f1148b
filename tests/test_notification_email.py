"""Delivering notifications: the email (text and HTML, the institution's name,
an absolute link on its host) goes out once however often the delivery task
runs, and each user's preferences decide email and WebSocket push; the in-app
row is always kept. The WebSocket side is observed on the real Redis channel
layer, in the group the consumer joins for the user."""

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import UserPreferences
from tenant_apps.notifications import tasks
from tenant_apps.notifications.api import NotificationKind, notification_send
from tenant_apps.notifications.models import Notification
from tenant_apps.notifications.realtime import user_group

from .api_helpers import member
from .channel_listener import GroupListener

pytestmark = pytest.mark.django_db


def in_tenant(institution, work):
    with tenant_context(institution):
        result = work()
    connection.set_schema_to_public()
    return result


@pytest.fixture
def send(alpha, celery_eager, django_capture_on_commit_callbacks):
    """Sends a notification in alpha as a service would, and runs what its
    commit queues (delivery, emails) eagerly."""

    def run(user, kind=NotificationKind.GRADE_POSTED, **fields):
        values = {"title": "Grade posted: Essay", "message": "Your grade is in."} | fields

        def work():
            # The commit's callbacks run in the institution, as its worker would.
            with django_capture_on_commit_callbacks(execute=True):
                return notification_send(user_ids=[user.pk], kind=kind, **values)

        return in_tenant(alpha, work)[0]

    mail.outbox.clear()
    return run


def prefer(institution, user, **flags):
    in_tenant(
        institution,
        lambda: UserPreferences.objects.update_or_create(user=user, defaults=flags),
    )


def stored(institution, notification) -> Notification:
    return in_tenant(institution, lambda: Notification.objects.get(pk=notification.pk))


class Listener:
    """A consumer-less channel in the user's WebSocket group."""

    def __init__(self, institution, user):
        self.listener = GroupListener(user_group(institution.schema_name, user.pk))

    def receive(self, timeout=2.0):
        try:
            return self.listener.receive(timeout)
        except TimeoutError:
            return None


def test_the_email_goes_out_once_with_text_html_and_an_absolute_link(alpha, send):
    ann = member(alpha, "ann@alpha.test")
    notification = send(ann, link_url="/courses/abc/grades")

    [message] = mail.outbox
    assert message.to == ["ann@alpha.test"] and message.subject == "Grade posted: Essay"
    assert "Your grade is in." in message.body
    assert "http://alpha.localhost/courses/abc/grades" in message.body
    assert alpha.name in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert 'href="http://alpha.localhost/courses/abc/grades"' in html and alpha.name in html
    assert stored(alpha, notification).emailed_at is not None

    # The delivery task again, and the email task again: nothing more is sent.
    ids = [str(notification.pk)]
    assert in_tenant(alpha, lambda: tasks.notifications_deliver.delay(ids).get()) == {
        "pushed": 0,
        "emails_queued": 0,
    }
    assert in_tenant(alpha, lambda: tasks.notification_email_send.delay(ids[0]).get()) is False
    assert len(mail.outbox) == 1


def test_markup_in_a_message_is_escaped_in_the_html_and_only_own_paths_link(alpha, send):
    ann = member(alpha, "ann@alpha.test")
    send(ann, message="<script>alert(1)</script>", link_url="javascript:alert(1)")
    [message] = mail.outbox
    html = message.alternatives[0][0]
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html and "javascript:" not in message.body


def test_grades_email_off_keeps_the_in_app_row_and_sends_no_email(alpha, send):
    ann = member(alpha, "ann@alpha.test")
    bob = member(alpha, "bob@alpha.test")
    prefer(alpha, ann, email_notifications={"grades": False, "announcements": True})
    graded = send(ann)
    assert mail.outbox == []
    assert stored(alpha, graded).emailed_at is None and stored(alpha, graded).is_read is False
    # Other kinds still email her; others still get their grades by email.
    send(ann, NotificationKind.ANNOUNCEMENT, title="CS 101: Exam moved")
    send(bob)
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("ann@alpha.test", "CS 101: Exam moved"),
        ("bob@alpha.test", "Grade posted: Essay"),
    ]


def test_a_kind_without_a_category_goes_to_every_channel(alpha, send):
    ann = member(alpha, "ann@alpha.test")
    prefer(alpha, ann, email_notifications={k: False for k in ("grades", "messages")})
    send(ann, NotificationKind.DATA_EXPORT_READY, title="Your data export is ready")
    assert [m.subject for m in mail.outbox] == ["Your data export is ready"]


def test_push_on_reaches_the_users_websocket_group_and_push_off_does_not(alpha, send):
    ann = member(alpha, "ann@alpha.test")
    bob = member(alpha, "bob@alpha.test")
    ann_socket, bob_socket = Listener(alpha, ann), Listener(alpha, bob)
    prefer(alpha, bob, push_notifications={"grades": False})

    notification = send(ann, metadata={"grade_id": "g1"})
    message = ann_socket.receive()
    assert message["type"] == "realtime.event"
    event = message["event"]
    assert event["type"] == "notification"
    assert event["payload"]["notificationId"] == str(notification.pk)
    assert event["payload"]["title"] == "Grade posted: Essay"
    assert event["payload"]["metadata"] == {"grade_id": "g1"}
    assert stored(alpha, notification).pushed_at is not None

    bobs = send(bob)
    assert bob_socket.receive(timeout=1.0) is None, "push off: nothing on the socket"
    assert stored(alpha, bobs).pushed_at is None
    assert [m.to for m in mail.outbox] == [["ann@alpha.test"], ["bob@alpha.test"]]
    # A second delivery pushes nothing again.
    in_tenant(alpha, lambda: tasks.notifications_deliver.delay([str(notification.pk)]).get())
    assert ann_socket.receive(timeout=1.0) is None


def test_a_rolled_back_event_notifies_nobody(alpha, send):
    from django.db import transaction

    ann = member(alpha, "ann@alpha.test")

    class Undo(Exception):
        pass

    def work():
        try:
            with transaction.atomic():
                notification_send(user_ids=[ann.pk], kind=NotificationKind.MESSAGE, title="x")
                raise Undo
        except Undo:
            pass
        return Notification.objects.count()

    assert in_tenant(alpha, work) == 0
    assert mail.outbox == []


def test_no_email_for_a_deactivated_account(alpha, send):
    ann = member(alpha, "ann@alpha.test")
    in_tenant(alpha, lambda: type(ann).objects.filter(pk=ann.pk).update(is_active=False))
    notification = send(ann)
    assert mail.outbox == []
    assert stored(alpha, notification).title == "Grade posted: Essay"


@override_settings(
    EMAIL_BACKEND="anymail.backends.test.EmailBackend",
    ANYMAIL={"TEST_SAMPLE_SETTING": "x"},
)
def test_an_anymail_backend_sends_it_when_configured(alpha, send):
    ann = member(alpha, "ann@alpha.test")
    send(ann)
    [message] = mail.outbox
    assert message.anymail_status.status == {"sent"}
    assert message.to == ["ann@alpha.test"]


class FlakyBackend:
    """An email backend whose first send fails, as a provider's outage would."""

    failures = 0

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        if FlakyBackend.failures == 0:
            FlakyBackend.failures += 1
            raise ConnectionError("the provider is down")
        mail.outbox.extend(messages)
        return len(messages)


@override_settings(EMAIL_BACKEND="tests.test_notification_email.FlakyBackend")
def test_a_failed_send_gives_the_claim_back_so_the_retry_sends(alpha, celery_eager):
    ann = member(alpha, "ann@alpha.test")
    mail.outbox.clear()
    FlakyBackend.failures = 0

    def work():
        [row] = notification_send(user_ids=[ann.pk], kind=NotificationKind.MESSAGE, title="Hi")
        return row

    notification = in_tenant(alpha, work)
    pk = str(notification.pk)
    # The task asks Celery to retry on OSError (ConnectionError is one).
    with pytest.raises((Retry, ConnectionError)):
        in_tenant(alpha, lambda: tasks.notification_email_send.delay(pk))
    assert mail.outbox == [] and stored(alpha, notification).emailed_at is None
    assert in_tenant(alpha, lambda: tasks.notification_email_send.delay(pk).get()) is True
    assert in_tenant(alpha, lambda: tasks.notification_email_send.delay(pk).get()) is False
    assert [m.subject for m in mail.outbox] == ["Hi"]
    assert stored(alpha, notification).emailed_at is not None
