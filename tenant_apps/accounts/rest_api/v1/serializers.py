"""Input and output shapes of the users API."""

import re
import zoneinfo
from functools import cache

from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.models import Role, User

LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2}|-[A-Z][a-z]{3})?$")


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class UserOutput(serializers.ModelSerializer):
    """Everything about a user: for the user themself and for admins."""

    # A URL or "" (none): the model's URLField would document a URI only.
    profile_image_url = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "role",
            "student_id",
            "employee_id",
            "phone",
            "profile_image_url",
            "bio",
            "timezone",
            "locale",
            "email_verified",
            "is_active",
            "is_suspended",
            "last_login",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        read_only_fields = fields


class PersonOutput(serializers.Serializer):
    """A user as other apps name one in their answers (an instructor, an
    author): id and name only."""

    id = serializers.UUIDField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class PersonWithEmailOutput(PersonOutput):
    """A user as course staff see one in a roster or a list of readers."""

    email = serializers.EmailField()


class UserCardOutput(serializers.Serializer):
    """What any member of the institution may see of another: no ids, and email
    and phone only where the user's privacy settings show them."""

    id = serializers.UUIDField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField()
    profile_image_url = serializers.CharField()
    bio = serializers.CharField()

    def to_representation(self, user):
        data = super().to_representation(user)
        privacy = self.context["privacy"]
        if privacy.get("show_email"):
            data["email"] = user.email
        if privacy.get("show_phone"):
            data["phone"] = user.phone
        return data


class UserProfileOutput(UserCardOutput):
    """The schema of GET /users/{id}/ (documentation only): the card's fields
    always, email and phone where the user's privacy settings show them, and
    every field of UserOutput for admins and for the user themself."""

    email = serializers.EmailField(required=False)
    phone = serializers.CharField(required=False)
    student_id = serializers.CharField(required=False, allow_null=True)
    employee_id = serializers.CharField(required=False, allow_null=True)
    timezone = serializers.CharField(required=False)
    locale = serializers.CharField(required=False)
    email_verified = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    is_suspended = serializers.BooleanField(required=False)
    last_login = serializers.DateTimeField(required=False, allow_null=True)
    created_at = serializers.DateTimeField(required=False)
    updated_at = serializers.DateTimeField(required=False)
    deleted_at = serializers.DateTimeField(required=False, allow_null=True)


class ProfileInput(serializers.Serializer):
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    phone = serializers.CharField(max_length=20, allow_blank=True)
    profile_image_url = serializers.URLField(max_length=200, allow_blank=True)
    bio = serializers.CharField(max_length=5000, allow_blank=True)
    timezone = serializers.CharField(max_length=50)
    locale = serializers.CharField(max_length=10)

    def validate_timezone(self, value: str) -> str:
        if value not in _timezones():
            raise serializers.ValidationError("Not an IANA time zone, e.g. 'Europe/Paris'.")
        return value

    def validate_locale(self, value: str) -> str:
        if not LOCALE.match(value):
            raise serializers.ValidationError("Not a locale tag, e.g. 'en-US' or 'fr'.")
        return value


class AdminUserInput(ProfileInput):
    role = serializers.ChoiceField(choices=Role.choices)
    student_id = serializers.CharField(max_length=50, allow_null=True, allow_blank=True)
    employee_id = serializers.CharField(max_length=50, allow_null=True, allow_blank=True)
    is_suspended = serializers.BooleanField()

    def _unique(self, field: str, value):
        if not value:
            return None  # blank means "none": the column is unique where set
        taken = User.objects.filter(**{field: value}).exclude(pk=self.context["user"].pk)
        if taken.exists():
            raise serializers.ValidationError("Another user already has this id.")
        return value

    def validate_student_id(self, value):
        return self._unique("student_id", value)

    def validate_employee_id(self, value):
        return self._unique("employee_id", value)


# The kinds of notification a user can switch per channel (email, push).
NOTIFICATION_KINDS = (
    "assignments",
    "grades",
    "announcements",
    "messages",
    "discussions",
    "enrollment",
    "digest",
)


class _Flags(serializers.DictField):
    """An object of known names → booleans; anything else is a field error."""

    child = serializers.BooleanField()

    def __init__(self, *, names, **kwargs):
        super().__init__(**kwargs)
        self.names = names

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(self.names))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown keys {unknown}; allowed: {', '.join(self.names)}."
            )
        return value


class UiPreferencesInput(KnownKeysSerializer):
    unknown_key_message = "Unknown preference."

    theme = serializers.ChoiceField(choices=["light", "dark", "system"], required=False)
    language = serializers.CharField(max_length=10, required=False)

    def validate_language(self, value: str) -> str:
        if not LOCALE.match(value):
            raise serializers.ValidationError("Not a language tag, e.g. 'en'.")
        return value


class PreferencesInput(serializers.Serializer):
    email_notifications = _Flags(names=NOTIFICATION_KINDS)
    push_notifications = _Flags(names=NOTIFICATION_KINDS)
    ui_preferences = UiPreferencesInput()
    privacy_settings = _Flags(names=("show_email", "show_phone"))


class PreferencesOutput(serializers.Serializer):
    email_notifications = serializers.DictField()
    push_notifications = serializers.DictField()
    ui_preferences = serializers.DictField()
    privacy_settings = serializers.DictField()
    updated_at = serializers.DateTimeField()
