"""Reads of accounts."""

from django.db.models import Q, QuerySet

from .models import SecurityPolicy, User, UserPreferences


def security_policy() -> SecurityPolicy:
    """This institution's policy; the defaults until an admin saves one."""
    return SecurityPolicy.objects.get_or_create(pk=1)[0]


def user_preferences(user: User) -> UserPreferences:
    return UserPreferences.objects.get_or_create(user=user)[0]


def user_privacy(user: User) -> dict:
    """The user's privacy settings, without creating their preferences row."""
    preferences = UserPreferences.objects.filter(user=user).first()
    return (preferences or UserPreferences(user=user)).privacy_settings


def user_list(*, include_deleted: bool = False) -> QuerySet[User]:
    users = User.objects.all()
    if not include_deleted:
        users = users.filter(deleted_at__isnull=True)
    return users


def user_search(users: QuerySet[User], search: str) -> QuerySet[User]:
    """Users whose name or email contains every word, or whose id is one."""
    for term in search.split():
        users = users.filter(
            Q(email__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
            | Q(student_id__iexact=term)
            | Q(employee_id__iexact=term)
        )
    return users
