"""/api/v1/ paths of messaging: conversations, their participants and
messages, a message, and the institution's messaging policy (the router
includes this after accounts' institution/ routes; Django falls through)."""

from django.urls import path

from . import views

urlpatterns = [
    path("conversations/", views.ConversationListView.as_view(), name="conversations"),
    path(
        "conversations/unread-count/",
        views.ConversationUnreadCountView.as_view(),
        name="conversations-unread-count",
    ),
    path(
        "conversations/<uuid:pk>/",
        views.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<uuid:pk>/participants/",
        views.ConversationParticipantsView.as_view(),
        name="conversation-participants",
    ),
    path(
        "conversations/<uuid:pk>/participants/<uuid:user_id>/",
        views.ConversationParticipantView.as_view(),
        name="conversation-participant",
    ),
    path(
        "conversations/<uuid:pk>/messages/",
        views.ConversationMessagesView.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<uuid:pk>/read/",
        views.ConversationReadView.as_view(),
        name="conversation-read",
    ),
    path("messages/<uuid:pk>/", views.MessageDetailView.as_view(), name="message-detail"),
    path(
        "institution/messaging-policy/",
        views.MessagingPolicyView.as_view(),
        name="messaging-policy",
    ),
]
