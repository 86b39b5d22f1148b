"""Who may do what with accounts. Views and DRF permissions call these; nothing
else decides."""

from rest_framework.permissions import BasePermission

from .models import Role, SecurityPolicy, User


def is_active_member(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and not user.is_suspended
        and user.deleted_at is None
    )


def is_institution_admin(user) -> bool:
    return is_active_member(user) and user.role == Role.ADMIN


def can_view_user_profile(user, target: User) -> bool:
    """Every member sees another member's public card; admins see everything."""
    return (is_active_member(user) and target.deleted_at is None) or is_institution_admin(user)


def can_manage_user(user, target: User) -> bool:
    return is_institution_admin(user)


def can_invite_users(user) -> bool:
    return is_institution_admin(user)


def can_sign_in(user) -> bool:
    return user.is_active and not user.is_suspended and user.deleted_at is None


def mfa_required(user, policy: SecurityPolicy) -> bool:
    return user.role in policy.mfa_required_roles


class IsInstitutionAdmin(BasePermission):
    """DRF: the caller is an active admin of this institution."""

    def has_permission(self, request, view) -> bool:
        return is_institution_admin(request.user)


class IsActiveMember(BasePermission):
    """DRF: the caller is an active (not suspended, not deleted) user here."""

    def has_permission(self, request, view) -> bool:
        return is_active_member(request.user)
