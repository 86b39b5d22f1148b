"""Who may do what with calendar events, on top of the course's one
`CourseAccess` (tenant_apps.courses.api).

- Personal events (no course): any active member makes them; only their
  creator sees or changes them.
- Course events: seen by whoever may see the course's content (its staff, its
  students holding a seat in the published course). Made by the instructor,
  admins and the course's TAs (TAs hold sections, labs and office hours);
  the instructor and admins change any, a TA only the ones they made, as with
  announcements. Graders and students make none.
"""

from tenant_apps.courses.api import CourseAccess

from .models import CalendarEvent


def can_view_course_events(access: CourseAccess) -> bool:
    return access.can_view_content


def can_create_course_event(access: CourseAccess) -> bool:
    return access.can_edit or access.is_ta


def can_view_event(user, event: CalendarEvent, access: CourseAccess | None) -> bool:
    if event.course_id is None:
        return event.created_by_id == user.pk
    return access is not None and can_view_course_events(access)


def can_change_event(user, event: CalendarEvent, access: CourseAccess | None) -> bool:
    if event.course_id is None:
        return event.created_by_id == user.pk
    if access is None:
        return False
    return access.can_edit or (access.is_ta and event.created_by_id == user.pk)
