"""The invitations API, under /api/v1/users/invitations/. Institution admins only."""

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from conceptspro.api import PagePagination
from tenant_apps.accounts import invitations
from tenant_apps.accounts.models import Role
from tenant_apps.accounts.policies import IsInstitutionAdmin
from tenant_apps.idempotency.api import idempotent


@extend_schema_serializer(component_name="Inviter")
class _InviterOutput(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()


@extend_schema_serializer(component_name="Invitation")
class InvitationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField()
    status = serializers.SerializerMethodField()
    invited_by = serializers.SerializerMethodField()
    user_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.ChoiceField(choices=invitations.InvitationStatus.choices))
    def get_status(self, invitation) -> str:
        return invitations.invitation_status(invitation)

    @extend_schema_field(_InviterOutput(allow_null=True))
    def get_invited_by(self, invitation) -> dict | None:
        inviter = invitation.invited_by
        return None if inviter is None else {"id": str(inviter.pk), "email": inviter.email}


@extend_schema_serializer(component_name="InvitationSent")
class InvitationSentOutput(InvitationOutputSerializer):
    """What POST answers (documentation: the view adds `resent`)."""

    resent = serializers.BooleanField(
        help_text="True when an open invitation for the address was sent again."
    )


class InvitationListCreateView(APIView):
    """GET: the institution's invitations, newest first, paginated; `?status=open|
    accepted|revoked|expired` filters. POST: invite one person (email, role,
    first_name, last_name): 201 with the invitation, or 200 when an open
    invitation for the address was sent again with a fresh link; 409 `user_exists`
    when the address already has an account.

    Who may call: an active admin of this institution.
    """

    permission_classes = [IsInstitutionAdmin]
    pagination_class = PagePagination

    @extend_schema_serializer(component_name="InvitationFilter")
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=invitations.InvitationStatus.choices, required=False
        )

    @extend_schema_serializer(component_name="InvitationInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=255)
        role = serializers.ChoiceField(choices=Role.choices, default=Role.STUDENT)
        first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    @extend_schema(
        operation_id="users_invitations_list",
        parameters=[FilterSerializer],
        responses=InvitationOutputSerializer(many=True),
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = invitations.invitation_list(status=filters.validated_data.get("status", ""))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(InvitationOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="users_invitations_create",
        request=InputSerializer,
        responses={
            201: InvitationSentOutput,
            200: OpenApiResponse(
                InvitationSentOutput, description="An open invitation was sent again."
            ),
            409: OpenApiResponse(description="`user_exists`: the address has an account."),
        },
    )
    @idempotent
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, resent = invitations.invitation_create(
            **data.validated_data, invited_by=request.user, request=request
        )
        return Response(
            {**InvitationOutputSerializer(invitation).data, "resent": resent},
            status=status.HTTP_200_OK if resent else status.HTTP_201_CREATED,
        )


class InvitationDetailView(APIView):
    """GET: one invitation. DELETE: revoke it (204); its link stops working. An
    accepted invitation cannot be revoked (409 `invitation_accepted`).

    Who may call: an active admin of this institution.
    """

    permission_classes = [IsInstitutionAdmin]

    @extend_schema(responses=InvitationOutputSerializer)
    def get(self, request, invitation_id):
        invitation = invitations.invitation_get(invitation_id=invitation_id)
        return Response(InvitationOutputSerializer(invitation).data)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Revoked."),
            409: OpenApiResponse(description="`invitation_accepted`: already accepted."),
        }
    )
    def delete(self, request, invitation_id):
        invitation = invitations.invitation_get(invitation_id=invitation_id)
        invitations.invitation_revoke(
            invitation=invitation, revoked_by=request.user, request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_serializer(component_name="InvitationImportRow")
class _ImportRowOutput(serializers.Serializer):
    row = serializers.IntegerField(help_text="The line in the file; the header is row 1.")
    email = serializers.CharField()
    role = serializers.CharField()
    status = serializers.ChoiceField(choices=invitations.ImportRowStatus.choices)
    message = serializers.CharField()


class InvitationImportReport(serializers.Serializer):
    """The per-row report of a CSV import (documentation: ImportReport.as_dict)."""

    dry_run = serializers.BooleanField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Rows per status.")
    rows = _ImportRowOutput(many=True)


class InvitationImportView(APIView):
    """POST (multipart): invite everyone in a CSV file (`file`; columns email,
    first_name, last_name, role; header row required) and answer 200 with a
    per-row report: `{"dry_run", "counts", "rows": [{"row", "email", "role",
    "status", "message"}]}`, status created / resent / skipped / error; `row`
    counts the header as row 1. `dry_run=true` reports without writing or
    sending anything. A file that is not UTF-8 CSV or has no email column: 400
    `invalid_csv`.

    Who may call: an active admin of this institution.
    """

    permission_classes = [IsInstitutionAdmin]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema_serializer(component_name="InvitationImportInput")
    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)
        dry_run = serializers.BooleanField(default=False)

    @extend_schema(request=InputSerializer, responses=InvitationImportReport)
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = invitations.invitations_import_csv(
            data=data.validated_data["file"].read(invitations.CSV_MAX_BYTES + 1),
            invited_by=request.user,
            request=request,
            dry_run=data.validated_data["dry_run"],
        )
        return Response(report.as_dict())
