"""Who may do what with announcements, on top of the course's one
`CourseAccess` (tenant_apps.courses.api): reading needs `can_view_content`,
writing `can_announce`."""

from tenant_apps.courses.api import CourseAccess

from .models import Announcement


def can_see_drafts(access: CourseAccess) -> bool:
    """Drafts, scheduled and expired announcements, and read receipts: the
    course's teaching staff (admins, the instructor, TAs and graders)."""
    return access.is_staff


def can_view_reads(access: CourseAccess) -> bool:
    return access.can_view_roster


def can_create_announcement(access: CourseAccess) -> bool:
    return access.can_announce


def can_change_announcement(access: CourseAccess, announcement: Announcement) -> bool:
    """The instructor and admins change any announcement of the course; a TA
    who may announce changes only the ones they wrote."""
    if access.can_edit:
        return True
    return access.can_announce and announcement.author_id == access.user.id
