"""Erasing a user through POST /users/{id}/erase/: their personal data leaves
every table it lived in (each is queried here), their token stops at once,
their seat is freed once; grades and submissions stay anonymised when the
data policy keeps academic records and go when it does not. Who may erase,
the confirmation, oneself, the last admin, twice, another institution."""

import uuid
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.files.storage import storages
from django.db import connection, models
from django.db.models.functions import Cast
from django.utils import timezone

from conceptspro.api import ApplicationError
from shared_apps.plans.models import InstitutionUsage
from tenant_apps.accounts.models import Invitation, Role, User, UserPreferences
from tenant_apps.activity.models import ActivityLog
from tenant_apps.announcements.models import AnnouncementRead
from tenant_apps.assignments.models import Submission, SubmissionStatus
from tenant_apps.audit.models import AuditEvent, AuditEventType
from tenant_apps.courses.models import CourseEnrollmentImport, Enrollment
from tenant_apps.files.models import StoredFile
from tenant_apps.grading.models import Grade
from tenant_apps.privacy import services
from tenant_apps.privacy.models import DataExport, DataPolicy
from tenant_apps.quizzes.models import Attempt

from .api_helpers import admin_of, api_client, as_json, error_code, member
from .conftest import host_client
from .test_assignments_api import build_world, in_tenant
from .test_privacy_export import MY_EXPORTS, lived_in

pytestmark = pytest.mark.django_db

# Tables that keep what happened, by design, beyond an erasure: the audit
# trail (the institution's security record; its rows name the address a
# sign-in used).
KEPT_BY_DESIGN = {"audit.auditevent"}


def erase_url(user) -> str:
    return f"/api/v1/users/{user.pk}/erase/"


def erase(client, user, email=None):
    return as_json(client, "post", erase_url(user), {"confirm_email": email or user.email})


@pytest.fixture
def world(alpha):
    return build_world(alpha, students=2)


@pytest.fixture
def run_jobs(celery_eager, django_capture_on_commit_callbacks):
    def run(method, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return method(*args, **kwargs)

    return run


def seats(institution) -> int:
    return InstitutionUsage.objects.get(pk=institution.pk).users


def sign_in_material(world, who: str) -> None:
    """The student also has a phone and ids, preferences, an SSO link, an MFA
    method, the invitation they joined by, and their address in an
    enrollment import."""
    user = world.users[who]

    def rows():
        User.objects.filter(pk=user.pk).update(
            phone="+15550100",
            bio="About me",
            student_id=f"S-{who}",
            profile_image_url="https://x.test/me.png",
        )
        UserPreferences.objects.create(user=user)
        SocialAccount.objects.create(
            user=user, provider="oidc", uid=f"sub-{who}", extra_data={"email": user.email}
        )
        Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
        Invitation.objects.create(
            email=user.email,
            first_name="Stu",
            last_name="Dent",
            key_hash=uuid.uuid4().hex,
            user=user,
            expires_at=timezone.now() + timedelta(days=1),
            accepted_at=timezone.now(),
        )
        CourseEnrollmentImport.objects.create(
            course=world.course,
            csv_text=f"Email,Role\n{user.email.upper()},student\nother@alpha.test,student\n",
            rows=[{"row": 2, "email": user.email, "outcome": "enrolled"}],
        )

    in_tenant(world.institution, rows)


def mentions(email: str) -> list[str]:
    """Every table of the institution with a row mentioning `email` in a text
    or JSON column (the audit trail aside)."""
    found = []
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in KEPT_BY_DESIGN or not model._meta.managed:
            continue
        if not _in_tenant_schema(model):
            continue
        query = models.Q()
        annotations = {}
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField):
                query |= models.Q(**{f"{field.attname}__icontains": email})
            elif isinstance(field, models.JSONField):
                alias = f"_{field.attname}_text"
                annotations[alias] = Cast(field.attname, models.TextField())
                query |= models.Q(**{f"{alias}__icontains": email})
        if query and model.objects.annotate(**annotations).filter(query).exists():
            found.append(label)
    return found


