"""The plans every deployment starts with; the operator edits them later."""

from django.db import migrations

PLANS = [
    # code, name, max_users, max_courses, max_storage_bytes, features, is_default
    ("trial", "Trial", 200, 20, 5 * 1024**3, {"sso": True, "analytics": True}, True),
    ("standard", "Standard", 5000, 500, 200 * 1024**3, {"sso": True, "analytics": True}, False),
]


def seed(apps, schema_editor):
    Plan = apps.get_model("plans", "Plan")
    for code, name, users, courses, storage, features, is_default in PLANS:
        Plan.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "max_users": users,
                "max_courses": courses,
                "max_storage_bytes": storage,
                "features": features,
                "is_default": is_default,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
