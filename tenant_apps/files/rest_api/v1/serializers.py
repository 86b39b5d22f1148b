"""Input and output shapes of the files API."""

from django.utils import timezone
from rest_framework import serializers

from tenant_apps.files.models import AccessLevel, StorageUsage, StoredFile

MAX_BULK_FILES = 20


class FileOutput(serializers.ModelSerializer):
    course_id = serializers.UUIDField(allow_null=True, read_only=True)
    uploader_id = serializers.UUIDField(allow_null=True, read_only=True)

    class Meta:
        model = StoredFile
        fields = [
            "id",
            "original_name",
            "mime_type",
            "file_size_bytes",
            "sha256",
            "access_level",
            "course_id",
            "uploader_id",
            "download_count",
            "expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FileAttachmentOutput(serializers.Serializer):
    """What other apps embed of a file (tenant_apps.files.api.file_output)."""

    id = serializers.UUIDField()
    original_name = serializers.CharField()
    mime_type = serializers.CharField()
    file_size_bytes = serializers.IntegerField()
    access_level = serializers.ChoiceField(choices=AccessLevel.choices)
    course_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()


class _PlacementInput(serializers.Serializer):
    course_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    access_level = serializers.ChoiceField(
        choices=AccessLevel.choices, required=False, default=AccessLevel.PRIVATE
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value

    def validate(self, attrs):
        if attrs["access_level"] == AccessLevel.COURSE and attrs["course_id"] is None:
            raise serializers.ValidationError(
                {"access_level": ["The level `course` needs a course_id."]}
            )
        return attrs


class UploadInput(_PlacementInput):
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class BulkUploadInput(_PlacementInput):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        min_length=1,
        max_length=MAX_BULK_FILES,
    )


class StorageUsageOutput(serializers.ModelSerializer):
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Null until the first upload."
    )

    class Meta:
        model = StorageUsage
        fields = ["bytes_used", "file_count", "updated_at"]
        read_only_fields = fields


class DownloadQueryInput(serializers.Serializer):
    sig = serializers.CharField(max_length=500)
