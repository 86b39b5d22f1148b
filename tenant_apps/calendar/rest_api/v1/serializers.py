"""Input and output shapes of the calendar API."""

from datetime import UTC

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.accounts.api import PersonOutput
from tenant_apps.calendar.models import CalendarEvent, CalendarEventOverride, EventType
from tenant_apps.calendar.recurrence import MAX_RULE_LENGTH
from tenant_apps.calendar.selectors import KIND_ASSIGNMENT, KIND_EVENT, KIND_QUIZ
from tenant_apps.calendar.services import EDITABLE, Scope

ITEM_TYPES = [*EventType.values, KIND_ASSIGNMENT, KIND_QUIZ]
KINDS = [KIND_EVENT, KIND_ASSIGNMENT, KIND_QUIZ]
SUBMISSION_STATUSES = ["not_submitted", "in_progress", "submitted", "late", "graded"]


class WallDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time; one without an offset (or a bare date) is read as
    wall-clock time in the event's time zone, so it is kept naive here."""

    def enforce_timezone(self, value):
        if value.tzinfo is None or value.utcoffset() is None:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError:
            self.fail("invalid", format="ISO 8601")


class UTCDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time; without an offset, UTC."""

    def enforce_timezone(self, value):
        try:
            if value.tzinfo is None or value.utcoffset() is None:
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        except OverflowError:
            self.fail("invalid", format="ISO 8601")


_WALL_HELP = (
    "ISO 8601. Without an offset (or a bare date), wall-clock time in the event's time zone."
)


class EventChangeInput(KnownKeysSerializer):
    """An event's fields as its editors write them. Unknown keys are refused."""

    title = serializers.CharField(max_length=255)
    description = serializers.CharField(
        max_length=10_000,
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        help_text="Plain text; never rendered as HTML by the server.",
    )
    event_type = serializers.ChoiceField(
        choices=EventType.choices,
        help_text="Assignment and quiz due dates are not events: they appear by themselves.",
    )
    start_date = WallDateTimeField(help_text=_WALL_HELP)
    end_date = WallDateTimeField(
        required=False, allow_null=True, help_text=_WALL_HELP + " Later than the start."
    )
    location = serializers.CharField(max_length=255, allow_blank=True, required=False)
    is_all_day = serializers.BooleanField(
        required=False,
        help_text="Whole local days: from the start's date to the end's (exclusive at "
        "midnight), one day without an end.",
    )
    recurrence_rule = serializers.CharField(
        max_length=MAX_RULE_LENGTH,
        allow_blank=True,
        required=False,
        help_text="An RFC 5545 RRULE (FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261220), repeating at "
        "most daily; the start must be its first occurrence. Empty: once.",
    )
    timezone = serializers.CharField(
        max_length=64,
        required=False,
        help_text="IANA name (Europe/Berlin); the series repeats on its wall clock. "
        "Default: the institution's.",
    )


class EventCreateInput(EventChangeInput):
    course_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Empty: a personal event of the caller."
    )


class EventScopeQuery(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=Scope.CHOICES,
        required=False,
        default=Scope.ALL,
        help_text="For a recurring event: this occurrence, this and the following ones "
        "(the series is split there), or all of them (the default).",
    )
    occurrence = UTCDateTimeField(
        required=False,
        help_text="The occurrence's original start (`original_start` in lists); "
        "needed for scope=this and following.",
    )


class CalendarRangeQuery(serializers.Serializer):
    start = UTCDateTimeField(help_text="From this time (ISO 8601; UTC without an offset).")
    end = UTCDateTimeField(help_text="Up to this time, at most 366 days after start.")
    course = serializers.UUIDField(
        required=False, help_text="Only this course's events and due dates."
    )
    type = serializers.ChoiceField(choices=ITEM_TYPES, required=False)


class UpcomingQuery(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=60, default=7, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50, required=False)
    course = serializers.UUIDField(required=False)


class CalendarItemOutput(serializers.Serializer):
    """One entry of a calendar. Events: `id` is the event's id; a recurring
    event's occurrence is named by `original_start` (pass it as
    `occurrence` to change or cancel just that one). Due dates of
    assignments and quizzes are read-only: `id` is "assignment:{id}" or
    "quiz:{id}", `source_id` the assignment's or quiz's id, and a student sees
    where they stand in `submission_status`."""

    id = serializers.CharField()
    # Plain strings, not enums: the schema already has enums of these names
    # with other values (the event types one may write; other apps' kinds).
    kind = serializers.CharField(help_text=f"One of: {', '.join(KINDS)}.")
    event_id = serializers.UUIDField(allow_null=True)
    source_id = serializers.UUIDField(allow_null=True)
    course_id = serializers.UUIDField(allow_null=True)
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    event_type = serializers.CharField(
        help_text=f"One of: {', '.join(ITEM_TYPES)} (the last two for due dates)."
    )
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(allow_null=True)
    is_all_day = serializers.BooleanField()
    location = serializers.CharField(allow_blank=True)
    timezone = serializers.CharField()
    original_start = serializers.DateTimeField(
        allow_null=True, help_text="A recurring event's occurrence as the series places it."
    )
    is_recurring = serializers.BooleanField()
    is_override = serializers.BooleanField(help_text="This occurrence was changed on its own.")
    can_edit = serializers.BooleanField()
    submission_status = serializers.ChoiceField(
        choices=SUBMISSION_STATUSES,
        allow_null=True,
        help_text="Students only: their standing on the assignment or quiz.",
    )


class EventOverrideOutput(serializers.ModelSerializer):
    class Meta:
        model = CalendarEventOverride
        fields = [
            "original_start",
            "cancelled",
            "title",
            "description",
            "location",
            "start_date",
            "end_date",
            "updated_at",
        ]
        read_only_fields = fields


class EventOutput(serializers.ModelSerializer):
    """An event (a series, for a recurring one) with its changed and cancelled
    occurrences."""

    course_id = serializers.UUIDField(read_only=True, allow_null=True)
    created_by = PersonOutput(read_only=True, allow_null=True)
    overrides = EventOverrideOutput(many=True, read_only=True)
    can_edit = serializers.SerializerMethodField()

    class Meta:
        model = CalendarEvent
        # Every field its editors may write (services.EDITABLE), and what they may not.
        fields = [
            "id",
            "course_id",
            *EDITABLE,
            "created_by",
            "overrides",
            "can_edit",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_can_edit(self, event) -> bool:
        return bool(self.context.get("can_edit", False))


class FeedStatusOutput(serializers.Serializer):
    exists = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True)
    last_fetched_at = serializers.DateTimeField(
        allow_null=True, help_text="When a calendar program last read it (to 15 minutes)."
    )


class FeedCreatedOutput(serializers.Serializer):
    url = serializers.URLField(help_text="Shown once: only a hash of its secret is kept.")
    webcal_url = serializers.CharField(help_text="The same, for one-click subscription.")
    created_at = serializers.DateTimeField()
