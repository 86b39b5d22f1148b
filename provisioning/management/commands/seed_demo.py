"""Provision the `demo` institution with an admin, an instructor, a TA and
students, and one published course they are all in.

Idempotent: running it again changes nothing and prints the same credentials.
"""

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import tenant_context

from provisioning import services
from shared_apps.console.services import operator_ensure
from shared_apps.institutions.models import Institution
from tenant_apps.accounts.api import Role, User, user_ensure
from tenant_apps.announcements.api import announcement_create
from tenant_apps.content.api import ContentType, content_item_create, module_create
from tenant_apps.courses.api import Course, CourseRole, course_create, enrollment_add

DEMO_SLUG = "demo"
DEMO_PASSWORD = "conceptspro-demo"  # noqa: S105 -- development only, printed on every start
DEMO_OPERATOR = "operator@demo.test"
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
            _demo_course_ensure()
        operator_ensure(email=DEMO_OPERATOR, password=DEMO_PASSWORD, first_name="Olive")
        url = f"http://{DEMO_SLUG}.{settings.BASE_DOMAIN}:{options['port']}/"
        self.stdout.write(f"Demo institution: {url}")
        self.stdout.write(f"Everyone's password: {DEMO_PASSWORD}")
        for email, _, _, role in DEMO_PEOPLE:
            self.stdout.write(f"  {role:<10} {email}")
        console = f"http://{settings.BASE_DOMAIN}:{options['port']}/console/"
        self.stdout.write(
            f"Operator console: {console} ({DEMO_OPERATOR}, same password; "
            "set up an authenticator app at first sign-in)"
        )


@transaction.atomic
def _demo_course_ensure() -> None:
    """BIO 101, taught by the instructor, with the TA and the three students,
    one module of two items and a welcome announcement. Made once."""
    if Course.objects.filter(code="BIO 101", deleted_at__isnull=True).exists():
        return
    people = {user.email: user for user in User.objects.all()}
    instructor = people["instructor@demo.test"]
    today = date.today()
    course = course_create(
        actor=instructor,
        code="BIO 101",
        title="Introduction to Biology",
        term=f"Year {today.year}",
        academic_year=today.year,
        start_date=date(today.year, 1, 1),
        end_date=date(today.year, 12, 31),
        status="published",
        max_enrollment=30,
        settings={"self_enrollment": True},
    )
    enrollment_add(course=course, user=people["ta@demo.test"], role=CourseRole.TA)
    for n in (1, 2, 3):
        enrollment_add(course=course, user=people[f"student{n}@demo.test"])
    module = module_create(course=course, title="Week 1: Cells", is_published=True)
    content_item_create(
        actor=instructor,
        module=module,
        title="What is a cell?",
        content_type=ContentType.LINK,
        content_url="https://en.wikipedia.org/wiki/Cell_(biology)",
        is_published=True,
    )
    content_item_create(
        actor=instructor,
        module=module,
        title="Cell structure (lecture)",
        content_type=ContentType.VIDEO,
        video_url="https://example.org/bio101/cells.mp4",
        duration_minutes=12,
        is_published=True,
    )
    announcement_create(
        course=course,
        author=instructor,
        title="Welcome to BIO 101",
        content="Week 1's material is up. See you in the lab.",
        is_published=True,
    )
