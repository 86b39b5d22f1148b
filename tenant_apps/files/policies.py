"""Who may do what with a stored file. Course standing is asked of the courses
app's CourseAccess; nothing else decides.

- Read (metadata and download): the uploader; the institution's admins; any
  active member for a public file; for a course file at level `course`, anyone
  who may see the course's content; for a private course file, the course's
  teaching staff. A deleted or expired file is nobody's (the API answers 404).
- Delete: the uploader, the institution's admins, and for a course file those
  who may edit the course (its instructor).
- Upload into a course: those who may see its content. Making a course file
  readable by the course (`course`) or the institution (`public`) is for the
  course's teaching staff; students may keep private files in a course (for
  example, for a later submission). Outside a course, `public` is for
  instructors and admins; `course` needs a course.
"""

from django.utils import timezone

from tenant_apps.accounts.api import Role, is_active_member
from tenant_apps.courses.api import CourseAccess, course_access

from .models import AccessLevel, StoredFile


def is_live(file: StoredFile) -> bool:
    """Not deleted, and not expired unless held by a submission (which never expires)."""
    return file.deleted_at is None and (
        file.held or file.expires_at is None or file.expires_at > timezone.now()
    )


def _course_access(user, file: StoredFile) -> CourseAccess | None:
    course = file.course
    if course is None or course.deleted_at is not None:
        return None
    return course_access(user, course)


def can_read_file(user, file: StoredFile) -> bool:
    if not is_active_member(user) or not is_live(file):
        return False
    if file.uploader_id == user.id or user.role == Role.ADMIN:
        return True
    if file.access_level == AccessLevel.PUBLIC:
        return True
    access = _course_access(user, file)
    if access is None:
        return False
    if file.access_level == AccessLevel.COURSE:
        return access.can_view_content
    return access.is_staff


def can_delete_file(user, file: StoredFile) -> bool:
    if not is_active_member(user) or not is_live(file):
        return False
    if file.uploader_id == user.id or user.role == Role.ADMIN:
        return True
    access = _course_access(user, file)
    return access is not None and access.can_edit


def can_upload_to_course(access: CourseAccess) -> bool:
    return access.can_view_content


def can_share_in_course(access: CourseAccess) -> bool:
    """May give a course file the level `course` or `public`."""
    return access.is_staff


def can_share_outside_course(user) -> bool:
    """May upload a file outside any course with the level `public`."""
    return is_active_member(user) and user.role in (Role.ADMIN, Role.INSTRUCTOR)


def can_view_storage_usage(user) -> bool:
    return is_active_member(user) and user.role == Role.ADMIN
