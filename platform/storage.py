"""File storage that keeps each institution's files under its own key prefix.

Every name is resolved against the schema of the current connection: a name
without a prefix gets the current institution's, a name with another
institution's prefix (or one that climbs out with '..') is refused. So code in
a tenant request or tenant Celery task cannot address another institution's
files, whatever name it is handed.
"""

import posixpath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage
from django.db import connection
from storages.backends.s3 import S3Storage

_PREFIX_ROOTS = ("institutions/", "platform/")


def institution_prefix(schema_name: str | None = None) -> str:
    schema = schema_name or connection.schema_name
    if schema == "public":
        return "platform"
    return f"institutions/{schema}"


def scoped_name(name: str) -> str:
    """`name` inside the current institution's prefix, or SuspiciousFileOperation."""
    prefix = institution_prefix()
    name = posixpath.normpath(name.replace("\\", "/").lstrip("/"))
    if name == ".." or name.startswith("../"):
        raise SuspiciousFileOperation(f"{name!r} leaves the storage root.")
    if name.startswith(prefix + "/"):
        return name
    if name.startswith(_PREFIX_ROOTS):
        raise SuspiciousFileOperation(f"{name!r} is outside this institution's files.")
    return f"{prefix}/{name}"


class _TenantPrefixMixin:
    def get_available_name(self, name, max_length=None):
        return super().get_available_name(scoped_name(name), max_length)

    def generate_filename(self, filename):
        return scoped_name(super().generate_filename(filename))


class TenantFileSystemStorage(_TenantPrefixMixin, FileSystemStorage):
    def path(self, name):
        # Every filesystem operation (open, exists, delete, size, ...) goes through path().
        return super().path(scoped_name(name))


class TenantS3Storage(_TenantPrefixMixin, S3Storage):
    def _normalize_name(self, name):
        # Every S3 operation goes through _normalize_name().
        return super()._normalize_name(scoped_name(name))
