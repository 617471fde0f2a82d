"""Spreadsheet exports (XLSX, XLSM, XLSB, XLS, ODS) read with python-calamine.

Each sheet becomes the lines a CSV export of it would hold: every cell as
text ("" when empty), dates and times as ISO 8601 (a cell Excel formats as a
date is a date, never its serial number), whole numbers without ".0",
booleans as true/false. Line numbers are the spreadsheet's row numbers. The
table in them is then found by `layout.lay_out`, as for a CSV.

`sniff` tells what a file really is from its first bytes, so a workbook named
`.csv` (or a CSV named `.xlsx`) gets a message saying so instead of a
misleading "not valid UTF-16" diagnosis.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from pathlib import Path

from ..errors import DataError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_ZIP, _OLE2 = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff(path: Path) -> str:
    """'workbook', 'parquet' or 'text', from the file's first bytes (not its name)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return "text"  # the reader says what is wrong with it
    if head.startswith(_OLE2):
        return "workbook"
    if head.startswith(_ZIP):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return "text"  # a damaged archive: the CSV reader names it (a ZIP archive, not a CSV export)
        if "xl/workbook.xml" in names or "xl/workbook.bin" in names or "mimetype" in names:
            return "workbook"
        return "zip"
    if head.startswith(b"PAR1"):
        return "parquet"
    return "text"


def check_kind(path: Path, source: str) -> str:
    """What the reader should take ``path`` for, or a DataError when its name says otherwise."""
    kind = sniff(path)
    suffix = path.suffix.lower()
    named_workbook = suffix in WORKBOOK_SUFFIXES
    if kind == "workbook" and not named_workbook:
        raise DataError(f"{path.name}: this is a spreadsheet workbook (XLSX/XLS/ODS), not {suffix or 'CSV'} text",
                        hint=f"rename it to .xlsx (or .ods), or point [sources.{source}] path at the workbook; "
                             "cxtruth reads workbooks directly")
    if kind == "zip":
        raise DataError(f"{path.name}: this is a ZIP archive, not a table",
                        hint="unzip it and point the source's path at the CSV or workbook inside")
    if named_workbook and kind == "text":
        raise DataError(f"{path.name}: named {suffix} but it holds text, not a workbook",
                        hint="rename it to .csv (it will be read as a CSV export)")
    if named_workbook and kind == "parquet":
        raise DataError(f"{path.name}: named {suffix} but it is a Parquet file", hint="rename it to .parquet")
    return "workbook" if named_workbook else kind


def read_lines(path: Path, sheet: str | int | None, source: str) -> list[tuple[int, list[str]]]:
    """The sheet's rows as (spreadsheet row number, cells as text)."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine's own error types; the message names the problem
        raise DataError(f"{path.name}: cannot be read as a workbook: {_first_line(exc)}") from None
    names = book.sheet_names
    if sheet is None:
        chosen = 0
    elif isinstance(sheet, int):
        if not 1 <= sheet <= len(names):
            raise DataError(f"sources.{source}.sheet: {path.name} has {len(names)} sheet(s); "
                            f"sheet = {sheet} is not one of 1..{len(names)}")
        chosen = sheet - 1
    else:
        if sheet not in names:
            raise DataError(f"sources.{source}.sheet: {path.name} has no sheet {sheet!r} "
                            f"(it has: {', '.join(map(repr, names))})")
        chosen = names.index(sheet)
    try:
        rows = book.get_sheet_by_index(chosen).to_python(skip_empty_area=False)
    except Exception as exc:
        raise DataError(f"{path.name}: sheet {names[chosen]!r} cannot be read: {_first_line(exc)}") from None
    return [(number, [cell_text(v) for v in row]) for number, row in enumerate(rows, start=1)]


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def cell_text(value) -> str:
    """A cell as the text a CSV export would hold."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep="T")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value.total_seconds())
    return str(value)