def _in_tenant_schema(model) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [connection.schema_name, model._meta.db_table],
        )
        return cursor.fetchone() is not None


# --- the erasure -------------------------------------------------------------------------


def test_an_erasure_removes_the_persons_data_and_keeps_anonymised_records(world, run_jobs):
    stu0, stu1 = world.users["stu0"], world.users["stu1"]
    mine = lived_in(world, "stu0")
    theirs = lived_in(world, "stu1")
    sign_in_material(world, "stu0")
    assert run_jobs(world.client("stu0").post, MY_EXPORTS).status_code == 202
    export_key = in_tenant(world.institution, lambda: DataExport.objects.get().file_key)
    email = stu0.email
    assert in_tenant(world.institution, lambda: mentions(email))  # it lived somewhere
    seats_before = seats(world.institution)
    grades_before = in_tenant(
        world.institution, lambda: sorted(Grade.objects.values_list("student_id", "score"))
    )
    assert world.client("stu0").get("/api/v1/users/me/").status_code == 200

    response = run_jobs(erase, world.client("admin"), stu0)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user_id"] == str(stu0.pk) and body["kept_academic_records"] is True
    assert {"account", "courses", "submissions", "grades", "files"} <= set(body["sections"])

    # Signed out at once: the same token is refused on the next request.
    assert world.client("stu0").get("/api/v1/users/me/").status_code == 401

    def state():
        user = User.objects.get(pk=stu0.pk)
        return {
            "user": user,
            "mentions": mentions(email),
            "email_addresses": EmailAddress.objects.filter(user=user).count(),
            "sso": SocialAccount.objects.filter(user=user).count(),
            "mfa": Authenticator.objects.filter(user=user).count(),
            "preferences": UserPreferences.objects.filter(user=user).count(),
            "sessions": [
                s for s in Session.objects.all() if s.get_decoded().get(SESSION_KEY) == str(user.pk)
            ],
            "reads": AnnouncementRead.objects.filter(user=user).count(),
            "activity": ActivityLog.objects.filter(user=user).count(),
            "activity_anonymous": ActivityLog.objects.filter(
                user__isnull=True, user_agent="", ip_address__isnull=True
            ).count(),
            "notes": StoredFile.objects.get(pk=mine.notes_file),
            "essay_file": StoredFile.objects.get(pk=mine.submitted_file),
            "submissions": list(
                Submission.objects.filter(student=user).values_list("status", "text")
            ),
            "attempts": Attempt.objects.filter(student=user).count(),
            "grades": sorted(Grade.objects.values_list("student_id", "score")),
            "enrollment": Enrollment.objects.filter(user=user, course=world.course).exists(),
            "invitation": Invitation.objects.get(user=user),
            "exports": DataExport.objects.filter(user=user).count(),
            "erased_event": list(
                AuditEvent.objects.filter(
                    event=AuditEventType.USER_ERASED, target=user
                ).values_list("actor_id", "email", "metadata")
            ),
            "other": User.objects.get(pk=stu1.pk),
            "other_submissions": Submission.objects.filter(student=stu1).count(),
        }

    after = in_tenant(world.institution, state)
    user = after["user"]
    assert user.email == f"erased-{user.pk}@erased.invalid"
    assert (user.first_name, user.last_name, user.get_full_name()) == (
        "Erased",
        "user",
        "Erased user",
    )
    assert (user.phone, user.bio, user.profile_image_url) == ("", "", "")
    assert user.student_id is None and user.employee_id is None
    assert not user.has_usable_password()
    assert not user.is_active and user.deleted_at is not None
    assert after["mentions"] == []
    for kind in ("email_addresses", "sso", "mfa", "preferences", "reads", "activity", "exports"):
        assert after[kind] == 0, kind
    assert after["sessions"] == []
    assert after["activity_anonymous"] >= 1
    # Their private notes are gone; the file of their submitted essay is kept with it.
    assert after["notes"].deleted_at is not None and after["notes"].original_name == "erased"
    assert after["essay_file"].deleted_at is None
    assert not in_tenant(world.institution, lambda: storages["default"].exists(export_key))
    # Academic records stay, under the anonymised row; the draft is gone.
    assert after["submissions"] == [(SubmissionStatus.SUBMITTED, mine.submission_text)]
    assert after["attempts"] == 1
    assert after["grades"] == grades_before
    assert after["enrollment"] is True
    assert after["invitation"].email == user.email and after["invitation"].first_name == ""
    assert [(a, e, m["kept_academic_records"]) for a, e, m in after["erased_event"]] == [
        (world.users["admin"].pk, user.email, True)
    ]
    # Nobody else was touched.
    assert after["other"].email == "stu1@alpha.test" and after["other"].is_active
    assert after["other_submissions"] == 2
    assert world.client("stu1").get("/api/v1/users/me/").status_code == 200
    assert theirs.submission_text
    # The seat is free, once.
    assert seats(world.institution) == seats_before - 1
    # The course's gradebook still counts the grade, naming no one.
    gradebook = world.client("instructor").get(f"/api/v1/courses/{world.course.pk}/grades/")
    assert gradebook.status_code == 200
    assert "stu0@alpha.test" not in gradebook.content.decode()
    assert "Erased" in gradebook.content.decode()


