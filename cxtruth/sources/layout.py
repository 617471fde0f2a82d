"""Where the table is in an export: header rows, rows to skip, and trailer lines.

Exports are not always one header line and data to the end. A survey tool
writes two or three header lines (question text, sub-labels, import ids); a
CRM report ends in "Grand Totals (3 records)", a confidentiality line and a
copyright line. `TableLayout` says where the names are; `lay_out` takes the
lines of a sheet (each with its row number as a spreadsheet shows it: the
header row, blank rows counted, a record with a line break in a quoted value
one row) and returns the column names, the data lines and what was
set aside — skipped and trailer lines are counted, never rejected as rows.
Pure: lists in, lists out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Lines that CRM and BI report exports write after the data (Salesforce, HubSpot,
# Zendesk Explore, ...): matched on the first non-blank cell, case-insensitively.
BUILT_IN_TRAILERS = (
    r"grand totals?\b.*",
    r"(sub)?totals?\b.*\(\d[\d,.]* records?\)",
    r"confidential information.*",
    r"(copyright|©|\(c\)) .*",
    r"generated (by|on|at) .*",
    r"total records?:? .*",
)


@dataclass(frozen=True)
class TableLayout:
    header_row: int = 1  # the (first) line holding the column names, 1-based as a spreadsheet shows
    header_rows: int = 1  # how many lines of names to join ("Question / Response")
    skip_rows: int = 0  # lines after the names that are not data (a Qualtrics export's two)
    trailers: tuple[str, ...] = ()  # the user's own trailer patterns (regular expressions)
    detect_trailers: bool = True  # also the common report trailers above


@dataclass
class Laid:
    """A sheet's table: names, data lines and the row number of each."""

    names: list[str]
    # for header_rows > 1: a name on the first header line alone -> the joined name, where
    # that first-line name is unique and not blank (so it may be mapped on its own)
    aliases: dict[str, str]
    rows: list[list[str]]
    lines: list[int]
    skipped: int = 0  # lines before the header and after it (skip_rows), blank lines aside
    trailer_lines: list[int] = field(default_factory=list)


def lay_out(lines: list[tuple[int, list[str]]], layout: TableLayout) -> Laid | None:
    """The table in ``lines`` ((row number, cells) pairs); None when there is no header line."""
    header_at = layout.header_row
    before = [cells for number, cells in lines if number < header_at]
    names_lines = [cells for number, cells in lines if header_at <= number < header_at + layout.header_rows]
    if len(names_lines) < layout.header_rows or not names_lines:
        return None
    names, aliases = join_names(names_lines)
    data_from = header_at + layout.header_rows + layout.skip_rows
    skipped = sum(1 for cells in before if _filled(cells))
    skipped += sum(1 for number, cells in lines
                   if header_at + layout.header_rows <= number < data_from and _filled(cells))
    body = [(number, cells) for number, cells in lines if number >= data_from and _filled(cells)]
    # a line of delimiters only (",,,,") is no row: set aside and counted, as the Arrow reader does
    skipped += sum(1 for number, cells in lines if number >= data_from and len(cells) > 1 and not _filled(cells))
    trailer = _trailer_start(body, layout)
    return Laid(names, aliases, [c for _, c in body[:trailer]], [n for n, _ in body[:trailer]], skipped,
                [n for n, _ in body[trailer:]])


def join_names(header_lines: list[list[str]]) -> tuple[list[str], dict[str, str]]:
    """One name per column from one or more header lines.

    A name on the first line carries over to the blank cells right of it (a question
    that spans its answer columns); the lines' names are joined with " / ", blanks left
    out: "How likely are you to recommend us? / Response".
    """
    width = max(len(line) for line in header_lines)
    padded = [list(line) + [""] * (width - len(line)) for line in header_lines]
    first, carried = [], ""
    for cell in padded[0]:
        cell = cell.strip()
        carried = cell or carried
        first.append(carried if len(padded) > 1 else cell)
    names = []
    for j in range(width):
        parts = [first[j]] + [line[j].strip() for line in padded[1:]]
        names.append(" / ".join(p for p in parts if p))
    aliases: dict[str, str] = {}
    if len(padded) > 1:
        counts: dict[str, int] = {}
        for j, cell in enumerate(padded[0]):
            cell = cell.strip()
            if cell:
                counts[cell] = counts.get(cell, 0) + 1
        for j, cell in enumerate(padded[0]):
            cell = cell.strip()
            spanned = j + 1 < width and not padded[0][j + 1].strip()
            if cell and counts[cell] == 1 and not spanned and names[j] != cell:
                aliases[cell] = names[j]
    return names, aliases


def _filled(cells: list[str]) -> bool:
    return any(c.strip() for c in cells)


def _trailer_start(body: list[tuple[int, list[str]]], layout: TableLayout) -> int:
    """The index of the first trailer line: trailers are a run at the end of the data."""
    # The user's patterns match at the start of the first cell ("Report generated" matches
    # "Report generated 2026-11-01 by Acme"); the built-in ones describe the whole cell.
    patterns = [re.compile(f"(?:{p}).*", re.IGNORECASE) for p in layout.trailers]
    if layout.detect_trailers:
        patterns += [re.compile(p, re.IGNORECASE) for p in BUILT_IN_TRAILERS]
    if not patterns:
        return len(body)
    start = len(body)
    while start > 0 and _is_trailer(body[start - 1][1], patterns):
        start -= 1
    return start


def _is_trailer(cells: list[str], patterns: list[re.Pattern]) -> bool:
    filled = [c.strip() for c in cells if c.strip()]
    # A report trailer is a line of text in one or two cells, never a full data row.
    return bool(filled) and len(filled) <= 2 and any(p.fullmatch(filled[0]) for p in patterns)
