"""Message attachments through the tenant router: a sender attaches files
they uploaded (POST /files/upload/); whoever may read the message may read
the file through the files API (metadata, download, signed content), nobody
else (a non-participant, a leaver for later messages, anyone once the message
is deleted or its sender erased, another institution); refusals store
nothing; the list keeps its query count; the data export lists them."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenant_apps.accounts.models import Role
from tenant_apps.courses.models import CourseRole
from tenant_apps.files.models import AccessLevel, StoredFile
from tenant_apps.messaging import policies as messaging_policies
from tenant_apps.messaging.models import Conversation, Message
from tenant_apps.privacy.registry import user_data_sections

from .api_helpers import (
    CourseWorld,
    admin_of,
    api_client,
    as_json,
    course_taught_by,
    enroll,
    error_code,
    in_tenant,
    member,
)
from .conftest import host_client

pytestmark = pytest.mark.django_db

API = "/api/v1"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


@pytest.fixture
def world(alpha) -> CourseWorld:
    """CS 101 (published): its instructor, students ann, bob and cat, its TA;
    `loner`: a student in no course with them."""
    instructor = member(alpha, "prof@alpha.test", Role.INSTRUCTOR, first_name="Prof")
    course = course_taught_by(alpha, instructor)
    users = {
        "admin": admin_of(alpha),
        "instructor": instructor,
        "ann": member(alpha, "ann@alpha.test", first_name="Ann"),
        "bob": member(alpha, "bob@alpha.test", first_name="Bob"),
        "cat": member(alpha, "cat@alpha.test", first_name="Cat"),
        "ta": member(alpha, "ta@alpha.test", Role.TA),
        "loner": member(alpha, "loner@alpha.test", first_name="Lou"),
    }
    for name in ("ann", "bob", "cat"):
        enroll(alpha, course, users[name])
    enroll(alpha, course, users["ta"], CourseRole.TA)
    clients = {name: api_client(alpha, user) for name, user in users.items()}
    return CourseWorld(alpha, course, users, clients)


def _ok(response, status=200) -> dict:
    assert response.status_code == status, response.content
    return response.json() if response.content else {}


def _upload(client, name="notes.pdf", content=PDF, **data) -> str:
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return _ok(client.post(f"{API}/files/upload/", {"file": upload, **data}), 201)["id"]


def _open(world, sender, kind="direct", to=("bob",), **body):
    return as_json(
        world.clients[sender],
        "post",
        f"{API}/conversations/",
        {"conversation_type": kind, "participant_ids": [world.id(n) for n in to], **body},
    )


def _send(client, conversation_id, content="See attached", attachment_ids=()):
    body = {"content": content}
    if attachment_ids:
        body["attachment_ids"] = list(attachment_ids)
    return as_json(client, "post", f"{API}/conversations/{conversation_id}/messages/", body)


def _messages(client, conversation_id) -> list:
    return _ok(client.get(f"{API}/conversations/{conversation_id}/messages/"))["results"]


def _readable(client, file_id) -> bool:
    """Metadata and download answer alike: 200 and 302, or 404 and 404."""
    detail = client.get(f"{API}/files/{file_id}/").status_code
    download = client.get(f"{API}/files/{file_id}/download/").status_code
    assert (detail, download) in ((200, 302), (404, 404)), (detail, download)
    return detail == 200


def _content(client, file_id=None, *, path=None) -> bytes:
    """The bytes, through the download redirect and the signed URL."""
    redirect = client.get(path or f"{API}/files/{file_id}/download/")
    assert redirect.status_code == 302, redirect.content
    content = client.get(redirect["Location"])
    assert content.status_code == 200
    return b"".join(content.streaming_content)


def _count(world, model, **filters) -> int:
    return in_tenant(world.institution, lambda: model.objects.filter(**filters).count())


def _links(world) -> int:
    return _count(world, Message.attachments.through)


def _file(world, file_id) -> StoredFile:
    return in_tenant(world.institution, lambda: StoredFile.objects.get(pk=file_id))


# --- reading an attachment -----------------------------------------------------


def test_a_participant_reads_and_downloads_a_private_file_only_through_the_message(world):
    c = world.clients
    file_id = _upload(c["ann"], "plan.pdf")  # private, in no course
    assert not _readable(c["bob"], file_id), "a private file is the uploader's alone"
    conversation = _ok(_open(world, "ann"), 201)["id"]
    sent = _ok(_send(c["ann"], conversation, attachment_ids=[file_id]), 201)
    assert [a["id"] for a in sent["attachments"]] == [file_id]

    [message] = _messages(c["bob"], conversation)
    [attachment] = message["attachments"]
    assert attachment == {
        "id": file_id,
        "original_name": "plan.pdf",
        "mime_type": "application/pdf",
        "file_size_bytes": len(PDF),
        "access_level": "private",
        "course_id": None,
        "created_at": attachment["created_at"],
        "download_path": f"/api/v1/files/{file_id}/download/",
    }
    detail = _ok(c["bob"].get(f"{API}/files/{file_id}/"))
    assert detail["original_name"] == "plan.pdf" and detail["uploader_id"] == world.id("ann")
    assert _content(c["bob"], path=attachment["download_path"]) == PDF
    # Attaching changed nothing of the file: still private, in no course.
    stored = _file(world, file_id)
    assert (stored.access_level, stored.course_id) == (AccessLevel.PRIVATE, None)
    # Readers may not delete it.
    assert c["bob"].delete(f"{API}/files/{file_id}/").status_code == 403
    assert _file(world, file_id).deleted_at is None


def test_a_private_course_file_stays_private_to_the_course_but_not_to_the_message(world):
    c = world.clients
    file_id = _upload(c["ann"], "draft.pdf", course_id=str(world.course.pk))
    assert _readable(c["ta"], file_id), "the course's staff read its private files"
    assert not _readable(c["bob"], file_id), "a classmate may not read a student's private file"
    assert not _readable(c["cat"], file_id)
    conversation = _ok(
        _open(world, "ann", "group", to=("bob",), message="Draft", attachment_ids=[file_id]),
        201,
    )
    assert [a["id"] for a in conversation["last_message"]["attachments"]] == [file_id]
    assert _readable(c["bob"], file_id) and _content(c["bob"], file_id) == PDF
    assert not _readable(c["cat"], file_id), "the rest of the course still may not"
    stored = _file(world, file_id)
    assert (stored.access_level, stored.course_id) == (AccessLevel.PRIVATE, world.course.pk)


def test_a_non_participant_gets_404_for_the_file_and_the_conversation(world):
    c = world.clients
    file_id = _upload(c["ann"])
    conversation = _ok(_open(world, "ann", message="Hi", attachment_ids=[file_id]), 201)["id"]
    message_id = _messages(c["ann"], conversation)[0]["id"]
    for name in ("loner", "cat", "ta", "instructor"):
        assert not _readable(c[name], file_id), name
        assert c[name].get(f"{API}/conversations/{conversation}/messages/").status_code == 404
        assert c[name].get(f"{API}/messages/{message_id}/").status_code == 404
    assert _readable(c["admin"], file_id), "admins read every file, as before"


def test_another_institutions_token_is_refused(world, beta):
    c = world.clients
    file_id = _upload(c["ann"])
    conversation = _ok(_open(world, "ann", message="Hi", attachment_ids=[file_id]), 201)["id"]
    stranger = member(beta, "stu@beta.test")
    beta_on_alpha = host_client(
        "alpha.localhost",
        HTTP_AUTHORIZATION=api_client(beta, stranger).defaults["HTTP_AUTHORIZATION"],
    )
    for path in (
        f"{API}/files/{file_id}/",
        f"{API}/files/{file_id}/download/",
        f"{API}/conversations/{conversation}/messages/",
    ):
        assert beta_on_alpha.get(path).status_code == 401, path
    at_home = api_client(beta, stranger)
    assert at_home.get(f"{API}/files/{file_id}/").status_code == 404
    assert at_home.get(f"{API}/files/{file_id}/download/").status_code == 404
    own = _upload(at_home)
    refused = _send(at_home, conversation, attachment_ids=[own])
    assert refused.status_code == 404
    refused = _send(c["ann"], conversation, attachment_ids=[own])
    assert refused.status_code == 400 and error_code(refused) == "invalid_attachment"


# --- what may be attached ------------------------------------------------------------


def test_only_the_senders_own_live_files_may_be_attached_and_a_refusal_stores_nothing(world):
    c = world.clients
    conversation = _ok(_open(world, "ann"), 201)["id"]
    own = _upload(c["ann"])
    bobs = _upload(c["bob"])
    shared = _upload(c["instructor"], course_id=str(world.course.pk), access_level="course")
    assert _readable(c["ann"], shared), "readable is not enough: it must be one's own"
    gone = _upload(c["ann"], "gone.pdf")
    assert c["ann"].delete(f"{API}/files/{gone}/").status_code == 204
    unknown = "00000000-0000-4000-8000-000000000000"
    for bad in (bobs, shared, gone, unknown):
        response = _send(c["ann"], conversation, attachment_ids=[own, bad])
        assert response.status_code == 400, response.content
        assert error_code(response) == "invalid_attachment"
        assert response.json()["error"]["fields"]["attachment_ids"] == [
            f"Not an attachable file: {bad}."
        ]
    assert _count(world, Message) == 0 and _links(world) == 0
    assert not _readable(c["bob"], own)

    # The first message of a new conversation: the conversation is not made either.
    response = _open(world, "ann", "group", to=("bob",), message="Hi", attachment_ids=[bobs])
    assert response.status_code == 400 and error_code(response) == "invalid_attachment"
    response = _open(world, "ann", "group", to=("bob",), attachment_ids=[own])
    assert response.status_code == 400 and "attachment_ids" in response.json()["error"]["fields"]
    assert _count(world, Conversation) == 1 and _count(world, Message) == 0
    for shape in (["not-a-uuid"], "x", [None], {"id": own}):
        response = as_json(
            c["ann"],
            "post",
            f"{API}/conversations/{conversation}/messages/",
            {"content": "x", "attachment_ids": shape},
        )
        assert response.status_code == 400, (shape, response.content)
    assert _count(world, Message) == 0 and _links(world) == 0


def test_at_most_ten_attachments(world):
    c = world.clients
    conversation = _ok(_open(world, "ann"), 201)["id"]
    uploads = [
        SimpleUploadedFile(f"f{i}.pdf", PDF, content_type="application/pdf") for i in range(11)
    ]
    files = [
        f["id"] for f in _ok(c["ann"].post(f"{API}/files/upload/bulk/", {"files": uploads}), 201)
    ]
    response = _send(c["ann"], conversation, attachment_ids=files)
    assert response.status_code == 400 and "attachment_ids" in response.json()["error"]["fields"]
    assert _count(world, Message) == 0 and _links(world) == 0
    sent = _ok(_send(c["ann"], conversation, attachment_ids=files[:10]), 201)
    assert sorted(a["id"] for a in sent["attachments"]) == sorted(files[:10])
    again = _ok(_send(c["ann"], conversation, attachment_ids=[files[0], files[0]]), 201)
    assert [a["id"] for a in again["attachments"]] == [files[0]], "a repeated id is one"


# --- leaving, deleting, editing, erasing ------------------------------------------


def test_a_leaver_keeps_the_attachments_of_messages_before_leaving_only(world):
    c = world.clients
    before, after = _upload(c["ann"], "before.pdf"), _upload(c["ann"], "after.pdf")
    conversation = _ok(_open(world, "ann", "group", to=("bob", "cat")), 201)["id"]
    _ok(_send(c["ann"], conversation, "first", [before]), 201)
    assert (
        c["bob"]
        .delete(f"{API}/conversations/{conversation}/participants/{world.id('bob')}/")
        .status_code
        == 204
    )
    _ok(_send(c["ann"], conversation, "second", [after]), 201)
    seen = _messages(c["bob"], conversation)
    assert [(m["content"], [a["id"] for a in m["attachments"]]) for m in seen] == [
        ("first", [before])
    ]
    assert _readable(c["bob"], before) and _content(c["bob"], before) == PDF
    assert not _readable(c["bob"], after)
    assert _readable(c["cat"], before) and _readable(c["cat"], after)

    # Added back: they see the whole history again, attachments included.
    _ok(
        as_json(
            c["ann"],
            "post",
            f"{API}/conversations/{conversation}/participants/",
            {"user_ids": [world.id("bob")]},
        )
    )
    assert _readable(c["bob"], after)


def test_deleting_the_message_takes_its_attachments_away_from_its_readers(world):
    c = world.clients
    file_id = _upload(c["ann"])
    conversation = _ok(_open(world, "ann"), 201)["id"]
    message = _ok(_send(c["ann"], conversation, attachment_ids=[file_id]), 201)
    assert _readable(c["bob"], file_id)
    assert c["ann"].delete(f"{API}/messages/{message['id']}/").status_code == 204
    assert not _readable(c["bob"], file_id)
    [shown] = _messages(c["bob"], conversation)
    assert shown["is_deleted"] is True and shown["attachments"] == []
    assert _links(world) == 0
    assert _readable(c["ann"], file_id), "the file is still its uploader's"


def test_a_file_its_uploader_deletes_or_lets_expire_leaves_the_message(world):
    c = world.clients
    deleted, expiring = (
        _upload(c["ann"], "a.pdf"),
        _upload(c["ann"], "b.pdf", expires_at=(timezone.now() + timedelta(hours=1)).isoformat()),
    )
    conversation = _ok(_open(world, "ann"), 201)["id"]
    message = _ok(_send(c["ann"], conversation, attachment_ids=[deleted, expiring]), 201)
    assert len(message["attachments"]) == 2
    assert c["ann"].delete(f"{API}/files/{deleted}/").status_code == 204
    in_tenant(
        world.institution,
        lambda: StoredFile.objects.filter(pk=expiring).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        ),
    )
    assert _messages(c["bob"], conversation)[0]["attachments"] == []
    assert not _readable(c["bob"], deleted) and not _readable(c["bob"], expiring)


def test_an_edit_keeps_the_attachments_and_cannot_change_them(world):
    c = world.clients
    file_id, other = _upload(c["ann"]), _upload(c["ann"], "other.pdf")
    conversation = _ok(_open(world, "ann"), 201)["id"]
    message = _ok(_send(c["ann"], conversation, attachment_ids=[file_id]), 201)
    url = f"{API}/messages/{message['id']}/"
    edited = _ok(as_json(c["ann"], "patch", url, {"content": "Edited"}))
    assert edited["is_edited"] is True
    assert [a["id"] for a in edited["attachments"]] == [file_id]
    for ids in ([other], []):
        response = as_json(c["ann"], "patch", url, {"content": "Again", "attachment_ids": ids})
        assert response.status_code == 400
        assert "attachment_ids" in response.json()["error"]["fields"]
    shown = _ok(c["bob"].get(url))
    assert shown["content"] == "Edited" and [a["id"] for a in shown["attachments"]] == [file_id]
    assert not _readable(c["bob"], other)


def _section(name):
    return next(s for s in user_data_sections() if s.name == name)


def test_the_export_lists_attachments_and_erasure_takes_them_away(world):
    c = world.clients
    # The instructor's own private file, kept by the files app when messages erase.
    file_id = _upload(c["instructor"], "syllabus.pdf")
    conversation = _ok(
        _open(world, "instructor", to=("loner",), message="Read this", attachment_ids=[file_id]),
        201,
    )["id"]
    _ok(_send(c["instructor"], conversation, "no files"), 201)
    section = _section("messages")
    prof = world.users["instructor"]
    exported = in_tenant(world.institution, lambda: section.export(prof))
    assert [(m["content"], m["attachments"]) for m in exported["messages_sent"]] == [
        ("Read this", [{"id": file_id, "original_name": "syllabus.pdf"}]),
        ("no files", []),
    ]
    assert _readable(c["loner"], file_id)

    in_tenant(world.institution, lambda: section.erase(prof, keep_academic_records=True))
    assert _file(world, file_id).deleted_at is None
    assert not _readable(c["loner"], file_id), "an erased message grants nothing"
    assert [m["attachments"] for m in _messages(c["loner"], conversation)] == [[], []]
    assert _links(world) == 0


# --- cost -------------------------------------------------------------------------


def test_the_message_list_costs_the_same_queries_however_many_attachments(world):
    c = world.clients
    conversation = _ok(_open(world, "ann", "group", to=("bob",)), 201)["id"]

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            _ok(c["bob"].get(f"{API}/conversations/{conversation}/messages/"))
        with CaptureQueriesContext(connection) as listed:
            _ok(c["bob"].get(f"{API}/conversations/"))
        return len(captured), len(listed)

    _ok(_send(c["ann"], conversation, "one", [_upload(c["ann"])]), 201)
    few = queries()
    for n in range(4):
        files = [_upload(c[sender], f"{n}-{i}.png", PNG) for sender in ("ann",) for i in range(3)]
        _ok(_send(c["ann"], conversation, f"many {n}", files), 201)
        _ok(_send(c["bob"], conversation, f"reply {n}", [_upload(c["bob"])]), 201)
    _ok(_send(c["ann"], conversation, "last", [_upload(c["ann"]), _upload(c["ann"])]), 201)
    messages = _messages(c["bob"], conversation)
    assert sum(len(m["attachments"]) for m in messages) == 1 + 4 * 4 + 2
    assert queries() == few


def test_the_read_grant_is_one_query(world):
    c = world.clients
    file_id = _upload(c["ann"])
    _ok(_open(world, "ann", message="Hi", attachment_ids=[file_id]), 201)

    def grant(name):
        file = StoredFile.objects.get(pk=file_id)
        with CaptureQueriesContext(connection) as captured:
            allowed = messaging_policies.can_read_attached_file(world.users[name], file)
        return allowed, len(captured)

    assert in_tenant(world.institution, lambda: grant("bob")) == (True, 1)
    assert in_tenant(world.institution, lambda: grant("loner")) == (False, 1)
