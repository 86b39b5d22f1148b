"""What other apps may use of privacy (data rights)."""

from .policies import erased_email, is_erased
from .registry import ExportFile, user_data_section_register
from .selectors import data_policy

__all__ = [
    "ExportFile",
    "data_policy",
    "erased_email",
    "is_erased",
    "user_data_section_register",
]
