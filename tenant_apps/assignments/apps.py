from django.apps import AppConfig


class AssignmentsConfig(AppConfig):
    name = "tenant_apps.assignments"
    label = "assignments"
    default_auto_field = "django.db.models.BigAutoField"
