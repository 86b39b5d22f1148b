"""`Idempotency-Key` for POSTs that create things (IETF
draft-ietf-httpapi-idempotency-key-header).

The key's row is inserted in the same transaction as whatever the request
creates. A retry that arrives while the first request is still running waits
on the row's unique index; when the first commits, the retry answers its stored
response, and when it fails (an error: it rolls back, or drops the row), the
retry runs afresh. So a request is carried out at most once per key, whatever
the timing.
"""

import functools
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from conceptspro.api import ApplicationError

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
SCHEMA_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        f"Up to {MAX_KEY_LENGTH} printable characters naming this request: a retry with "
        "the same key and body answers the first result (with `Idempotent-Replayed: true`) "
        "and does nothing again; the same key with another body is a 422."
    ),
)


def _upload_digest(upload) -> tuple[str, int, str]:
    """An uploaded file by name, size and content, read in chunks and rewound
    for the view."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return upload.name, upload.size, digest.hexdigest()


def _fingerprint(request) -> str:
    """The request as the server understood it: method, path with query, and
    its parsed body (uploads by name, size and content, so a retried multipart
    upload with another boundary is still the same request, and other bytes
    under the same name are not)."""
    data = request.data
    if hasattr(data, "lists"):
        body = {key: [str(v) for v in values] for key, values in data.lists()}
    else:
        body = data
    uploads = {
        key: [_upload_digest(f) for f in request.FILES.getlist(key)] for key in request.FILES
    }
    canonical = json.dumps(
        [request.method, request.get_full_path(), body, uploads],
        sort_keys=True,
        cls=JSONEncoder,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise ApplicationError(
            "This Idempotency-Key was already used for a different request.",
            code="idempotency_key_reused",
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    headers = {"Idempotent-Replayed": "true"}
    if record.response_location:
        headers["Location"] = record.response_location
    return Response(record.response_body, status=record.response_status, headers=headers)


def idempotent(handler):
    """Decorates a DRF view's `post`: with an `Idempotency-Key` header, the
    first successful (2xx) answer is stored and replayed to every retry with
    the same key and request; a different request under the same key is a 422.
    Errors are not stored, so a corrected retry runs. The OpenAPI schema of
    the operation documents the header."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or not getattr(request.user, "is_authenticated", False):
            # A key is the caller's: without a signed-in user there is no one to scope it to.
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ApplicationError(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
                code="invalid_idempotency_key",
                fields={HEADER: ["Invalid key."]},
            )
        fingerprint = _fingerprint(request)
        cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
        with transaction.atomic():
            IdempotencyRecord.objects.filter(user=request.user, created_at__lt=cutoff).delete()
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        user=request.user,
                        key=key,
                        request_fingerprint=fingerprint,
                        response_status=0,
                    )
            except IntegrityError:
                existing = IdempotencyRecord.objects.get(user=request.user, key=key)
                return _replay(existing, fingerprint)
            response = handler(view, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                # Not stored, so a retry runs afresh (a concurrent one waiting on
                # the key's index goes ahead); what the handler did stands, as it
                # would have without a key.
                record.delete()
                return response
            record.response_status = response.status_code
            record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
            record.response_location = response.get("Location", "")
            record.save(update_fields=["response_status", "response_body", "response_location"])
            return response

    return extend_schema(parameters=[SCHEMA_PARAMETER])(wrapper)


def idempotency_records_expired_purge() -> int:
    """Every user's keys older than IDEMPOTENCY_KEY_HOURS (the nightly job; a
    user's own expired keys also go when they send a new one). A key still
    being answered is younger than that, so never among them. How many went."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
