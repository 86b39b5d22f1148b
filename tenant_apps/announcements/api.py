"""What other apps may use of announcements (notifications, in issue 7, will
ask which are visible to students and when)."""

from .models import Announcement, AnnouncementState
from .selectors import visible_to_students
from .services import announcement_create

__all__ = ["Announcement", "AnnouncementState", "announcement_create", "visible_to_students"]
