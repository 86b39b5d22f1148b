from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "tenant_apps.idempotency"
    label = "idempotency"
    default_auto_field = "django.db.models.BigAutoField"
