"""The institution's data policy: how long activity is kept, and what an
erasure keeps; and users' data exports."""

import uuid

from django.conf import settings
from django.db import models


class DataPolicy(models.Model):
    """One row per schema (pk 1), edited by the institution's admins."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    activity_retention_days = models.PositiveIntegerField(
        default=365, help_text="Activity log entries older than this are purged nightly."
    )
    keep_academic_records = models.BooleanField(
        default=True,
        help_text=(
            "An erased user's grades and submissions stay, no longer naming them, "
            "so course statistics and transcripts stay whole."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "data policies"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="datapolicy_single_row"),
            models.CheckConstraint(
                condition=models.Q(activity_retention_days__gte=1),
                name="datapolicy_retention_positive",
            ),
        ]

    def __str__(self) -> str:
        return "Data policy"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Being built"
    READY = "ready", "Ready to download"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired (the file is gone)"


ACTIVE_EXPORT_STATUSES = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class DataExport(models.Model):
    """One zip of everything the institution holds of a user, built by a
    worker, kept in the default storage under the institution's prefix until
    `expires_at`, then removed (status `expired`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The user themself, or the admin who asked for it.",
    )
    status = models.CharField(
        max_length=20, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    file_key = models.CharField(max_length=1024, blank=True, help_text="Storage key of the zip.")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One export being built per user: two requests at once get one 202 and one 409.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=ACTIVE_EXPORT_STATUSES),
                name="data_exports_one_active_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="data_exports_user_idx"),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status=ExportStatus.READY),
                name="data_exports_ready_expiry_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.id} of {self.user_id} ({self.status})"
