"""Template context of an institution's pages: its sign-in policy, read only if a page uses it."""

from django.utils.functional import SimpleLazyObject
from django_tenants.utils import get_public_schema_name

from . import selectors


def security_policy(request) -> dict:
    """On an institution's host, `security_policy` (lazy: no query unless a template
    reads it) and `institution_site`; on the public site and refusal pages, nothing."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return {}
    return {
        "institution_site": True,
        "security_policy": SimpleLazyObject(selectors.security_policy),
    }
