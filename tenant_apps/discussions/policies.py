"""Who may do what in a course's discussions, on top of the course's one
`CourseAccess` (tenant_apps.courses.api).

- Reading and posting: whoever may see the course's content (its teaching
  staff, and students holding a seat in the published course).
- Forums are created, changed and deleted by those who edit the course (the
  instructor and admins): a forum is course structure, like a module.
- Moderation (approving and rejecting, pinning, locking, deleting others'
  posts) and seeing who wrote an anonymous post: the instructor, admins and
  the course's TAs, as the design document's roles say ("TAs moderate
  discussions"). Graders take part as students do: their role is grading.
- A post's title and body are changed by its author only: a moderator may hide
  or delete what someone wrote, but not put words in their name.
"""

from tenant_apps.courses.api import CourseAccess

from .models import Post, PostStatus


def can_view_discussions(access: CourseAccess) -> bool:
    return access.can_view_content


def can_manage_forums(access: CourseAccess) -> bool:
    return access.can_edit


def can_moderate(access: CourseAccess) -> bool:
    return access.is_admin or access.is_instructor or access.is_ta


def can_see_anonymous_authors(access: CourseAccess) -> bool:
    return can_moderate(access)


def can_see_post(access: CourseAccess, post: Post) -> bool:
    """Published posts: every reader. Pending and rejected ones: moderators
    and their author."""
    if post.status == PostStatus.PUBLISHED or can_moderate(access):
        return True
    return post.author_id is not None and post.author_id == access.user.id


def publishes_directly(access: CourseAccess, *, require_moderation: bool) -> bool:
    """A moderator's post never waits for moderation."""
    return not require_moderation or can_moderate(access)


def can_edit_post(access: CourseAccess, post: Post) -> bool:
    return post.author_id is not None and post.author_id == access.user.id


def can_delete_post(access: CourseAccess, post: Post) -> bool:
    return can_edit_post(access, post) or can_moderate(access)
