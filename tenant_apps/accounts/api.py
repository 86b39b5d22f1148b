"""What other apps may use of accounts."""

from .models import Role, User
from .policies import IsActiveMember, IsInstitutionAdmin
from .services import user_ensure

__all__ = ["IsActiveMember", "IsInstitutionAdmin", "Role", "User", "user_ensure"]
