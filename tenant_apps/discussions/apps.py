"""Course discussion forums and their posts."""

from django.apps import AppConfig


class DiscussionsConfig(AppConfig):
    name = "tenant_apps.discussions"
    label = "discussions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.courses.api import course_copy_step_register
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy
        from .copying import forums_copy

        course_copy_step_register(forums_copy, order=50)
        user_data_section_register(
            "discussions",
            export=privacy.discussions_export,
            erase=privacy.discussions_erase,
            order=55,
        )
