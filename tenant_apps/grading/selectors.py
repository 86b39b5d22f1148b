"""Reads of grading: a course's groups, items and rubrics, the gradebook (every
student by every item, with totals) and a student's own released grades.

The gradebook is built from plain tuples in a constant number of queries
(policy, groups, items, roster, grades, and the time it is as of), whatever
the number of students and items: 1,000 by 50 is one read of 50,000 rows, not
a serializer per cell. PostgreSQL turns ids into text, so Python only copies.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.db import connection
from django.db.models import BooleanField, CharField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Cast

from tenant_apps.courses.api import CourseAccess, CourseStatus, Enrollment, seat_holder

from .calculations import (
    Cell,
    GroupTotal,
    LetterScheme,
    course_totals,
    letter_for,
    letter_scheme_from,
    possible_by_group,
)
from .models import AssignmentGroup, Grade, GradeItem, GradeRevision, GradingPolicy, Rubric
from .services import released_to_student


def assignment_groups_of(course) -> QuerySet:
    return AssignmentGroup.objects.filter(course=course).order_by("position", "name", "id")


def grade_items_for(access: CourseAccess) -> QuerySet:
    """The course's live items; students see the published ones only."""
    items = GradeItem.objects.filter(course=access.course, deleted_at__isnull=True)
    if not access.is_staff:
        items = items.filter(is_published=True)
    return items.order_by(F("due_at").asc(nulls_last=True), "title", "id")


def rubrics_of(course) -> QuerySet:
    return Rubric.objects.filter(course=course, deleted_at__isnull=True).order_by("title", "id")


def grade_revisions_of(grade: Grade) -> QuerySet:
    return GradeRevision.objects.filter(grade=grade).select_related("actor").order_by("-version")


def grade_of(pk) -> Grade | None:
    """A grade of a live item, with what its output shows."""
    return (
        Grade.objects.filter(pk=pk, item__deleted_at__isnull=True)
        .select_related("item", "student", "grader")
        .first()
    )


def grade_released_to_student(grade: Grade) -> bool:
    return Grade.objects.filter(released_to_student(), pk=grade.pk).exists()


# --- what every total depends on -------------------------------------------------

ITEM_FIELDS = (
    "id",
    "kind",
    "source_id",
    "title",
    "points_possible",
    "group_id",
    "due_at",
    "is_published",
    "posting_policy",
    "updated_at",
)
GROUP_FIELDS = ("id", "name", "weight", "position", "updated_at")


@dataclass(frozen=True)
class Policy:
    weight_groups: bool = False
    letter_scheme: list | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class GradingSetup:
    """A course's policy, groups and items: what its totals depend on.
    Totals key groups by their id as text, as the API does."""

    weight_groups: bool
    scheme: LetterScheme
    groups: list[dict]
    items: list[dict]
    changed_at: datetime | None  # the latest change to any of them

    @cached_property
    def weights(self) -> dict | None:
        """Group id -> weight when the course weights its groups."""
        if not self.weight_groups:
            return None
        return {str(group["id"]): group["weight"] for group in self.groups}

    @cached_property
    def counted(self) -> dict[str, tuple[str | None, Decimal]]:
        """Item id -> (group id, points possible) of the items that count:
        published ones. Staff see drafts as columns, but a draft never moves
        a total."""
        return {
            str(item["id"]): (_text(item["group_id"]), item["points_possible"])
            for item in self.items
            if item["is_published"]
        }

    @cached_property
    def possible(self) -> dict:
        return possible_by_group(self.counted.values())


def _setup(
    policy: Policy, groups: list[dict], items: list[dict], deleted_at: datetime | None = None
) -> GradingSetup:
    """`deleted_at`: when an item of the course last left it, a change too."""
    times = [row["updated_at"] for row in (*groups, *items)]
    times += [t for t in (policy.updated_at, deleted_at) if t is not None]
    return GradingSetup(
        weight_groups=policy.weight_groups,
        scheme=letter_scheme_from(policy.letter_scheme),
        groups=groups,
        items=items,
        changed_at=max(times, default=None),
    )


def _groups_and_items(ids: list, *, published_only: bool) -> tuple[dict, dict]:
    """The courses' groups and live items, by course id: two queries."""
    groups: dict = {course_id: [] for course_id in ids}
    for group in (
        AssignmentGroup.objects.filter(course_id__in=ids)
        .order_by("position", "name", "id")
        .values("course_id", *GROUP_FIELDS)
    ):
        groups[group.pop("course_id")].append(group)
    items: dict = {course_id: [] for course_id in ids}
    live = GradeItem.objects.filter(course_id__in=ids, deleted_at__isnull=True)
    if published_only:
        live = live.filter(is_published=True)
    for item in live.order_by(F("due_at").asc(nulls_last=True), "title", "id").values(
        "course_id", *ITEM_FIELDS
    ):
        items[item.pop("course_id")].append(item)
    return groups, items


