from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.UserListView.as_view(), name="users-list"),
    path("me/", views.MeView.as_view(), name="users-me"),
    path("me/preferences/", views.MyPreferencesView.as_view(), name="users-me-preferences"),
    path("invitations/", include("tenant_apps.accounts.rest_api.v1.invitation_urls")),
    path("<uuid:pk>/", views.UserDetailView.as_view(), name="users-detail"),
]
