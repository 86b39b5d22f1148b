"""Files: paths of the design document under /api/v1/files/."""

from django.urls import path

from . import views

urlpatterns = [
    path("files/", views.FileListView.as_view(), name="files-list"),
    path("files/upload/", views.FileUploadView.as_view(), name="files-upload"),
    path("files/upload/bulk/", views.FileBulkUploadView.as_view(), name="files-upload-bulk"),
    path("files/usage/", views.StorageUsageView.as_view(), name="files-usage"),
    path("files/<uuid:pk>/", views.FileDetailView.as_view(), name="files-detail"),
    path("files/<uuid:pk>/download/", views.FileDownloadView.as_view(), name="files-download"),
    path("files/<uuid:pk>/content/", views.FileContentView.as_view(), name="files-content"),
]
