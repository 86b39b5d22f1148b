"""What other apps may use of modules, content and progress."""

from .models import ContentItem, ContentType, Module
from .selectors import content_item_is_open, student_visible_items
from .services import content_item_create, module_create

__all__ = [
    "ContentItem",
    "ContentType",
    "Module",
    "content_item_create",
    "content_item_is_open",
    "module_create",
    "student_visible_items",
]
