"""How a ready export reaches its reader, after the access check: on S3, a
302 to the storage's own presigned URL (valid FILE_URL_SECONDS, the zip's
name and type signed in); on local disk, the zip streamed by the download
endpoint itself. No endpoint of ours serves an export without a token."""

from django.conf import settings
from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from .models import DataExport

ZIP_TYPE = "application/zip"


def export_filename(export: DataExport) -> str:
    return f"data-export-{export.created_at:%Y-%m-%d}-{str(export.pk)[:8]}.zip"


def export_download_response(export: DataExport) -> HttpResponse:
    storage = storages["default"]
    if isinstance(storage, S3Storage):
        url = storage.url(
            export.file_key,
            parameters={
                "ResponseContentDisposition": content_disposition_header(
                    as_attachment=True, filename=export_filename(export)
                ),
                "ResponseContentType": ZIP_TYPE,
            },
            expire=settings.FILE_URL_SECONDS,
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "no-store"
        return response
    try:
        content = storage.open(export.file_key, "rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        content, as_attachment=True, filename=export_filename(export), content_type=ZIP_TYPE
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
