"""Create an institution and provision it (inline, or queued with --queue)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from provisioning import services
from shared_apps.plans.models import Plan


class Command(BaseCommand):
    help = "Create an institution with its first administrator and provision it."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="Subdomain, e.g. 'mit'.")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--admin-first-name", default="")
        parser.add_argument("--admin-last-name", default="")
        parser.add_argument("--plan", help="Plan code; the default plan when omitted.")
        parser.add_argument(
            "--timezone", default="UTC", help="IANA time zone, e.g. America/New_York."
        )
        parser.add_argument(
            "--queue", action="store_true", help="Queue provisioning on Celery and return."
        )

    def handle(self, *args, **options):
        plan = None
        if options["plan"]:
            plan = Plan.objects.filter(code=options["plan"]).first()
            if plan is None:
                raise CommandError(f"No plan with code {options['plan']!r}.")
        try:
            institution = services.institution_create(
                name=options["name"],
                slug=options["slug"],
                admin_email=options["admin_email"],
                admin_password=options["admin_password"],
                admin_first_name=options["admin_first_name"],
                admin_last_name=options["admin_last_name"],
                plan=plan,
                timezone=options["timezone"],
                enqueue=options["queue"],
            )
        except ValidationError as exc:
            lines = [
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            ]
            raise CommandError("Invalid institution:\n  " + "\n  ".join(lines)) from exc
        if options["queue"]:
            self.stdout.write(f"Queued provisioning of {institution.slug} ({institution.id}).")
            return
        try:
            institution = services.institution_provision(institution_id=institution.id)
        except Exception as exc:
            raise CommandError(f"Provisioning failed: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"{institution.slug}: {institution.status}"))
