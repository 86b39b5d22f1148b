"""What the activity log holds of a person, for their data export and
erasure: what they did, when, and from which address and browser."""

from .models import ActivityLog


def activity_export(user) -> dict:
    entries = ActivityLog.objects.filter(user=user).order_by("created_at", "id")
    return {
        "activity": list(
            entries.values(
                "activity_type",
                "entity_type",
                "entity_id",
                "course_id",
                "metadata",
                "ip_address",
                "user_agent",
                "created_at",
            ).iterator()
        )
    }


def activity_erase(user, *, keep_academic_records: bool) -> None:
    """With the policy keeping records, the entries stay for the course's
    statistics but name no one (no user, address, browser or details);
    without it they are deleted."""
    entries = ActivityLog.objects.filter(user=user)
    if keep_academic_records:
        entries.update(user=None, ip_address=None, user_agent="", metadata={})
    else:
        entries.delete()
