"""Conventions every endpoint of the REST API shares: one error shape, one
pagination style. Views raise; this module turns the exception into the answer.

Errors: `{"error": {"code": "...", "message": "...", "fields": {...}}}`.
Lists: `?page=&per_page=` (at most 100), RFC 8288 `Link` headers (first, prev,
next, last) and a body of `{"count", "page", "per_page", "results"}`.
Rate limits: per signed-in user and per client address (429 with Retry-After).
"""

import math
from datetime import UTC

import django_filters
from django import forms as django_forms
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, JsonResponse
from django.views import defaults
from django_filters.fields import IsoDateTimeField
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.utils.urls import replace_query_param


class ApplicationError(Exception):
    """A refusal decided by our own code (a service or a view): it becomes the
    one error shape with this status and machine-readable code."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int = status.HTTP_400_BAD_REQUEST,
        fields: dict | None = None,
        extra: dict | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.fields = fields or {}
        self.extra = extra or {}
        self.headers = headers or {}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


_CODES = {
    RequestTooLarge: "request_too_large",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_request",
    exceptions.ValidationError: "invalid",
}


def _messages(detail):
    """DRF's nested ErrorDetail structure as plain strings, same nesting."""
    if isinstance(detail, dict):
        return {key: _messages(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_messages(item) for item in detail]
    return str(detail)


def error_body(*, code: str, message: str, fields=None, extra=None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **(extra or {})}}


def error_response(
    *, status_code: int, code: str, message: str, fields=None, headers=None, extra=None
) -> Response:
    body = error_body(code=code, message=message, fields=fields, extra=extra)
    return Response(body, status=status_code, headers=headers)


def error_json_response(*, status_code: int, code: str, message: str) -> JsonResponse:
    """The same shape from middleware, which answers before DRF is involved."""
    return JsonResponse(error_body(code=code, message=message), status=status_code)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found_handler(request, exception=None):
    """Django's handler404 for the institution's site: a path no URL matches
    answers the API's shape under /api/, Django's page elsewhere."""
    if _is_api(request):
        return error_json_response(status_code=404, code="not_found", message="Not found.")
    return defaults.page_not_found(request, exception)


def server_error_handler(request):
    """Django's handler500 for the institution's site: the API's shape under
    /api/ (the error is logged by Django as usual), Django's page elsewhere."""
    if _is_api(request):
        return error_json_response(
            status_code=500, code="server_error", message="Something went wrong on our side."
        )
    return defaults.server_error(request)


class KnownKeysSerializer(serializers.Serializer):
    """An object input that refuses keys it does not declare, as field errors,
    instead of silently dropping them (JSON settings and preferences)."""

    unknown_key_message = "Unknown key."

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: [self.unknown_key_message] for key in unknown}
                )
        return super().to_internal_value(data)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return error_response(
            status_code=exc.status,
            code=exc.code,
            message=exc.message,
            fields=exc.fields,
            extra=exc.extra,
            headers=exc.headers,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, met by DRF reading the body
        # (JSON, form) or multipart fields: a SuspiciousOperation Django would
        # answer with an HTML 400.
        exc = RequestTooLarge()
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ParseError(str(exc))
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handling and logging take it

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))

    code = next((c for klass, c in _CODES.items() if isinstance(exc, klass)), None)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = _messages(detail if isinstance(detail, dict) else {"non_field_errors": detail})
        non_field = fields.get("non_field_errors")
        message = non_field[0] if non_field else "The request has invalid fields."
        return error_response(
            status_code=exc.status_code, code="invalid", message=message, fields=fields
        )
    detail_code = exc.get_codes() if isinstance(exc.get_codes(), str) else None
    if isinstance(exc, exceptions.AuthenticationFailed) and detail_code:
        code = detail_code
    return error_response(
        status_code=exc.status_code,
        code=code or detail_code or "error",
        message=str(exc.detail),
        headers=headers,
    )


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, refusing NUL characters anywhere in the document:
    PostgreSQL cannot store them in text or jsonb, so they could only end as a
    500 deep in some write."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            has_nul = _has_nul(data)
        except RecursionError:  # the decoder and _has_nul recurse once per level
            raise exceptions.ParseError("JSON nested too deeply.") from None
        if has_nul:
            raise exceptions.ParseError("JSON strings must not contain NUL (\\u0000) characters.")
        return data


