"""The data rights API: a user's data exports, erasing a user, and the
institution's data policy. Who may call what is stated on each view;
tenant_apps.privacy.policies decides.

Someone else's export, and an export or a user of another institution, is a
404 (so ids do not leak); an expired export is a 410 (`export_expired`).
"""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from conceptspro.api import ApplicationError
from tenant_apps.accounts.api import IsActiveMember, IsInstitutionAdmin, User
from tenant_apps.idempotency.api import idempotent
from tenant_apps.privacy import downloads, policies, selectors, services
from tenant_apps.privacy.models import DataExport, ExportStatus

from .serializers import (
    DataExportOutput,
    DataPolicyInput,
    DataPolicyOutput,
    EraseInput,
    EraseOutput,
)

IN_PROGRESS = OpenApiResponse(
    description="Conflict: `export_in_progress`, an export of this user's data is being built."
)


def _accepted(export: DataExport) -> Response:
    return Response(
        DataExportOutput(export).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": services.download_path(export)},
    )


class MyDataExportsView(GenericAPIView):
    """GET /users/me/data-exports/: the caller's own data exports, newest
    first (including those an admin asked for). POST: ask for a new one; any
    active member. A worker builds the zip and a notification links to its
    download when it is ready (kept 7 days). One at a time: 409
    `export_in_progress` while one is queued or running. Accepts
    `Idempotency-Key`."""

    permission_classes = [IsActiveMember]
    serializer_class = DataExportOutput
    queryset = DataExport.objects.none()  # the real one depends on the caller

    @extend_schema(responses=DataExportOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(selectors.data_exports_of(request.user))
        return self.get_paginated_response(DataExportOutput(page, many=True).data)

    @extend_schema(request=None, responses={202: DataExportOutput, 409: IN_PROGRESS})
    @idempotent
    def post(self, request):
        if not policies.can_export_own_data(request.user):
            raise PermissionDenied("Only active members may export their data.")
        export = services.data_export_request(
            user=request.user, requested_by=request.user, request=request
        )
        return _accepted(export)


def _member_or_404(pk) -> User:
    return get_object_or_404(User, pk=pk)


class UserDataExportsView(GenericAPIView):
    """GET /users/{id}/data-exports/: that user's data exports. POST: export
    that user's data; the zip is linked to both the user and the requesting
    admin when ready. Institution admins only (any user of theirs, deleted
    ones included; an erased user is a 404). Accepts `Idempotency-Key`."""

    permission_classes = [IsInstitutionAdmin]
    serializer_class = DataExportOutput
    queryset = DataExport.objects.none()

    @extend_schema(responses=DataExportOutput(many=True))
    def get(self, request, pk):
        user = _member_or_404(pk)
        page = self.paginate_queryset(selectors.data_exports_of(user))
        return self.get_paginated_response(DataExportOutput(page, many=True).data)

    @extend_schema(request=None, responses={202: DataExportOutput, 409: IN_PROGRESS})
    @idempotent
    def post(self, request, pk):
        user = _member_or_404(pk)
        export = services.data_export_request(user=user, requested_by=request.user, request=request)
        return _accepted(export)


class DataExportDownloadView(GenericAPIView):
    """GET /data-exports/{id}/download/: the user the export is about, and
    the admin who asked for it while still an admin; anyone else gets a 404.
    The zip itself (local disk), or on S3 a 302 to a presigned URL valid for
    FILE_URL_SECONDS. Not ready yet (or failed): 409 `export_not_ready`; past
    its 7 days: 410 `export_expired`."""

    permission_classes = [IsActiveMember]

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The zip, as an attachment (local disk)."
            ),
            302: OpenApiResponse(description="On S3: a redirect to a presigned URL of the zip."),
            409: OpenApiResponse(description="`export_not_ready`: queued, running or failed."),
            410: OpenApiResponse(description="`export_expired`: the zip is gone; ask again."),
        }
    )
    def get(self, request, pk):
        export = DataExport.objects.filter(pk=pk).first()
        if export is None or not policies.can_download_export(request.user, export):
            raise Http404
        if export.status == ExportStatus.EXPIRED or (
            export.status == ExportStatus.READY and export.expires_at <= timezone.now()
        ):
            raise ApplicationError(
                "This export has expired; ask for a new one.",
                code="export_expired",
                status=status.HTTP_410_GONE,
            )
        if export.status != ExportStatus.READY:
            raise ApplicationError(
                f"This export is not ready ({export.status}).",
                code="export_not_ready",
                status=status.HTTP_409_CONFLICT,
                extra={"export_status": export.status},
            )
        return downloads.export_download_response(export)


class UserEraseView(GenericAPIView):
    """POST /users/{id}/erase/: erase a user of the institution; institution
    admins only, with `confirm_email` the user's address (400
    `confirmation_mismatch`). Their personal data is removed or anonymised in
    every part of the site at once; with the data policy's
    `keep_academic_records`, grades and submissions stay, naming no one.
    Refused with 409: oneself (`cannot_modify_self`), an erased user
    (`already_erased`), the last active admin (`last_admin`). Cannot be undone."""

    permission_classes = [IsInstitutionAdmin]
    serializer_class = EraseOutput

    @extend_schema(
        request=EraseInput,
        responses={
            200: EraseOutput,
            409: OpenApiResponse(
                description="`cannot_modify_self`, `already_erased` or `last_admin`."
            ),
        },
    )
    def post(self, request, pk):
        user = _member_or_404(pk)
        data = EraseInput(data=request.data)
        data.is_valid(raise_exception=True)
        erasure = services.user_erase(
            actor=request.user,
            user=user,
            confirm_email=data.validated_data["confirm_email"],
            request=request,
        )
        return Response(
            EraseOutput(
                {
                    "user_id": erasure.user.pk,
                    "kept_academic_records": erasure.kept_academic_records,
                    "sections": erasure.sections,
                }
            ).data
        )


class DataPolicyView(GenericAPIView):
    """GET, PUT, PATCH /institution/data-policy/: how long the activity log is
    kept, and whether an erasure keeps grades and submissions (anonymised).
    Institution admins only. PUT needs both fields, PATCH any."""

    permission_classes = [IsInstitutionAdmin]
    serializer_class = DataPolicyOutput

    def get(self, request):
        return Response(DataPolicyOutput(selectors.data_policy()).data)

    def _update(self, request, *, partial: bool):
        data = DataPolicyInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        policy = services.data_policy_update(
            actor=request.user, request=request, **data.validated_data
        )
        return Response(DataPolicyOutput(policy).data)

    @extend_schema(request=DataPolicyInput, responses=DataPolicyOutput)
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(request=DataPolicyInput, responses=DataPolicyOutput)
    def patch(self, request):
        return self._update(request, partial=True)
