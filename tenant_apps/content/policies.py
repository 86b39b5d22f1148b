"""Who may do what with modules, content and progress. Every decision asks the
course's `CourseAccess` (tenant_apps.courses.api); this module only fetches
modules and items *through* it, so an id from a request is never trusted on its
own. What students see is spelled out in selectors' docstring.

- Read: staff everything live; students (`can_view_content`) the visible.
- Create, update, delete, reorder: `can_edit` (the instructor and admins),
  and not while the course is archived (409).
- Record progress: students holding a seat (`is_learner`), on open items.
- Everyone's progress: `can_view_roster` (teaching staff).
Not visible (non-members, waitlisted students, drafts to a student) is a 404;
visible but not allowed a 403.
"""

from django.http import Http404
from django.utils import timezone

from conceptspro.api import ApplicationError
from tenant_apps.courses.api import CourseAccess, course_access_or_404, course_material_writable

from . import selectors
from .models import ContentItem, Module

DENIED = "permission_denied"


def content_access_or_404(user, course_id) -> CourseAccess:
    """The caller's access to a course whose modules and content they may read."""
    access = course_access_or_404(user, course_id)
    if not access.can_view_content:
        raise Http404
    return access


def module_or_404(user, module_id) -> tuple[CourseAccess, Module]:
    module = selectors.module_get(module_id)
    if module is None:
        raise Http404
    access = content_access_or_404(user, module.course_id)
    if not access.is_staff and not selectors.module_is_visible(module, timezone.now()):
        raise Http404
    return access, module


def content_item_or_404(user, content_id) -> tuple[CourseAccess, ContentItem]:
    """An item the caller may read in full: staff any live one, students an
    open one (locked modules' items are a 404 to them)."""
    item = selectors.content_item_get(content_id)
    if item is None:
        raise Http404
    access = content_access_or_404(user, item.module.course_id)
    if not access.is_staff and not selectors.content_item_is_open(item, timezone.now()):
        raise Http404
    return access, item


def require_edit(access: CourseAccess) -> None:
    if not access.can_edit:
        raise ApplicationError(
            "Only the course's instructor and administrators may edit content.",
            code=DENIED,
            status=403,
        )
    course_material_writable(access.course)


def can_track_progress(access: CourseAccess) -> bool:
    return access.is_learner and access.can_view_content


def require_progress_tracking(access: CourseAccess) -> None:
    if not can_track_progress(access):
        raise ApplicationError(
            "Progress is recorded for the course's students only.", code=DENIED, status=403
        )


def require_roster(access: CourseAccess) -> None:
    if not access.can_view_roster:
        raise ApplicationError(
            "Only the course's teaching staff see students' progress.", code=DENIED, status=403
        )
