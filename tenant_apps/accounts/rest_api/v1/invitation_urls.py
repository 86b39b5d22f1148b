"""/api/v1/users/invitations/: inviting people to the institution."""

from django.urls import path

from . import invitation_views

urlpatterns = [
    path("", invitation_views.InvitationListCreateView.as_view(), name="api-invitations"),
    path("import/", invitation_views.InvitationImportView.as_view(), name="api-invitations-import"),
    path(
        "<uuid:invitation_id>/",
        invitation_views.InvitationDetailView.as_view(),
        name="api-invitation",
    ),
]
