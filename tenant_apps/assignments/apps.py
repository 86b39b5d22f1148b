from django.apps import AppConfig


class AssignmentsConfig(AppConfig):
    name = "tenant_apps.assignments"
    label = "assignments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tenant_apps.courses.api import course_copy_step_register

        from .copying import assignments_copy

        course_copy_step_register(assignments_copy, order=20)
