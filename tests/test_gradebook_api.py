"""The gradebook (GET /courses/{id}/grades/), its CSV export and a student's
own grades (GET /users/me/grades/): the matrix and its totals, incremental
pulls, a constant number of queries, and that a student's view never shows
or counts a hidden grade. Who may call each is in test_grading_api's matrix."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenant_apps.courses.models import Enrollment
from tenant_apps.grading import services
from tenant_apps.grading.models import Grade, GradeItem

from .api_helpers import as_json, member
from .test_grading_api import API, World, enroll, in_tenant, make_world


@pytest.fixture
def world(alpha, beta) -> World:
    return make_world(alpha, beta)


def gradebook(world, query: str = "", role: str = "instructor") -> dict:
    response = world.clients[role].get(f"{API}/courses/{world.course.pk}/grades/{query}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def by_student(book: dict) -> dict:
    return {row["student"]["id"]: row for row in book["students"]}


def my_course(world, student: int, query: str = "") -> dict:
    response = world.clients[f"stu{student}"].get(f"{API}/users/me/grades/{query}")
    assert response.status_code == 200, response.content
    (course,) = [c for c in response.json()["courses"] if c["course"]["id"] == str(world.course.pk)]
    return course


# --- the matrix and its totals -------------------------------------------------------------


def test_gradebook_matrix_with_weighted_totals_and_letters(world):
    homework, exams = world.group("Homework", 40), world.group("Exams", 40)  # sum 80
    hw1 = world.item("HW 1", 10, group=homework)
    hw2 = world.item("HW 2", 10, group=homework)
    exam = world.item("Exam", 100, group=exams)
    draft = world.item("Draft", 10, group=homework, is_published=False)
    stu0, stu1, stu2 = world.students
    world.grade(hw1, stu0, 10, release=True)
    world.grade(hw2, stu0, 5, late=10)  # 1 point off: 4
    world.grade(exam, stu0, 80)
    world.grade(draft, stu0, 0)
    world.grade(hw1, stu1, excused=True)
    in_tenant(
        world.institution,
        lambda: services.grading_policy_set(course=world.course, weight_groups=True),
    )

    book = gradebook(world, role="ta")
    assert [i["title"] for i in book["items"]] == ["Draft", "Exam", "HW 1", "HW 2"]
    assert book["weight_groups"] is True and [g["weight"] for g in book["groups"]] == ["40.00"] * 2
    rows = by_student(book)
    assert list(rows) == [str(s.pk) for s in world.students], "every student, by name"
    row = rows[str(stu0.pk)]
    assert set(row["grades"]) == {str(i.pk) for i in (hw1, hw2, exam, draft)}
    assert row["grades"][str(hw1.pk)]["released"] is True
    late = row["grades"][str(hw2.pk)]
    assert (late["score"], late["late"], late["released"], late["version"]) == (
        "4.00",
        True,
        False,
        1,
    )
    # Homework 14/20 = 70%, exams 80%: (40 * 70 + 40 * 80) / 80 = 75. The
    # draft's 0 counts for nothing.
    assert row["group_totals"][str(homework.pk)] == {"current": "70.00", "final": "70.00"}
    assert (row["current_total"], row["final_total"], row["letter"]) == ("75.00", "75.00", "C")
    excused = rows[str(stu1.pk)]
    assert excused["grades"][str(hw1.pk)]["excused"] is True
    assert excused["current_total"] is None, "nothing graded yet"
    # final: homework 0/10 (HW 1 excused), exams 0/100: 0%.
    assert excused["final_total"] == "0.00" and excused["letter"] is None
    assert rows[str(stu2.pk)]["grades"] == {}


def test_unweighted_total_is_points_over_points(world):
    small, big = world.item("Small", 10), world.item("Big", 90)
    world.grade(small, world.students[0], 10)
    world.grade(big, world.students[0], 45)
    row = by_student(gradebook(world))[str(world.students[0].pk)]
    assert (row["current_total"], row["final_total"]) == ("55.00", "55.00")


def test_students_who_hold_no_seat_are_not_in_the_gradebook(world):
    item = world.item()
    world.grade(item, world.students[0], 5)
    in_tenant(
        world.institution,
        lambda: Enrollment.objects.filter(user=world.students[0]).update(status="dropped"),
    )
    waitlisted = member(world.institution, "wait@alpha.test")
    enroll(world.institution, world.course, waitlisted, enrollment_type="waitlist")
    ids = set(by_student(gradebook(world)))
    assert ids == {str(s.pk) for s in world.students[1:]}


def test_gradebook_reads_in_the_same_queries_for_3_and_30_students(world):
    items = [world.item(f"Item {n}", 10) for n in range(3)]
    for item in items:
        for student in world.students:
            world.grade(item, student, 5)
    gradebook(world)  # warm: session, caches

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            gradebook(world)
        return len(captured)

    few = queries()
    for n in range(27):
        student = member(world.institution, f"many{n}@alpha.test")
        enroll(world.institution, world.course, student)
        for item in items:
            world.grade(item, student, n % 10)
    items.append(world.item("One more", 10))
    assert len(gradebook(world)["students"]) == 30
    assert queries() == few


# --- incremental pulls -----------------------------------------------------------------------


def test_updated_since_returns_only_changed_cells_with_full_totals(world):
    hw1, hw2 = world.item("HW 1", 10), world.item("HW 2", 10)
    for student in world.students:
        world.grade(hw1, student, 5)
        world.grade(hw2, student, 5)
    first = gradebook(world)
    as_of = first["as_of"]
    assert gradebook(world, f"?updated_since={as_of}")["students"] == []

    stu1 = world.students[1]
    grade = in_tenant(world.institution, lambda: Grade.objects.get(item=hw2, student=stu1))
    url = f"{API}/grades/{grade.pk}/"
    assert as_json(world.clients["grader"], "patch", url, {"points_earned": 9, "version": 1})
    book = gradebook(world, f"?updated_since={as_of}")
    (row,) = book["students"]
    assert row["student"]["id"] == str(stu1.pk)
    assert list(row["grades"]) == [str(hw2.pk)], "only the changed cell"
    assert row["current_total"] == "70.00", "totals over every cell: (5 + 9) / 20"
    assert book["as_of"] >= as_of

    # Releasing changes the cell but does not grade it.
    world.clients["ta"].post(f"{url}release/")
    assert len(gradebook(world, f"?updated_since={book['as_of']}")["students"]) == 1
    assert gradebook(world, f"?graded_since={book['as_of']}")["students"] == []


def test_a_changed_item_or_new_student_comes_in_an_updated_pull(world):
    item = world.item("HW", 10)
    for student in world.students:
        world.grade(item, student, 5)
    as_of = gradebook(world)["as_of"]
    newcomer = member(world.institution, "late@alpha.test")
    enroll(world.institution, world.course, newcomer)
    (row,) = gradebook(world, f"?updated_since={as_of}")["students"]
    assert row["student"]["id"] == str(newcomer.pk) and row["grades"] == {}

    as_of = gradebook(world)["as_of"]
    world.item("New", 10)  # totals of everyone move (final counts it as zero)
    book = gradebook(world, f"?updated_since={as_of}")
    assert len(book["students"]) == 4
    assert all(row["grades"] == {} for row in book["students"]), "no cell changed"
    assert {row["final_total"] for row in book["students"]} == {"25.00", "0.00"}


def test_since_parameters_are_checked(world):
    base = f"{API}/courses/{world.course.pk}/grades/"
    for query in (
        "?updated_since=yesterday",
        "?updated_since=2026-01-01T00:00:00Z&graded_since=2026-01-01T00:00:00Z",
    ):
        assert world.clients["instructor"].get(base + query).status_code == 400
    soon = (timezone.now() + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    response = world.clients["instructor"].get(base, {"graded_since": soon})
    assert response.status_code == 200 and response.json()["students"] == []
    response = world.clients["instructor"].get(base, {"updated_since": "0001-01-01T00:00:00+23:00"})
    assert response.status_code == 400


# --- the CSV export -----------------------------------------------------------------------------


def test_export_streams_one_row_per_student_and_guards_formulas(world):
    homework = world.group('=HYPERLINK("x")', 0)
    item = world.item("+cmd|' /C calc'!A0", 10, group=homework)
    other = world.item("Quiz", 5)
    sneaky = member(world.institution, "sneaky@alpha.test", first_name="@SUM(A1)", last_name="-2")
    enroll(world.institution, world.course, sneaky)
    world.grade(item, sneaky, 7)
    world.grade(other, sneaky, excused=True)
    world.grade(item, world.students[0], 10)

    response = world.clients["instructor"].get(f"{API}/courses/{world.course.pk}/grades/export/")
    assert response.status_code == 200
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="grades-cs-101.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header = rows[0]
    assert header[:3] == ["Student", "Email", "Student ID"]
    assert "'+cmd|' /C calc'!A0 (10.00)" in header and '\'=HYPERLINK("x") (%)' in header
    assert len(rows) == 1 + 4
    sneaky_row = next(row for row in rows if row[1] == "sneaky@alpha.test")
    assert sneaky_row[0] == "'-2, @SUM(A1)"
    values = dict(zip(header, sneaky_row, strict=True))
    assert values["Quiz (5.00)"] == "EX" and values["Current total (%)"] == "70.00"
    student_row = next(row for row in rows if row[1] == "stu0@alpha.test")
    assert dict(zip(header, student_row, strict=True))["Letter"] == "A"


# --- a student's own grades ------------------------------------------------------------------


def test_students_see_only_released_grades_with_feedback(world):
    shown, hidden = world.item("Shown", 10), world.item("Hidden", 10)
    draft = world.item("Draft", 10, is_published=False)
    stu0 = world.students[0]
    world.grade(shown, stu0, 8, feedback="Nice", release=True)
    world.grade(hidden, stu0, 2, feedback="Secret")
    world.grade(draft, stu0, 10, release=True)
    course = my_course(world, 0)
    items = {item["title"]: item for item in course["items"]}
    assert set(items) == {"Shown", "Hidden"}, "drafts are not shown"
    assert items["Shown"]["grade"]["feedback"] == "Nice"
    assert items["Shown"]["grade"]["student"]["id"] == str(stu0.pk)
    assert items["Hidden"]["grade"] is None
    assert b"Secret" not in world.clients["stu0"].get(f"{API}/users/me/grades/").content
    other = my_course(world, 1)
    assert all(item["grade"] is None for item in other["items"]), "only their own"


def test_a_hidden_zero_does_not_lower_and_a_hidden_hundred_does_not_raise(world):
    a, b, c = world.item("A", 10), world.item("B", 10), world.item("C", 10)
    stu0 = world.students[0]
    world.grade(a, stu0, 8, release=True)
    before = my_course(world, 0)
    assert (before["current_total"], before["final_total"]) == ("80.00", "26.67")
    world.grade(b, stu0, 0)  # hidden zero
    world.grade(c, stu0, 10)  # hidden hundred
    after = my_course(world, 0)
    assert (after["current_total"], after["final_total"]) == ("80.00", "26.67")
    assert after["letter"] == "B-"
    staff = by_student(gradebook(world))[str(stu0.pk)]
    assert staff["current_total"] == "60.00", "staff count every grade: 18 / 30"


def test_my_grades_filter_by_course_and_weighted_totals(world):
    homework, exams = world.group("Homework", 25), world.group("Exams", 75)
    in_tenant(
        world.institution,
        lambda: services.grading_policy_set(course=world.course, weight_groups=True),
    )
    hw, exam = world.item("HW", 10, group=homework), world.item("Exam", 50, group=exams)
    stu0 = world.students[0]
    world.grade(hw, stu0, 10, release=True)
    world.grade(exam, stu0, 25, release=True)
    other_student = member(world.institution, "two-courses@alpha.test")
    enroll(world.institution, world.course, other_student)
    enroll(world.institution, world.other_course, other_student)
    course = my_course(world, 0, f"?course={world.course.pk}")
    assert course["weight_groups"] is True
    assert course["groups"][0]["weight"] == "25.00"
    assert course["current_total"] == "62.50"  # 25 * 100% + 75 * 50%
    assert set(course["group_totals"]) == {str(homework.pk), str(exams.pk)}
    response = world.clients["stu0"].get(f"{API}/users/me/grades/?course={world.other_course.pk}")
    assert response.json() == {"courses": []}, "not their course"
    assert world.clients["stu0"].get(f"{API}/users/me/grades/?course=nope").status_code == 400


def test_my_grades_read_in_the_same_queries_for_one_and_three_courses(world):
    stu0 = world.students[0]
    world.grade(world.item("HW", 10), stu0, 5, release=True)
    client = world.clients["stu0"]
    client.get(f"{API}/users/me/grades/")  # warm

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{API}/users/me/grades/").status_code == 200
        return len(captured)

    few = queries()
    enroll(world.institution, world.other_course, stu0)

    def more_material():
        item = services.grade_item_sync(
            kind="quiz",
            source_id=uuid.uuid4(),
            course=world.other_course,
            title="Q",
            points_possible=5,
            is_published=True,
        )
        services.grades_release(
            grade_ids=[
                services.grade_save(
                    item=item,
                    student=stu0,
                    grader=world.instructor,
                    given=services.GradeInput(points_earned=4),
                ).pk
            ],
            actor=world.instructor,
        )

    in_tenant(world.institution, more_material)
    assert len(client.get(f"{API}/users/me/grades/").json()["courses"]) == 2
    assert queries() == few


def test_staff_member_without_a_seat_gets_no_courses(world):
    world.grade(world.item(), world.students[0], 5, release=True)
    response = world.clients["ta"].get(f"{API}/users/me/grades/")
    assert response.status_code == 200 and response.json() == {"courses": []}


def test_a_grade_item_of_a_deleted_source_leaves_every_view(world):
    item = world.item("Gone", 10)
    grade = world.grade(item, world.students[0], 5, release=True)
    in_tenant(
        world.institution,
        lambda: services.grade_item_delete(kind=item.kind, source_id=item.source_id),
    )
    assert gradebook(world)["items"] == []
    assert my_course(world, 0)["items"] == []
    assert world.clients["ta"].get(f"{API}/grades/{grade.pk}/").status_code == 404
    assert world.clients["stu0"].get(f"{API}/grade-items/{item.pk}/").status_code == 404
    assert in_tenant(world.institution, lambda: GradeItem.objects.filter(pk=item.pk).count()) == 1
    assert Decimal(grade.score) == Decimal("5"), "kept with its item"
