"""Copying a course brings its assignment groups, rubrics and grading policy,
and the copied assignments point at the copies, never at the source's."""

import pytest

from tenant_apps.assignments.models import Assignment
from tenant_apps.grading.models import AssignmentGroup, GradeItem, GradingPolicy, Rubric

from .api_helpers import as_json
from .test_assignments_api import create_assignment, in_tenant, world  # noqa: F401

pytestmark = pytest.mark.django_db

CRITERIA = [
    {"description": "Thesis", "points": "5", "ratings": [{"description": "Good", "points": "5"}]}
]


def test_a_copy_has_its_own_groups_rubrics_and_policy(world):  # noqa: F811
    teacher = world.client("instructor")
    base = f"/api/v1/courses/{world.course.pk}"
    group = as_json(
        teacher, "post", f"{base}/assignment-groups/", {"name": "Essays", "weight": "40"}
    )
    rubric = as_json(teacher, "post", f"{base}/rubrics/", {"title": "Essay", "criteria": CRITERIA})
    policy = as_json(
        teacher,
        "put",
        f"{base}/grading-policy/",
        {
            "weight_groups": True,
            "letter_scheme": [
                {"letter": "Pass", "minimum": "50"},
                {"letter": "Fail", "minimum": "0"},
            ],
        },
    )
    assert (group.status_code, rubric.status_code, policy.status_code) == (201, 201, 200)
    create_assignment(
        world, title="Essay", group_id=group.json()["id"], rubric_id=rubric.json()["id"]
    )

    copied = as_json(
        teacher,
        "post",
        f"{base}/copy/",
        {
            "term": "Spring 2027",
            "academic_year": 2027,
            "start_date": "2027-01-05",
            "end_date": "2027-05-01",
        },
    )
    assert copied.status_code == 201, copied.content
    copy_id = copied.json()["id"]

    def check():
        new_group = AssignmentGroup.objects.get(course_id=copy_id)
        new_rubric = Rubric.objects.get(course_id=copy_id)
        assert (new_group.name, str(new_group.weight)) == ("Essays", "40.00")
        assert str(new_group.pk) != group.json()["id"]
        assert new_rubric.criteria == Rubric.objects.get(pk=rubric.json()["id"]).criteria
        new_policy = GradingPolicy.objects.get(course_id=copy_id)
        assert new_policy.weight_groups is True
        source_policy = GradingPolicy.objects.get(course=world.course)
        assert new_policy.letter_scheme == source_policy.letter_scheme
        assert [row[0] for row in new_policy.letter_scheme] == ["Pass", "Fail"]
        assignment = Assignment.objects.get(course_id=copy_id)
        assert (assignment.group_id, assignment.rubric_id) == (new_group.pk, new_rubric.pk)
        item = GradeItem.objects.get(source_id=assignment.pk)
        assert (item.group_id, item.rubric_id) == (new_group.pk, new_rubric.pk)
        assert AssignmentGroup.objects.filter(course=world.course).count() == 1

    in_tenant(world.institution, check)
