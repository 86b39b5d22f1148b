"""The scheduled jobs besides reminders, through their real Celery tasks: the
weekly digest (one email per member with something to say), the nightly
purge of expired sign-in material and idempotency keys, and the purge of
activity past the data policy's retention, in batches. Each runs once per
institution and period when two run at once, a crashed run's work is done by
its retry, and beat's fan-out reaches every institution."""

import uuid
from contextlib import contextmanager
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from allauth.account.models import EmailAddress, EmailConfirmation
from celery import current_app
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.institutions.models import Institution
from tenant_apps.accounts.models import Invitation, Role
from tenant_apps.accounts.services import user_preferences_update
from tenant_apps.accounts.tokens import api_session_open, token_pair_issue
from tenant_apps.activity.models import ActivityLog, ActivityType
from tenant_apps.idempotency.models import IdempotencyRecord
from tenant_apps.jobs import housekeeping
from tenant_apps.jobs import tasks as job_tasks
from tenant_apps.jobs.models import JobRun
from tenant_apps.jobs.periods import day_period, week_period
from tenant_apps.notifications.models import Notification
from tenant_apps.notifications.services import notification_send
from tenant_apps.privacy.models import DataPolicy

from .api_helpers import api_client, as_json, at_once, course_taught_by, member
from .conftest import host_client, make_institution
from .test_assignments_api import enroll, in_tenant

FAN_OUT = "shared_apps.institutions.tasks.for_each_institution"


def run(institution, task, *args):
    """`task` as a worker runs it in `institution`'s schema; its result, or
    its exception raised."""
    with tenant_context(institution):
        result = task.apply(args=args).get(disable_sync_subtasks=False)
    connection.set_schema_to_public()
    return result


def runs(institution, **filters) -> list[JobRun]:
    return in_tenant(institution, lambda: list(JobRun.objects.filter(**filters).order_by("id")))


@contextmanager
def crashing_after_the_claim(institution, *, after_deleted: int = -1):
    """A trigger that fails updates of the job ledger (those recording more
    than `after_deleted` rows deleted, for a purge): a run dies after its
    claim, before its transaction commits."""
    table = JobRun._meta.db_table
    with tenant_context(institution), connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION job_crash() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF coalesce((NEW.result->>'deleted')::int, 0) > TG_ARGV[0]::int THEN "
            "RAISE EXCEPTION 'the worker crashed'; END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER job_crash BEFORE UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION job_crash('{int(after_deleted)}')"
        )
    connection.set_schema_to_public()
    try:
        yield
    finally:
        with tenant_context(institution), connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER job_crash ON {table}")
            cursor.execute("DROP FUNCTION job_crash()")
        connection.set_schema_to_public()


def test_beat_names_the_job_tasks_a_worker_has():
    import tenant_apps.jobs.tasks  # noqa: F401  (as a worker's autodiscovery does)

    schedule = settings.CELERY_BEAT_SCHEDULE
    names = {
        "assignment-reminders": "assignment_reminders_send",
        "weekly-digest": "weekly_digest_queue",
        "expired-tokens-purge": "expired_tokens_purge",
        "activity-log-purge": "activity_log_purge",
    }
    for entry, task in names.items():
        assert schedule[entry]["task"] == FAN_OUT
        assert schedule[entry]["args"] == [f"tenant_apps.jobs.tasks.{task}"]
        assert f"tenant_apps.jobs.tasks.{task}" in current_app.tasks
    assert schedule["assignment-reminders"]["schedule"] == 300.0
    hourly = schedule["weekly-digest"]["schedule"]  # Monday 07:00 is each institution's own
    assert hourly.minute == {0} and hourly.hour == set(range(24))
    assert hourly.day_of_week == set(range(7))


# --- the weekly digest -----------------------------------------------------------------


def monday_morning_after(moment, zone: str = "UTC"):
    """The first Monday 07:30 in `zone` after `moment`: when the digest goes
    (it is never more than 7 days away, so what happens now is of its week)."""
    local = moment.astimezone(ZoneInfo(zone))
    days = (7 - local.weekday()) % 7 or 7
    return (local + timedelta(days=days)).replace(hour=7, minute=30, second=0, microsecond=0)


def _notify(
    institution, user, title: str, *, before=None, age: timedelta | None = None, read=False
) -> None:
    """A notification now, or `age` before `before`."""

    def work():
        with transaction.atomic():
            (row,) = notification_send(user_ids=[user.pk], kind="announcement", title=title)
        fields = {}
        if age is not None:
            fields["created_at"] = before - age
        if read:
            fields.update(is_read=True, read_at=timezone.now())
        if fields:
            Notification.objects.filter(pk=row.pk).update(**fields)

    in_tenant(institution, work)


