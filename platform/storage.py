"""File storage that keeps each institution's files under its own key prefix.

The prefix is taken from the schema of the current connection at the moment a
name is resolved, so code inside a tenant request or a tenant Celery task cannot
address another institution's files.
"""

from django.core.files.storage import FileSystemStorage
from django.db import connection
from storages.backends.s3 import S3Storage


def institution_prefix(schema_name: str | None = None) -> str:
    schema = schema_name or connection.schema_name
    if schema == "public":
        return "platform"
    return f"institutions/{schema}"


class _TenantPrefixMixin:
    def _prefixed(self, name: str) -> str:
        prefix = institution_prefix()
        name = name.lstrip("/")
        if name.startswith(prefix + "/"):
            return name
        return f"{prefix}/{name}"

    def get_available_name(self, name, max_length=None):
        return super().get_available_name(self._prefixed(name), max_length)

    def generate_filename(self, filename):
        return self._prefixed(super().generate_filename(filename))


class TenantFileSystemStorage(_TenantPrefixMixin, FileSystemStorage):
    pass


class TenantS3Storage(_TenantPrefixMixin, S3Storage):
    pass
