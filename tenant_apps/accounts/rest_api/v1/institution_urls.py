"""/api/v1/institution/: the institution's identity providers and security policy."""

from django.urls import path

from . import institution_views as views

urlpatterns = [
    path(
        "identity-providers/",
        views.IdentityProviderListView.as_view(),
        name="identity-providers",
    ),
    path(
        "identity-providers/<int:pk>/",
        views.IdentityProviderDetailView.as_view(),
        name="identity-provider",
    ),
    path("security-policy/", views.SecurityPolicyView.as_view(), name="security-policy"),
]
