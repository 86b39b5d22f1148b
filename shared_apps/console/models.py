"""The operator audit log: one row per action the operator's staff took in the console."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class OperatorActionType(models.TextChoices):
    INSTITUTION_SUSPEND = "institution.suspend", "Suspend"
    INSTITUTION_REACTIVATE = "institution.reactivate", "Reactivate"
    SUBSCRIPTION_CHANGE_PLAN = "subscription.change_plan", "Change plan"
    SUBSCRIPTION_EXTEND_TRIAL = "subscription.extend_trial", "Extend trial"
    INSTITUTION_EXPORT = "institution.export", "Start an export"
    PROVISIONING_RETRY = "provisioning.retry", "Retry provisioning"
    INSTITUTION_DELETE = "institution.delete", "Delete"
    USAGE_MEASURE = "usage.measure", "Measure usage"
    DOMAIN_ADD = "domain.add", "Add a custom domain"


class OperatorAction(models.Model):
    """Written in the same transaction as the action it records, never for a
    refused attempt. The actor's email and the institution's slug and name are
    copied, because the row outlives both (a deleted institution, a departed
    member of staff)."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_email = models.EmailField(max_length=255)
    action = models.CharField(max_length=40, choices=OperatorActionType.choices)
    institution = models.ForeignKey(
        "institutions.Institution",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="operator_actions",
    )
    institution_slug = models.CharField(max_length=40)
    institution_name = models.CharField(max_length=255)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["institution", "-created_at"], name="console_action_inst_idx"),
            models.Index(fields=["action", "-created_at"], name="console_action_type_idx"),
            models.Index(fields=["actor_email", "-created_at"], name="console_action_actor_idx"),
            models.Index(fields=["institution_slug"], name="console_action_slug_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_email} {self.action} {self.institution_slug}"
