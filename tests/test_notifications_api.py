"""The notifications API through the tenant router: each member lists, counts,
marks and deletes their own notifications only; another's id is a 404 that
changes nothing, and another institution's token or notifications never reach
this one. Also the privacy section (export and erasure of notifications)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenant_apps.accounts.models import Role
from tenant_apps.notifications.api import NotificationKind, notification_send
from tenant_apps.notifications.models import Notification
from tenant_apps.privacy.registry import user_data_sections

from .api_helpers import api_client, as_json, error_code, member

pytestmark = pytest.mark.django_db

API = "/api/v1/notifications/"
FIELDS = {
    "id",
    "notification_type",
    "title",
    "message",
    "link_url",
    "is_read",
    "read_at",
    "metadata",
    "created_at",
}


def in_tenant(institution, work):
    with tenant_context(institution):
        result = work()
    connection.set_schema_to_public()
    return result


def notify(institution, user, kind=NotificationKind.MESSAGE, title="Hello", *, ago=0, **extra):
    """One notification for `user`, created `ago` minutes in the past."""

    def work():
        [row] = notification_send(user_ids=[user.pk], kind=kind, title=title, **extra)
        if ago:
            Notification.objects.filter(pk=row.pk).update(
                created_at=timezone.now() - timedelta(minutes=ago)
            )
        return Notification.objects.get(pk=row.pk)

    return in_tenant(institution, work)


def rows(institution, user) -> list[Notification]:
    return in_tenant(
        institution,
        lambda: list(Notification.objects.filter(user=user).order_by("created_at")),
    )


@pytest.fixture
def people(alpha):
    ann = member(alpha, "ann@alpha.test")
    bob = member(alpha, "bob@alpha.test", Role.INSTRUCTOR)
    return ann, bob, api_client(alpha, ann), api_client(alpha, bob)


def test_the_list_is_the_callers_own_newest_first_with_the_design_fields(alpha, people):
    ann, bob, ann_client, _ = people
    old = notify(alpha, ann, NotificationKind.GRADE_POSTED, "Old", ago=30, metadata={"x": 1})
    new = notify(alpha, ann, NotificationKind.ANNOUNCEMENT, "New", link_url="/courses/x")
    notify(alpha, bob, title="Bob's")

    response = ann_client.get(API)
    assert response.status_code == 200
    body = response.json()
    assert [n["id"] for n in body["results"]] == [str(new.pk), str(old.pk)]
    first = body["results"][0]
    assert set(first) == FIELDS
    assert first["title"] == "New" and first["link_url"] == "/courses/x"
    assert first["is_read"] is False and first["read_at"] is None
    assert body["results"][1]["metadata"] == {"x": 1}


def test_the_list_is_paginated_and_filtered(alpha, people):
    ann, _, ann_client, _ = people
    for n in range(5):
        notify(alpha, ann, NotificationKind.MESSAGE, f"m{n}", ago=10 - n)
    grade = notify(alpha, ann, NotificationKind.GRADE_POSTED, "g")
    in_tenant(alpha, lambda: Notification.objects.filter(pk=grade.pk).update(is_read=True))

    page = ann_client.get(API, {"per_page": 2})
    assert page.status_code == 200
    assert len(page.json()["results"]) == 2 and page.json()["count"] == 6
    assert 'rel="next"' in page.headers["Link"]
    graded = ann_client.get(API, {"notification_type": "grade_posted"}).json()["results"]
    assert [n["id"] for n in graded] == [str(grade.pk)]
    unread = ann_client.get(API, {"is_read": "false"}).json()["results"]
    assert [n["title"] for n in unread] == ["m4", "m3", "m2", "m1", "m0"]
    read = ann_client.get(API, {"is_read": "true"}).json()["results"]
    assert [n["title"] for n in read] == ["g"]


@pytest.mark.parametrize(
    "query", [{"notification_type": "nonsense"}, {"is_read": "perhaps"}, {"page": "999"}]
)
def test_bad_filters_are_400s(alpha, people, query):
    ann, _, ann_client, _ = people
    notify(alpha, ann)
    response = ann_client.get(API, query)
    assert response.status_code in (400, 404)
    assert error_code(response)


def test_unread_counts_only_the_callers_unread(alpha, people):
    ann, bob, ann_client, bob_client = people
    notify(alpha, ann)
    notify(alpha, ann)
    read = notify(alpha, ann)
    in_tenant(alpha, lambda: Notification.objects.filter(pk=read.pk).update(is_read=True))
    notify(alpha, bob)
    assert ann_client.get(f"{API}unread/").json() == {"count": 2}
    assert bob_client.get(f"{API}unread/").json() == {"count": 1}


def test_mark_read_keeps_the_first_reads_time(alpha, people):
    ann, _, ann_client, _ = people
    notification = notify(alpha, ann)
    first = ann_client.post(f"{API}{notification.pk}/mark-read/")
    assert first.status_code == 200
    assert first.json()["is_read"] is True and first.json()["read_at"]
    again = ann_client.post(f"{API}{notification.pk}/mark-read/")
    assert again.status_code == 200 and again.json()["read_at"] == first.json()["read_at"]
    assert ann_client.get(f"{API}unread/").json() == {"count": 0}


def test_another_members_notification_is_a_404_and_nothing_changes(alpha, people):
    ann, _, _, bob_client = people
    notification = notify(alpha, ann)
    for method, path in (
        ("post", f"{API}{notification.pk}/mark-read/"),
        ("delete", f"{API}{notification.pk}/"),
    ):
        response = getattr(bob_client, method)(path)
        assert response.status_code == 404, path
        assert error_code(response) == "not_found"
    [kept] = rows(alpha, ann)
    assert kept.is_read is False and kept.read_at is None
    assert notification.pk not in {n["id"] for n in bob_client.get(API).json()["results"]}


def test_unknown_ids_are_404s(alpha, people):
    _, _, ann_client, _ = people
    missing = "00000000-0000-4000-8000-000000000000"
    assert ann_client.post(f"{API}{missing}/mark-read/").status_code == 404
    assert ann_client.delete(f"{API}{missing}/").status_code == 404
    assert ann_client.delete(f"{API}not-a-uuid/").status_code == 404


def test_mark_all_read_marks_only_the_callers_unread_and_says_how_many(alpha, people):
    ann, bob, ann_client, bob_client = people
    already = notify(alpha, ann)
    ann_client.post(f"{API}{already.pk}/mark-read/")
    read_at = rows(alpha, ann)[0].read_at
    notify(alpha, ann)
    notify(alpha, ann)
    notify(alpha, bob)

    response = as_json(ann_client, "post", f"{API}mark-all-read/")
    assert response.status_code == 200 and response.json() == {"count": 2}
    ann_rows = rows(alpha, ann)
    assert all(n.is_read and n.read_at for n in ann_rows)
    assert ann_rows[0].read_at == read_at, "the first read's time is kept"
    [bobs] = rows(alpha, bob)
    assert bobs.is_read is False
    assert as_json(ann_client, "post", f"{API}mark-all-read/").json() == {"count": 0}
    assert bob_client.get(f"{API}unread/").json() == {"count": 1}


def test_delete_removes_the_callers_own(alpha, people):
    ann, _, ann_client, _ = people
    gone = notify(alpha, ann, title="gone")
    notify(alpha, ann, title="kept")
    assert ann_client.delete(f"{API}{gone.pk}/").status_code == 204
    assert [n.title for n in rows(alpha, ann)] == ["kept"]
    assert ann_client.delete(f"{API}{gone.pk}/").status_code == 404


def test_a_suspended_member_is_refused(alpha, people):
    ann, _, ann_client, _ = people
    notification = notify(alpha, ann)
    in_tenant(alpha, lambda: type(ann).objects.filter(pk=ann.pk).update(is_suspended=True))
    assert ann_client.get(API).status_code in (401, 403)
    assert ann_client.post(f"{API}{notification.pk}/mark-read/").status_code in (401, 403)
    assert rows(alpha, ann)[0].is_read is False


def test_another_institution_never_meets_these_notifications(alpha, beta, people):
    ann, _, ann_client, _ = people
    alphas = notify(alpha, ann, title="alpha's")
    beta_user = member(beta, "ann@beta.test")
    betas = notify(beta, beta_user, title="beta's")
    beta_client = api_client(beta, beta_user)

    on_alpha = api_client(beta, beta_user)
    on_alpha.defaults["HTTP_HOST"] = "alpha.localhost"
    for method, path in (
        ("get", API),
        ("get", f"{API}unread/"),
        ("post", f"{API}mark-all-read/"),
        ("post", f"{API}{alphas.pk}/mark-read/"),
        ("delete", f"{API}{alphas.pk}/"),
    ):
        assert getattr(on_alpha, method)(path).status_code == 401, path
    # Each host lists its own institution's; beta's id on alpha is unknown.
    assert [n["title"] for n in ann_client.get(API).json()["results"]] == ["alpha's"]
    assert [n["title"] for n in beta_client.get(API).json()["results"]] == ["beta's"]
    assert ann_client.delete(f"{API}{betas.pk}/").status_code == 404
    assert len(rows(beta, beta_user)) == 1
    assert rows(alpha, ann)[0].is_read is False


def test_the_privacy_section_exports_and_erases_the_persons_notifications(alpha, people):
    ann, bob, _, _ = people
    notify(alpha, ann, NotificationKind.GRADE_POSTED, "Grade posted: Essay", metadata={"a": 1})
    notify(alpha, bob, title="Bob's")
    [section] = [s for s in user_data_sections() if s.name == "notifications"]

    exported = in_tenant(alpha, lambda: section.export(ann))
    assert [(n["title"], n["metadata"]) for n in exported] == [("Grade posted: Essay", {"a": 1})]
    in_tenant(alpha, lambda: section.erase(ann, keep_academic_records=True))
    assert rows(alpha, ann) == []
    assert len(rows(alpha, bob)) == 1
