"""What other apps may use of accounts."""

from .models import Role, User, UserPreferences
from .policies import IsActiveMember, IsInstitutionAdmin, is_active_member, is_institution_admin
from .rest_api.v1.serializers import PersonOutput, PersonWithEmailOutput, UserOutput
from .services import expired_credentials_purge, user_ensure

__all__ = [
    "IsActiveMember",
    "IsInstitutionAdmin",
    "PersonOutput",
    "PersonWithEmailOutput",
    "Role",
    "User",
    "UserOutput",
    "UserPreferences",
    "expired_credentials_purge",
    "is_active_member",
    "is_institution_admin",
    "user_ensure",
]
