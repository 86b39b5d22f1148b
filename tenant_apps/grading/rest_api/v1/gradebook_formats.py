"""The gradebook written as JSON and as CSV rows.

The JSON is written here rather than by DRF's renderer: 1,000 students by 50
items is 50,000 cells, and encoding them as dicts took longer than reading
them (about 130 ms of a 360 ms request). A cell holds only ids and numbers
that PostgreSQL wrote and booleans, so it is formatted directly; everything
else (names, titles, totals) goes through DRF's JSON encoder. The shape is
serializers.GradebookOutput, which documents it.
"""

import json
from collections.abc import Iterator

from rest_framework.utils.encoders import JSONEncoder

from tenant_apps.grading.selectors import Gradebook

_BOOLEAN = ("false", "true")
_CELL = '"%s":{"id":"%s","score":%s,"excused":%s,"released":%s,"late":%s,"version":%d}'


def _json(value) -> str:
    return json.dumps(value, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _cells(cells: list[tuple]) -> str:
    return ",".join(
        _CELL
        % (
            item_id,
            grade_id,
            "null" if score is None else f'"{score}"',
            _BOOLEAN[excused],
            _BOOLEAN[released],
            _BOOLEAN[late],
            version,
        )
        for _, item_id, grade_id, score, excused, released, late, version, _ in cells
    )


def gradebook_json(gradebook: Gradebook) -> bytes:
    students = ",".join(
        f'{{"student":{_json(row.student)},"grades":{{{_cells(row.cells)}}},{_json(row.totals)[1:]}'
        for row in gradebook.students
    )
    head = {
        "course_id": gradebook.course_id,
        "weight_groups": gradebook.weight_groups,
        "items": gradebook.items,
        "groups": gradebook.groups,
        "as_of": gradebook.as_of,
    }
    return f'{_json(head)[:-1]},"students":[{students}]}}'.encode()


# Spreadsheets run cells that start with these as formulas.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """The cell's text, with a quote before what a spreadsheet would run."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _score(cell: tuple | None) -> str | None:
    if cell is None:
        return None
    _, _, _, score, excused, *_ = cell
    return "EX" if excused else score


def gradebook_csv_rows(gradebook: Gradebook) -> Iterator[list[str]]:
    """A header, then one row per student: name, email, id, each item's score
    ("EX" excused, empty ungraded), group totals, course totals, letter."""
    items, groups = gradebook.items, gradebook.groups
    header = [
        "Student",
        "Email",
        "Student ID",
        *(f"{item['title']} ({item['points_possible']})" for item in items),
        *(f"{group['name']} (%)" for group in groups),
        "Current total (%)",
        "Final total (%)",
        "Letter",
    ]
    yield [csv_safe(value) for value in header]
    for row in gradebook.students:
        student, totals = row.student, row.totals
        by_item = {cell[1]: cell for cell in row.cells}
        values = [
            f"{student['last_name']}, {student['first_name']}",
            student["email"],
            student["id"],
            *(_score(by_item.get(str(item["id"]))) for item in items),
            *(totals["group_totals"][str(group["id"])]["current"] for group in groups),
            totals["current_total"],
            totals["final_total"],
            totals["letter"],
        ]
        yield [csv_safe(value) for value in values]
