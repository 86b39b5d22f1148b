"""Browser pages of accounts under /accounts/ (mounted before allauth's)."""

from django.urls import path

from . import views

urlpatterns = [
    path("invitations/", views.invitation_manage, name="invitation-manage"),
    path("invitations/import/", views.invitation_import, name="invitation-import"),
    path(
        "invitations/<uuid:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("invitations/<str:key>/", views.invitation_accept, name="invitation-accept"),
    path("email/", views.email_addresses_managed, name="email-addresses-managed"),
]
