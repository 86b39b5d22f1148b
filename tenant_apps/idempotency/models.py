"""The first answer to each `Idempotency-Key` a user sent, kept for a day."""

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of method, path and body: a key names one request."
    )
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    response_location = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("user", "key", name="idempotency_user_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.response_status})"
