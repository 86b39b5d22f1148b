from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "tenant_apps.files"
    label = "files"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.privacy.api import user_data_section_register

        from . import privacy

        user_data_section_register(
            "files",
            export=privacy.files_export,
            erase=privacy.files_erase,
            files=privacy.files_export_files,
            order=80,
        )
