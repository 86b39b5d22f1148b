"""The discussions API: a course's forums (/courses/{id}/discussions/,
/discussions/{id}/), their threaded posts (/discussions/{id}/posts/,
/posts/{id}/, /posts/{id}/replies/), votes, and moderation (approve, reject,
the course's queue). Who may call what is stated on each view; the course's
`CourseAccess` and tenant_apps.discussions.policies decide.

Everything is read through the caller's access: a course, forum or post they
may not see (another course's, a waitlisted student's course, someone else's
pending post, a deleted forum) is a 404, so its existence does not leak; one
they see but may not change is a 403.
"""

import django_filters
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from conceptspro.api import ApplicationError, OrderingFilter, updated_since_filter
from tenant_apps.accounts.api import IsActiveMember
from tenant_apps.courses.api import CourseAccess, course_access_or_404
from tenant_apps.discussions import policies, selectors, services
from tenant_apps.discussions.models import Forum, Post, PostStatus
from tenant_apps.idempotency.api import idempotent

from .serializers import (
    ForumInput,
    ForumOutput,
    PostInput,
    PostOutput,
    PostUpdateInput,
    ReplyInput,
    VoteInput,
    VoteOutput,
)

ARCHIVED = OpenApiResponse(description="Conflict: `course_archived`, the course is read-only.")
POST_CONFLICT = OpenApiResponse(
    description="Conflict: `course_archived` (the course is read-only), `post_deleted`, "
    "`post_locked` (the thread takes no replies), `post_not_published` (a pending or "
    "rejected post takes no replies or votes), `post_not_pending` (a published post "
    "cannot be rejected)."
)


class ForumFilter(django_filters.FilterSet):
    updated_since = updated_since_filter()
    is_pinned = django_filters.BooleanFilter()
    ordering = OrderingFilter(
        fields=["title", "created_at", "updated_at", "is_pinned"],
        help_text="Default: pinned first, then in the order they were made.",
    )

    class Meta:
        model = Forum
        fields = ["updated_since", "is_pinned"]


class PostFilter(django_filters.FilterSet):
    updated_since = updated_since_filter()
    is_pinned = django_filters.BooleanFilter()
    status = django_filters.ChoiceFilter(
        choices=PostStatus.choices,
        help_text="Students see pending and rejected posts only of their own.",
    )
    ordering = OrderingFilter(
        fields=["created_at", "updated_at", "upvotes", "reply_count", "view_count", "is_pinned"],
        help_text="Default: pinned first, then the newest (threads) or the oldest (replies).",
    )

    class Meta:
        model = Post
        fields = ["updated_since", "is_pinned", "status"]


def _viewer_access(user, course_id) -> CourseAccess:
    """The caller's access to a course whose discussions they may read: its
    staff, and students holding a seat in it once published. Anyone else
    (waitlisted, not enrolled, another course) meets a 404."""
    access = course_access_or_404(user, course_id)
    if not policies.can_view_discussions(access):
        raise Http404
    return access


def _context(access: CourseAccess) -> dict:
    return {
        "see_authors": policies.can_see_anonymous_authors(access),
        "user_id": access.user.id,
    }


def _forum_in_scope(request, pk) -> tuple[CourseAccess, Forum]:
    course_id = (
        Forum.objects.filter(pk=pk, deleted_at__isnull=True)
        .values_list("course_id", flat=True)
        .first()
    )
    if course_id is None:
        raise Http404
    access = _viewer_access(request.user, course_id)
    forum = selectors.forums_for(access).filter(pk=pk).first()
    if forum is None:
        raise Http404
    return access, forum


def _post_in_scope(request, pk) -> tuple[CourseAccess, Post]:
    course_id = Post.objects.filter(pk=pk).values_list("forum__course_id", flat=True).first()
    if course_id is None:
        raise Http404
    access = _viewer_access(request.user, course_id)
    post = selectors.posts_for(access).filter(pk=pk).first()
    if post is None:
        raise Http404
    return access, post


def _forum_output(access: CourseAccess, forum_id) -> dict:
    forum = selectors.forums_for(access).filter(pk=forum_id).first()
    if forum is None:  # deleted between the write and this read
        raise Http404
    return ForumOutput(forum).data


def _post_output(access: CourseAccess, post_id) -> dict:
    post = selectors.posts_for(access).filter(pk=post_id).first()
    if post is None:
        raise Http404
    return PostOutput(post, context=_context(access)).data


def _created(access: CourseAccess, post: Post) -> Response:
    return Response(
        _post_output(access, post.pk),
        status=status.HTTP_201_CREATED,
        headers={"Location": f"/api/v1/posts/{post.pk}/"},
    )


def _post_create(request, access: CourseAccess, *, forum: Forum, parent: Post | None, fields):
    """A new thread (no `parent`) or reply by the caller; in a forum requiring
    moderation it waits unless the caller publishes directly. Answers 201."""
    post = services.post_create(
        forum=forum,
        author=request.user,
        parent_post=parent,
        awaits_moderation=not policies.publishes_directly(
            access, require_moderation=forum.require_moderation
        ),
        request=request,
        **fields,
    )
    return _created(access, post)


