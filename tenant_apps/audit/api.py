"""What other apps may use of the audit trail."""

from .models import AuditEventType
from .services import audit_record, client_ip

__all__ = ["AuditEventType", "audit_record", "client_ip"]
