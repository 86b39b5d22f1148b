"""What other apps may use of idempotency keys."""

from .services import idempotent

__all__ = ["idempotent"]
