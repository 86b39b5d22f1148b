from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "tenant_apps.courses"
    label = "courses"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy

        user_data_section_register(
            "courses", export=privacy.courses_export, erase=privacy.courses_erase, order=10
        )
