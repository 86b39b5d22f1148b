"""The invitations API, under /api/v1/users/invitations/. Institution admins only."""

from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from conceptspro.api import PagePagination
from tenant_apps.accounts import invitations
from tenant_apps.accounts.models import Role
from tenant_apps.accounts.policies import IsInstitutionAdmin


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

    def get_status(self, invitation) -> str:
        return invitations.invitation_status(invitation)

    def get_invited_by(self, invitation) -> dict | None:
        inviter = invitation.invited_by
        return None if inviter is None else {"id": str(inviter.pk), "email": inviter.email}


class InvitationListCreateView(APIView):
    """GET: the institution's invitations, newest first, paginated; `?status=open|
    accepted|revoked|expired` filters. POST: invite one person (email, role,
    first_name, last_name): 201 with the invitation, or 200 when an open
    invitation for the address was sent again with a fresh link; 409 `user_exists`
    when the address already has an account.

    Who may call: an active admin of this institution.
    """

    permission_classes = [IsInstitutionAdmin]

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(
            choices=invitations.InvitationStatus.choices, required=False
        )

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=255)
        role = serializers.ChoiceField(choices=Role.choices, default=Role.STUDENT)
        first_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        last_name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = invitations.invitation_list(status=filters.validated_data.get("status", ""))
        paginator = PagePagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(InvitationOutputSerializer(page, many=True).data)

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

    def get(self, request, invitation_id):
        invitation = invitations.invitation_get(invitation_id=invitation_id)
        return Response(InvitationOutputSerializer(invitation).data)

    def delete(self, request, invitation_id):
        invitation = invitations.invitation_get(invitation_id=invitation_id)
        invitations.invitation_revoke(
            invitation=invitation, revoked_by=request.user, request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


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

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(allow_empty_file=True)
        dry_run = serializers.BooleanField(default=False)

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