def _digest_world(slug: str, mailoutbox, *, zone: str = "UTC"):
    """A course whose students are in every situation a digest can meet, in
    an institution in `zone`, as of its next digest (returned last)."""
    institution = make_institution(slug)
    if zone != "UTC":
        Institution.objects.filter(pk=institution.pk).update(timezone=zone)
        institution.timezone = zone
    as_of = monday_morning_after(timezone.now(), zone)
    teacher = member(institution, f"prof@{slug}.test", Role.INSTRUCTOR)
    course = course_taught_by(institution, teacher)
    names = ("owing", "unread", "off", "quiet", "stale", "left")
    users = {name: member(institution, f"{name}@{slug}.test") for name in names}
    users["teacher"] = teacher
    for name in names:
        enroll(institution, course, users[name])
    soon = as_json(
        api_client(institution, teacher),
        "post",
        f"/api/v1/courses/{course.pk}/assignments/",
        {
            "title": "Essay due this week",
            "points": "10",
            "due_at": (as_of + timedelta(days=3)).isoformat(),
            "submission_type": "text",
            "is_published": True,
        },
    ).json()
    as_json(
        api_client(institution, teacher),
        "post",
        f"/api/v1/courses/{course.pk}/assignments/",
        {
            "title": "Essay next month",
            "points": "10",
            "due_at": (as_of + timedelta(days=30)).isoformat(),
            "submission_type": "text",
            "is_published": True,
        },
    )
    for name in ("unread", "quiet", "stale"):
        response = as_json(
            api_client(institution, users[name]),
            "post",
            f"/api/v1/assignments/{soon['id']}/submit/",
            {"text": "done"},
        )
        assert response.status_code == 201, response.content
    _notify(institution, users["unread"], "Midterm moved")
    _notify(institution, users["unread"], "Read already", read=True)
    _notify(institution, users["teacher"], "A question in the forum")
    _notify(institution, users["stale"], "Old news", before=as_of, age=timedelta(days=8))
    _notify(institution, users["quiet"], "Seen", read=True)
    in_tenant(
        institution,
        lambda: user_preferences_update(user=users["off"], email_notifications={"digest": False}),
    )
    in_tenant(
        institution,
        lambda: type(users["left"]).objects.filter(pk=users["left"].pk).update(is_active=False),
    )
    mailoutbox.clear()
    return institution, users, as_of


def test_the_weekly_digest_mails_each_member_with_news_once(
    django_db_setup, committed_db, celery_eager, mailoutbox
):
    institution, users, as_of = _digest_world("digest", mailoutbox)

    result = run(institution, job_tasks.weekly_digest_queue, as_of.isoformat())

    assert result == {"recipients": 3}
    by_address = {message.to[0]: message for message in mailoutbox}
    assert set(by_address) == {users[n].email for n in ("owing", "unread", "teacher")}
    assert len(mailoutbox) == 3
    owing = by_address[users["owing"].email]
    assert "Essay due this week" in owing.body and "Essay next month" not in owing.body
    assert "Unread notifications" not in owing.body
    html, mimetype = owing.alternatives[0]
    assert mimetype == "text/html" and "Essay due this week" in html
    unread = by_address[users["unread"].email]
    assert "Midterm moved" in unread.body and "Read already" not in unread.body
    assert "Essay due this week" not in unread.body, "they submitted it"
    assert "Unread notifications of the past week: 1" in unread.body
    teacher = by_address[users["teacher"].email]
    assert "A question in the forum" in teacher.body and "Due in the next" not in teacher.body
    assert owing.subject == "Your week at Digest University"

    week = week_period(as_of)
    assert [r.period for r in runs(institution, job="weekly_digest")] == [week]
    emails = runs(institution, job="weekly_digest_email")
    assert sorted(r.period for r in emails) == sorted(
        f"{week}:{users[n].pk}" for n in ("owing", "unread", "teacher")
    )
    assert all(r.result["sent"] for r in emails)

    # Another beat the same week, or the task retried: nothing more.
    assert run(institution, job_tasks.weekly_digest_queue, as_of.isoformat()) == {"skipped": True}
    later = (as_of + timedelta(hours=1)).isoformat()
    assert run(institution, job_tasks.weekly_digest_queue, later) == {"skipped": True}
    assert len(mailoutbox) == 3


