from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "tenant_apps.activity"
    label = "activity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy

        user_data_section_register(
            "activity", export=privacy.activity_export, erase=privacy.activity_erase, order=60
        )
