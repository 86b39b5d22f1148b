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
- Grants: another app may let people read a live file these rules refuse
  them (messaging: a message's readers its attachments) by registering
  `grant(user, file) -> bool` from its ready() (`file_read_grant_register`);
  the files app never imports those apps. A grant is asked only after the
  rules above said no, for an active member and a live file, and costs at
  most one indexed query. Grants only ever add readers: delete is unchanged.
"""

from collections.abc import Callable

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


FileReadGrant = Callable[[object, StoredFile], bool]
_read_grants: list[FileReadGrant] = []


def file_read_grant_register(grant: FileReadGrant) -> None:
    """Called from another app's AppConfig.ready(): `grant(user, file)` says
    whether `user` (an active member) may read `file` (live) although the
    files app's own rules refuse it. At most one indexed query; registering
    the same grant again does nothing."""
    if grant not in _read_grants:
        _read_grants.append(grant)


def can_read_file(user, file: StoredFile) -> bool:
    if not is_active_member(user) or not is_live(file):
        return False
    return _readable_by_level(user, file) or any(grant(user, file) for grant in _read_grants)


def _readable_by_level(user, file: StoredFile) -> bool:
    """The files app's own rules (see the module's docstring)."""
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
