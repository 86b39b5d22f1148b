"""What other apps may use of accounts."""

from .models import Role, User
from .policies import IsActiveMember, IsInstitutionAdmin, is_active_member, is_institution_admin
from .rest_api.v1.serializers import PersonOutput, PersonWithEmailOutput
from .services import user_ensure

__all__ = [
    "IsActiveMember",
    "IsInstitutionAdmin",
    "PersonOutput",
    "PersonWithEmailOutput",
    "Role",
    "User",
    "is_active_member",
    "is_institution_admin",
    "user_ensure",
]
