"""The design document's notifications: one row per recipient and event."""

import uuid

from django.conf import settings
from django.db import models


class NotificationKind(models.TextChoices):
    GRADE_POSTED = "grade_posted", "Grade released"
    ANNOUNCEMENT = "announcement", "Announcement"
    MESSAGE = "message", "Message"
    ASSIGNMENT_DUE = "assignment_due", "Assignment due soon"
    ENROLLMENT_PROMOTED = "enrollment_promoted", "Enrolled from the waitlist"
    DISCUSSION_REPLY = "discussion_reply", "Reply in a discussion"
    DATA_EXPORT_READY = "data_export_ready", "Data export ready"


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    notification_type = models.CharField(max_length=50, choices=NotificationKind.choices)
    title = models.CharField(max_length=255)
    message = models.TextField(blank=True)
    link_url = models.TextField(blank=True, help_text="A path on the institution's site.")
    is_read = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Delivery bookkeeping: each channel at most once, whatever Celery retries.
    emailed_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
            models.Index(
                fields=["user"],
                condition=models.Q(is_read=False),
                name="notification_user_unread",
            ),
            models.Index(fields=["created_at"], name="notification_created"),
        ]

    def __str__(self) -> str:
        return f"{self.notification_type} for {self.user_id}"
