"""Reads of stored files: fetched through the access check, never by raw id."""

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from tenant_apps.accounts.api import Role

from . import policies
from .models import StorageUsage, StoredFile


def live_files() -> QuerySet[StoredFile]:
    now = timezone.now()
    return StoredFile.objects.filter(deleted_at__isnull=True).filter(
        Q(held=True) | Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def file_readable_or_404(user, file_id) -> StoredFile:
    """The live file if `user` may read it; otherwise 404, so that neither a
    file's existence nor its deletion leaks."""
    file = StoredFile.objects.select_related("course").filter(pk=file_id).first()
    if file is None or not policies.can_read_file(user, file):
        raise Http404
    return file


def file_list_for(user) -> QuerySet[StoredFile]:
    """The caller's own live files; an admin's list holds everyone's."""
    files = live_files()
    if user.role != Role.ADMIN:
        files = files.filter(uploader=user)
    return files


def storage_usage() -> StorageUsage:
    return StorageUsage.objects.filter(pk=1).first() or StorageUsage(pk=1)
