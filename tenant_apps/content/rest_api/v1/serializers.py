"""Input and output shapes of the modules, content and progress API.

Outputs depend on who asks (context `audience`: "staff" or "student"; see
tenant_apps.content.selectors for the rules). Fields a caller may not see are
left out of the object, not nulled, and are optional in the schema.
"""

from datetime import UTC, datetime

from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.api import PersonWithEmailOutput
from tenant_apps.content.models import ContentType
from tenant_apps.content.selectors import progress_percent

STAFF = "staff"
STUDENT = "student"

STAFF_ONLY_MODULE = ("is_published", "publish_at", "created_at")
STAFF_ONLY_CONTENT = ("is_published", "created_at")
CONTENT_BODY = (
    "description",
    "content_url",
    "video_url",
    "document_url",
    "file_id",
    "interactive_content_id",
    "assignment_id",
    "quiz_id",
)


def _audience(serializer) -> str:
    return serializer.context.get("audience", STUDENT)


# --- modules ---


class ModuleOutput(serializers.Serializer):
    """A module. Students do not get is_published, publish_at, created_at;
    of a locked module they get no description either."""

    id = serializers.UUIDField()
    course_id = serializers.UUIDField()
    title = serializers.CharField()
    description = serializers.CharField(required=False)
    order_index = serializers.IntegerField()
    is_published = serializers.BooleanField(required=False)
    publish_at = serializers.DateTimeField(required=False, allow_null=True)
    unlock_at = serializers.DateTimeField(allow_null=True)
    locked = serializers.SerializerMethodField()
    item_count = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(required=False)
    updated_at = serializers.DateTimeField()

    def get_locked(self, module) -> bool:
        return module.unlock_at is not None and module.unlock_at > self.context["now"]

    def get_item_count(self, module) -> int:
        """Live items (staff) or published items (students)."""
        if _audience(self) == STAFF:
            return module.live_item_count
        return module.published_item_count

    def to_representation(self, module):
        data = super().to_representation(module)
        if _audience(self) != STAFF:
            for name in STAFF_ONLY_MODULE:
                data.pop(name)
            if data["locked"]:
                data.pop("description")
        return data


# Module datetimes stay in the range of course dates, where moving them for a
# course copy (by up to the span of that range) cannot leave Python's datetime.
FIRST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
LAST_MOMENT = datetime(2201, 1, 1, tzinfo=UTC)


class ModuleDateTimeField(serializers.DateTimeField):
    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not FIRST_MOMENT <= moment < LAST_MOMENT:
            raise serializers.ValidationError("Must be in the years 1900 to 2200.")
        return moment


class ModuleInput(KnownKeysSerializer):
    title = serializers.CharField(max_length=255)
    description = serializers.CharField(max_length=50_000, allow_blank=True, required=False)
    is_published = serializers.BooleanField(required=False)
    publish_at = ModuleDateTimeField(allow_null=True, required=False)
    unlock_at = ModuleDateTimeField(allow_null=True, required=False)


class ModuleReorderInput(KnownKeysSerializer):
    module_ids = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=True, max_length=1000
    )


class ModuleReorderOutput(serializers.Serializer):
    module_ids = serializers.ListField(child=serializers.UUIDField())


# --- content items ---


class ContentItemOutput(serializers.Serializer):
    """A content item. Students do not get is_published and created_at; of
    an item in a locked module they get the outline only (no description,
    URLs, file id or other references)."""

    id = serializers.UUIDField()
    module_id = serializers.UUIDField()
    title = serializers.CharField()
    content_type = serializers.ChoiceField(choices=ContentType.choices)
    description = serializers.CharField(required=False)
    content_url = serializers.CharField(required=False)
    video_url = serializers.CharField(required=False)
    document_url = serializers.CharField(required=False)
    file_id = serializers.UUIDField(required=False, allow_null=True)
    interactive_content_id = serializers.UUIDField(required=False, allow_null=True)
    assignment_id = serializers.UUIDField(required=False, allow_null=True)
    quiz_id = serializers.UUIDField(required=False, allow_null=True)
    order_index = serializers.IntegerField()
    duration_minutes = serializers.IntegerField(allow_null=True)
    is_required = serializers.BooleanField()
    is_published = serializers.BooleanField(required=False)
    locked = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(required=False)
    updated_at = serializers.DateTimeField()

    def get_locked(self, item) -> bool:
        """The item's module is locked (students get the outline only)."""
        return bool(self.context.get("module_locked", False))

    def to_representation(self, item):
        data = super().to_representation(item)
        if _audience(self) != STAFF:
            for name in STAFF_ONLY_CONTENT:
                data.pop(name)
            if data["locked"]:
                for name in CONTENT_BODY:
                    data.pop(name)
        return data