def test_the_digest_goes_on_monday_morning_in_the_institutions_time_zone(
    django_db_setup, committed_db, celery_eager, mailoutbox
):
    """New York: at Monday 07:00 UTC it is 2 or 3 a.m. there, not yet; from
    07:00 there it goes, once, and an hour's beat missed at 07:00 is caught
    up later that Monday, not on Tuesday."""
    institution, users, as_of = _digest_world("digestny", mailoutbox, zone="America/New_York")
    assert as_of.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))

    def queue_at(moment) -> dict:
        return run(institution, job_tasks.weekly_digest_queue, moment.isoformat())

    utc_monday_morning = as_of.astimezone(UTC).replace(hour=7, minute=0)
    assert utc_monday_morning.astimezone(as_of.tzinfo).hour in (2, 3)
    assert queue_at(utc_monday_morning) == {"not_due": True}
    assert queue_at(as_of - timedelta(minutes=31)) == {"not_due": True}  # 06:59 there
    assert queue_at(as_of - timedelta(days=1)) == {"not_due": True}  # Sunday
    assert mailoutbox == [] and runs(institution) == []

    caught_up = as_of + timedelta(hours=3)  # 10:30 there: the 07:00 beat was missed
    assert queue_at(caught_up) == {"recipients": 3}
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        users[n].email for n in ("owing", "unread", "teacher")
    )
    assert [r.period for r in runs(institution, job="weekly_digest")] == [
        week_period(as_of, as_of.tzinfo)
    ]
    assert queue_at(caught_up + timedelta(hours=1)) == {"skipped": True}
    assert queue_at(as_of + timedelta(days=1)) == {"not_due": True}  # Tuesday
    assert len(mailoutbox) == 3


def test_two_digest_runs_at_once_send_each_email_once(
    django_db_setup, committed_db, celery_eager, mailoutbox
):
    institution, users, as_of = _digest_world("digestrace", mailoutbox)

    results = at_once(
        [lambda: run(institution, job_tasks.weekly_digest_queue, as_of.isoformat())] * 3
    )

    assert sorted(results, key=str) == sorted(
        [{"recipients": 3}, {"skipped": True}, {"skipped": True}], key=str
    )
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        users[n].email for n in ("owing", "unread", "teacher")
    )

    # The same member's email task twice at once (a redelivered message).
    mailoutbox.clear()
    week, user_id = "2000-W01", str(users["owing"].pk)
    args = (user_id, week, as_of.isoformat())
    sent = at_once([lambda: run(institution, job_tasks.weekly_digest_email_send, *args)] * 3)
    assert sorted(sent) == [False, False, True]
    assert [m.to for m in mailoutbox] == [[users["owing"].email]]


def test_a_crashed_digest_is_sent_by_the_retry(
    django_db_setup, committed_db, celery_eager, mailoutbox
):
    institution, users, as_of = _digest_world("digestcrash", mailoutbox)

    with crashing_after_the_claim(institution), pytest.raises(Exception, match="crashed"):
        run(institution, job_tasks.weekly_digest_queue, as_of.isoformat())
    assert mailoutbox == [] and runs(institution) == []

    assert run(institution, job_tasks.weekly_digest_queue, as_of.isoformat()) == {"recipients": 3}
    assert len(mailoutbox) == 3

    # One email task dying before its commit: the retry sends it, once.
    mailoutbox.clear()
    args = (str(users["unread"].pk), "2000-W02", as_of.isoformat())
    with crashing_after_the_claim(institution), pytest.raises(Exception, match="crashed"):
        run(institution, job_tasks.weekly_digest_email_send, *args)
    assert mailoutbox == []
    assert run(institution, job_tasks.weekly_digest_email_send, *args) is True
    assert run(institution, job_tasks.weekly_digest_email_send, *args) is False
    assert [m.to for m in mailoutbox] == [[users["unread"].email]]


def test_a_member_who_turned_the_digest_off_meanwhile_gets_none(
    django_db_setup, committed_db, celery_eager, mailoutbox
):
    institution, users, as_of = _digest_world("digestoff", mailoutbox)
    in_tenant(
        institution,
        lambda: user_preferences_update(user=users["owing"], email_notifications={"digest": False}),
    )
    args = (str(users["owing"].pk), "2000-W03", as_of.isoformat())
    assert run(institution, job_tasks.weekly_digest_email_send, *args) is False
    assert mailoutbox == []


# --- expired sign-in material ----------------------------------------------------------


def _api_session(institution, user) -> tuple:
    """A signed-in API client of `user` and its session's key."""
    with tenant_context(institution):
        session = api_session_open(user)
        pair = token_pair_issue(user=user, session=session)
    connection.set_schema_to_public()
    client = host_client(
        f"{institution.schema_name}.localhost", HTTP_AUTHORIZATION=f"Bearer {pair.access_token}"
    )
    return client, session.session_key


