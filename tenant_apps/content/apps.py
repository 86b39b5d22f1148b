from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "tenant_apps.content"
    label = "content"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tenant_apps.courses.api import course_copy_step_register
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy
        from .copying import content_references_remap, modules_copy

        course_copy_step_register(modules_copy, order=10)
        course_copy_step_register(content_references_remap, order=40)
        user_data_section_register(
            "content", export=privacy.content_export, erase=privacy.content_erase, order=40
        )
