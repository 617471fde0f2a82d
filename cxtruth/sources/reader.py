"""Read one CSV export into a frame of text cells, with spreadsheet line numbers.

pyarrow.csv does the parsing (threaded, quoted newlines allowed); this module
adds what an analyst needs when it goes wrong: which file, which line, which
column, and what to change in config.toml.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DataError


@dataclass
class RawTable:
    frame: pd.DataFrame  # canonical column names, str cells ("" for blank)
    lines: np.ndarray  # spreadsheet line of each row (header = line 1)
    headers: dict[str, str]  # canonical name -> header as written in the file
    ragged: list[tuple[int, str, int, int]]  # (line, text, expected fields, found fields)


def _normalise(header: str) -> str:
    # Exports differ in case, padding and non-breaking spaces; none of that is meaning.
    return re.sub(r"\s+", " ", header.replace("\ufeff", "").replace("\xa0", " ")).strip().casefold()


def _python_encoding(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def read_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    """The header row as written, or a DataError saying why it cannot be read."""
    raw = path.read_bytes()[:65536]
    if not raw.strip():
        raise DataError(f"{path.name}: the file is empty (expected a header row naming the columns)")
    py_encoding = _python_encoding(encoding)
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") and not py_encoding.startswith("utf-16"):
        raise DataError(
            f"{path.name}: the file is UTF-16 text (a spreadsheet 'Unicode text' export)",
            hint=f'add encoding = "utf-16" under [sources.{path.stem}] in config.toml',
        )
    if b"\x00" in raw and not py_encoding.startswith(("utf-16", "utf-32")):
        raise DataError(f"{path.name}: the file holds NUL bytes; it is not a text CSV export")
    try:
        text = raw.decode(py_encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 4 or len(raw) < 65536:
            line = raw[: exc.start].count(b"\n") + 1
            raise DataError(
                f"{path.name}: line {line}: not valid {encoding} text ({exc.reason} at byte {exc.start})",
                hint='set encoding under the source in config.toml, e.g. encoding = "cp1252"',
            )
        text = raw[: exc.start].decode(py_encoding)  # a character cut by the 64 KiB window
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    except (StopIteration, csv.Error):
        raise DataError(f"{path.name}: line 1: cannot read the header row")
    return header


def map_columns(path: Path, header: list[str], wanted: dict[str, tuple[str, bool]]) -> dict[str, str]:
    """Find each canonical column's header. ``wanted``: canonical -> (configured header, required).

    Exact matches win; otherwise a header equal up to case and spacing is used.
    Returns canonical -> header for the columns found.
    """
    exact = {}
    for h in header:
        exact.setdefault(h, 0)
        exact[h] += 1
    by_norm: dict[str, list[str]] = {}
    for h in header:
        by_norm.setdefault(_normalise(h), []).append(h)

    found: dict[str, str] = {}
    missing: list[str] = []
    for canonical, (configured, required) in wanted.items():
        candidates = [configured] if exact.get(configured) else by_norm.get(_normalise(configured), [])
        if len(candidates) > 1 or (candidates and exact.get(candidates[0], 0) > 1):
            raise DataError(
                f"{path.name}: line 1: column {configured!r} appears more than once in the header; "
                "rename or remove the copies"
            )
        if candidates:
            found[canonical] = candidates[0]
        elif required:
            missing.append(configured if configured == canonical else f"{configured} (for {canonical})")
    if missing:
        raise DataError(
            f"{path.name}: line 1: required column{'s' if len(missing) > 1 else ''} missing: "
            f"{', '.join(missing)}; found: {', '.join(header) or '(none)'}",
            hint="map your header names under [sources.<name>.columns] in config.toml",
        )
    return found


def _read_arrow(path: Path, encoding: str, delimiter: str, headers: list[str],
                newlines_in_values: bool, threads: bool):
    ragged: list = []

    def on_invalid(row) -> str:
        ragged.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding, use_threads=threads),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=newlines_in_values, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=headers,
            column_types={h: pa.string() for h in headers},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, ragged


def read_csv(path: Path, *, encoding: str, delimiter: str, wanted: dict[str, tuple[str, bool]],
             newlines_in_values: bool = True) -> RawTable:
    """Read ``path`` keeping only the wanted columns, every cell as text."""
    header = read_header(path, encoding, delimiter)
    found = map_columns(path, header, wanted)
    headers = list(found.values())
    arrow_encoding = "utf8" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        table, ragged = _read_arrow(path, arrow_encoding, delimiter, headers, newlines_in_values, True)
        if ragged and not newlines_in_values:
            # A quoted newline looks like a broken row to the fast parser: read properly.
            table, ragged = _read_arrow(path, arrow_encoding, delimiter, headers, True, True)
        if ragged:
            # Row numbers are only known single-threaded; this is the rare path.
            table, ragged = _read_arrow(path, arrow_encoding, delimiter, headers, True, False)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "invalid UTF8" in message:
            raise DataError(
                f"{path.name}: the file is not valid {encoding} text",
                hint='set encoding under the source in config.toml (e.g. encoding = "cp1252")',
            )
        raise DataError(f"{path.name}: cannot be read as a CSV table: {message}")
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(f"{path.name}: the file is not valid {encoding} text: {exc}")

    frame = pd.DataFrame({canonical: table.column(h).to_pandas() for canonical, h in found.items()})
    total = table.num_rows + len(ragged)
    ragged_lines = np.array([r[0] for r in ragged if r[0] is not None], dtype=np.int64)
    lines = np.setdiff1d(np.arange(2, total + 2, dtype=np.int64), ragged_lines, assume_unique=True)
    frame.index = pd.RangeIndex(len(frame))
    return RawTable(frame, lines[: len(frame)], found, ragged)
