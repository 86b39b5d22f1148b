"""Reads of privacy."""

from django.db.models import QuerySet

from .models import DataExport, DataPolicy


def data_policy() -> DataPolicy:
    """The institution's data policy (its defaults until an admin saves one)."""
    return DataPolicy.objects.filter(pk=1).first() or DataPolicy()


def data_exports_of(user) -> QuerySet[DataExport]:
    """The exports of `user`'s data, newest first (whoever asked for them)."""
    return DataExport.objects.filter(user=user).order_by("-created_at", "id")
