from django.apps import AppConfig


class AnnouncementsConfig(AppConfig):
    name = "tenant_apps.announcements"
    label = "announcements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy

        user_data_section_register(
            "announcements",
            export=privacy.announcements_export,
            erase=privacy.announcements_erase,
            order=50,
        )
