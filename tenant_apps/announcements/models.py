"""Course announcements and who read them.

`content` is stored exactly as written (plain text or Markdown) and rendered by
clients; the server never renders or trusts it as HTML, so there is nothing to
sanitise here and nothing that could inject markup into another user's page.

Publication is decided by comparing times when the announcement is read, so no
job has to run at `publish_at`: an announcement is visible to the course's
students once `is_published` is set and `publish_at` has come, until
`expires_at`. Its notification goes out once, when it first becomes visible:
at once when published with a publication time come, otherwise from the
minutely job (`announcements_due_notify`). The teaching staff are told then
(`staff_notified_at`); the students too if the course is published, otherwise
when it is, as they may not read it before (`notified_at`).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class AnnouncementState(models.TextChoices):
    """Computed when read, never stored: it changes with the clock."""

    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    PUBLISHED = "published", "Published"
    EXPIRED = "expired", "Expired"


class Announcement(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="announcements"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="announcements_written",
    )
    title = models.CharField(max_length=255)
    content = models.TextField(help_text="Plain text or Markdown, stored as written.")
    is_pinned = models.BooleanField(default=False)
    is_published = models.BooleanField(default=False)
    publish_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Visible to students from this time; set to the time of publishing "
        "when an announcement is published without one.",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Not shown to students from this time."
    )
    attachments = models.ManyToManyField(
        "files.StoredFile", blank=True, related_name="announcements"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the course's students were notified of it; set once, never again.",
    )
    staff_notified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the course's teaching staff were notified of it; set once, never "
        "again, no later than notified_at.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(publish_at__isnull=True)
                | Q(expires_at__isnull=True)
                | Q(expires_at__gt=F("publish_at")),
                name="announcements_expire_after_publish",
                violation_error_message="An announcement must expire after it is published.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["course", "is_published", "publish_at"],
                name="announcements_course_pub_idx",
            ),
            models.Index(fields=["updated_at"], name="announcements_updated_idx"),
            # The minutely job's search: published, not yet notified (the staff
            # are told no later than the students, so this holds both).
            models.Index(
                fields=["publish_at"],
                condition=Q(notified_at__isnull=True, is_published=True),
                name="announcements_unnotified_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AnnouncementRead(models.Model):
    """The design document's announcement_views: one row per reader, written
    once; the first read's time is kept."""

    announcement = models.ForeignKey(Announcement, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="announcement_reads"
    )
    read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint("announcement", "user", name="announcement_reads_unique"),
        ]
        indexes = [models.Index(fields=["user"], name="announcement_reads_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.announcement_id}"
