"""Course copy step of grading (registered in GradingConfig.ready, order 15):
the course's assignment groups with their weights, its live rubrics and its
grading policy, before the assignments (20) and quizzes (30) that point at
them. Grades and gradebook items are not copied: each copied assignment and
quiz makes its own item."""

from tenant_apps.courses.api import CopyContext

from .models import AssignmentGroup, GradingPolicy, Rubric


def grading_setup_copy(context: CopyContext) -> None:
    for group in AssignmentGroup.objects.filter(course=context.source).order_by("position", "id"):
        copy = AssignmentGroup.objects.create(
            course=context.target, name=group.name, weight=group.weight, position=group.position
        )
        context.remember("assignment_group", group.pk, copy.pk)
    for rubric in Rubric.objects.filter(course=context.source, deleted_at__isnull=True):
        copy = Rubric.objects.create(
            course=context.target,
            title=rubric.title,
            criteria=rubric.criteria,
            points_possible=rubric.points_possible,
        )
        context.remember("rubric", rubric.pk, copy.pk)
    policy = GradingPolicy.objects.filter(course=context.source).first()
    if policy is not None:
        GradingPolicy.objects.create(
            course=context.target,
            weight_groups=policy.weight_groups,
            letter_scheme=policy.letter_scheme,
        )
