"""Course copy step of the assignments app (order 20, registered in
AssignmentsConfig.ready): after modules (10), before content items are pointed
at the copies (40).

Live assignments are copied with their due and publication times moved by the
copy's date shift, placed in the copied module, with a gradebook column of the
same posting policy. Submissions are not copied. Groups and rubrics belong to
the grading app: an assignment keeps its group and rubric in the copy only when
a grading step copied them before and recorded them in the context
("assignment_group", "rubric"); otherwise the copy has none.
"""

from tenant_apps.courses.api import CopyContext
from tenant_apps.grading.api import GradeItem, ItemKind

from .models import Assignment
from .services import assignment_grade_item_sync

_COPIED_FIELDS = (
    "title",
    "description",
    "instructions",
    "points",
    "assignment_type",
    "allow_late_submission",
    "late_penalty_per_day",
    "max_late_days",
    "submission_type",
    "allowed_file_types",
    "max_file_size_mb",
    "max_submissions",
    "is_published",
    "settings",
)


def _shifted(value, context: CopyContext):
    return None if value is None else value + context.date_shift


def assignments_copy(context: CopyContext) -> None:
    sources = list(
        Assignment.objects.filter(course=context.source, deleted_at__isnull=True).order_by(
            "due_at", "id"
        )
    )
    policies = dict(
        GradeItem.objects.filter(
            kind=ItemKind.ASSIGNMENT, source_id__in=[a.pk for a in sources]
        ).values_list("source_id", "posting_policy")
    )
    modules = context.id_map.get("module", {})
    groups = context.id_map.get("assignment_group", {})
    rubrics = context.id_map.get("rubric", {})
    for source in sources:
        copy = Assignment(
            course=context.target,
            module_id=modules.get(source.module_id),
            group_id=groups.get(source.group_id),
            rubric_id=rubrics.get(source.rubric_id),
            due_at=source.due_at + context.date_shift,
            published_at=_shifted(source.published_at, context),
            **{name: getattr(source, name) for name in _COPIED_FIELDS},
        )
        copy.save(force_insert=True)
        context.remember("assignment", source.pk, copy.pk)
        assignment_grade_item_sync(copy, posting_policy=policies.get(source.pk))
