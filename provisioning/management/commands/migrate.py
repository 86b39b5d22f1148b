"""`migrate` is `migrate_schemas` here, as in django-tenants, but ours (see migrate_schemas.py)."""

from .migrate_schemas import Command  # noqa: F401
