"""Which files we accept, decided by what their bytes are (puremagic on the
first bytes, a look inside ZIP and OLE containers, a UTF-8 check for text) and
not by their names; a name whose extension contradicts the content is refused.

Markup (HTML, SVG, XML) is never accepted, whatever it is called: served from
our origin it could run script. Everything we accept is served as an
attachment with `nosniff`, under the type decided here.
"""

import codecs
import hashlib
import unicodedata
import zipfile
from dataclasses import dataclass

import puremagic

HEAD_BYTES = 8192


@dataclass(frozen=True)
class FileType:
    mime_type: str
    extension: str  # for the stored name
    extensions: frozenset[str]  # the names a file of this type may carry


def _type(mime_type: str, *extensions: str) -> FileType:
    return FileType(mime_type, extensions[0], frozenset(extensions))


PDF = _type("application/pdf", "pdf")
DOC = _type("application/msword", "doc")
XLS = _type("application/vnd.ms-excel", "xls")
PPT = _type("application/vnd.ms-powerpoint", "ppt")
DOCX = _type("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
XLSX = _type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
PPTX = _type("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx")
JPEG = _type("image/jpeg", "jpg", "jpeg", "jpe", "jfif")
PNG = _type("image/png", "png")
GIF = _type("image/gif", "gif")
WEBP = _type("image/webp", "webp")
MP4 = _type("video/mp4", "mp4", "m4v")
WEBM = _type("video/webm", "webm")
ZIP = _type("application/zip", "zip")
CSV = _type("text/csv", "csv")
MARKDOWN = _type("text/markdown", "md", "markdown")
# Plain text and source code: served as text/plain, never as what it describes.
TEXT = _type(
    "text/plain",
    "txt",
    "text",
    "log",
    "tsv",
    "rst",
    "tex",
    "bib",
    "ini",
    "cfg",
    "toml",
    "yaml",
    "yml",
    "json",
    "ipynb",
    "sql",
    "r",
    "m",
    "py",
    "pyi",
    "java",
    "kt",
    "scala",
    "c",
    "h",
    "cc",
    "cpp",
    "cxx",
    "hpp",
    "cs",
    "go",
    "rs",
    "rb",
    "pl",
    "php",
    "js",
    "mjs",
    "ts",
    "swift",
    "hs",
    "ml",
    "lua",
    "sh",
    "bash",
    "ps1",
    "bat",
    "asm",
    "s",
    "v",
    "vhd",
)
TEXT_TYPES = (CSV, MARKDOWN, TEXT)

_BY_PUREMAGIC_EXTENSION = {
    ".pdf": PDF,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".gif": GIF,
    ".webp": WEBP,
    ".mp4": MP4,
}
_MARKUP_STARTS = (b"<!doctype", b"<html", b"<svg", b"<?xml", b"<script", b"<head", b"<body")
_MARKUP_EXTENSIONS = {".html", ".htm", ".xhtml", ".svg", ".svgz", ".xml"}
_OLE_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")
# The main stream of each legacy Office format, as its directory entry spells it.
_OLE_STREAMS = (
    ("WordDocument".encode("utf-16-le"), DOC),
    ("Workbook".encode("utf-16-le"), XLS),
    ("Book\x00".encode("utf-16-le"), XLS),
    ("PowerPoint Document".encode("utf-16-le"), PPT),
)
_OOXML_PARTS = (
    ("word/document.xml", DOCX),
    ("xl/workbook.xml", XLSX),
    ("ppt/presentation.xml", PPTX),
)


@dataclass(frozen=True)
class Scan:
    """What one pass over an upload found."""

    size: int
    sha256: str
    head: bytes
    is_text: bool


class TooLarge(Exception):
    pass


def scan(upload, *, max_bytes: int) -> Scan:
    """Size, sha256, first bytes and whether it is UTF-8 text without NUL, in
    one pass over the upload; TooLarge as soon as it passes `max_bytes`."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    size, head, is_text = 0, b"", True
    upload.seek(0)
    for chunk in upload.chunks():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge
        digest.update(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        if is_text and b"\x00" in chunk:
            is_text = False
        elif is_text:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                is_text = False
    if is_text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            is_text = False
    upload.seek(0)
    return Scan(size=size, sha256=digest.hexdigest(), head=head, is_text=is_text)


def extension_of(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1].lower() if "." in base.strip(".") else ""


def _puremagic_extensions(head: bytes) -> set[str]:
    try:
        return {m.extension.lower() for m in puremagic.magic_string(head)}
    except (puremagic.PureError, ValueError):
        return set()


def _is_markup(head: bytes, found: set[str]) -> bool:
    start = head.removeprefix(codecs.BOM_UTF8).lstrip().lower()
    return start.startswith(_MARKUP_STARTS) or bool(found & _MARKUP_EXTENSIONS)


def _zip_type(upload) -> FileType | None:
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        # NotImplementedError: a central directory asking for a later format version.
        return None
    finally:
        upload.seek(0)
    return next((kind for part, kind in _OOXML_PARTS if part in names), ZIP)


def _ole_type(upload) -> FileType | None:
    """Legacy Office files are OLE compound files, like MSI installers; the
    directory names the format's main stream. We look for it anywhere in the
    file rather than walk the sector chains."""
    longest = max(len(name) for name, _ in _OLE_STREAMS)
    tail = b""
    upload.seek(0)
    try:
        for chunk in upload.chunks():
            window = tail + chunk
            for name, kind in _OLE_STREAMS:
                if name in window:
                    return kind
            tail = window[-longest:]
    finally:
        upload.seek(0)
    return None


def detect(upload, found_scan: Scan) -> FileType | None:
    """The allowed type the content is, or None."""
    head = found_scan.head
    found = _puremagic_extensions(head)
    if _is_markup(head, found):
        return None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(upload)
    if head.startswith(_OLE_SIGNATURE):
        return _ole_type(upload)
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM, or Matroska which we refuse
        return WEBM if b"webm" in head[:64] else None
    for extension, kind in _BY_PUREMAGIC_EXTENSION.items():
        if extension in found:
            return kind
    return TEXT if found_scan.is_text else None


def file_type_for(upload, found_scan: Scan, *, name: str) -> FileType | None:
    """The type of an upload called `name`, or None when its content is not an
    allowed type or its extension says something else than its content."""
    kind = detect(upload, found_scan)
    extension = extension_of(name)
    if kind is TEXT:
        if not extension:
            return TEXT
        return next((t for t in TEXT_TYPES if extension in t.extensions), None)
    if kind is None or (extension and extension not in kind.extensions):
        return None
    return kind


def clean_name(name: str) -> str:
    """The original name as we keep and send it back: no directories, no
    control or format characters, at most 255 characters, extension kept."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) < 20 else name[:255]
    return name or "file"