class _PostListView(GenericAPIView):
    """A paginated, filtered list of posts as the caller may see them."""

    permission_classes = [IsActiveMember]
    serializer_class = PostOutput
    filterset_class = PostFilter
    queryset = Post.objects.none()  # the real one depends on the caller

    def _page(self, access: CourseAccess, posts) -> Response:
        page = self.paginate_queryset(self.filter_queryset(posts))
        return self.get_paginated_response(
            PostOutput(page, many=True, context=_context(access)).data
        )


# --- forums --------------------------------------------------------------------


class CourseForumsView(GenericAPIView):
    """GET /courses/{course_id}/discussions/: the course's forums, pinned first.
    The course's staff, and students holding a seat in the published course;
    moderators (instructor, TAs, admins) also get each forum's `pending_count`.
    Filters: updated_since, is_pinned; ordering.
    POST: create a forum. The instructor and admins (forums are course
    structure; TAs moderate them). Accepts `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = ForumOutput
    filterset_class = ForumFilter
    queryset = Forum.objects.none()  # the real one depends on the caller

    @extend_schema(responses=ForumOutput(many=True))
    def get(self, request, course_id):
        access = _viewer_access(request.user, course_id)
        page = self.paginate_queryset(self.filter_queryset(selectors.forums_for(access)))
        return self.get_paginated_response(ForumOutput(page, many=True).data)

    @extend_schema(request=ForumInput, responses={201: ForumOutput, 409: ARCHIVED})
    @idempotent
    def post(self, request, course_id):
        access = _viewer_access(request.user, course_id)
        if not policies.can_manage_forums(access):
            raise PermissionDenied("Only the course's instructor and admins create forums.")
        data = ForumInput(data=request.data)
        data.is_valid(raise_exception=True)
        forum = services.forum_create(
            course=access.course, actor=request.user, **data.validated_data
        )
        return Response(
            _forum_output(access, forum.pk),
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/discussions/{forum.pk}/"},
        )


class ForumDetailView(GenericAPIView):
    """GET /discussions/{id}/: whoever may read the course's discussions.
    PATCH: the instructor and admins; any subset of the fields.
    DELETE: the same people; a soft delete of the forum and all its posts."""

    permission_classes = [IsActiveMember]
    serializer_class = ForumOutput

    def get(self, request, pk):
        _, forum = _forum_in_scope(request, pk)
        return Response(ForumOutput(forum).data)

    def _manageable(self, request, pk) -> tuple[CourseAccess, Forum]:
        access, forum = _forum_in_scope(request, pk)
        if not policies.can_manage_forums(access):
            raise PermissionDenied("Only the course's instructor and admins change forums.")
        return access, forum

    @extend_schema(request=ForumInput, responses={200: ForumOutput, 409: ARCHIVED})
    def patch(self, request, pk):
        access, forum = self._manageable(request, pk)
        data = ForumInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.forum_update(forum=forum, **data.validated_data)
        return Response(_forum_output(access, pk))

    @extend_schema(responses={204: None, 409: ARCHIVED})
    def delete(self, request, pk):
        _, forum = self._manageable(request, pk)
        services.forum_delete(forum=forum)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- posts ---------------------------------------------------------------------


class ForumPostsView(_PostListView):
    """GET /discussions/{id}/posts/: the forum's threads (top-level posts),
    pinned first, then the newest. Whoever may read the course's discussions;
    pending and rejected posts only to moderators and their own author (with
    their `status`). Filters: updated_since, is_pinned, status; ordering.
    POST: a new thread (`title` needed) or, with `parent_post_id`, a reply.
    Whoever may read them. In a forum requiring moderation, posts of
    participants other than moderators wait (`pending`) for approval.
    Accepts `Idempotency-Key`."""

    @extend_schema(responses=PostOutput(many=True))
    def get(self, request, pk):
        access, forum = _forum_in_scope(request, pk)
        return self._page(access, selectors.forum_threads(access, forum))

    @extend_schema(request=PostInput, responses={201: PostOutput, 409: POST_CONFLICT})
    @idempotent
    def post(self, request, pk):
        access, forum = _forum_in_scope(request, pk)
        data = PostInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        parent_id = fields.pop("parent_post_id", None)
        parent = None
        if parent_id is not None:
            parent = selectors.posts_for(access).filter(pk=parent_id, forum=forum).first()
            if parent is None:
                raise ApplicationError(
                    "No such post in this forum.",
                    code="invalid",
                    fields={"parent_post_id": ["No such post in this forum."]},
                )
        return _post_create(request, access, forum=forum, parent=parent, fields=fields)


class PostDetailView(GenericAPIView):
    """GET /posts/{id}/: whoever may see it (see the forum's list); each call
    counts a view.
    PUT, PATCH: `title` and `content` by the post's author only; `is_pinned`
    and `is_locked` by moderators (the instructor, TAs, admins). PUT needs the
    content.
    DELETE: its author, or a moderator; a soft delete (a post with replies
    stays as a placeholder)."""

    permission_classes = [IsActiveMember]
    serializer_class = PostOutput

    def get(self, request, pk):
        access, post = _post_in_scope(request, pk)
        if post.deleted_at is None:
            post.view_count = services.post_view(post=post, user=request.user, request=request)
        return Response(PostOutput(post, context=_context(access)).data)

    def _update(self, request, pk, *, partial: bool):
        access, post = _post_in_scope(request, pk)
        may_edit = policies.can_edit_post(access, post)
        may_moderate = policies.can_moderate(access)
        if not (may_edit or may_moderate):
            raise PermissionDenied("Only its author and the course's moderators change a post.")
        data = PostUpdateInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        changes = data.validated_data
        if {"title", "content"} & set(changes) and not may_edit:
            raise PermissionDenied("Only its author changes a post's title and content.")
        if {"is_pinned", "is_locked"} & set(changes) and not may_moderate:
            raise PermissionDenied("Only the course's moderators pin and lock posts.")
        services.post_update(post=post, **changes)
        return Response(_post_output(access, pk))

    @extend_schema(request=PostUpdateInput, responses={200: PostOutput, 409: POST_CONFLICT})
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(request=PostUpdateInput, responses={200: PostOutput, 409: POST_CONFLICT})
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None, 409: ARCHIVED})
    def delete(self, request, pk):
        access, post = _post_in_scope(request, pk)
        if not policies.can_delete_post(access, post):
            raise PermissionDenied("Only its author and the course's moderators delete a post.")
        services.post_delete(post=post)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostRepliesView(_PostListView):
    """GET /posts/{id}/replies/: the post's direct replies, oldest first
    (pinned ones first), as the forum's list shows posts; each has its own
    `reply_count` for going deeper. Whoever may see the post.
    POST: reply to it, as POST /discussions/{id}/posts/ with `parent_post_id`.
    Accepts `Idempotency-Key`."""

    @extend_schema(responses=PostOutput(many=True))
    def get(self, request, pk):
        access, post = _post_in_scope(request, pk)
        return self._page(access, selectors.post_replies(access, post))

    @extend_schema(request=ReplyInput, responses={201: PostOutput, 409: POST_CONFLICT})
    @idempotent
    def post(self, request, pk):
        access, parent = _post_in_scope(request, pk)
        data = ReplyInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _post_create(
            request, access, forum=parent.forum, parent=parent, fields=data.validated_data
        )


class PostVoteView(GenericAPIView):
    """POST /posts/{id}/vote/: the caller's one vote on a published post:
    `up`, `down`, or `none` (or null) to withdraw it; voting again changes it. Whoever may
    see the post. Answers the post's new counts."""

    permission_classes = [IsActiveMember]
    serializer_class = VoteOutput

    @extend_schema(request=VoteInput, responses={200: VoteOutput, 409: POST_CONFLICT})
    def post(self, request, pk):
        _, post = _post_in_scope(request, pk)
        data = VoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        vote, up, down = services.post_vote(
            post=post, user=request.user, vote=data.validated_data["vote"]
        )
        return Response(
            VoteOutput({"post_id": post.pk, "my_vote": vote, "upvotes": up, "downvotes": down}).data
        )


class _ModerationView(GenericAPIView):
    permission_classes = [IsActiveMember]
    serializer_class = PostOutput
    approve: bool

    @extend_schema(request=None, responses={200: PostOutput, 409: POST_CONFLICT})
    def post(self, request, pk):
        access, post = _post_in_scope(request, pk)
        if not policies.can_moderate(access):
            raise PermissionDenied("Only the course's moderators approve and reject posts.")
        services.post_moderate(post=post, moderator=request.user, approve=self.approve)
        return Response(_post_output(access, pk))


class PostApproveView(_ModerationView):
    """POST /posts/{id}/approve/: publish a pending (or rejected) post; its
    parent's author is notified and the course's members see it. The
    instructor, TAs and admins. Approving a published post changes nothing."""

    approve = True


class PostRejectView(_ModerationView):
    """POST /posts/{id}/reject/: reject a pending post: only its author and
    moderators see it, marked `rejected`. The instructor, TAs and admins.
    A published post is deleted, not rejected (409 `post_not_pending`)."""

    approve = False


class ModerationQueueView(_PostListView):
    """GET /courses/{course_id}/discussions/moderation-queue/: the course's
    posts waiting for approval, across its forums, oldest first, with their
    authors (anonymous ones included). The instructor, TAs and admins.
    Filters: updated_since; ordering."""

    @extend_schema(responses=PostOutput(many=True))
    def get(self, request, course_id):
        access = _viewer_access(request.user, course_id)
        if not policies.can_moderate(access):
            raise PermissionDenied("Only the course's moderators see the moderation queue.")
        return self._page(access, selectors.moderation_queue(access))
