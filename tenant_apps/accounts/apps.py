from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tenant_apps.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.privacy.api import user_data_section_register

        from . import (
            privacy,
            receivers,  # noqa: F401  (connects the audit receivers)
        )

        user_data_section_register(
            "account", export=privacy.account_export, erase=privacy.account_erase, order=1000
        )
