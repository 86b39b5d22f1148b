from django.apps import AppConfig


class QuizzesConfig(AppConfig):
    name = "tenant_apps.quizzes"
    label = "quizzes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tenant_apps.courses.api import course_copy_step_register

        from .copying import quizzes_copy

        course_copy_step_register(quizzes_copy, order=30)