class _UTCIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:  # year 1 east of UTC, year 9999 west of it
            raise django_forms.ValidationError(
                "Enter a date/time between the years 1 and 9999 in UTC.", code="invalid"
            ) from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """django-filter's ISO 8601 filter, turned into UTC before it reaches the
    query: Python accepts any offset under 24 hours, PostgreSQL none beyond
    ±15:59, so `?updated_since=2026-01-01T00:00-21:00` would end in a 500.
    Every date-time filter of the API (`updated_since` first) uses this one."""

    field_class = _UTCIsoDateTimeField


class OrderingFilter(django_filters.OrderingFilter):
    """django-filter's `ordering`, safe for pagination: terms that say nothing
    (`?ordering=,`) keep the list's default order instead of clearing it, and
    an explicit order ends with the primary key, so rows that tie (two courses
    of one term) cannot move between pages."""

    def filter(self, qs, value):
        ordering = [self.get_ordering_value(term) for term in value or () if term]
        if not ordering:
            return qs
        return qs.order_by(*ordering, "pk")


def updated_since_filter() -> IsoDateTimeFilter:
    """The `updated_since` every list takes: rows changed at or after it."""
    return IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Only rows changed at or after this ISO 8601 date-time.",
    )


class PagePagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "per_page"
    max_page_size = 100

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.page.paginator.count,
                "page": self.page.number,
                "per_page": self.page.paginator.per_page,
                "results": data,
            },
            headers={"Link": self._link_header()} if self._link_header() else None,
        )

    def _link_header(self) -> str:
        url = self.request.build_absolute_uri()
        page, last = self.page.number, self.page.paginator.num_pages
        rels = {"first": 1, "last": last}
        if page > 1:
            rels["prev"] = page - 1
        if page < last:
            rels["next"] = page + 1
        return ", ".join(
            f'<{replace_query_param(url, self.page_query_param, n)}>; rel="{rel}"'
            for rel, n in rels.items()
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "page", "per_page", "results"],
            "properties": {
                "count": {"type": "integer"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "results": schema,
            },
        }


class UserRateThrottle(SimpleRateThrottle):
    """Requests per signed-in user. The cache key carries the institution's
    schema (django-tenants' key function), so user ids never collide."""

    scope = "user"

    def get_rate(self):
        return settings.API_RATE_PER_USER

    def get_cache_key(self, request, view):
        user = request.user
        if user is None or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class IPRateThrottle(SimpleRateThrottle):
    """Requests per client address, signed in or not."""

    scope = "ip"

    def get_rate(self):
        return settings.API_RATE_PER_IP

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "additionalProperties": True,
        }
    },
}
# What any operation may answer, whatever it does.
_ERROR_STATUSES = {
    "400": "Malformed request or invalid fields.",
    "401": "Not signed in, or the token is invalid.",
    "403": "Signed in, but not allowed.",
    "404": "Not found, or not visible to the caller.",
    "429": "Too many requests; see Retry-After.",
}
# What an operation that takes a body may answer besides.
_BODY_ERROR_STATUSES = {
    "413": "The request body is larger than the server accepts.",
    "415": "The body's Content-Type is not one this operation accepts.",
}
_IDEMPOTENCY_ERROR_STATUSES = {
    "422": "This Idempotency-Key was already used for a different request.",
}
_HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}
_LINK = {
    "Link": {
        "description": 'RFC 8288 links to the other pages: rel="first", "prev", "next", "last".',
        "schema": {"type": "string"},
    }
}


def _takes_idempotency_key(operation) -> bool:
    return any(
        parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key"
        for parameter in operation.get("parameters", [])
    )


def _is_page(response, components) -> bool:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    if not ref:
        return False
    schema = components.get(ref.rsplit("/", 1)[-1], {})
    return {"count", "page", "per_page", "results"} <= set(schema.get("properties", {}))


def schema_add_error_responses(result, generator, request, public):
    """drf-spectacular hook: every operation documents the one error shape for
    the statuses it may answer (a view names its own, such as 409, with a
    description only: the shape is filled in here), 429's Retry-After, and the
    Link header of a page of a list."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = _ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            statuses = dict(_ERROR_STATUSES)
            if "requestBody" in operation:
                statuses |= _BODY_ERROR_STATUSES
            if _takes_idempotency_key(operation):
                statuses |= _IDEMPOTENCY_ERROR_STATUSES
            for status_code, description in statuses.items():
                responses.setdefault(status_code, {"description": description})
            for status_code, response in responses.items():
                if status_code.startswith(("4", "5")) and "content" not in response:
                    response["content"] = content
                if status_code == "429":
                    response.setdefault("headers", {}).update(_RETRY_AFTER)
                if status_code == "200" and _is_page(response, components):
                    response.setdefault("headers", {}).update(_LINK)
    return result
