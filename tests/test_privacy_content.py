"""A student's progress through course material is in their data export and
leaves with their erasure (the content app's privacy section)."""

import io
import json
import zipfile

import pytest

from tenant_apps.content.models import ContentProgress

from .api_helpers import as_json
from .test_content_api import build_material, build_world, in_tenant
from .test_privacy_export import MY_EXPORTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_jobs(celery_eager, django_capture_on_commit_callbacks):
    def run(method, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return method(*args, **kwargs)

    return run


def test_progress_is_exported_and_erased(alpha, run_jobs):
    world = build_world(alpha)
    material = build_material(world)
    student = world.client("student")
    for item, percent in ((material.video, 40), (material.link, 100)):
        response = as_json(
            student,
            "post",
            f"/api/v1/contents/{item.pk}/progress/",
            {"completion_percentage": percent, "time_spent_seconds_delta": 30},
        )
        assert response.status_code == 200, response.content
    # Someone else's progress is neither exported nor erased with the student.
    with in_tenant(alpha):
        ContentProgress.objects.create(
            user=world.users["ta"], content=material.video, completion_percentage=10
        )

    export = run_jobs(student.post, MY_EXPORTS).json()
    zipped = student.get(f"/api/v1/data-exports/{export['id']}/download/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content)))
    progress = json.loads(archive.read("content.json"))["progress"]
    assert sorted((p["title"], p["completion_percentage"]) for p in progress) == sorted(
        [(material.video.title, 40), (material.link.title, 100)]
    )

    user = world.users["student"]
    erased = as_json(
        world.client("admin"),
        "post",
        f"/api/v1/users/{user.pk}/erase/",
        {"confirm_email": user.email},
    )
    assert erased.status_code == 200, erased.content
    with in_tenant(alpha):
        left = list(ContentProgress.objects.values_list("user_id", flat=True))
    assert left == [world.users["ta"].pk]
