"""Provisioning: the happy path, a failure after each step and the retry that
finishes the job, failures inside the schema transaction, and bad input."""

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from provisioning import services
from provisioning.models import ProvisioningJob
from shared_apps.institutions.models import Domain, Institution
from tenant_apps.accounts.models import Role, User

from .conftest import PASSWORD, make_institution, pending_institution

STEP_NAMES = [name for name, _ in services.STEPS]


def _create(slug="gamma", **overrides):
    defaults = {
        "name": "Gamma College",
        "admin_email": "dean@gamma.test",
        "admin_first_name": "Grace",
        "admin_last_name": "Dean",
    }
    return pending_institution(slug, **{**defaults, **overrides})


def _assert_complete(institution: Institution) -> None:
    institution.refresh_from_db()
    assert institution.status == Institution.Status.ACTIVE
    assert institution.status_reason == ""
    assert schema_exists(institution.schema_name)
    assert list(Domain.objects.filter(tenant=institution).values_list("domain", flat=True)) == [
        f"{institution.slug}.localhost"
    ]
    assert institution.settings["password_login"] is True
    job = institution.provisioning_job
    assert job.steps_done == STEP_NAMES
    assert job.admin_password_hash == ""  # not kept once the account exists
    with tenant_context(institution):
        admins = list(User.objects.values_list("email", "role"))
        assert admins == [("dean@gamma.test", Role.ADMIN)]
        assert authenticate(username="dean@gamma.test", password=PASSWORD) is not None


def test_new_institution_moves_from_pending_to_active(db):
    institution = _create()
    assert institution.status == Institution.Status.PENDING
    assert not schema_exists(institution.schema_name)
    services.institution_provision(institution_id=institution.id)
    _assert_complete(institution)


def test_provisioned_institution_answers_on_its_subdomain(db, client):
    _create()
    services.institution_provision(institution_id=Institution.objects.get(slug="gamma").id)
    response = client.get("/", HTTP_HOST="gamma.localhost")
    assert response.status_code == 200
    assert b"Gamma College" in response.content


@pytest.mark.parametrize("failing_step", STEP_NAMES)
def test_failure_after_any_step_is_recorded_and_a_retry_finishes(db, monkeypatch, failing_step):
    institution = _create()
    steps = dict(services.STEPS)
    original = steps[failing_step]

    def step_then_crash(*args):
        original(*args)
        raise RuntimeError(f"worker killed after {failing_step}")

    monkeypatch.setattr(
        services,
        "STEPS",
        [(n, step_then_crash if n == failing_step else f) for n, f in services.STEPS],
    )
    with pytest.raises(RuntimeError):
        services.institution_provision(institution_id=institution.id)
    institution.refresh_from_db()
    assert institution.status == Institution.Status.FAILED
    assert institution.status_reason == f"RuntimeError: worker killed after {failing_step}"
    # The failing step's transaction rolled back: nothing of it is recorded.
    done = institution.provisioning_job.steps_done
    assert done == STEP_NAMES[: STEP_NAMES.index(failing_step)]

    monkeypatch.undo()
    services.institution_provision(institution_id=institution.id)
    _assert_complete(institution)
    assert institution.provisioning_job.attempts == 2


def test_failure_inside_the_schema_transaction_leaves_no_schema(db, monkeypatch):
    institution = _create()
    from provisioning import schemas

    real_render = schemas.CapturedSchema.render

    def render_with_error_at_the_end(self, schema_name):
        return real_render(self, schema_name) + "SELECT 1 / 0;"

    monkeypatch.setattr(schemas.CapturedSchema, "render", render_with_error_at_the_end)
    with pytest.raises(Exception, match="division by zero"):
        services.institution_provision(institution_id=institution.id, method="template")
    assert not schema_exists(institution.schema_name)
    monkeypatch.undo()
    services.institution_provision(institution_id=institution.id, method="template")
    _assert_complete(institution)


def test_provisioning_an_active_institution_again_changes_nothing(db):
    institution = make_institution("delta")
    job = ProvisioningJob.objects.get(institution=institution)
    services.institution_provision(institution_id=institution.id)
    job.refresh_from_db()
    assert job.attempts == 1