def _expired_material(institution) -> dict:
    """One of each kind of row, expired and live; their ids by name."""
    user = member(institution, f"keys-{uuid.uuid4().hex[:6]}@{institution.slug}.test")
    live_client, live_key = _api_session(institution, user)
    dead_client, dead_key = _api_session(institution, user)
    now = timezone.now()

    def work():
        Session.objects.filter(session_key=dead_key).update(expire_date=now - timedelta(seconds=1))
        address = EmailAddress.objects.get(user=user)
        fresh = EmailConfirmation.create(address)
        EmailConfirmation.objects.filter(pk=fresh.pk).update(sent=now)
        old = EmailConfirmation.create(address)
        EmailConfirmation.objects.filter(pk=old.pk).update(sent=now - timedelta(days=30))
        keys = {}
        for name, hours in (("old_key", settings.IDEMPOTENCY_KEY_HOURS + 1), ("new_key", 1)):
            record = IdempotencyRecord.objects.create(
                user=user, key=name, request_fingerprint="x", response_status=201
            )
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                created_at=now - timedelta(hours=hours)
            )
            keys[name] = record.pk

        def invitation(email, **fields):
            return Invitation.objects.create(
                email=email,
                key_hash=uuid.uuid4().hex,
                expires_at=fields.pop("expires_at", now + timedelta(days=14)),
                **fields,
            ).pk

        invitations = {
            "open": invitation("open@x.test"),
            "lately_expired": invitation("late@x.test", expires_at=now - timedelta(days=10)),
            "long_expired": invitation("long@x.test", expires_at=now - timedelta(days=100)),
            "long_revoked": invitation(
                "revoked@x.test",
                expires_at=now - timedelta(days=95),
                revoked_at=now - timedelta(days=100),
            ),
            "accepted": invitation(
                "joined@x.test",
                expires_at=now - timedelta(days=300),
                accepted_at=now - timedelta(days=310),
                user=user,
            ),
        }
        return {
            "confirmations": (fresh.pk, old.pk),
            "idempotency": keys,
            "invitations": invitations,
        }

    rows = in_tenant(institution, work)
    return {
        **rows,
        "live": (live_client, live_key),
        "dead": (dead_client, dead_key),
    }


def _still_there(institution, material) -> dict:
    def work():
        return {
            "sessions": set(
                Session.objects.filter(
                    session_key__in=[material["live"][1], material["dead"][1]]
                ).values_list("session_key", flat=True)
            ),
            "confirmations": set(
                EmailConfirmation.objects.filter(pk__in=material["confirmations"]).values_list(
                    "pk", flat=True
                )
            ),
            "idempotency": set(
                IdempotencyRecord.objects.filter(
                    pk__in=material["idempotency"].values()
                ).values_list("key", flat=True)
            ),
            "invitations": {
                name
                for name, pk in material["invitations"].items()
                if Invitation.objects.filter(pk=pk).exists()
            },
        }

    return in_tenant(institution, work)


def test_expired_tokens_and_keys_are_purged_and_live_ones_kept(alpha, celery_eager):
    material = _expired_material(alpha)
    live_client, live_key = material["live"]
    assert live_client.get("/api/v1/users/me/").status_code == 200

    result = run(alpha, job_tasks.expired_tokens_purge)

    assert result["sessions"] >= 1 and result["idempotency_keys"] >= 1
    assert result["email_confirmations"] >= 1 and result["invitations"] >= 2
    left = _still_there(alpha, material)
    assert left["sessions"] == {live_key}
    assert left["confirmations"] == {material["confirmations"][0]}
    assert left["idempotency"] == {"new_key"}
    assert left["invitations"] == {"open", "lately_expired", "accepted"}
    assert live_client.get("/api/v1/users/me/").status_code == 200, "a live token still works"
    assert material["dead"][0].get("/api/v1/users/me/").status_code == 401
    (job,) = runs(alpha, job="expired_tokens_purge")
    assert job.period == day_period(timezone.now()) and job.result == result

    assert run(alpha, job_tasks.expired_tokens_purge) == {"skipped": True}


def test_two_token_purges_at_once_make_one_run(django_db_setup, committed_db):
    institution = make_institution("tokenrace")
    material = _expired_material(institution)

    results = at_once([lambda: run(institution, job_tasks.expired_tokens_purge)] * 3)

    done = [r for r in results if r != {"skipped": True}]
    assert len(done) == 1 and done[0]["sessions"] == 1 and done[0]["invitations"] == 2
    assert _still_there(institution, material)["sessions"] == {material["live"][1]}
    assert len(runs(institution)) == 1


