"""/api/v1/ paths of privacy. Included after the accounts' users/ and
institution/ includes, whose patterns match whole paths only, so these
longer paths fall through to here."""

from django.urls import path

from . import views

urlpatterns = [
    path("users/me/data-exports/", views.MyDataExportsView.as_view(), name="my-data-exports"),
    path(
        "users/<uuid:pk>/data-exports/",
        views.UserDataExportsView.as_view(),
        name="user-data-exports",
    ),
    path("users/<uuid:pk>/erase/", views.UserEraseView.as_view(), name="user-erase"),
    path(
        "data-exports/<uuid:pk>/download/",
        views.DataExportDownloadView.as_view(),
        name="data-export-download",
    ),
    path("institution/data-policy/", views.DataPolicyView.as_view(), name="data-policy"),
]
