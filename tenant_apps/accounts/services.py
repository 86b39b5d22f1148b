"""Writes of accounts."""

from django.db import transaction

from .models import Role, User


@transaction.atomic
def user_ensure(
    *,
    email: str,
    first_name: str,
    last_name: str,
    role: str = Role.STUDENT,
    password: str | None = None,
    password_hash: str | None = None,
) -> tuple[User, bool]:
    """The user with this email in the current schema, created if missing.

    Idempotent, so provisioning can run it again after a failure. Pass either a
    raw `password` or an already hashed `password_hash` (provisioning hashes in
    the request so that no raw password travels through the task queue).
    """
    existing = User.objects.filter(email=email.strip().lower()).first()
    if existing is not None:
        return existing, False
    user = User(
        email=User.objects.normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        role=role,
        email_verified=True,
    )
    if password_hash is not None:
        user.password = password_hash
    else:
        user.set_password(password)
    user.save()
    return user, True
