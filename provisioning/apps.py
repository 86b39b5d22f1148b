from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Bind @shared_task to our Celery app in every process (web included):
        # platform/ has no __init__.py to do it (see setup.py).
        import conceptspro.celery  # noqa: F401
