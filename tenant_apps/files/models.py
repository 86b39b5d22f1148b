"""Metadata of the files an institution stores. The bytes live in the default
storage (local disk or S3) under the institution's key prefix, at a random
name; nobody reaches them except through an access check and a short-lived
signed URL."""

import uuid

from django.conf import settings
from django.db import models


class AccessLevel(models.TextChoices):
    PUBLIC = "public", "Anyone in the institution"
    COURSE = "course", "Members of the course"
    PRIVATE = "private", "The uploader (and the course's staff)"


class StoredFile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    original_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=255, help_text="Random name in storage.")
    file_path = models.CharField(max_length=1024, help_text="Storage key, prefix included.")
    mime_type = models.CharField(max_length=100, help_text="Decided by content sniffing.")
    file_size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="uploaded_files",
    )
    course = models.ForeignKey(
        "courses.Course",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="files",
    )
    access_level = models.CharField(
        max_length=20, choices=AccessLevel.choices, default=AccessLevel.PRIVATE
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    held = models.BooleanField(
        default=False,
        help_text="Part of a submitted record (an assignment attempt): kept as submitted, "
        "so it neither expires nor can be deleted.",
    )
    download_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["uploader"], name="files_uploader_idx"),
            models.Index(fields=["course"], name="files_course_idx"),
            models.Index(fields=["updated_at"], name="files_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.original_name


class StorageUsage(models.Model):
    """One row (pk=1): the institution's live bytes and file count, kept by the
    upload and delete services in the same transaction as the file row, so a
    plan's storage limit reads one row instead of summing the files table."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    bytes_used = models.BigIntegerField(default=0)
    file_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="storage_usage_single_row"),
            models.CheckConstraint(
                condition=models.Q(bytes_used__gte=0), name="storage_usage_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bytes_used} bytes in {self.file_count} files"
