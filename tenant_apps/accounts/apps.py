from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tenant_apps.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the audit receivers)
