from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "tenant_apps.grading"
    label = "grading"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tenant_apps.courses.api import course_copy_step_register
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy
        from .copying import grading_setup_copy

        course_copy_step_register(grading_setup_copy, order=15)
        user_data_section_register(
            "grades", export=privacy.grades_export, erase=privacy.grades_erase, order=40
        )
