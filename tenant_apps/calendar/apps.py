"""Calendar events, recurrence, due dates and iCal feeds."""

from django.apps import AppConfig


class CalendarConfig(AppConfig):
    name = "tenant_apps.calendar"
    label = "calendar"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy

        user_data_section_register(
            "calendar", export=privacy.calendar_export, erase=privacy.calendar_erase, order=70
        )
