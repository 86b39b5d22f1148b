"""Users of one institution (or, in the public schema, operator staff)."""

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils.crypto import salted_hmac


class Role(models.TextChoices):
    STUDENT = "student", "Student"
    TA = "ta", "Teaching assistant"
    INSTRUCTOR = "instructor", "Instructor"
    ADMIN = "admin", "Institution administrator"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(email=username.strip().lower())

    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        user.email_address_sync()
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.setdefault("role", Role.ADMIN)
        return self.create_user(email, password, is_staff=True, is_superuser=True, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=255, unique=True, help_text="Stored lowercased.")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.STUDENT)
    student_id = models.CharField(max_length=50, null=True, blank=True, unique=True)
    employee_id = models.CharField(max_length=50, null=True, blank=True, unique=True)
    phone = models.CharField(max_length=20, blank=True)
    profile_image_url = models.URLField(blank=True)
    bio = models.TextField(blank=True)
    timezone = models.CharField(max_length=50, default="UTC")
    locale = models.CharField(max_length=10, default="en-US")
    email_verified = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_suspended = models.BooleanField(default=False)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    sessions_revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Sessions and API tokens from before this moment no longer sign in.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["role"], name="accounts_user_role_idx")]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        # One account per address whatever its case: addresses are stored lowercased.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def _get_session_auth_hash(self, secret=None):
        # Django signs every session with a hash of the password, so changing
        # the password ends the user's sessions. Revocation (suspension, soft
        # delete) moves `sessions_revoked_at` forward and so ends them too,
        # for good: lifting a suspension does not bring old sessions back.
        if self.sessions_revoked_at is None:
            return super()._get_session_auth_hash(secret=secret)
        key_salt = "tenant_apps.accounts.User.get_session_auth_hash"
        value = f"{self.password}:{self.sessions_revoked_at.isoformat()}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    def email_address_sync(self) -> None:
        """allauth keeps addresses and their verification in its own table; the
        user's email and `email_verified` are mirrored there as the primary one."""
        from allauth.account.models import EmailAddress

        EmailAddress.objects.update_or_create(
            user=self,
            email=self.email,
            defaults={"primary": True, "verified": self.email_verified},
        )

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name


# One flag per kind in NOTIFICATION_KINDS (rest_api/v1/serializers.py); a
# missing flag means yes to notifications' delivery. "digest" is the weekly
# summary email, so only the email flags have it.
def _push_notification_defaults() -> dict:
    return {
        "assignments": True,
        "grades": True,
        "announcements": True,
        "messages": True,
        "discussions": True,
        "enrollment": True,
    }


def _email_notification_defaults() -> dict:
    return {**_push_notification_defaults(), "digest": True}


def _ui_defaults() -> dict:
    return {"theme": "light", "language": "en"}


def _privacy_defaults() -> dict:
    return {"show_email": False, "show_phone": False}


class UserPreferences(models.Model):
    """The design document's user_preferences: one row per user, created on first read."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="preferences"
    )
    email_notifications = models.JSONField(default=_email_notification_defaults)
    push_notifications = models.JSONField(default=_push_notification_defaults)
    ui_preferences = models.JSONField(default=_ui_defaults)
    privacy_settings = models.JSONField(default=_privacy_defaults)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "user preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user_id}"


class SecurityPolicy(models.Model):
    """How people sign in to this institution. One row per schema (pk 1).

    It lives in the institution's own schema, beside the users it governs, and
    is edited by the institution's admins.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    allow_self_registration = models.BooleanField(
        default=False, help_text="Anyone may create an account from the sign-up page."
    )
    self_registration_domains = models.JSONField(
        default=list,
        blank=True,
        help_text="If not empty, self-registration only for these email domains.",
    )
    password_login_enabled = models.BooleanField(
        default=True, help_text="Off: SSO only; passwords are refused for everyone."
    )
    mfa_required_roles = models.JSONField(
        default=list, blank=True, help_text="Roles that must set up MFA before using the site."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="securitypolicy_single_row")
        ]

    def __str__(self) -> str:
        return "Security policy"


class Invitation(models.Model):
    """An admin's invitation to join the institution. Only the key's hash is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=255)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.STUDENT)
    key_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one open invitation per address.
            models.UniqueConstraint(
                fields=["email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"
