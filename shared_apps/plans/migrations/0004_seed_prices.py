"""Prices and trial terms for the plans every deployment starts with, and a
free plan. Stripe price ids are the operator's to fill in (console or admin)."""

from django.db import migrations

GIB = 1024**3
PLANS = {
    "free": {
        "name": "Free",
        "description": "For a department trying ConceptsPro: a few courses, no card.",
        "max_users": 50,
        "max_courses": 5,
        "max_storage_bytes": 1 * GIB,
        "features": {},
        "sort_order": 10,
    },
    "trial": {
        "description": "Everything in Standard for 30 days, no card; then choose a plan.",
        "trial_days": 30,
        "sort_order": 20,
    },
    "standard": {
        "description": "For a university: SSO, analytics and room to grow.",
        "price_monthly_cents": 49900,
        "price_yearly_cents": 499000,
        "features": {"sso": True, "analytics": True, "api_access": True},
        "sort_order": 30,
    },
}


def seed(apps, schema_editor):
    Plan = apps.get_model("plans", "Plan")
    for code, fields in PLANS.items():
        plan = Plan.objects.filter(code=code).first()
        if plan is None:
            Plan.objects.create(code=code, **fields)
        elif not plan.description:
            # Only plans the operator has not edited yet.
            Plan.objects.filter(pk=plan.pk).update(**fields)


class Migration(migrations.Migration):
    dependencies = [("plans", "0003_prices_and_usage")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
