from django.apps import AppConfig


class AssignmentsConfig(AppConfig):
    name = "tenant_apps.assignments"
    label = "assignments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tenant_apps.courses.api import course_copy_step_register
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy
        from .copying import assignments_copy

        course_copy_step_register(assignments_copy, order=20)
        user_data_section_register(
            "submissions",
            export=privacy.submissions_export,
            erase=privacy.submissions_erase,
            order=20,
        )
