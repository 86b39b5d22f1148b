from django.urls import include, path

from . import views

urlpatterns = [
    path("me/", views.MeView.as_view(), name="users-me"),
    path("invitations/", include("tenant_apps.accounts.rest_api.v1.invitation_urls")),
]
