"""Routes of the discussions API, under /api/v1/ (the design document's
paths, with replies, moderation and the course's moderation queue added)."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/discussions/",
        views.CourseForumsView.as_view(),
        name="course-discussions",
    ),
    path(
        "courses/<uuid:course_id>/discussions/moderation-queue/",
        views.ModerationQueueView.as_view(),
        name="course-discussions-moderation-queue",
    ),
    path("discussions/<uuid:pk>/", views.ForumDetailView.as_view(), name="discussion-detail"),
    path("discussions/<uuid:pk>/posts/", views.ForumPostsView.as_view(), name="discussion-posts"),
    path("posts/<uuid:pk>/", views.PostDetailView.as_view(), name="post-detail"),
    path("posts/<uuid:pk>/replies/", views.PostRepliesView.as_view(), name="post-replies"),
    path("posts/<uuid:pk>/vote/", views.PostVoteView.as_view(), name="post-vote"),
    path("posts/<uuid:pk>/approve/", views.PostApproveView.as_view(), name="post-approve"),
    path("posts/<uuid:pk>/reject/", views.PostRejectView.as_view(), name="post-reject"),
]
