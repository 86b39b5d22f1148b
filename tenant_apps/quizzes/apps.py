from django.apps import AppConfig


class QuizzesConfig(AppConfig):
    name = "tenant_apps.quizzes"
    label = "quizzes"
    default_auto_field = "django.db.models.BigAutoField"
