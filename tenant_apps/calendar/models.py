"""Calendar events (the design document's calendar_events), the changed or
cancelled occurrences of recurring ones, and each person's secret iCal feed.

Departures from the design document, and why:
- `timezone` (an IANA name) is stored with each event: a recurring event is
  expanded in that zone's wall-clock time, so a weekly 09:00 lecture stays at
  09:00 when the clocks change. `start_date`/`end_date` are aware, stored UTC.
- `recurrence_rule` is one RFC 5545 RRULE, stored normalised (no "RRULE:"
  prefix, UNTIL in UTC); "" means a single event. See recurrence.py.
- `course` null is a personal event, seen only by its creator.
- `event_type` 'assignment' is not stored: assignment and quiz due dates come
  from the assignments and quizzes themselves (never a copy that could drift).
- One occurrence's change or cancellation is a `CalendarEventOverride` keyed by
  the occurrence's original start (iCal's RECURRENCE-ID), not a copied event.
- `last_ends_at` (computed by the services) is when the series' last
  occurrence ends, null for an endless one: reads filter on it.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class EventType(models.TextChoices):
    LECTURE = "lecture", "Lecture"
    EXAM = "exam", "Exam"
    DEADLINE = "deadline", "Deadline"
    CUSTOM = "custom", "Custom"


class CalendarEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(
        "courses.Course",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_events",
        help_text="Null: a personal event of its creator.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calendar_events_created",
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, help_text="Plain text, never rendered as HTML.")
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    start_date = models.DateTimeField(help_text="The first occurrence's start.")
    end_date = models.DateTimeField(null=True, blank=True)
    location = models.CharField(max_length=255, blank=True)
    is_all_day = models.BooleanField(default=False)
    recurrence_rule = models.TextField(blank=True, help_text="An RRULE, normalised; empty: once.")
    timezone = models.CharField(max_length=64, help_text="IANA name; recurrence is local to it.")
    last_ends_at = models.DateTimeField(
        null=True, blank=True, help_text="The last occurrence's end; null: endless."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="calendar_events_end_after_start",
                violation_error_message="An event must end after it starts.",
            ),
        ]
        indexes = [
            models.Index(fields=["course", "start_date"], name="calendar_events_course_idx"),
            models.Index(
                fields=["created_by", "start_date"],
                condition=Q(course__isnull=True),
                name="calendar_events_personal_idx",
            ),
            models.Index(fields=["start_date", "last_ends_at"], name="calendar_events_dates_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_recurring(self) -> bool:
        return bool(self.recurrence_rule)


class CalendarEventOverride(models.Model):
    """One occurrence of a recurring event, changed or cancelled. Fields left
    null keep the series' values; `original_start` (UTC) names the occurrence
    as the series would place it."""

    event = models.ForeignKey(CalendarEvent, on_delete=models.CASCADE, related_name="overrides")
    original_start = models.DateTimeField()
    cancelled = models.BooleanField(default=False)
    # Null, not "", means "as the series": an occurrence may be given an empty location.
    title = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    description = models.TextField(null=True, blank=True)  # noqa: DJ001
    location = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "event", "original_start", name="calendar_overrides_one_per_occurrence"
            ),
        ]
        indexes = [
            models.Index(fields=["start_date"], name="calendar_overrides_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} at {self.original_start:%Y-%m-%dT%H:%M:%SZ}"


class CalendarFeed(models.Model):
    """A person's secret iCal feed: only the SHA-256 of its token is kept, so
    the URL is shown once, when made; making a new one replaces the old."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id}"
