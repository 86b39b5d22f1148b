"""Output shapes of the notifications API (it takes no input bodies)."""

from rest_framework import serializers

from tenant_apps.notifications.models import Notification


class NotificationOutput(serializers.ModelSerializer):
    """The design document's notification. `link_url` is a path on the
    institution's site; `metadata` names what it is about (course_id,
    item_id, grade_id, announcement_id, ... by kind)."""

    metadata = serializers.DictField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "notification_type",
            "title",
            "message",
            "link_url",
            "is_read",
            "read_at",
            "metadata",
            "created_at",
        ]
        read_only_fields = fields


class NotificationCountOutput(serializers.Serializer):
    count = serializers.IntegerField()