def grading_setups(courses, *, published_only: bool) -> dict:
    """Each course's setup by course id, in three queries whatever the number
    of courses: the policies, the groups, the live items."""
    ids = [course.pk for course in courses]
    policies = {
        p.course_id: Policy(p.weight_groups, p.letter_scheme, p.updated_at)
        for p in GradingPolicy.objects.filter(course_id__in=ids)
    }
    groups, items = _groups_and_items(ids, published_only=published_only)
    return {
        course_id: _setup(policies.get(course_id, Policy()), groups[course_id], items[course_id])
        for course_id in ids
    }


def _text(value) -> str | None:
    return None if value is None else str(value)


def totals_output(setup: GradingSetup, cells: list) -> dict:
    """Group and course totals of one student as the API shows them, from
    (group id, points possible, score, excused) of the counted items graded
    or excused (calculations.Cell)."""
    totals = course_totals(cells, possible=setup.possible, weights=setup.weights)
    blank = GroupTotal()
    groups = {}
    for group in setup.groups:
        key = str(group["id"])
        total = totals.groups.get(key, blank)
        groups[key] = {"current": _text(total.current), "final": _text(total.final)}
    return {
        "group_totals": groups,
        "current_total": _text(totals.current),
        "final_total": _text(totals.final),
        "letter": letter_for(totals.current, setup.scheme),
    }


def totals_of_grades(setup: GradingSetup, grades: list[Grade]) -> dict:
    """totals_output from Grade rows: those of items that count."""
    cells = [
        Cell(*setup.counted[str(grade.item_id)], grade.score, grade.excused)
        for grade in grades
        if str(grade.item_id) in setup.counted
    ]
    return totals_output(setup, cells)


def item_output(item: dict) -> dict:
    """An item of a setup as the API shows it."""
    return {
        **{key: item[key] for key in ITEM_FIELDS if key != "updated_at"},
        "points_possible": str(item["points_possible"]),
    }


def groups_output(setup: GradingSetup) -> list[dict]:
    return [
        {**{key: group[key] for key in GROUP_FIELDS[:-1]}, "weight": str(group["weight"])}
        for group in setup.groups
    ]


# --- the gradebook ---------------------------------------------------------------

# The policy with the time a next incremental pull starts from: now, or the
# start of the oldest transaction still open in the database, whichever is
# earlier. A grade saved by a transaction that commits after the gradebook's
# read carries an `updated_at` no earlier than its transaction's start, so the
# next pull finds it (a cell may come twice; it is the same). pg_stat_activity
# shows the start of sessions of the same database user, the application's.
# Also when an item of the course was last deleted: deleted items are not read,
# yet their leaving moves every total.
POLICY_AND_CLOCK = """
SELECT LEAST(statement_timestamp(), (
         SELECT min(xact_start) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid())),
       p.weight_groups, p.letter_scheme, p.updated_at,
       (SELECT max(deleted_at) FROM {items} WHERE course_id = %s)
FROM (VALUES (1)) AS one LEFT JOIN {table} AS p ON p.course_id = %s
"""


def _policy_and_clock(course) -> tuple[datetime, Policy, datetime | None]:
    sql = POLICY_AND_CLOCK.format(
        table=GradingPolicy._meta.db_table, items=GradeItem._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [course.pk, course.pk])
        as_of, weight_groups, scheme, updated_at, deleted_at = cursor.fetchone()
    if isinstance(scheme, str):
        scheme = json.loads(scheme)
    return as_of, Policy(bool(weight_groups), scheme, updated_at), deleted_at


def _roster(course) -> list[tuple]:
    """The students holding a seat, as (id text, first, last, email, when the
    enrollment changed), by name."""
    return list(
        Enrollment.objects.filter(seat_holder(), course=course)
        .order_by("user__last_name", "user__first_name", "user_id")
        .values_list(
            Cast("user_id", CharField()),
            "user__first_name",
            "user__last_name",
            "user__email",
            "updated_at",
        )
    )


@dataclass(frozen=True)
class Since:
    """An incremental pull: cells changed (`updated_at`) or graded
    (`graded_at`) at or after `at`."""

    at: datetime
    field: str  # "updated_at" or "graded_at"

    def enrollment_changed(self, changed_at: datetime) -> bool:
        """A student enrolled (or changed) since is part of an updated pull."""
        return self.field == "updated_at" and changed_at >= self.at


