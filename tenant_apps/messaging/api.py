"""What other apps may use of messaging."""

from .selectors import conversation_unread_totals

__all__ = ["conversation_unread_totals"]
