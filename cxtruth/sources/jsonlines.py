"""Event exports as JSON lines (Mixpanel's raw export, Amplitude's export archive).

One JSON object per line, plain (`.jsonl`, `.ndjson`, `.json`), gzipped
(`.jsonl.gz`, `.json.gz`) or as a `.zip` of such files (Amplitude's export,
read member by member in name order). Nested objects become dotted names
(`properties.time`, `user_properties.account_id`), so a column is mapped as
`used_at = "properties.time"`. Every value becomes the text a CSV would hold
(a number as written, true/false, an object or list as JSON), and each row's
line is its line in the file (for a zip: counted across members in order).
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
import zlib
from pathlib import Path

from ..errors import DataError

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")


def is_json_lines(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(JSON_SUFFIXES) or (name.endswith(".zip") and _zip_of_json(path))


def _zip_of_json(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.lower().endswith(JSON_SUFFIXES) for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _streams(path: Path):
    """(member name, binary stream) pairs in reading order."""
    name = path.name.lower()
    if name.endswith(".zip"):
        archive = zipfile.ZipFile(path)
        members = sorted(n for n in archive.namelist() if n.lower().endswith(JSON_SUFFIXES))
        for member in members:
            raw = archive.open(member)
            yield member, (gzip.GzipFile(fileobj=raw) if member.lower().endswith(".gz") else raw)
        return
    raw = path.open("rb")
    yield path.name, (gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else raw)


def flatten(value, prefix: str = "", into: dict | None = None) -> dict[str, str]:
    """A JSON object as dotted names -> cell text."""
    into = {} if into is None else into
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            flatten(item, f"{name}.", into)
        else:
            into[name] = cell_text(item)
    return into


def cell_text(item) -> str:
    if item is None:
        return ""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str):
        return item
    if isinstance(item, (int, float)):
        return json.dumps(item)
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def read_objects(path: Path, wanted: set[str] | None = None) -> tuple[list[str], list[dict[str, str]], list[int]]:
    """Every object's cells (only ``wanted`` names, when given), the names seen, and each object's line."""
    names: dict[str, None] = {}
    rows, lines = [], []
    line = 0
    try:
        for member, stream in _streams(path):
            with stream:
                for raw in io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict"):  # a BOM is no data
                    line += 1
                    if not raw.strip():
                        continue
                    try:
                        value = json.loads(raw)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path.name}: line {line}{_member(path, member)}: not a JSON object "
                                        f"({exc.msg} at character {exc.colno})") from None
                    except (RecursionError, ValueError) as exc:  # nesting past Python's stack, 5,000-digit numbers
                        what = "nests too deeply" if isinstance(exc, RecursionError) else "holds a number too long"
                        raise DataError(f"{path.name}: line {line}{_member(path, member)}: the JSON object {what} "
                                        "to read") from None
                    if not isinstance(value, dict):
                        raise DataError(f"{path.name}: line {line}{_member(path, member)}: expected one JSON "
                                        f"object per line, found {type(value).__name__}")
                    try:
                        cells = flatten(value)
                    except RecursionError:
                        raise DataError(f"{path.name}: line {line}{_member(path, member)}: the JSON object "
                                        "nests too deeply to read") from None
                    for name in cells:
                        names.setdefault(name)
                    rows.append(cells if wanted is None else {k: v for k, v in cells.items() if k in wanted})
                    lines.append(line)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name}: line {line + 1}: not valid UTF-8 text ({exc.reason})") from None
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path.name}: cannot be read: the compressed data is damaged ({type(exc).__name__})"
                        if not isinstance(exc, OSError) or isinstance(exc, gzip.BadGzipFile)
                        else f"{path.name}: cannot be read: {exc.strerror or exc}") from None
    return list(names), rows, lines


def _member(path: Path, member: str) -> str:
    return f" of {member}" if member != path.name else ""

