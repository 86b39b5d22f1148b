"""Provision the `demo` institution with an admin, an instructor and students.

Idempotent: running it again changes nothing and prints the same credentials.
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context

from provisioning import services
from shared_apps.institutions.models import Institution
from tenant_apps.accounts.api import Role, user_ensure

DEMO_SLUG = "demo"
DEMO_PASSWORD = "conceptspro-demo"  # noqa: S105 -- development only, printed on every start
DEMO_PEOPLE = [
    ("admin@demo.test", "Ada", "Admin", Role.ADMIN),
    ("instructor@demo.test", "Ivan", "Instructor", Role.INSTRUCTOR),
    ("ta@demo.test", "Tess", "Assistant", Role.TA),
    ("student1@demo.test", "Sam", "Student", Role.STUDENT),
    ("student2@demo.test", "Sasha", "Student", Role.STUDENT),
    ("student3@demo.test", "Sol", "Student", Role.STUDENT),
]


class Command(BaseCommand):
    help = "Create the demo institution and its people (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--port", default="8000")

    def handle(self, *args, **options):
        institution = Institution.objects.filter(slug=DEMO_SLUG).first()
        if institution is None:
            email, first, last, _ = DEMO_PEOPLE[0]
            institution = services.institution_create(
                name="Demo University",
                slug=DEMO_SLUG,
                admin_email=email,
                admin_password=DEMO_PASSWORD,
                admin_first_name=first,
                admin_last_name=last,
                enqueue=False,
            )
        if institution.status != Institution.Status.ACTIVE:
            institution = services.institution_provision(institution_id=institution.id)
        with tenant_context(institution):
            for email, first, last, role in DEMO_PEOPLE:
                user_ensure(
                    email=email, first_name=first, last_name=last, role=role, password=DEMO_PASSWORD
                )
        url = f"http://{DEMO_SLUG}.{settings.BASE_DOMAIN}:{options['port']}/"
        self.stdout.write(f"Demo institution: {url}")
        self.stdout.write(f"Everyone's password: {DEMO_PASSWORD}")
        for email, _, _, role in DEMO_PEOPLE:
            self.stdout.write(f"  {role:<10} {email}")
