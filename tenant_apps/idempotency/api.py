"""What other apps may use of idempotency keys."""

from .services import idempotency_records_expired_purge, idempotent

__all__ = ["idempotency_records_expired_purge", "idempotent"]
