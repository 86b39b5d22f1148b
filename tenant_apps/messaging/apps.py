from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "tenant_apps.messaging"
    label = "messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_apps.files.api import file_read_grant_register
        from tenant_apps.privacy.api import user_data_section_register

        from .policies import can_read_attached_file
        from .selectors import user_messaging_data
        from .services import user_messages_erase

        user_data_section_register(
            "messages", export=user_messaging_data, erase=user_messages_erase
        )
        # A message's readers may read its attachments through the files API.
        file_read_grant_register(can_read_attached_file)
