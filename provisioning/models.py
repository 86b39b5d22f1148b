"""Public-schema records of provisioning: warm-pool schemas and provisioning jobs."""

from django.db import models


class PoolSchema(models.Model):
    """A fully built, unassigned schema waiting to be claimed by a new institution."""

    schema_name = models.CharField(max_length=63, unique=True)
    migration_state = models.CharField(
        max_length=16, help_text="Digest of the migrations applied in the schema."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.schema_name


class ProvisioningJob(models.Model):
    """What provisioning one institution needs and how far it got."""

    class SchemaSource(models.TextChoices):
        POOL = "pool", "Warm pool"
        TEMPLATE = "template", "Cold path (template copy)"
        MIGRATIONS = "migrations", "Migrations"

    institution = models.OneToOneField(
        "institutions.Institution", on_delete=models.CASCADE, related_name="provisioning_job"
    )
    admin_email = models.EmailField()
    admin_first_name = models.CharField(max_length=100)
    admin_last_name = models.CharField(max_length=100)
    # Hashed when the request is made, so no raw password travels through the
    # queue; cleared once the admin account exists.
    admin_password_hash = models.CharField(max_length=255, blank=True)
    steps_done = models.JSONField(default=list, blank=True)
    schema_source = models.CharField(max_length=20, choices=SchemaSource.choices, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    timings_ms = models.JSONField(default=dict, blank=True)
    last_queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Provisioning of {self.institution_id}"
