"""GET /api/v1/users/me/: the signed-in user. Any authenticated user of this institution."""

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class MeView(APIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        email = serializers.EmailField()
        first_name = serializers.CharField()
        last_name = serializers.CharField()
        role = serializers.CharField()

    def get(self, request):
        return Response(self.OutputSerializer(request.user).data)
