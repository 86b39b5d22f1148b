"""The files API (/api/v1/files/). Who may call what is stated on each view
and decided by tenant_apps.files.policies (course standing by CourseAccess)."""

import django_filters
from django.conf import settings
from django.core.files.storage import storages
from django.core.files.uploadhandler import FileUploadHandler
from django.http import FileResponse, Http404, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from conceptspro.api import ApplicationError, OrderingFilter, updated_since_filter
from tenant_apps.accounts.api import IsActiveMember
from tenant_apps.courses.api import course_access_or_404
from tenant_apps.files import downloads, policies, selectors, services
from tenant_apps.files.models import AccessLevel, StoredFile
from tenant_apps.idempotency.api import idempotent

from .serializers import (
    MAX_BULK_FILES,
    BulkUploadInput,
    DownloadQueryInput,
    FileOutput,
    StorageUsageOutput,
    UploadInput,
)


class _SizeLimitHandler(FileUploadHandler):
    """Refuses a file (413) as soon as it grows past FILE_UPLOAD_MAX_BYTES,
    and a request (400 `too_many_files`) as soon as it starts a file more than
    the endpoint takes, before the rest is read or buffered to disk: so a
    request is at most `max_files` times FILE_UPLOAD_MAX_BYTES."""

    def __init__(self, request=None, *, max_files: int):
        super().__init__(request)
        self.limit = settings.FILE_UPLOAD_MAX_BYTES
        self.max_files = max_files
        self.files = 0
        self.received = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.files += 1
        if self.files > self.max_files:
            raise ApplicationError(
                f"At most {self.max_files} file(s) per request.",
                code="too_many_files",
                extra={"max_files": self.max_files},
            )
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise services.file_too_large(self.limit)
        return raw_data

    def file_complete(self, file_size):
        return None


class _UploadView(GenericAPIView):
    permission_classes = [IsActiveMember]
    parser_classes = [MultiPartParser]
    queryset = StoredFile.objects.none()  # for the schema generator; uploads read no list
    pagination_class = None
    filter_backends = []
    max_files = 1

    def initial(self, request, *args, **kwargs):
        handler = _SizeLimitHandler(request._request, max_files=self.max_files)
        request._request.upload_handlers.insert(0, handler)
        super().initial(request, *args, **kwargs)

    def _placement(self, request, data) -> dict:
        """The course and level asked for, checked against the caller's standing."""
        course = None
        level = data["access_level"]
        if data["course_id"] is not None:
            access = course_access_or_404(request.user, data["course_id"])
            if not policies.can_upload_to_course(access):
                raise PermissionDenied("You may not upload files to this course.")
            if level != AccessLevel.PRIVATE and not policies.can_share_in_course(access):
                raise PermissionDenied(
                    "Only the course's teaching staff may share files with the course."
                )
            course = access.course
        elif level == AccessLevel.PUBLIC and not policies.can_share_outside_course(request.user):
            raise PermissionDenied("Only instructors and administrators may upload public files.")
        return {"course": course, "access_level": level, "expires_at": data["expires_at"]}


class FileUploadView(_UploadView):
    """POST /files/upload/ (multipart: `file`, optional `course_id`,
    `access_level` public|course|private (default private), `expires_at`).
    Any active member. Into a course: those who may see its content; only its
    teaching staff may make a file `course` or `public`. Outside a course,
    `public` is for instructors and admins. The type is decided by content:
    413 `file_too_large`, 415 `unsupported_file_type`, 400 `empty_file`.
    Takes an Idempotency-Key."""

    serializer_class = UploadInput

    @extend_schema(request=UploadInput, responses={201: FileOutput})
    @idempotent
    def post(self, request):
        data = UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        placement = self._placement(request, data.validated_data)
        file = services.file_upload(
            uploader=request.user, upload=data.validated_data["file"], **placement
        )
        return Response(FileOutput(file).data, status=status.HTTP_201_CREATED)


class FileBulkUploadView(_UploadView):
    """POST /files/upload/bulk/ (multipart: one or more `files`, at most 20,
    and the same `course_id`, `access_level`, `expires_at` for all). Who may:
    as for /files/upload/. All or nothing: every file is checked before any is
    stored; if one is refused, nothing is stored and the answer (the status
    of the first refusal) lists each refused file under `fields.files`.
    Takes an Idempotency-Key."""

    serializer_class = BulkUploadInput
    max_files = MAX_BULK_FILES

    @extend_schema(request=BulkUploadInput, responses={201: FileOutput(many=True)})
    @idempotent
    def post(self, request):
        data = BulkUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        placement = self._placement(request, data.validated_data)
        checked, refusals = [], []
        for index, upload in enumerate(data.validated_data["files"]):
            try:
                checked.append(services.upload_check(upload=upload))
            except ApplicationError as refusal:
                refusals.append((index, refusal))
        if refusals:
            first = refusals[0][1]
            raise ApplicationError(
                f"{len(refusals)} of {len(data.validated_data['files'])} files were refused; "
                "nothing was stored.",
                code=first.code,
                status=first.status,
                fields={"files": [f"#{i}: {r.message}" for i, r in refusals]},
            )
        files = services.files_store(uploader=request.user, checked=checked, **placement)
        return Response(FileOutput(files, many=True).data, status=status.HTTP_201_CREATED)