def test_migrate_path_gives_a_working_institution(db):
    institution = _create()
    services.institution_provision(institution_id=institution.id, method="migrations")
    _assert_complete(institution)
    assert institution.provisioning_job.schema_source == "migrations"


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("alpha", "taken"),
        ("www", "reserved"),
        ("api", "reserved"),
        ("admin", "reserved"),
        ("public", "reserved"),
        ("my_uni", "invalid"),
        ("uni.edu", "invalid"),
        ("-uni", "invalid"),
        ("uni-", "invalid"),
        ("9uni", "invalid"),
        ("a--b", "invalid"),
        ("ü-uni", "invalid"),
        ("x", "too_short"),
        ("a" * 41, "too_long"),
        ("", "blank"),
    ],
)
def test_bad_slug_is_refused_with_a_clear_error_and_nothing_is_made(db, slug, code):
    institutions_before = Institution.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace")
        schemas_before = cursor.fetchone()[0]
    with pytest.raises(ValidationError) as error:
        _create(slug=slug)
    codes = [e.code for e in error.value.error_dict["slug"]]
    assert code in codes
    assert Institution.objects.count() == institutions_before
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace")
        assert cursor.fetchone()[0] == schemas_before


def test_slug_is_case_insensitive(db):
    with pytest.raises(ValidationError) as error:
        _create(slug="ALPHA")
    assert [e.code for e in error.value.error_dict["slug"]] == ["taken"]


def test_bad_admin_email_and_weak_password_are_refused(db):
    with pytest.raises(ValidationError) as error:
        _create(admin_email="not-an-email", admin_password="123")
    assert set(error.value.error_dict) == {"admin_email", "admin_password"}
    assert not Institution.objects.filter(slug="gamma").exists()


def test_no_raw_password_is_stored_for_the_queue(db):
    institution = _create()
    job = institution.provisioning_job
    assert PASSWORD not in job.admin_password_hash
    assert job.admin_password_hash.startswith("md5$")  # the test settings' hasher


def test_delete_exports_then_drops_the_schema(db):
    institution = make_institution("epsilon")
    with tenant_context(institution):
        User.objects.create_user("someone@epsilon.test", "pw", first_name="So", last_name="Me")
    with pytest.raises(ValidationError):
        services.institution_delete(institution=institution, confirm_slug="wrong")
    assert schema_exists("epsilon")

    export_name = services.institution_delete(institution=institution, confirm_slug="epsilon")
    assert not schema_exists("epsilon")
    assert not Institution.objects.filter(slug="epsilon").exists()
    assert not Domain.objects.filter(domain="epsilon.localhost").exists()
    import json

    from django.core.files.storage import default_storage

    with default_storage.open(export_name) as exported:
        document = json.load(exported)
    assert export_name.startswith("platform/exports/epsilon-")
    emails = [r["fields"]["email"] for r in document["data"] if r["model"] == "accounts.user"]
    assert sorted(emails) == ["admin@epsilon.test", "someone@epsilon.test"]
    default_storage.delete(export_name)


def test_reactivating_an_active_institution_is_refused(alpha):
    with pytest.raises(ValidationError) as error:
        services.institution_reactivate(institution=alpha)
    assert error.value.code == "not_suspended"


def test_two_signups_racing_for_one_address_get_one_institution_and_one_clear_error(
    committed_db, monkeypatch
):
    import threading

    from django.db import connections

    # Both pass the "taken" check before either inserts: the database decides.
    monkeypatch.setattr(services, "schema_exists", lambda name: False)
    real_exists = Institution.objects.filter
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def filter_then_wait(*args, **kwargs):
        queryset = real_exists(*args, **kwargs)
        if kwargs.get("schema_name") == "race_u":
            exists = queryset.exists()
            barrier.wait(timeout=10)
            return Institution.objects.none() if not exists else queryset
        return queryset

    monkeypatch.setattr(Institution.objects, "filter", filter_then_wait)

    def sign_up(n):
        try:
            _create(slug="race-u", admin_email=f"dean{n}@race.test")
            outcomes.append("created")
        except ValidationError as error:
            outcomes.append(error.error_dict["slug"][0].code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "taken"]
    monkeypatch.undo()
    assert Institution.objects.filter(slug="race-u").count() == 1


def test_provisioning_an_institution_deleted_meanwhile_does_nothing(db):
    institution = _create()
    institution_id = institution.id
    institution.delete()
    assert services.institution_provision(institution_id=institution_id) is None
