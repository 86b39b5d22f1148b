"""What calendar holds of a person, for their data export and erasure: their
personal events (with their changed and cancelled occurrences), the course
events they made, and whether they have an iCal feed (never its secret)."""

from .models import CalendarEvent, CalendarFeed


def _event(event: CalendarEvent) -> dict:
    return {
        "id": event.pk,
        "course_code": event.course.code if event.course_id else None,
        "title": event.title,
        "description": event.description,
        "event_type": event.event_type,
        "start_date": event.start_date,
        "end_date": event.end_date,
        "location": event.location,
        "is_all_day": event.is_all_day,
        "recurrence_rule": event.recurrence_rule,
        "timezone": event.timezone,
        "created_at": event.created_at,
        "updated_at": event.updated_at,
        "occurrences_changed": [
            {
                "original_start": o.original_start,
                "cancelled": o.cancelled,
                "title": o.title,
                "description": o.description,
                "location": o.location,
                "start_date": o.start_date,
                "end_date": o.end_date,
            }
            for o in event.overrides.all()
        ],
    }


def calendar_export(user) -> dict:
    events = (
        CalendarEvent.objects.filter(created_by=user, deleted_at__isnull=True)
        .select_related("course")
        .prefetch_related("overrides")
        .order_by("start_date", "id")
    )
    feed = CalendarFeed.objects.filter(user=user).first()
    return {
        "personal_events": [_event(e) for e in events if e.course_id is None],
        "course_events_created": [_event(e) for e in events if e.course_id is not None],
        "feed": {
            "exists": feed is not None,
            "created_at": feed.created_at if feed else None,
            "last_fetched_at": feed.last_fetched_at if feed else None,
        },
    }


def calendar_erase(user, *, keep_academic_records: bool) -> None:
    """Their personal events (deleted ones too) and their feed go. Course
    events they made are the course's and stay, under the anonymised name."""
    CalendarEvent.objects.filter(course__isnull=True, created_by=user).delete()
    CalendarFeed.objects.filter(user=user).delete()
