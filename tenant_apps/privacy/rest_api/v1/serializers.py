"""Input and output shapes of the data rights API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conceptspro.api import KnownKeysSerializer
from tenant_apps.privacy.models import DataExport, DataPolicy, ExportStatus
from tenant_apps.privacy.services import download_path

MAX_RETENTION_DAYS = 3650


class DataExportOutput(serializers.ModelSerializer):
    """An export of a user's data. `download_url` (a path on this host) while
    it is ready and not expired."""

    user_id = serializers.UUIDField(read_only=True)
    requested_by_id = serializers.UUIDField(read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=ExportStatus.choices, read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DataExport
        fields = [
            "id",
            "user_id",
            "requested_by_id",
            "status",
            "size_bytes",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
            "download_url",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, export: DataExport) -> str | None:
        return download_path(export) if export.status == ExportStatus.READY else None


class EraseInput(KnownKeysSerializer):
    confirm_email = serializers.CharField(
        max_length=255, help_text="The email address of the user being erased, as a check."
    )


class EraseOutput(serializers.Serializer):
    user_id = serializers.UUIDField()
    kept_academic_records = serializers.BooleanField(
        help_text="Grades and submissions were kept, naming no one (the data policy)."
    )
    sections = serializers.ListField(
        child=serializers.CharField(), help_text="The parts of the institution's data erased."
    )


class DataPolicyInput(KnownKeysSerializer):
    activity_retention_days = serializers.IntegerField(min_value=1, max_value=MAX_RETENTION_DAYS)
    keep_academic_records = serializers.BooleanField()


class DataPolicyOutput(serializers.ModelSerializer):
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Null until an admin first saves it."
    )

    class Meta:
        model = DataPolicy
        fields = ["activity_retention_days", "keep_academic_records", "updated_at"]
        read_only_fields = fields
