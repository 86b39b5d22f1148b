"""What other apps may use of modules, content and progress."""

from .models import ContentItem, ContentProgress, ContentType, Module
from .services import content_item_create, module_create

__all__ = [
    "ContentItem",
    "ContentProgress",
    "ContentType",
    "Module",
    "content_item_create",
    "module_create",
]