class ContentItemInput(KnownKeysSerializer):
    """Create: title and content_type required. Update (PUT or PATCH): any
    subset, and `module_id` to move the item to the end of another module of
    the same course."""

    module_id = serializers.UUIDField(required=False)
    title = serializers.CharField(max_length=255)
    content_type = serializers.ChoiceField(choices=ContentType.choices)
    description = serializers.CharField(max_length=50_000, allow_blank=True, required=False)
    content_url = serializers.URLField(max_length=2000, allow_blank=True, required=False)
    video_url = serializers.URLField(max_length=2000, allow_blank=True, required=False)
    document_url = serializers.URLField(max_length=2000, allow_blank=True, required=False)
    file_id = serializers.UUIDField(allow_null=True, required=False)
    interactive_content_id = serializers.UUIDField(allow_null=True, required=False)
    assignment_id = serializers.UUIDField(allow_null=True, required=False)
    quiz_id = serializers.UUIDField(allow_null=True, required=False)
    duration_minutes = serializers.IntegerField(
        min_value=0, max_value=100_000, allow_null=True, required=False
    )
    is_required = serializers.BooleanField(required=False)
    is_published = serializers.BooleanField(required=False)


class ContentReorderInput(KnownKeysSerializer):
    content_ids = serializers.ListField(
        child=serializers.UUIDField(), allow_empty=True, max_length=1000
    )


class ContentReorderOutput(serializers.Serializer):
    content_ids = serializers.ListField(child=serializers.UUIDField())


# --- progress ---


class ProgressInput(KnownKeysSerializer):
    """One report from a student's client. Time is reported as the seconds
    spent since the previous report (`time_spent_seconds_delta`), so reports
    add up whatever order they arrive in; each counts for at most an hour. The
    percentage never goes down; 100, or `completed: true`, completes the item
    for good (completion cannot be undone)."""

    completion_percentage = serializers.IntegerField(min_value=0, max_value=100, required=False)
    last_position = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    time_spent_seconds_delta = serializers.IntegerField(
        min_value=0, max_value=2_147_483_647, required=False
    )
    completed = serializers.BooleanField(required=False)

    def validate_completed(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError("Completion cannot be undone; send true or omit.")
        return value


class ProgressOutput(serializers.Serializer):
    content_id = serializers.UUIDField()
    completion_percentage = serializers.IntegerField()
    last_position = serializers.IntegerField(allow_null=True)
    is_completed = serializers.BooleanField()
    completed_at = serializers.DateTimeField(allow_null=True)
    time_spent_seconds = serializers.IntegerField()
    first_accessed_at = serializers.DateTimeField(allow_null=True)
    last_accessed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class ModuleProgressOutput(serializers.Serializer):
    module_id = serializers.UUIDField()
    title = serializers.CharField()
    order_index = serializers.IntegerField()
    locked = serializers.BooleanField()
    required_count = serializers.IntegerField()
    completed_count = serializers.IntegerField()
    percent = serializers.IntegerField(allow_null=True)
    time_spent_seconds = serializers.IntegerField()


class CourseProgressOutput(serializers.Serializer):
    """One student's progress in a course: required items completed, whole
    percent (null when nothing is required), time spent, per module."""

    user = PersonWithEmailOutput()
    required_count = serializers.IntegerField()
    completed_count = serializers.IntegerField()
    percent = serializers.IntegerField(allow_null=True)
    time_spent_seconds = serializers.IntegerField()
    last_accessed_at = serializers.DateTimeField(allow_null=True)
    modules = ModuleProgressOutput(many=True)


class RosterProgressOutput(serializers.Serializer):
    """One student's totals in the staff's list."""

    user = PersonWithEmailOutput(source="*")
    required_count = serializers.SerializerMethodField()
    completed_count = serializers.IntegerField()
    percent = serializers.SerializerMethodField()
    time_spent_seconds = serializers.IntegerField()
    last_accessed_at = serializers.DateTimeField(allow_null=True)

    def get_required_count(self, user) -> int:
        return self.context["required_count"]

    def get_percent(self, user) -> int | None:
        return progress_percent(user.completed_count, self.context["required_count"])


class RosterProgressPageOutput(serializers.Serializer):
    """Staff's view: every seated student's totals, paginated."""

    count = serializers.IntegerField()
    page = serializers.IntegerField()
    per_page = serializers.IntegerField()
    results = RosterProgressOutput(many=True)
