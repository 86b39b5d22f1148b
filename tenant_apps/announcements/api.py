"""What other apps may use of announcements."""

from .services import announcement_create

__all__ = ["announcement_create"]