def test_a_crashed_token_purge_is_done_by_its_retry(django_db_setup, committed_db):
    institution = make_institution("tokencrash")
    material = _expired_material(institution)

    with crashing_after_the_claim(institution), pytest.raises(Exception, match="crashed"):
        run(institution, job_tasks.expired_tokens_purge)
    assert runs(institution) == []
    assert len(_still_there(institution, material)["sessions"]) == 2, "rolled back"

    assert run(institution, job_tasks.expired_tokens_purge)["sessions"] == 1
    assert _still_there(institution, material)["sessions"] == {material["live"][1]}


# --- activity past retention -----------------------------------------------------------


def _activity(institution, ages_in_days: list[float]) -> None:
    def work():
        now = timezone.now()
        for age in ages_in_days:
            row = ActivityLog.objects.create(activity_type=ActivityType.LOGIN)
            ActivityLog.objects.filter(pk=row.pk).update(created_at=now - timedelta(days=age))

    in_tenant(institution, work)


def _ages(institution) -> list[int]:
    now = timezone.now()
    return in_tenant(
        institution,
        lambda: sorted(
            round((now - created).total_seconds() / 86400)
            for created in ActivityLog.objects.values_list("created_at", flat=True)
        ),
    )


def _retention(institution, days: int) -> None:
    in_tenant(
        institution,
        lambda: DataPolicy.objects.update_or_create(
            pk=1, defaults={"activity_retention_days": days}
        ),
    )


def test_activity_older_than_the_retention_goes_and_younger_stays(alpha):
    _retention(alpha, 30)
    _activity(alpha, [400, 31, 30.01, 29.99, 5, 0])

    result = run(alpha, job_tasks.activity_log_purge)

    assert result["deleted"] == 3 and result["retention_days"] == 30 and result["finished"]
    assert _ages(alpha) == [0, 5, 30]
    assert run(alpha, job_tasks.activity_log_purge) == {"skipped": True}


def test_the_default_retention_is_a_year(alpha):
    _activity(alpha, [366, 364])
    assert run(alpha, job_tasks.activity_log_purge)["deleted"] == 1
    assert _ages(alpha) == [364]


def test_the_purge_runs_in_every_institution_with_its_own_retention(alpha, beta, celery_eager):
    from shared_apps.institutions.tasks import for_each_institution

    _retention(alpha, 10)
    _activity(alpha, [20, 5])
    _activity(beta, [20, 5])  # beta keeps a year

    for_each_institution.apply(args=["tenant_apps.jobs.tasks.activity_log_purge"]).get()

    assert _ages(alpha) == [5]
    assert _ages(beta) == [5, 20]
    for institution in (alpha, beta):
        (job,) = runs(institution, job="activity_log_purge")
        assert job.result["finished"] is True


def test_a_purge_that_dies_between_batches_is_finished_by_its_retry(django_db_setup, committed_db):
    institution = make_institution("purgecrash")
    _retention(institution, 30)
    _activity(institution, [40, 41, 42, 43, 44, 1])

    # Batches of two; the second batch's transaction dies.
    with (
        crashing_after_the_claim(institution, after_deleted=2),
        pytest.raises(Exception, match="crashed"),
    ):
        in_tenant(institution, lambda: housekeeping.activity_log_purge(batch_size=2))
    assert _ages(institution) == [1, 40, 41, 42], "the first batch (the oldest) stays done"
    (job,) = runs(institution)
    assert job.result["deleted"] == 2 and "finished" not in job.result

    result = in_tenant(institution, lambda: housekeeping.activity_log_purge(batch_size=2))
    assert result["deleted"] == 5 and result["finished"] is True
    assert _ages(institution) == [1]
    assert run(institution, job_tasks.activity_log_purge) == {"skipped": True}


def test_two_purges_at_once_make_one_run(django_db_setup, committed_db):
    institution = make_institution("purgerace")
    _retention(institution, 30)
    _activity(institution, [40] * 300 + [1])

    results = at_once(
        [lambda: in_tenant(institution, lambda: housekeeping.activity_log_purge(batch_size=20))] * 3
    )

    done = [r for r in results if r != {"skipped": True}]
    assert len(done) == 1 and done[0]["deleted"] == 300, results
    assert _ages(institution) == [1]
    assert len(runs(institution)) == 1


def test_each_institution_keeps_its_own_ledger(alpha, beta):
    """Alpha's run of the day is not beta's: beta's purge still runs after it."""
    run(alpha, job_tasks.expired_tokens_purge)
    assert runs(beta) == []
    assert run(beta, job_tasks.expired_tokens_purge) != {"skipped": True}
    assert len(runs(alpha)) == len(runs(beta)) == 1
