"""The design document's activity_logs: what members did, for analytics."""

import uuid

from django.conf import settings
from django.db import models


class ActivityType(models.TextChoices):
    LOGIN = "login", "Signed in"
    VIEW_COURSE = "view_course", "Viewed a course"
    VIEW_CONTENT = "view_content", "Viewed content"
    VIEW_ASSIGNMENT = "view_assignment", "Viewed an assignment"
    SUBMIT_ASSIGNMENT = "submit_assignment", "Submitted an assignment"
    SUBMIT_QUIZ = "submit_quiz", "Submitted a quiz attempt"
    VIEW_DISCUSSION = "view_discussion", "Viewed a discussion post"
    POST_DISCUSSION = "post_discussion", "Posted in a discussion"


class ActivityLog(models.Model):
    """One thing a member did. `course_id` is kept beside the entity (not in the
    design document's table) so course analytics read one index, and without a
    foreign key so the log survives the course and purges cheaply."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    activity_type = models.CharField(max_length=100, choices=ActivityType.choices)
    entity_type = models.CharField(max_length=50, blank=True)
    entity_id = models.UUIDField(null=True, blank=True)
    course_id = models.UUIDField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "created_at"], name="activity_user_time"),
            models.Index(fields=["activity_type", "created_at"], name="activity_type_time"),
            models.Index(
                fields=["course_id", "activity_type", "created_at"], name="activity_course"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.activity_type} by {self.user_id}"
