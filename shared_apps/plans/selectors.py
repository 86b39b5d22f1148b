"""Reads of plans."""

from .models import Plan


def plan_default() -> Plan | None:
    return Plan.objects.filter(is_default=True).first()
