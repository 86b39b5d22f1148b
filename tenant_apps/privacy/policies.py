"""Who may do what with data rights."""

from tenant_apps.accounts.api import is_active_member, is_institution_admin

from .models import DataExport

ERASED_DOMAIN = "erased.invalid"


def erased_email(user_id) -> str:
    """The address an erased user's row keeps: unique, and reserved (.invalid)
    so it can never receive mail nor belong to anyone."""
    return f"erased-{user_id}@{ERASED_DOMAIN}"


def is_erased(user) -> bool:
    return user.email == erased_email(user.pk)


def can_export_own_data(user) -> bool:
    """Any active member, whatever their role."""
    return is_active_member(user)


def can_manage_data_rights(actor) -> bool:
    """Exporting another user's data, erasing a user, the data policy: the
    institution's admins."""
    return is_institution_admin(actor)


def can_download_export(user, export: DataExport) -> bool:
    """The person the export is about; and the admin who asked for it, while
    they are still an admin (another admin cannot pick it up)."""
    if not is_active_member(user):
        return False
    if export.user_id == user.pk:
        return True
    return export.requested_by_id == user.pk and is_institution_admin(user)
