"""Audit events: append-only rows, kept when the users they name are deleted."""

import uuid

from django.conf import settings
from django.db import models


class AuditEventType(models.TextChoices):
    LOGIN_SUCCEEDED = "login.succeeded", "Signed in"
    LOGIN_FAILED = "login.failed", "Sign-in failed"
    LOCKOUT = "login.locked_out", "Locked out after repeated failures"
    LOGOUT = "logout", "Signed out"
    SSO_LOGIN = "sso.login", "Signed in with SSO"
    SSO_ACCOUNT_CREATED = "sso.account_created", "Account created by SSO"
    MFA_ENABLED = "mfa.enabled", "MFA method added"
    MFA_DISABLED = "mfa.disabled", "MFA method removed"
    MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated", "Recovery codes regenerated"
    MFA_FAILED = "mfa.failed", "MFA code refused"
    PASSWORD_CHANGED = "password.changed", "Password changed"
    PASSWORD_RESET = "password.reset", "Password reset"
    EMAIL_VERIFIED = "email.verified", "Email address verified"
    ROLE_CHANGED = "user.role_changed", "Role changed"
    USER_CREATED = "user.created", "User created"
    USER_UPDATED = "user.updated", "User updated"
    USER_DELETED = "user.deleted", "User deleted"
    INVITATION_SENT = "invitation.sent", "Invitation sent"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    INVITATION_REVOKED = "invitation.revoked", "Invitation revoked"
    POLICY_CHANGED = "policy.changed", "Security policy changed"
    IDP_CHANGED = "idp.changed", "Identity provider changed"
    TOKEN_REFRESH_REUSED = "token.refresh_reused", "Revoked refresh token presented"
    USER_ERASED = "user.erased", "User erased (personal data removed)"
    DATA_EXPORT_REQUESTED = "data_export.requested", "Data export of a user requested"
    DATA_POLICY_CHANGED = "data_policy.changed", "Data policy changed"


class AuditEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    event = models.CharField(max_length=50, choices=AuditEventType.choices)
    # Who did it (None: anonymous or the system) and whom it concerns.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The address as given (a failed sign-in may name no account at all).
    email = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["event", "-created_at"], name="audit_event_time_idx"),
            models.Index(fields=["target", "-created_at"], name="audit_target_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.email}"
