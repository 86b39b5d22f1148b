from django.apps import AppConfig


class QuizzesConfig(AppConfig):
    name = "tenant_apps.quizzes"
    label = "quizzes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tenant_apps.courses.api import course_copy_step_register
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy
        from .copying import quizzes_copy

        course_copy_step_register(quizzes_copy, order=30)
        user_data_section_register(
            "quiz_attempts",
            export=privacy.quiz_attempts_export,
            erase=privacy.quiz_attempts_erase,
            order=30,
        )
