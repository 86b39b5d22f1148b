"""A plan names the limits and features an institution's subscription grants."""

from django.db import models


class Plan(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    # None means unlimited.
    max_users = models.PositiveIntegerField(null=True, blank=True)
    max_courses = models.PositiveIntegerField(null=True, blank=True)
    max_storage_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    features = models.JSONField(default=dict, blank=True)
    is_default = models.BooleanField(
        default=False, help_text="Assigned to institutions created without a plan."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="plans_single_default",
            )
        ]

    def __str__(self) -> str:
        return self.name
