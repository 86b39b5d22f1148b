"""Modules, content items and progress.

A course is a sequence of modules; a module a sequence of content items. Order
is `order_index` (0, 1, 2, ... among the live rows; the services keep it, the
reorder endpoints rewrite it). The design document's `publish_date` and
`unlock_date` are datetimes here (`publish_at`, `unlock_at`): a module can
open at nine in the morning rather than at midnight UTC.

Content items point at files, interactive content, assignments and quizzes by
plain UUID columns, not foreign keys: those apps are built separately; the
services check a reference when it is set (a file through the files app).
"""

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class Module(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    order_index = models.PositiveIntegerField()
    is_published = models.BooleanField(default=False)
    publish_at = models.DateTimeField(
        null=True, blank=True, help_text="Students see the module from then on (if published)."
    )
    unlock_at = models.DateTimeField(
        null=True, blank=True, help_text="Students may open its items from then on."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_index", "created_at", "id"]
        indexes = [
            models.Index(fields=["course", "order_index"], name="modules_course_order_idx"),
            models.Index(fields=["updated_at"], name="modules_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class ContentType(models.TextChoices):
    VIDEO = "video", "Video"
    DOCUMENT = "document", "Document"
    LINK = "link", "Link"
    INTERACTIVE = "interactive", "Interactive"
    ASSIGNMENT = "assignment", "Assignment"
    QUIZ = "quiz", "Quiz"


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class ContentItem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="items")
    title = models.CharField(max_length=255)
    content_type = models.CharField(max_length=20, choices=ContentType.choices)
    description = models.TextField(blank=True)
    content_url = models.URLField(max_length=2000, blank=True, help_text="External content.")
    video_url = models.URLField(max_length=2000, blank=True)
    document_url = models.URLField(max_length=2000, blank=True)
    file_id = models.UUIDField(
        null=True, blank=True, help_text="An uploaded file (files app); not a foreign key yet."
    )
    interactive_content_id = models.UUIDField(null=True, blank=True)
    assignment_id = models.UUIDField(null=True, blank=True)
    quiz_id = models.UUIDField(null=True, blank=True)
    order_index = models.PositiveIntegerField()
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    is_required = models.BooleanField(default=True)
    is_published = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order_index", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=ContentType.values),
                name="contents_known_type",
            ),
        ]
        indexes = [
            models.Index(fields=["module", "order_index"], name="contents_module_order_idx"),
            models.Index(fields=["updated_at"], name="contents_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self):
        """What each type needs: a link its http(s) URL, a video or a document
        its URL or an uploaded file. Every URL given must be http(s)."""
        errors = {}
        for name in ("content_url", "video_url", "document_url"):
            value = getattr(self, name)
            if value and not _is_web_url(value):
                errors[name] = ["Only http and https URLs are allowed."]
        kind = self.content_type
        if kind == ContentType.LINK and not self.content_url:
            errors.setdefault("content_url", ["A link needs its URL."])
        elif kind == ContentType.VIDEO and not (self.video_url or self.file_id):
            errors.setdefault("video_url", ["A video needs video_url or file_id."])
        elif kind == ContentType.DOCUMENT and not (self.document_url or self.file_id):
            errors.setdefault("document_url", ["A document needs document_url or file_id."])
        elif kind == ContentType.INTERACTIVE and not (
            self.interactive_content_id or self.content_url
        ):
            errors["interactive_content_id"] = [
                "Interactive content needs interactive_content_id or content_url."
            ]
        if errors:
            raise ValidationError(errors)


class ContentProgress(models.Model):
    """One student's progress through one content item. Percentage never goes
    down, time spent only grows, completion is recorded once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="content_progress"
    )
    content = models.ForeignKey(ContentItem, on_delete=models.CASCADE, related_name="progress")
    completion_percentage = models.PositiveSmallIntegerField(default=0)
    last_position = models.PositiveIntegerField(
        null=True, blank=True, help_text="For a video, the last second watched."
    )
    is_completed = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    time_spent_seconds = models.PositiveBigIntegerField(default=0)
    first_accessed_at = models.DateTimeField(null=True, blank=True)
    last_accessed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("user", "content", name="progress_user_content_unique"),
            models.CheckConstraint(
                condition=Q(completion_percentage__lte=100), name="progress_percentage_max_100"
            ),
        ]
        indexes = [
            models.Index(fields=["content"], name="progress_content_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.content_id}: {self.completion_percentage}%"