class FileFilter(django_filters.FilterSet):
    course_id = django_filters.UUIDFilter(field_name="course_id")
    access_level = django_filters.ChoiceFilter(choices=AccessLevel.choices)
    updated_since = updated_since_filter()
    ordering = OrderingFilter(
        fields=["created_at", "updated_at", "original_name", "file_size_bytes"]
    )

    class Meta:
        model = StoredFile
        fields = ["course_id", "access_level", "updated_since"]


class FileListView(ListAPIView):
    """GET /files/: the caller's own live files, newest first; admins see
    every live file of the institution. Any active member. Filters:
    course_id, access_level, updated_since; ordering."""

    permission_classes = [IsActiveMember]
    serializer_class = FileOutput
    filterset_class = FileFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return StoredFile.objects.none()
        return selectors.file_list_for(self.request.user).order_by("-created_at", "id")


class FileDetailView(GenericAPIView):
    """GET /files/{id}/: a file's metadata, for those who may read it (the
    uploader, admins, and per its level: course members, course staff or any
    member). DELETE /files/{id}/: the uploader, admins, and for a course file
    its instructor; a soft delete (usage shrinks, the bytes leave storage on
    commit). A file the caller may not read is a 404; readable but not
    deletable is a 403; one held by a submitted assignment is a 409
    (`file_held`) for everyone."""

    permission_classes = [IsActiveMember]
    serializer_class = FileOutput

    def get(self, request, pk):
        return Response(FileOutput(selectors.file_readable_or_404(request.user, pk)).data)

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(
                description="Conflict: `file_held`, the file is part of a submitted assignment."
            ),
        }
    )
    def delete(self, request, pk):
        file = selectors.file_readable_or_404(request.user, pk)
        if not policies.can_delete_file(request.user, file):
            raise PermissionDenied("You may not delete this file.")
        services.file_delete(file=file)
        return Response(status=status.HTTP_204_NO_CONTENT)


class FileDownloadView(GenericAPIView):
    """GET /files/{id}/download/: for those who may read the file (as GET
    /files/{id}/), a 302 to a signed URL valid for FILE_URL_SECONDS (S3's
    presigned URL, or /files/{id}/content/ on local disk). Counts the
    download."""

    permission_classes = [IsActiveMember]

    @extend_schema(responses={302: OpenApiResponse(description="Redirect to a signed URL.")})
    def get(self, request, pk):
        file = selectors.file_readable_or_404(request.user, pk)
        url = downloads.download_url(request=request, file=file)
        services.file_download_count(file=file)
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response


class FileContentView(GenericAPIView):
    """GET /files/{id}/content/?sig=...: the bytes of a file on local disk.
    Anyone holding a signature issued by /files/{id}/download/ within
    FILE_URL_SECONDS: the signature is the permission (a browser following
    the redirect carries no token), bound to the file and the institution.
    A missing, tampered or expired signature is a 403."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        parameters=[DownloadQueryInput],
        responses={
            # The file's own type (its mime_type), so no one media type.
            (200, "*/*"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, as an attachment, with its mime_type."
            )
        },
    )
    def get(self, request, pk):
        query = DownloadQueryInput(data=request.query_params)
        if not query.is_valid() or not downloads.signature_valid(
            token=query.validated_data["sig"], file_id=pk
        ):
            raise PermissionDenied("This download link is invalid or has expired.")
        file = selectors.live_files().filter(pk=pk).first()
        if file is None:
            raise Http404
        try:
            content = storages["default"].open(file.file_path, "rb")
        except FileNotFoundError:
            raise Http404 from None
        response = FileResponse(
            content,
            as_attachment=True,
            filename=file.original_name,
            content_type=file.mime_type,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response


class StorageUsageView(GenericAPIView):
    """GET /files/usage/: the institution's stored bytes and live file count.
    Admins only."""

    permission_classes = [IsActiveMember]
    serializer_class = StorageUsageOutput

    def get(self, request):
        if not policies.can_view_storage_usage(request.user):
            raise PermissionDenied("Only administrators may see the storage usage.")
        return Response(StorageUsageOutput(selectors.storage_usage()).data)