def test_without_keeping_records_grades_submissions_and_their_files_go(world, run_jobs):
    stu0 = world.users["stu0"]
    mine = lived_in(world, "stu0")
    lived_in(world, "stu1")
    policy = as_json(
        world.client("admin"),
        "patch",
        "/api/v1/institution/data-policy/",
        {"keep_academic_records": False},
    )
    assert policy.status_code == 200

    response = run_jobs(erase, world.client("admin"), stu0)
    assert response.status_code == 200, response.content
    assert response.json()["kept_academic_records"] is False

    def state():
        return {
            "grades": Grade.objects.filter(student=stu0).count(),
            "other_grades": Grade.objects.filter(student=world.users["stu1"]).count(),
            "submissions": Submission.objects.filter(student=stu0).count(),
            "attempts": Attempt.objects.filter(student=stu0).count(),
            "files": list(
                StoredFile.objects.filter(uploader=stu0, deleted_at__isnull=True).values_list(
                    "pk", flat=True
                )
            ),
            "essay_file": StoredFile.objects.get(pk=mine.submitted_file),
            "enrollments": list(Enrollment.objects.filter(user=stu0).values()),
            "activity": ActivityLog.objects.filter(user=stu0).count(),
            "mentions": mentions("stu0@alpha.test"),
        }

    after = in_tenant(world.institution, state)
    assert (after["grades"], after["submissions"], after["attempts"]) == (0, 0, 0)
    assert after["other_grades"] == 1
    assert after["files"] == []
    assert after["essay_file"].deleted_at is not None
    assert after["enrollments"] == []
    # The seat they held went to the waitlist, as a drop gives it.
    assert (
        in_tenant(
            world.institution,
            lambda: Enrollment.objects.get(user=world.users["waitlisted"]).enrollment_type,
        )
        == "regular"
    )
    assert after["activity"] == 0
    assert after["mentions"] == []


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["ta", "instructor", "stu1", "grader"])
def test_only_admins_erase_and_nothing_changes_otherwise(world, who):
    stu0 = world.users["stu0"]
    response = erase(world.client(who), stu0)
    assert response.status_code == 403
    user = in_tenant(world.institution, lambda: User.objects.get(pk=stu0.pk))
    assert user.email == "stu0@alpha.test" and user.is_active
    assert world.client("stu0").get("/api/v1/users/me/").status_code == 200


def test_the_confirmation_must_be_the_users_address(world):
    stu0 = world.users["stu0"]
    for body in (
        {"confirm_email": "stu1@alpha.test"},
        {"confirm_email": ""},
        {},
        {"confirm_email": ["x"]},
        {"confirm_email": "x" * 10_000},
        {"confirm_email": "stu0@alpha.test", "extra": 1},
    ):
        response = as_json(world.client("admin"), "post", erase_url(stu0), body)
        assert response.status_code == 400, (body, response.content)
    wrong = erase(world.client("admin"), stu0, email="stu1@alpha.test")
    assert error_code(wrong) == "confirmation_mismatch"
    # The address is matched whatever its case and surrounding spaces.
    assert erase(world.client("admin"), stu0, email="  STU0@alpha.test ").status_code == 200


