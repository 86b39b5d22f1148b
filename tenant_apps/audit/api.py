"""What other apps may use of the audit trail."""

from .models import AuditEventType
from .services import (
    audit_event_build,
    audit_record,
    audit_record_many,
    client_ip,
    client_user_agent,
)

__all__ = [
    "AuditEventType",
    "audit_event_build",
    "audit_record",
    "audit_record_many",
    "client_ip",
    "client_user_agent",
]
