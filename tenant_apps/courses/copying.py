"""Copying a course into a new term: each app that owns course material
registers a step (modules and content now; assignments and quizzes later), and
`course_copy` runs the steps in order inside one transaction.

A step receives the context of the copy: the source and the new course, how far
dates move (the new start date minus the old), and a map of old ids to new ids
per kind, so a later step can point its copies at the earlier steps' copies
(a content item at the copied assignment).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from .models import Course


@dataclass
class CopyContext:
    source: Course
    target: Course
    date_shift: timedelta
    id_map: dict[str, dict] = field(default_factory=dict)

    def remember(self, kind: str, old_id, new_id) -> None:
        self.id_map.setdefault(kind, {})[old_id] = new_id


CopyStep = Callable[[CopyContext], None]
_steps: list[tuple[int, str, CopyStep]] = []


def course_copy_step_register(step: CopyStep, *, order: int) -> None:
    """Called from an app's ready(): lower `order` runs first (modules 10,
    assignments 20, quizzes 30, content items that refer to them 40)."""
    name = f"{step.__module__}.{step.__qualname__}"
    if all(existing != name for _, existing, _ in _steps):
        _steps.append((order, name, step))
        _steps.sort(key=lambda entry: entry[0])


def course_copy_steps() -> list[CopyStep]:
    return [step for _, _, step in _steps]