def test_an_admin_cannot_erase_themselves_nor_an_unknown_user(world):
    admin = world.users["admin"]
    response = erase(world.client("admin"), admin)
    assert response.status_code == 409 and error_code(response) == "cannot_modify_self"
    assert in_tenant(world.institution, lambda: User.objects.get(pk=admin.pk).is_active)
    ghost = as_json(
        world.client("admin"),
        "post",
        f"/api/v1/users/{uuid.uuid4()}/erase/",
        {"confirm_email": "a@b.c"},
    )
    assert ghost.status_code == 404


def test_the_last_admin_cannot_be_erased(world):
    admin = world.users["admin"]

    def run():
        with pytest.raises(ApplicationError) as refused:
            services.user_erase(actor=None, user=admin, confirm_email=admin.email)
        return refused.value

    refused = in_tenant(world.institution, run)
    assert (refused.status, refused.code) == (409, "last_admin")
    assert in_tenant(world.institution, lambda: User.objects.get(pk=admin.pk).is_active)


def test_another_admin_can_be_erased_by_an_admin(world, alpha):
    second = member(alpha, "second@alpha.test", Role.ADMIN)
    assert erase(world.client("admin"), second).status_code == 200
    # The erased admin no longer counts: the remaining one is now the last.
    admin = world.users["admin"]

    def run():
        with pytest.raises(ApplicationError) as refused:
            services.user_erase(actor=None, user=admin, confirm_email=admin.email)
        return refused.value.code

    assert in_tenant(alpha, run) == "last_admin"


def test_erasing_twice_is_a_409_and_never_a_500(world):
    stu0 = world.users["stu0"]
    assert erase(world.client("admin"), stu0).status_code == 200
    for email in ("stu0@alpha.test", f"erased-{stu0.pk}@erased.invalid"):
        again = erase(world.client("admin"), stu0, email=email)
        assert again.status_code == 409 and error_code(again) == "already_erased"
    # An erased user's data cannot be exported either.
    assert world.client("admin").post(f"/api/v1/users/{stu0.pk}/data-exports/").status_code == 404
    events = in_tenant(
        world.institution,
        lambda: AuditEvent.objects.filter(event=AuditEventType.USER_ERASED).count(),
    )
    assert events == 1


def test_a_deleted_user_erased_later_frees_no_second_seat(world):
    stu0 = world.users["stu0"]
    before = seats(world.institution)
    assert world.client("admin").delete(f"/api/v1/users/{stu0.pk}/").status_code == 204
    assert seats(world.institution) == before - 1
    assert erase(world.client("admin"), stu0).status_code == 200
    assert seats(world.institution) == before - 1


def test_the_erased_address_can_join_again(world, alpha):
    stu0 = world.users["stu0"]
    assert erase(world.client("admin"), stu0).status_code == 200
    again = member(alpha, "stu0@alpha.test")
    assert again.pk != stu0.pk


def test_another_institution_cannot_erase(world, beta):
    stu0 = world.users["stu0"]
    beta_admin = api_client(beta, admin_of(beta))
    assert erase(beta_admin, stu0).status_code == 404  # no such user on beta
    on_alpha = host_client(
        "alpha.localhost", HTTP_AUTHORIZATION=beta_admin.defaults["HTTP_AUTHORIZATION"]
    )
    assert erase(on_alpha, stu0).status_code == 401
    assert in_tenant(world.institution, lambda: User.objects.get(pk=stu0.pk).is_active)


def test_the_policy_is_read_when_erasing(world):
    in_tenant(world.institution, lambda: DataPolicy.objects.create(keep_academic_records=False))
    response = erase(world.client("admin"), world.users["stu0"])
    assert response.json()["kept_academic_records"] is False
