"""DRF authentication by `Authorization: Bearer <access token>`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from .tokens import TokenRefused, access_token_authenticate

REALM = "api"


class AccessTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            return self._refuse(request, "The Authorization header must be 'Bearer <token>'.")
        try:
            token = parts[1].decode()
            user, payload = access_token_authenticate(token)
        except UnicodeError:
            return self._refuse(
                request, "The access token is malformed or its signature is invalid."
            )
        except TokenRefused as refused:
            return self._refuse(request, refused.description)
        return user, payload

    def _refuse(self, request, description: str):
        request._bearer_error = description
        raise exceptions.AuthenticationFailed(description, code="invalid_token")

    def authenticate_header(self, request) -> str:
        """RFC 6750 challenge; after a refused token, it says which problem it was."""
        description = getattr(request, "_bearer_error", None)
        if description is None:
            return f'Bearer realm="{REALM}"'
        return f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"'


class AccessTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes AccessTokenAuthentication: an HTTP
    Bearer scheme whose token is the JWT /api/v1/auth/login/ hands out.
    drf-spectacular finds it by subclass registration, when this module loads."""

    target_class = AccessTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The `access_token` from /api/v1/auth/login/ or /api/v1/auth/refresh/.",
        }
