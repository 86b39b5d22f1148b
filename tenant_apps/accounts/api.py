"""What other apps may use of accounts."""

from .models import Role, User
from .services import user_ensure

__all__ = ["Role", "User", "user_ensure"]
