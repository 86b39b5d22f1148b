"""The secret iCal feed: made, replaced and revoked through the API, read
without signing in at /calendar/feed/{token}.ics, parsed back with icalendar:
a series as an RRULE in its zone, a cancelled occurrence as EXDATE, a changed
one as a RECURRENCE-ID VEVENT, due dates with the student's status; a
revoked, replaced, unknown or other institution's token, or a suspended
owner, is a 404."""

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from icalendar import Calendar

from tenant_apps.accounts.models import User
from tenant_apps.calendar.models import CalendarFeed

from .api_helpers import as_json
from .conftest import host_client
from .test_calendar_api import (
    API,
    NY,
    World,
    _assignment,
    _lecture,
    _list,
    _made,
    _ny,
    _occurrence_path,
    _quiz,
    _z,
    build_world,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(alpha, beta) -> World:
    return build_world(alpha, beta)


def _subscribe(client) -> str:
    response = client.post(f"{API}/feed/")
    assert response.status_code == 201, response.content
    return response.json()["url"]


def _fetch(url: str, **headers):
    parts = urlsplit(url)
    return host_client(parts.hostname).get(parts.path, **headers)


def _calendar(url: str) -> Calendar:
    response = _fetch(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def _vevents(calendar: Calendar) -> list:
    return list(calendar.walk("VEVENT"))


def _feeds(world) -> list[CalendarFeed]:
    with tenant_context(world.institution):
        feeds = list(CalendarFeed.objects.all())
    connection.set_schema_to_public()
    return feeds


def test_a_feed_is_made_shown_once_replaced_and_revoked(world):
    stu = world.client("stu0")
    assert stu.get(f"{API}/feed/").json() == {
        "exists": False,
        "created_at": None,
        "last_fetched_at": None,
    }
    response = stu.post(f"{API}/feed/")
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    url = body["url"]
    assert url.startswith("http://alpha.localhost/calendar/feed/") and url.endswith(".ics")
    assert body["webcal_url"] == "webcal://" + url.split("://", 1)[1]
    token = urlsplit(url).path.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43, "256 bits"
    [feed] = _feeds(world)
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest(), "only the hash is kept"
    status = stu.get(f"{API}/feed/").json()
    assert status["exists"] is True and token not in str(status)

    assert _fetch(url).status_code == 200
    assert stu.get(f"{API}/feed/").json()["last_fetched_at"] is not None

    replaced = _subscribe(stu)
    assert replaced != url
    assert _fetch(url).status_code == 404, "the old URL stops"
    assert _fetch(replaced).status_code == 200
    assert len(_feeds(world)) == 1

    assert stu.delete(f"{API}/feed/").status_code == 204
    assert _fetch(replaced).status_code == 404
    assert stu.get(f"{API}/feed/").json()["exists"] is False
    assert stu.delete(f"{API}/feed/").status_code == 204, "revoking twice is fine"
    assert _feeds(world) == []


def test_each_person_revokes_only_their_own_feed(world):
    mine = _subscribe(world.client("stu0"))
    assert world.client("stu1").delete(f"{API}/feed/").status_code == 204
    assert _fetch(mine).status_code == 200


def test_the_feed_holds_series_overrides_exdates_and_due_dates(world):
    lecture = _lecture(world, location="Hall A")
    teacher = world.client("instructor")
    assert teacher.delete(_occurrence_path(lecture, _ny(9, 11), "this")).status_code == 204
    response = as_json(
        teacher,
        "patch",
        _occurrence_path(lecture, _ny(2, 11), "this"),
        {"title": "Guest lecture", "start_date": "2026-11-02T11:00:00"},
    )
    assert response.status_code == 200
    _made(world.client("stu0"), title="Dentist")
    _made(world.client("stu1"), title="Someone else's")
    essay = _assignment(world)
    _quiz(world)
    submitted = as_json(
        world.client("stu0"), "post", f"/api/v1/assignments/{essay['id']}/submit/", {"text": "x"}
    )
    assert submitted.status_code == 201

    url = _subscribe(world.client("stu0"))
    calendar = _calendar(url)
    assert str(calendar["X-WR-CALNAME"]).startswith("Alpha University")
    assert calendar["VERSION"] == "2.0" and "PRODID" in calendar
    events = _vevents(calendar)
    assert all("DTSTAMP" in e and "UID" in e for e in events)
    by_summary = {str(e["SUMMARY"]): e for e in events}
    assert set(by_summary) == {
        "CS 101: Lecture",
        "CS 101: Guest lecture",
        "Dentist",
        "CS 101: Essay 1 — Submitted",
        "CS 101: Quiz 1 — Not submitted",
    }, "not another student's personal event"

    master, moved = by_summary["CS 101: Lecture"], by_summary["CS 101: Guest lecture"]
    assert master["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=6;BYDAY=MO"
    start = master.decoded("DTSTART")
    assert start == datetime(2026, 10, 19, 9, tzinfo=ZoneInfo(NY))
    assert str(start.tzinfo) == NY and master["DTSTART"].params["TZID"] == NY
    assert master.decoded("DTEND") == datetime(2026, 10, 19, 10, 30, tzinfo=ZoneInfo(NY))
    assert str(master["LOCATION"]) == "Hall A"
    exdates = [d.dt for d in master["EXDATE"].dts]
    assert exdates == [datetime(2026, 11, 9, 9, tzinfo=ZoneInfo(NY))]
    assert moved["UID"] == master["UID"]
    assert moved.decoded("RECURRENCE-ID") == datetime(2026, 11, 2, 9, tzinfo=ZoneInfo(NY))
    assert moved.decoded("DTSTART") == datetime(2026, 11, 2, 11, tzinfo=ZoneInfo(NY))
    assert {tz["TZID"] for tz in calendar.walk("VTIMEZONE")} == {NY}

    # The program expanding the feed finds what the API lists.
    rule = rrulestr(master["RRULE"].to_ical().decode(), dtstart=start)
    expanded = [d.astimezone(UTC) for d in rule if d not in exdates]
    expanded = [
        moved.decoded("DTSTART").astimezone(UTC) if d == _ny(2, 11) else d for d in expanded
    ]
    api = [_z(i["start"]) for i in _list(world.client("stu0")) if i["kind"] == "event"]
    assert expanded == [d for d in api if d in expanded] and len(expanded) == 5

    essay_event = by_summary["CS 101: Essay 1 — Submitted"]
    assert essay_event.decoded("DTSTART") == _z(essay["due_at"]).replace(microsecond=0)
    assert str(essay_event["TRANSP"]) == "TRANSPARENT"

    # Stable: the same UIDs, the same body (ETag), a 304 when unchanged.
    again = _fetch(url)
    assert {str(e["UID"]) for e in _vevents(Calendar.from_ical(again.content))} == {
        str(e["UID"]) for e in events
    }
    assert again["ETag"] == _fetch(url)["ETag"]
    assert _fetch(url, HTTP_IF_NONE_MATCH=again["ETag"]).status_code == 304


def test_staff_feeds_show_due_dates_without_a_status(world):
    _assignment(world)
    summaries = {str(e["SUMMARY"]) for e in _vevents(_calendar(_subscribe(world.client("ta"))))}
    assert summaries == {"CS 101: Essay 1 — Due"}


def test_all_day_series_use_dates(world):
    _made(
        world.client("stu0"),
        title="Reading day",
        start_date="2026-11-02",
        end_date=None,
        is_all_day=True,
        timezone="Europe/Berlin",
        recurrence_rule="FREQ=WEEKLY;UNTIL=20261130",
    )
    [event] = _vevents(_calendar(_subscribe(world.client("stu0"))))
    assert event.decoded("DTSTART") == datetime(2026, 11, 2).date()
    assert event.decoded("DTEND") == datetime(2026, 11, 3).date()
    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;UNTIL=20261130"


def test_unknown_revoked_and_other_institutions_tokens_are_404(world, alpha_client, beta_client):
    beta_url = _subscribe(world.client("beta"))
    assert _fetch(beta_url).status_code == 200, "on beta's host"
    beta_path = urlsplit(beta_url).path
    assert alpha_client.get(beta_path).status_code == 404, "beta's token is unknown on alpha"
    for path in (
        "/calendar/feed/not-a-token.ics",
        "/calendar/feed/" + "x" * 5000 + ".ics",
        "/calendar/feed/.ics",
    ):
        assert alpha_client.get(path).status_code == 404, path[:40]
    assert alpha_client.post(urlsplit(_subscribe(world.client("stu0"))).path).status_code == 405


@pytest.mark.parametrize(
    "change",
    [
        {"is_suspended": True},
        {"is_active": False},
        {"deleted_at": timezone.now()},
    ],
)
def test_a_feed_stops_when_its_owner_may_no_longer_sign_in(world, change):
    url = _subscribe(world.client("stu0"))
    with tenant_context(world.institution):
        User.objects.filter(pk=world.users["stu0"].pk).update(**change)
    connection.set_schema_to_public()
    assert _fetch(url).status_code == 404


def test_a_feed_covers_what_is_recent_and_coming(world):
    now = timezone.now().replace(microsecond=0)
    stu = world.client("stu0")
    _made(stu, title="Long ago", start_date=(now - timedelta(days=200)).isoformat(), end_date=None)
    _made(stu, title="Soon", start_date=(now + timedelta(days=2)).isoformat(), end_date=None)
    summaries = {str(e["SUMMARY"]) for e in _vevents(_calendar(_subscribe(stu)))}
    assert summaries == {"Soon"}
