"""The calendar API through the tenant router: events for the roles allowed,
the roles refused (nothing changes) and another institution's users;
recurrence expanded on the event's wall clock across a clock change; editing
one occurrence, the following ones or all of them; assignment and quiz due
dates with the student's submission status; upcoming; bad input."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tenant_apps.accounts.models import Role, User
from tenant_apps.calendar.models import CalendarEvent, CalendarEventOverride, CalendarFeed
from tenant_apps.courses.models import Course, CourseRole, CourseStatus
from tenant_apps.privacy.registry import user_data_sections

from .api_helpers import (
    admin_of,
    api_client,
    as_json,
    course_taught_by,
    error_code,
    in_tenant,
    member,
)
from .api_helpers import enroll as _enroll
from .test_assignments_api import World

pytestmark = pytest.mark.django_db

API = "/api/v1/calendar"
NY = "America/New_York"


def build_world(alpha, beta) -> World:
    """A published course with its instructor, two students, two TAs and a
    grader; another course with a student of its own; alpha's admin; a
    student of beta, and a client sending beta's token to alpha's host."""
    instructor = member(alpha, "prof@alpha.test", Role.INSTRUCTOR)
    course = course_taught_by(alpha, instructor)
    other_teacher = member(alpha, "other@alpha.test", Role.INSTRUCTOR)
    other_course = course_taught_by(alpha, other_teacher, code="CS 202")
    users = {"instructor": instructor, "admin": admin_of(alpha), "other_teacher": other_teacher}
    for n in range(2):
        users[f"stu{n}"] = member(alpha, f"stu{n}@alpha.test")
        _enroll(alpha, course, users[f"stu{n}"])
    users["ta"] = member(alpha, "ta@alpha.test", Role.TA)
    _enroll(alpha, course, users["ta"], CourseRole.TA)
    users["ta2"] = member(alpha, "ta2@alpha.test", Role.TA)
    _enroll(alpha, course, users["ta2"], CourseRole.TA)
    users["grader"] = member(alpha, "grader@alpha.test", Role.TA)
    _enroll(alpha, course, users["grader"], CourseRole.GRADER)
    users["outsider"] = member(alpha, "outsider@alpha.test")
    _enroll(alpha, other_course, users["outsider"])
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    users["beta"] = member(beta, "stu@beta.test")
    clients["beta"] = api_client(beta, users["beta"])
    # beta's token sent to alpha's host
    clients["beta_on_alpha"] = api_client(alpha, users["instructor"])
    clients["beta_on_alpha"].defaults["HTTP_AUTHORIZATION"] = clients["beta"].defaults[
        "HTTP_AUTHORIZATION"
    ]
    return World(alpha, course, other_course, users, clients)


@pytest.fixture
def world(alpha, beta) -> World:
    return build_world(alpha, beta)


def _in(world, fn):
    return in_tenant(world.institution, fn)


def _event_body(**fields) -> dict:
    return {
        "title": "Office hours",
        "event_type": "custom",
        "start_date": "2026-10-05T14:00:00Z",
        "end_date": "2026-10-05T15:00:00Z",
        **fields,
    }


def _create(client, **fields):
    return as_json(client, "post", f"{API}/events/", _event_body(**fields))


def _made(client, **fields) -> dict:
    response = _create(client, **fields)
    assert response.status_code == 201, response.content
    return response.json()


def _list(client, start="2026-09-01T00:00:00Z", end="2027-01-01T00:00:00Z", **params):
    response = client.get(f"{API}/events/", {"start": start, "end": end, "per_page": 100, **params})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _count(world, **filters) -> int:
    return _in(world, lambda: CalendarEvent.objects.filter(**filters).count())


def _event(world, pk) -> CalendarEvent:
    return _in(world, lambda: CalendarEvent.objects.get(pk=pk))


def _z(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(UTC)


def _starts(items, title=None) -> list[datetime]:
    return [_z(i["start"]) for i in items if title is None or i["title"] == title]


# --- personal events ---------------------------------------------------------


def test_a_personal_event_is_its_creators_alone(world):
    stu0, stu1 = world.client("stu0"), world.client("stu1")
    response = _create(stu0, title="Dentist", location="Main St")
    assert response.status_code == 201, response.content
    made = response.json()
    assert response["Location"] == f"/api/v1/calendar/events/{made['id']}/"
    assert made["course_id"] is None and made["created_by"]["id"] == str(world.users["stu0"].pk)
    assert made["timezone"] == "UTC", "the institution's zone by default"
    assert made["can_edit"] is True
    assert [i["title"] for i in _list(stu0)] == ["Dentist"]

    path = f"{API}/events/{made['id']}/"
    assert stu0.get(path).status_code == 200
    for who in ("stu1", "instructor", "admin"):
        client = world.client(who)
        assert client.get(path).status_code == 404, who
        assert as_json(client, "patch", path, {"title": "Mine"}).status_code == 404, who
        assert client.delete(path).status_code == 404, who
        assert _list(client) == [], who
    assert _event(world, made["id"]).title == "Dentist", "nothing changed"
    assert _count(world, deleted_at__isnull=True) == 1

    changed = as_json(stu0, "patch", path, {"title": "Dentist (moved)", "location": ""})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["title"], changed.json()["location"]) == ("Dentist (moved)", "")
    assert stu0.delete(path).status_code == 204
    assert stu0.get(path).status_code == 404
    assert _event(world, made["id"]).deleted_at is not None, "a soft delete"
    assert stu1.get(path).status_code == 404


def test_put_needs_the_whole_event_and_patch_any_part(world):
    made = _made(world.client("stu0"))
    path = f"{API}/events/{made['id']}/"
    response = as_json(world.client("stu0"), "put", path, {"title": "Only a title"})
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert set(response.json()["error"]["fields"]) >= {"event_type", "start_date"}
    response = as_json(
        world.client("stu0"),
        "put",
        path,
        _event_body(title="Replaced", start_date="2026-10-06T09:00:00Z", end_date=None),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["start_date"], body["end_date"]) == (
        "Replaced",
        "2026-10-06T09:00:00Z",
        None,
    )


def test_moving_the_start_keeps_the_length(world):
    made = _made(world.client("stu0"))  # 14:00-15:00
    path = f"{API}/events/{made['id']}/"
    body = as_json(
        world.client("stu0"), "patch", path, {"start_date": "2026-10-07T08:30:00Z"}
    ).json()
    assert (body["start_date"], body["end_date"]) == (
        "2026-10-07T08:30:00Z",
        "2026-10-07T09:30:00Z",
    )


# --- course events: who may ------------------------------------------------------


@pytest.mark.parametrize("who", ["instructor", "admin", "ta"])
def test_the_courses_instructors_and_tas_add_course_events(world, who):
    response = _create(world.client(who), course_id=str(world.course.pk), event_type="lecture")
    assert response.status_code == 201, response.content
    assert response.json()["course_id"] == str(world.course.pk)
    for reader in ("stu0", "stu1", "ta", "grader", "instructor"):
        assert [i["title"] for i in _list(world.client(reader))] == ["Office hours"], reader
        detail = world.client(reader).get(f"{API}/events/{response.json()['id']}/")
        assert detail.status_code == 200, reader
    assert _list(world.client("outsider")) == []
    assert world.client("outsider").get(f"{API}/events/{response.json()['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("who", "status"),
    [("stu0", 403), ("grader", 403), ("outsider", 404), ("other_teacher", 404)],
)
def test_students_graders_and_strangers_add_no_course_events(world, who, status):
    response = _create(world.client(who), course_id=str(world.course.pk))
    assert response.status_code == status, response.content
    assert _count(world) == 0


def test_an_unknown_course_is_a_404(world):
    response = _create(world.client("instructor"), course_id="00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_who_changes_a_course_event(world):
    instructors = _made(world.client("instructor"), course_id=str(world.course.pk))
    tas = _made(world.client("ta"), course_id=str(world.course.pk), title="Lab")
    path = f"{API}/events/{instructors['id']}/"
    ta_path = f"{API}/events/{tas['id']}/"

    # A student and a grader see it but may not change it; another course's people do not see it.
    for who, status in (("stu0", 403), ("grader", 403), ("ta", 403), ("outsider", 404)):
        assert as_json(world.client(who), "patch", path, {"title": "X"}).status_code == status
        assert world.client(who).delete(path).status_code == status, who
    assert as_json(world.client("ta2"), "patch", ta_path, {"title": "X"}).status_code == 403
    assert _event(world, instructors["id"]).title == "Office hours"
    assert _event(world, tas["id"]).title == "Lab"
    assert _count(world, deleted_at__isnull=True) == 2

    assert world.client("stu0").get(path).json()["can_edit"] is False
    assert world.client("ta").get(ta_path).json()["can_edit"] is True
    assert as_json(world.client("ta"), "patch", ta_path, {"title": "Lab 2"}).status_code == 200
    assert as_json(
        world.client("instructor"), "patch", ta_path, {"title": "Lab 3"}
    ).status_code == (200)
    assert as_json(world.client("admin"), "patch", path, {"title": "Talk"}).status_code == 200
    assert world.client("instructor").delete(ta_path).status_code == 204
    assert _count(world, deleted_at__isnull=True) == 1


def test_an_archived_courses_events_are_frozen(world):
    made = _made(world.client("instructor"), course_id=str(world.course.pk))
    _in(
        world,
        lambda: Course.objects.filter(pk=world.course.pk).update(status=CourseStatus.ARCHIVED),
    )
    response = _create(world.client("instructor"), course_id=str(world.course.pk))
    assert response.status_code == 409 and error_code(response) == "course_archived"
    path = f"{API}/events/{made['id']}/"
    response = as_json(world.client("instructor"), "patch", path, {"title": "X"})
    assert response.status_code == 409 and error_code(response) == "course_archived"
    assert world.client("instructor").delete(path).status_code == 409
    assert _count(world, deleted_at__isnull=True) == 1


def test_admins_see_any_courses_calendar_when_they_ask_for_it(world):
    _made(world.client("instructor"), course_id=str(world.course.pk))
    assert _list(world.client("admin")) == [], "not a course they are in"
    listed = _list(world.client("admin"), course=str(world.course.pk))
    assert [i["title"] for i in listed] == ["Office hours"]
    assert (
        world.client("outsider")
        .get(
            f"{API}/events/",
            {
                "start": "2026-09-01T00:00:00Z",
                "end": "2026-10-01T00:00:00Z",
                "course": str(world.course.pk),
            },
        )
        .status_code
        == 404
    )


# --- another institution, no one -----------------------------------------------


def test_another_institution_sees_nothing_and_its_tokens_are_refused(world):
    alpha_event = _made(world.client("stu0"), title="Alpha's")
    beta_event = _made(world.client("beta"), title="Beta's")
    assert [i["title"] for i in _list(world.client("beta"))] == ["Beta's"]
    assert [i["title"] for i in _list(world.client("stu0"))] == ["Alpha's"]
    assert world.client("beta").get(f"{API}/events/{alpha_event['id']}/").status_code == 404
    assert world.client("stu0").get(f"{API}/events/{beta_event['id']}/").status_code == 404

    outsider = world.client("beta_on_alpha")
    path = f"{API}/events/{alpha_event['id']}/"
    calls = [
        outsider.get(f"{API}/events/", {"start": "2026-09-01T00:00Z", "end": "2026-10-01T00:00Z"}),
        _create(outsider),
        outsider.get(path),
        as_json(outsider, "patch", path, {"title": "Theirs"}),
        outsider.delete(path),
        outsider.get(f"{API}/upcoming/"),
        outsider.get(f"{API}/feed/"),
        outsider.post(f"{API}/feed/"),
        outsider.delete(f"{API}/feed/"),
    ]
    assert [c.status_code for c in calls] == [401] * len(calls)
    assert _event(world, alpha_event["id"]).title == "Alpha's"
    assert _count(world) == 1


def test_anonymous_callers_are_401(world, alpha_client):
    for response in (
        alpha_client.get(
            f"{API}/events/", {"start": "2026-09-01T00:00Z", "end": "2026-10-01T00:00Z"}
        ),
        alpha_client.get(f"{API}/upcoming/"),
        alpha_client.post(f"{API}/feed/"),
    ):
        assert response.status_code == 401


# --- recurrence ------------------------------------------------------------------


def _lecture(world, **fields) -> dict:
    body = {
        "course_id": str(world.course.pk),
        "title": "Lecture",
        "event_type": "lecture",
        "start_date": "2026-10-19T09:00:00",
        "end_date": "2026-10-19T10:30:00",
        "timezone": NY,
        "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO;COUNT=6",
        **fields,
    }
    response = as_json(world.client("instructor"), "post", f"{API}/events/", body)
    assert response.status_code == 201, response.content
    return response.json()


def _ny(day: int, month: int = 10, hour: int = 9, minute: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo(NY)).astimezone(UTC)


MONDAYS = [(19, 10), (26, 10), (2, 11), (9, 11), (16, 11), (23, 11)]


def test_a_weekly_lecture_stays_at_nine_local_across_the_clock_change(world):
    made = _lecture(world)
    assert made["recurrence_rule"] == "FREQ=WEEKLY;COUNT=6;BYDAY=MO"
    assert made["start_date"] == "2026-10-19T13:00:00Z", "09:00 EDT"
    items = _list(world.client("stu0"))
    assert _starts(items) == [_ny(d, m) for d, m in MONDAYS]
    # New York leaves summer time on 1 November: 13:00 UTC before, 14:00 UTC after.
    assert [i["start"][11:16] for i in items] == [
        "13:00",
        "13:00",
        "14:00",
        "14:00",
        "14:00",
        "14:00",
    ]
    assert [_z(i["end"]) for i in items] == [_ny(d, m, 10, 30) for d, m in MONDAYS]
    first = items[0]
    assert first["event_id"] == made["id"] and first["is_recurring"] is True
    assert first["original_start"] == first["start"] and first["is_override"] is False
    assert first["can_edit"] is False, "a student"
    # A range cuts the series; an occurrence under way at the range's start is in it.
    inside = _list(world.client("stu0"), start="2026-11-02T14:30:00Z", end="2026-11-10T00:00:00Z")
    assert _starts(inside) == [_ny(2, 11), _ny(9, 11)]


def test_a_daily_until_rule_given_as_a_local_date_ends_that_day(world):
    made = _lecture(
        world,
        recurrence_rule="RRULE:freq=daily;until=20261022",
        start_date="2026-10-19T09:00:00",
    )
    assert made["recurrence_rule"] == "FREQ=DAILY;UNTIL=20261023T035959Z", "23:59:59 EDT, in UTC"
    assert _starts(_list(world.client("stu0"))) == [_ny(d) for d in (19, 20, 21, 22)]


def test_all_day_events_cover_whole_local_days(world):
    made = _made(
        world.client("stu0"),
        title="Reading week",
        start_date="2026-11-02",
        end_date="2026-11-04",
        is_all_day=True,
        timezone="Europe/Berlin",
    )
    assert (made["start_date"], made["end_date"]) == (
        "2026-11-01T23:00:00Z",
        "2026-11-03T23:00:00Z",
    )


def _occurrence_path(event: dict, occurrence: datetime, scope: str) -> str:
    stamp = occurrence.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{API}/events/{event['id']}/?scope={scope}&occurrence={stamp}"


def test_changing_and_cancelling_one_occurrence(world):
    made = _lecture(world)
    teacher = world.client("instructor")
    path = _occurrence_path(made, _ny(2, 11), "this")
    response = as_json(
        teacher, "patch", path, {"title": "Guest lecture", "start_date": "2026-11-03T11:00:00"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["overrides"][0]["original_start"] == "2026-11-02T14:00:00Z"
    response = teacher.delete(_occurrence_path(made, _ny(9, 11), "this"))
    assert response.status_code == 204

    items = _list(world.client("stu0"))
    assert [(i["title"], _z(i["start"]), i["is_override"]) for i in items] == [
        ("Lecture", _ny(19), False),
        ("Lecture", _ny(26), False),
        ("Guest lecture", _ny(3, 11, 11), True),
        ("Lecture", _ny(16, 11), False),
        ("Lecture", _ny(23, 11), False),
    ]
    moved = items[2]
    assert moved["original_start"] == "2026-11-02T14:00:00Z"
    assert _z(moved["end"]) == _ny(3, 11, 12, 30), "as long as the series' occurrences"
    detail = teacher.get(f"{API}/events/{made['id']}/").json()
    assert [(o["original_start"], o["cancelled"]) for o in detail["overrides"]] == [
        ("2026-11-02T14:00:00Z", False),
        ("2026-11-09T14:00:00Z", True),
    ]
    # A cancelled occurrence is not changed again; the series' own fields are not one occurrence's.
    response = as_json(teacher, "patch", _occurrence_path(made, _ny(9, 11), "this"), {"title": "X"})
    assert response.status_code == 409 and error_code(response) == "occurrence_cancelled"
    response = as_json(
        teacher, "patch", _occurrence_path(made, _ny(16, 11), "this"), {"event_type": "exam"}
    )
    assert response.status_code == 400 and error_code(response) == "field_not_per_occurrence"
    # PUT of one occurrence with only a title: back to the series' time.
    response = as_json(teacher, "put", path, {"title": "Guest lecture"})
    assert response.status_code == 200, response.content
    assert _ny(2, 11) in _starts(_list(world.client("stu0")), "Guest lecture")
    # A student may not.
    response = as_json(
        world.client("stu0"), "patch", _occurrence_path(made, _ny(16, 11), "this"), {"title": "Y"}
    )
    assert response.status_code == 403
    assert _in(world, lambda: CalendarEventOverride.objects.count()) == 2


def test_changing_this_and_the_following_occurrences_splits_the_series(world):
    made = _lecture(world)
    teacher = world.client("instructor")
    # The fifth lecture has its own title, first.
    as_json(teacher, "patch", _occurrence_path(made, _ny(16, 11), "this"), {"title": "Review"})
    response = as_json(
        teacher,
        "patch",
        _occurrence_path(made, _ny(2, 11), "following"),
        {"start_date": "2026-11-02T10:00:00", "location": "Hall B"},
    )
    assert response.status_code == 200, response.content
    tail = response.json()
    assert tail["id"] != made["id"]
    assert tail["recurrence_rule"] == "FREQ=WEEKLY;COUNT=4;BYDAY=MO"
    assert tail["start_date"] == "2026-11-02T15:00:00Z" and tail["location"] == "Hall B"
    assert [(o["original_start"], o["title"]) for o in tail["overrides"]] == [
        ("2026-11-16T15:00:00Z", "Review")
    ], "the override moved with its occurrence"
    head = teacher.get(f"{API}/events/{made['id']}/").json()
    assert head["recurrence_rule"] == "FREQ=WEEKLY;COUNT=2;BYDAY=MO" and head["overrides"] == []

    items = _list(world.client("stu0"))
    assert [(_z(i["start"]), i["title"], i["location"]) for i in items] == [
        (_ny(19), "Lecture", ""),
        (_ny(26), "Lecture", ""),
        (_ny(2, 11, 10), "Lecture", "Hall B"),
        (_ny(9, 11, 10), "Lecture", "Hall B"),
        (_ny(16, 11, 10), "Review", "Hall B"),
        (_ny(23, 11, 10), "Lecture", "Hall B"),
    ]


def test_an_endless_series_split_ends_with_until(world):
    made = _lecture(world, recurrence_rule="FREQ=WEEKLY;BYDAY=MO")
    response = world.client("instructor").delete(_occurrence_path(made, _ny(9, 11), "following"))
    assert response.status_code == 204
    head = _event(world, made["id"])
    assert head.recurrence_rule == "FREQ=WEEKLY;UNTIL=20261109T135959Z;BYDAY=MO"
    assert _starts(_list(world.client("stu0"))) == [_ny(19), _ny(26), _ny(2, 11)]
    assert _count(world) == 1, "deleting the following ones makes no new event"


def test_changing_all_moves_the_overrides_with_the_series(world):
    made = _lecture(world)
    teacher = world.client("instructor")
    teacher.delete(_occurrence_path(made, _ny(2, 11), "this"))
    as_json(teacher, "patch", _occurrence_path(made, _ny(9, 11), "this"), {"title": "Quiz day"})
    response = as_json(
        teacher, "patch", f"{API}/events/{made['id']}/", {"start_date": "2026-10-19T11:00:00"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["end_date"] == "2026-10-19T16:30:00Z", "the length is kept"
    items = _list(world.client("stu0"))
    assert [(_z(i["start"]), i["title"]) for i in items] == [
        (_ny(19, 10, 11), "Lecture"),
        (_ny(26, 10, 11), "Lecture"),
        (_ny(9, 11, 11), "Quiz day"),
        (_ny(16, 11, 11), "Lecture"),
        (_ny(23, 11, 11), "Lecture"),
    ], "the cancelled and the changed occurrences moved to 11:00 with the rest"
    # Every other week: 2 and 16 November remain, 9 November is gone with its override.
    response = as_json(
        teacher,
        "patch",
        f"{API}/events/{made['id']}/?scope=all",
        {"recurrence_rule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;COUNT=3"},
    )
    assert response.status_code == 200, response.content
    assert [(o["original_start"], o["cancelled"]) for o in response.json()["overrides"]] == [
        ("2026-11-02T16:00:00Z", True)
    ]
    assert _starts(_list(world.client("stu0"))) == [_ny(19, 10, 11), _ny(16, 11, 11)]


def test_deleting_all_of_a_series(world):
    made = _lecture(world)
    path = _occurrence_path(made, _ny(19), "following")  # from the first: all of it
    assert world.client("instructor").delete(path).status_code == 204
    assert _list(world.client("stu0")) == []
    assert _event(world, made["id"]).deleted_at is not None


def test_occurrences_that_do_not_exist_or_scopes_without_one(world):
    made = _lecture(world)
    teacher = world.client("instructor")
    response = as_json(teacher, "patch", _occurrence_path(made, _ny(20), "this"), {"title": "X"})
    assert response.status_code == 400 and error_code(response) == "unknown_occurrence"
    response = as_json(teacher, "patch", f"{API}/events/{made['id']}/?scope=this", {"title": "X"})
    assert response.status_code == 400 and error_code(response) == "occurrence_required"
    response = teacher.delete(f"{API}/events/{made['id']}/?scope=sometimes")
    assert response.status_code == 400 and error_code(response) == "invalid"
    single = _made(world.client("stu0"))
    response = world.client("stu0").delete(
        _occurrence_path(single, _z(single["start_date"]), "this")
    )
    assert response.status_code == 400 and error_code(response) == "event_not_recurring"
    assert _count(world, deleted_at__isnull=True) == 2
    assert _in(world, lambda: CalendarEventOverride.objects.count()) == 0


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"recurrence_rule": "EVERY MONDAY"}, "invalid_recurrence_rule"),
        ({"recurrence_rule": "FREQ=WEEKLY;BYDAY=XX"}, "invalid_recurrence_rule"),
        ({"recurrence_rule": "FREQ=WEEKLY;COUNT=2;UNTIL=20270101"}, "invalid_recurrence_rule"),
        ({"recurrence_rule": "FREQ=DAILY;INTERVAL=0"}, "invalid_recurrence_rule"),
        ({"recurrence_rule": "FREQ=DAILY;COUNT=100000"}, "invalid_recurrence_rule"),
        ({"recurrence_rule": "FREQ=DAILY;UNTIL=20200101"}, "invalid_recurrence_rule"),
        ({"recurrence_rule": "FREQ=MINUTELY"}, "recurrence_too_frequent"),
        ({"recurrence_rule": "FREQ=SECONDLY;COUNT=5"}, "recurrence_too_frequent"),
        ({"recurrence_rule": "FREQ=DAILY;BYHOUR=1,2,3"}, "recurrence_part_not_allowed"),
        ({"recurrence_rule": "FREQ=DAILY\nRDATE:20261001"}, "invalid_recurrence_rule"),
        ({"recurrence_rule": "FREQ=WEEKLY;BYDAY=TU"}, "recurrence_start_mismatch"),  # a Monday
        ({"recurrence_rule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}, "recurrence_start_mismatch"),
        ({"end_date": "2026-10-05T13:00:00Z"}, "end_before_start"),
        ({"end_date": "2026-10-05T14:00:00Z"}, "end_before_start"),
        ({"end_date": "2028-10-05T14:00:00Z"}, "event_too_long"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown_timezone"),
        ({"timezone": "../../etc/passwd"}, "unknown_timezone"),
        ({"start_date": "1900-01-01T00:00:00Z", "end_date": None}, "date_out_of_range"),
        ({"start_date": "not a date"}, "invalid"),
        ({"event_type": "assignment"}, "invalid"),
        ({"title": "x" * 256}, "invalid"),
        ({"title": ""}, "invalid"),
        ({"colour": "red"}, "invalid"),
        ({"course_id": "not-a-uuid"}, "invalid"),
        ({"recurrence_rule": "FREQ=DAILY;" + "BYMONTHDAY=1;" * 60}, "invalid"),
    ],
)
def test_bad_events_are_400_with_a_code(world, fields, code):
    body = _event_body(**fields)
    started = time.monotonic()
    response = as_json(world.client("stu0"), "post", f"{API}/events/", body)
    assert time.monotonic() - started < 2, "refused quickly"
    assert response.status_code == 400, response.content
    assert error_code(response) == code, response.json()
    assert _count(world) == 0


def test_missing_fields_are_400(world):
    response = as_json(world.client("stu0"), "post", f"{API}/events/", {})
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert set(response.json()["error"]["fields"]) == {"title", "event_type", "start_date"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "invalid"),
        ({"start": "2026-09-01T00:00:00Z"}, "invalid"),
        ({"start": "2026-09-01T00:00:00Z", "end": "2026-08-01T00:00:00Z"}, "end_before_start"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2027-01-03T00:00:00Z"}, "range_too_long"),
        ({"start": "1500-01-01T00:00:00Z", "end": "1500-02-01T00:00:00Z"}, "date_out_of_range"),
        ({"start": "yesterday", "end": "2027-01-03T00:00:00Z"}, "invalid"),
        ({"start": "2026-09-01T00:00Z", "end": "2026-10-01T00:00Z", "type": "party"}, "invalid"),
        ({"start": "2026-09-01T00:00Z", "end": "2026-10-01T00:00Z", "course": "x"}, "invalid"),
    ],
)
def test_bad_ranges_are_400_with_a_code(world, params, code):
    response = world.client("stu0").get(f"{API}/events/", params)
    assert response.status_code == 400, response.content
    assert error_code(response) == code


def test_a_long_daily_series_expands_quickly(world):
    _made(
        world.client("stu0"),
        start_date="2000-01-03T08:00:00Z",
        end_date="2000-01-03T09:00:00Z",
        recurrence_rule="FREQ=DAILY",
    )
    started = time.monotonic()
    items = _list(world.client("stu0"), start="2099-01-01T00:00:00Z", end="2099-12-31T00:00:00Z")
    assert time.monotonic() - started < 3
    assert len(items) == 100, "a page"
    response = world.client("stu0").get(
        f"{API}/events/", {"start": "2099-01-01T00:00:00Z", "end": "2099-12-31T00:00:00Z"}
    )
    assert response.json()["count"] == 364


# --- due dates ---------------------------------------------------------------------


def _assignment(world, **fields) -> dict:
    body = {
        "title": "Essay 1",
        "points": "100",
        "due_at": (timezone.now() + timedelta(days=3)).isoformat(),
        "submission_type": "text",
        "is_published": True,
        "posting_policy": "automatic",
        **fields,
    }
    response = as_json(
        world.client("instructor"), "post", f"/api/v1/courses/{world.course.pk}/assignments/", body
    )
    assert response.status_code == 201, response.content
    return response.json()


def _quiz(world, **fields) -> dict:
    body = {
        "title": "Quiz 1",
        "end_date": (timezone.now() + timedelta(days=4)).isoformat(),
        "is_published": True,
        **fields,
    }
    response = as_json(
        world.client("instructor"), "post", f"/api/v1/courses/{world.course.pk}/quizzes/", body
    )
    assert response.status_code == 201, response.content
    return response.json()


def _now_range() -> dict:
    now = timezone.now()
    return {
        "start": (now - timedelta(days=10)).isoformat(),
        "end": (now + timedelta(days=20)).isoformat(),
    }


def _due(client, **params) -> dict:
    items = _list(client, **{**_now_range(), **params})
    return {i["title"]: i for i in items if i["kind"] != "event"}


def test_due_dates_appear_with_the_students_status(world):
    essay = _assignment(world)
    late = _assignment(
        world, title="Lab report", due_at=(timezone.now() - timedelta(days=2)).isoformat()
    )
    graded = _assignment(world, title="Reading notes")
    _assignment(world, title="Draft assignment", is_published=False)
    quiz = _quiz(world)

    due = _due(world.client("stu0"))
    assert set(due) == {"Essay 1", "Lab report", "Reading notes", "Quiz 1"}, "no drafts"
    item = due["Essay 1"]
    assert item["id"] == f"assignment:{essay['id']}" and item["source_id"] == essay["id"]
    assert (item["kind"], item["event_type"], item["can_edit"]) == (
        "assignment",
        "assignment",
        False,
    )
    assert item["start"] == essay["due_at"].replace("+00:00", "Z") and item["end"] is None
    assert due["Quiz 1"]["id"] == f"quiz:{quiz['id']}"
    assert {i["submission_status"] for i in due.values()} == {"not_submitted"}

    student = world.client("stu0")
    for assignment in (essay, late, graded):
        response = as_json(
            student, "post", f"/api/v1/assignments/{assignment['id']}/submit/", {"text": "mine"}
        )
        assert response.status_code == 201, response.content
        if assignment is graded:
            submission = response.json()
            response = as_json(
                world.client("instructor"),
                "post",
                f"/api/v1/submissions/{submission['id']}/grade/",
                {"points_earned": "90"},
            )
            assert response.status_code == 200, response.content

    due = _due(student)
    assert {t: i["submission_status"] for t, i in due.items()} == {
        "Essay 1": "submitted",
        "Lab report": "late",
        "Reading notes": "graded",
        "Quiz 1": "not_submitted",
    }
    assert {i["submission_status"] for i in _due(world.client("stu1")).values()} == {
        "not_submitted"
    }

    staff = _due(world.client("ta"))
    assert "Draft assignment" in staff and {i["submission_status"] for i in staff.values()} == {
        None
    }
    assert _due(world.client("outsider")) == {}
    assert _due(world.client("beta")) == {}
    # Filters: by type, by course.
    assert set(_due(student, type="quiz")) == {"Quiz 1"}
    assert set(_due(student, type="assignment")) == {"Essay 1", "Lab report", "Reading notes"}
    assert _due(student, type="lecture") == {}
    assert len(_due(student, course=str(world.course.pk))) == 4


# --- upcoming ----------------------------------------------------------------------


def test_upcoming_lists_what_is_next_soonest_first(world):
    now = timezone.now().replace(microsecond=0)
    stu = world.client("stu0")
    _made(
        stu,
        title="Now",
        start_date=(now - timedelta(minutes=30)).isoformat(),
        end_date=(now + timedelta(minutes=30)).isoformat(),
    )
    _made(
        stu,
        title="Past",
        start_date=(now - timedelta(hours=3)).isoformat(),
        end_date=(now - timedelta(hours=2)).isoformat(),
    )
    _made(
        stu,
        title="Daily",
        start_date=(now + timedelta(hours=1)).isoformat(),
        end_date=None,
        recurrence_rule="FREQ=DAILY",
    )
    _made(stu, title="Far", start_date=(now + timedelta(days=20)).isoformat(), end_date=None)
    _assignment(world, title="Essay", due_at=(now + timedelta(days=2, minutes=5)).isoformat())

    response = stu.get(f"{API}/upcoming/")
    assert response.status_code == 200, response.content
    titles = [i["title"] for i in response.json()]
    assert titles[:2] == ["Now", "Daily"] and titles.count("Daily") == 7
    assert "Essay" in titles and "Past" not in titles and "Far" not in titles
    starts = [i["start"] for i in response.json()]
    assert starts == sorted(starts)

    assert [i["title"] for i in stu.get(f"{API}/upcoming/", {"limit": 2}).json()] == [
        "Now",
        "Daily",
    ]
    assert "Far" in [i["title"] for i in stu.get(f"{API}/upcoming/", {"days": 21}).json()]
    for bad in ({"days": 0}, {"days": 61}, {"limit": 1000}, {"days": "x"}):
        response = stu.get(f"{API}/upcoming/", bad)
        assert response.status_code == 400 and error_code(response) == "invalid", bad
    assert world.client("stu1").get(f"{API}/upcoming/").json()[0]["title"] == "Essay"


# --- data rights -------------------------------------------------------------------


def test_the_privacy_section_exports_and_erases_personal_events_and_the_feed(world):
    mine = _made(world.client("stu0"), title="Dentist", recurrence_rule="FREQ=WEEKLY;COUNT=3")
    world.client("stu0").delete(
        _occurrence_path(mine, _z(mine["start_date"]) + timedelta(days=7), "this")
    )
    _made(world.client("stu1"), title="Someone else's")
    course_event = _made(world.client("ta"), course_id=str(world.course.pk), title="Lab")
    assert world.client("stu0").post(f"{API}/feed/").status_code == 201
    section = next(s for s in user_data_sections() if s.name == "calendar")

    def run():
        stu0 = User.objects.get(pk=world.users["stu0"].pk)
        exported = section.export(stu0)
        ta_export = section.export(User.objects.get(pk=world.users["ta"].pk))
        section.erase(stu0, keep_academic_records=True)
        section.erase(User.objects.get(pk=world.users["ta"].pk), keep_academic_records=True)
        return exported, ta_export

    exported, ta_export = _in(world, run)
    assert [e["title"] for e in exported["personal_events"]] == ["Dentist"]
    assert exported["personal_events"][0]["occurrences_changed"][0]["cancelled"] is True
    assert exported["feed"]["exists"] is True and "token" not in str(exported["feed"])
    assert [e["title"] for e in ta_export["course_events_created"]] == ["Lab"]
    assert _count(world, created_by=world.users["stu0"]) == 0
    assert _count(world, title="Someone else's") == 1
    assert _count(world, pk=course_event["id"]) == 1, "a course event stays"
    assert (
        _in(world, lambda: CalendarFeed.objects.filter(user=world.users["stu0"]).exists()) is False
    )
