"""The export zip: README.txt, profile.json, one `<section>.json` per
registered section, and the files the sections list under files/. Written to
a temporary file (never held in memory whole), then saved to storage."""

import json
import posixpath
import shutil
import tempfile
import unicodedata
import zipfile
from datetime import datetime
from typing import IO

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from tenant_apps.accounts.api import UserOutput

from .registry import DataSection, user_data_sections


class SectionFailed(Exception):
    """A section's export raised: the export fails rather than leave it out."""

    def __init__(self, section: str):
        super().__init__(f"The {section!r} part of the export could not be written.")
        self.section = section


def profile_of(user) -> dict:
    """profile.json: all the user API shows a person of themself."""
    return dict(UserOutput(user).data)


def _json(data) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()


def member_name(path: str) -> str:
    """`path` as a safe name under files/: no directories climbing out, no
    absolute paths, no control characters."""
    cleaned = "".join(
        ch for ch in str(path).replace("\\", "/") if unicodedata.category(ch)[0] != "C"
    )
    parts = [p for p in posixpath.normpath("/" + cleaned).split("/") if p not in ("", ".", "..")]
    return "files/" + ("/".join(parts) or "file")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}-{n}.{ext}" if dot and "/" not in ext else f"{name}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _readme(user, sections: list[DataSection], files: list[str], now: datetime) -> str:
    institution = getattr(getattr(connection, "tenant", None), "name", "") or "the institution"
    lines = [
        f"Your data at {institution}",
        "=" * 40,
        "",
        f"This archive holds the personal data {institution} keeps about",
        f"{user.get_full_name() or user.email} ({user.email}), as of {now.isoformat()}.",
        "",
        "Contents",
        "--------",
        "README.txt      this file",
        "profile.json    your account: name, contact details, role, ids, settings",
    ]
    for section in sections:
        lines.append(f"{section.name + '.json':<15} {section.name.replace('_', ' ')}")
    if files:
        lines.append(f"files/          the {len(files)} file(s) you uploaded and still stored")
    lines += [
        "",
        "All files are JSON (UTF-8). Times are in UTC (ISO 8601); amounts and",
        "points are decimal strings. Grades appear once they are released to you,",
        "and quiz answers and marks as the quiz shows them to you.",
        "",
        "To have your data corrected or erased, contact your institution's",
        "administrators.",
        "",
    ]
    return "\n".join(lines)


def export_archive_write(user) -> tuple[IO[bytes], list[str]]:
    """The zip for `user` in a temporary file (rewound), and its member names."""
    now = timezone.now()
    sections = user_data_sections()
    target = tempfile.TemporaryFile(suffix=".zip")  # noqa: SIM115 - the caller closes it
    names: list[str] = []
    file_names: list[str] = []
    try:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            documents: list[tuple[str, bytes]] = [("profile.json", _json(profile_of(user)))]
            pending_files = []
            for section in sections:
                try:
                    documents.append((f"{section.name}.json", _json(section.export(user))))
                    pending_files += list(section.files(user)) if section.files else []
                except Exception as error:
                    raise SectionFailed(section.name) from error
            taken = {"README.txt", *(name for name, _ in documents)}
            planned = [(_unique(member_name(f.path), taken), f) for f in pending_files]
            file_names = [name for name, _ in planned]
            archive.writestr("README.txt", _readme(user, sections, file_names, now))
            names.append("README.txt")
            for name, content in documents:
                archive.writestr(name, content)
                names.append(name)
            for name, export_file in planned:
                try:
                    source = export_file.open()
                except FileNotFoundError:
                    continue  # its bytes are gone from storage: nothing to give
                with source, archive.open(name, "w", force_zip64=True) as member:
                    shutil.copyfileobj(source, member, length=1024 * 1024)
                names.append(name)
    except BaseException:
        target.close()
        raise
    target.seek(0)
    return target, names
