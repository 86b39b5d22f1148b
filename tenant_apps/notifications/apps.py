from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "tenant_apps.notifications"
    label = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.privacy.api import user_data_section_register

        from . import selectors, services

        def erase(user, *, keep_academic_records: bool) -> None:
            services.notifications_erase(user=user)

        user_data_section_register(
            "notifications", export=selectors.notifications_export, erase=erase
        )
