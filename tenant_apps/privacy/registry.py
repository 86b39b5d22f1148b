"""What each app holds of a person, for their data export and their erasure.

Each app that keeps personal data registers one section from its AppConfig's
ready(): `export(user)` returns JSON-serialisable data (a dict or list) that
becomes `<name>.json` in the export zip, and optionally files to include;
`erase(user, keep_academic_records=...)` removes or anonymises what the app
holds of the user, inside the erasure's transaction. The privacy app runs the
sections; it never reaches into another app's models.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFile:
    """A stored file to put in the export zip at `path` (under files/)."""

    path: str
    open: Callable[[], object]  # returns a readable binary file object


@dataclass(frozen=True)
class DataSection:
    name: str
    export: Callable[[object], object]
    erase: Callable[..., None] | None = None
    files: Callable[[object], Iterable[ExportFile]] | None = None
    order: int = 100


_sections: dict[str, DataSection] = {}


def user_data_section_register(
    name: str,
    *,
    export: Callable[[object], object],
    erase: Callable[..., None] | None = None,
    files: Callable[[object], Iterable[ExportFile]] | None = None,
    order: int = 100,
) -> None:
    """Called from an app's ready(). `erase(user, *, keep_academic_records)`:
    with keep_academic_records the institution's retention policy keeps grades
    and submissions as records of a person no longer named."""
    _sections[name] = DataSection(name=name, export=export, erase=erase, files=files, order=order)


def user_data_sections() -> list[DataSection]:
    return sorted(_sections.values(), key=lambda section: (section.order, section.name))