def _grade_rows(setup: GradingSetup, course, since: Since | None, everyone: bool):
    """Every grade of the course's items as (student, item, grade id, score,
    excused, released, late, version, changed). Incremental: only the grades
    of students with a changed cell or enrollment since, unless `everyone`."""
    if not setup.items:
        return []
    grades = Grade.objects.filter(item_id__in=[item["id"] for item in setup.items])
    changed = Q(pk__isnull=False)
    if since is not None:
        changed = Q(**{f"{since.field}__gte": since.at})
    if not everyone:
        students = Q(student_id__in=grades.filter(changed).values("student_id"))
        if since.field == "updated_at":
            enrolled = Enrollment.objects.filter(course=course, updated_at__gte=since.at)
            students |= Q(student_id__in=enrolled.values("user_id"))
        grades = grades.filter(students)
    rows = grades.annotate(
        sid=Cast("student_id", CharField()),
        iid=Cast("item_id", CharField()),
        gid=Cast("id", CharField()),
        released=ExpressionWrapper(Q(released_at__isnull=False), output_field=BooleanField()),
        late=ExpressionWrapper(Q(late_penalty_points__gt=0), output_field=BooleanField()),
        changed=ExpressionWrapper(changed, output_field=BooleanField()),
    ).values_list("sid", "iid", "gid", "score", "excused", "released", "late", "version", "changed")
    # One fetchall rather than the ORM's chunks of 100: 50,000 rows at once.
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass(frozen=True, slots=True)
class GradebookRow:
    """One student: who, their cells as the rows _grade_rows read (student
    id, item id, grade id, score, excused, released, late, version,
    changed), and their totals (totals_output)."""

    student: dict
    cells: list[tuple]
    totals: dict


@dataclass(frozen=True)
class Gradebook:
    course_id: str
    weight_groups: bool
    items: list[dict]
    groups: list[dict]
    students: list[GradebookRow]
    as_of: datetime


def gradebook_for_course(course, *, since: Since | None = None) -> Gradebook:
    """The course's gradebook for its staff: every live item (drafts too, as
    columns), every student holding a seat with their cells and totals (every
    grade counts, released or not; drafts do not). With `since`, only students
    with a changed cell (or enrollment), with only those cells but complete
    totals; everyone (with only the changed cells), when the policy, a group
    or an item changed (or an item was deleted) since, as everyone's totals
    may have moved.

    Five queries whatever the size: the policy with the clock, groups, items,
    roster, grades."""
    as_of, policy, deleted_at = _policy_and_clock(course)
    groups, items = _groups_and_items([course.pk], published_only=False)
    setup = _setup(policy, groups[course.pk], items[course.pk], deleted_at)
    everyone = since is None or (setup.changed_at is not None and setup.changed_at >= since.at)
    roster = _roster(course)
    counted = setup.counted
    cells: dict[str, list] = {row[0]: [] for row in roster}
    graded: dict[str, list] = {row[0]: [] for row in roster}
    for row in _grade_rows(setup, course, since, everyone):
        sid, iid, _, score, excused, *_, changed = row
        student_cells = cells.get(sid)
        if student_cells is None:
            continue  # no longer holds a seat
        if changed:
            student_cells.append(row)
        item = counted.get(iid)
        if item is not None:
            graded[sid].append((*item, score, excused))
    students = []
    for sid, first_name, last_name, email, enrollment_changed_at in roster:
        # Incremental: rows came only for students with a changed cell or
        # enrollment; a changed enrollment may have brought no grade at all.
        if not (everyone or cells[sid] or since.enrollment_changed(enrollment_changed_at)):
            continue
        totals = totals_output(setup, graded[sid])
        student = {"id": sid, "first_name": first_name, "last_name": last_name, "email": email}
        students.append(GradebookRow(student, cells[sid], totals))
    return Gradebook(
        course_id=str(course.pk),
        weight_groups=setup.weight_groups,
        items=[item_output(item) for item in setup.items],
        groups=groups_output(setup),
        students=students,
        as_of=as_of,
    )


# --- a student's own grades --------------------------------------------------------


def student_courses(user, *, course_id=None) -> list:
    """Published, live courses where `user` holds a seat, by code."""
    enrollments = Enrollment.objects.filter(
        seat_holder(),
        user=user,
        course__deleted_at__isnull=True,
        course__status=CourseStatus.PUBLISHED,
    )
    if course_id is not None:
        enrollments = enrollments.filter(course_id=course_id)
    return [e.course for e in enrollments.select_related("course").order_by("course__code")]


def released_grades_of(user, courses) -> QuerySet:
    """The user's grades a student may see, in these courses."""
    return (
        Grade.objects.filter(released_to_student(), student=user, item__course__in=courses)
        .select_related("item", "student", "grader")
        .order_by("item_id")
    )
