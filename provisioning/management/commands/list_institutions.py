"""List institutions with their status, plan and address."""

from django.conf import settings
from django.core.management.base import BaseCommand

from shared_apps.institutions.models import Institution


class Command(BaseCommand):
    help = "List institutions."

    def add_arguments(self, parser):
        parser.add_argument("--status", choices=Institution.Status.values)

    def handle(self, *args, **options):
        institutions = Institution.objects.select_related("plan").order_by("slug")
        if options["status"]:
            institutions = institutions.filter(status=options["status"])
        rows = [("SLUG", "STATUS", "PLAN", "ADDRESS", "NAME")]
        for institution in institutions:
            rows.append(
                (
                    institution.slug,
                    institution.status,
                    institution.plan.code if institution.plan else "-",
                    f"{institution.slug}.{settings.BASE_DOMAIN}",
                    institution.name,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[4]]).rstrip())
        self.stdout.write(f"{len(rows) - 1} institution(s)")
