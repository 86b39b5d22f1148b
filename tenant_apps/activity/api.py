"""What other apps may use of the activity log."""

from .models import ActivityLog, ActivityType
from .selectors import (
    SUBMISSION_TYPES,
    VIEW_TYPES,
    activity_per_day,
    activity_per_user,
    activity_totals,
    course_activity,
    institution_activity,
    views_per_entity,
)
from .services import activity_purge_batch, activity_record

__all__ = [
    "SUBMISSION_TYPES",
    "VIEW_TYPES",
    "ActivityLog",
    "ActivityType",
    "activity_per_day",
    "activity_per_user",
    "activity_purge_batch",
    "activity_record",
    "activity_totals",
    "course_activity",
    "institution_activity",
    "views_per_entity",
]
