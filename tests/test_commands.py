"""create_institution, list_institutions, seed_demo and create_operator."""

import pytest
from django.core.management import CommandError, call_command

from shared_apps.institutions.models import Institution
from tenant_apps.accounts.models import User

from .conftest import PASSWORD


def test_create_institution_provisions_it_and_list_shows_it(db, capsys):
    call_command(
        "create_institution",
        "--name",
        "Zeta Institute",
        "--slug",
        "zeta",
        "--admin-email",
        "root@zeta.test",
        "--admin-password",
        PASSWORD,
        "--plan",
        "standard",
        "--timezone",
        "America/Chicago",
    )
    assert "zeta: active" in capsys.readouterr().out
    institution = Institution.objects.get(slug="zeta")
    assert institution.plan.code == "standard"
    assert institution.timezone == "America/Chicago"

    call_command("list_institutions")
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["SLUG", "STATUS", "PLAN", "ADDRESS", "NAME"]
    zeta = next(line for line in listing if line.startswith("zeta"))
    assert zeta.split() == ["zeta", "active", "standard", "zeta.localhost", "Zeta", "Institute"]
    assert listing[-1] == "3 institution(s)"

    call_command("list_institutions", "--status", "suspended")
    assert capsys.readouterr().out.strip() == "SLUG  STATUS  PLAN  ADDRESS  NAME\n0 institution(s)"


def test_create_institution_refuses_bad_input_with_the_reason(db):
    with pytest.raises(CommandError) as error:
        call_command(
            "create_institution",
            "--name",
            "Reserved",
            "--slug",
            "admin",
            "--admin-email",
            "nope",
            "--admin-password",
            PASSWORD,
            "--timezone",
            "Mars/Olympus_Mons",
        )
    message = str(error.value)
    assert "slug: This address is reserved." in message
    assert "timezone: Not an IANA time zone name." in message
    assert "admin_email: Enter a valid email address." in message
    assert not Institution.objects.filter(name="Reserved").exists()


def test_create_institution_refuses_an_unknown_plan(db):
    with pytest.raises(CommandError, match="No plan with code 'gold'"):
        call_command(
            "create_institution",
            "--name",
            "Eta",
            "--slug",
            "eta",
            "--admin-email",
            "a@eta.test",
            "--admin-password",
            PASSWORD,
            "--plan",
            "gold",
        )


def test_seed_demo_makes_the_demo_institution_and_its_course_once(db, capsys):
    from django_tenants.utils import tenant_context

    from shared_apps.institutions.models import Institution
    from tenant_apps.announcements.models import Announcement
    from tenant_apps.content.models import ContentItem
    from tenant_apps.courses.models import Course

    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "student1@demo.test" in out and "operator@demo.test" in out
    operator = User.objects.get(email="operator@demo.test")  # public schema: the operator's staff
    assert operator.is_staff and operator.check_password("conceptspro-demo")
    with tenant_context(Institution.objects.get(slug="demo")):
        course = Course.objects.get()
        assert (course.code, course.status, course.current_enrollment) == (
            "BIO 101",
            "published",
            3,
        )
        assert sorted(course.enrollments.values_list("user__email", "role")) == [
            ("student1@demo.test", "student"),
            ("student2@demo.test", "student"),
            ("student3@demo.test", "student"),
            ("ta@demo.test", "ta"),
        ]
        assert ContentItem.objects.filter(module__course=course).count() == 2
        assert Announcement.objects.filter(course=course).count() == 1


def test_create_operator_makes_a_staff_account_of_the_public_schema(db, capsys):
    call_command("create_operator", "--email", "Ops@Example.com", "--password", PASSWORD)
    call_command("create_operator", "--email", "ops@example.com", "--password", PASSWORD + "2")
    operator = User.objects.get(email="ops@example.com")
    assert operator.is_staff and not operator.is_superuser and operator.email_verified
    assert operator.check_password(PASSWORD + "2")  # updated, not duplicated
    assert "can sign in to /console/" in capsys.readouterr().out


def test_create_operator_refuses_a_weak_password_and_makes_nobody(db):
    with pytest.raises(CommandError, match="password"):
        call_command("create_operator", "--email", "ops@example.com", "--password", "12345")
    with pytest.raises(CommandError, match="email"):
        call_command("create_operator", "--email", "not-an-address", "--password", PASSWORD)
    assert not User.objects.filter(email="ops@example.com").exists()
