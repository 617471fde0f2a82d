"""Exports read line by line: layouts, row filters, trailers, workbooks and JSON lines.

The Arrow reader (`reader.read_csv`) takes a plain CSV export: one header on
line 1 and data to the end. Everything else comes here and leaves as the same
`RawTable` of text cells, so the validator and its messages are the same:

- a CSV with header rows below line 1, several header lines, lines to skip,
  trailer lines, blank lines between records, or a `where` filter;
- a workbook sheet (XLSX, XLS, ODS);
- JSON lines (no header: the keys are the names).

Line numbers are the rows a spreadsheet shows (DATA_CONTRACT §2): blank lines count, a quoted
value spanning lines is one row, as the Arrow reader numbers them. Lines
set aside (before the header, `skip_rows`, trailers) and rows a filter left
out are counted, never rejected.
"""

from __future__ import annotations

import codecs
import csv
import mmap
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..expressions import ExpressionError, Node, columns as expression_columns, parse, row_mask, row_values
from .reader import parquet_cells
from .jsonlines import read_objects
from .layout import BUILT_IN_TRAILERS, TableLayout, lay_out
from .reader import RawTable, map_columns, read_header
from .workbook import read_lines

TAIL_BYTES = 4096  # the end of a file, where report trailers are looked for


@dataclass
class RowOptions:
    """What decides the line-by-line read of one source (from its config)."""

    layout: TableLayout = TableLayout()
    where: str | None = None
    sheet: str | int | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    skip_blank: tuple[str, ...] = ()  # canonical columns whose blank cell means "not a row"
    compute: dict | None = None  # canonical name -> expression over the export's columns

    @property
    def default_layout(self) -> bool:
        return (self.layout.header_row, self.layout.header_rows, self.layout.skip_rows,
                self.layout.trailers) == (1, 1, 0, ())


_BLANK_LINE = re.compile(rb"\n\r?\n")


def needs_rows_path(path: Path, options: RowOptions) -> bool:
    """Whether a CSV export must be read line by line: a layout or filter the Arrow reader
    lacks, or (found cheaply) blank lines between records or trailer lines at the end."""
    if not options.default_layout or options.where or options.skip_blank or options.compute:
        return True
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _blank_line_inside(data) or (options.layout.detect_trailers and _trailer_at_end(data, options))
    except (OSError, ValueError):  # empty or unmappable: the Arrow reader says what is wrong
        return False


def _blank_line_inside(data) -> bool:
    """A blank line with a record after it (blank lines at the very end shift nothing).
    One regular-expression pass for LF and CRLF files: 0.21 s over 357 MB, where a
    `find` per line ending took 0.55 s (docs/performance.md)."""
    first = _BLANK_LINE.search(data)
    return first is not None and first.start() < _content_end(data) - 1


def _content_end(data) -> int:
    end = len(data)
    while end > 0 and data[end - 1:end] in (b"\n", b"\r", b" ", b"\t"):
        end -= 1
    return end


def _trailer_at_end(data, options: RowOptions) -> bool:
    tail = bytes(data[max(0, len(data) - TAIL_BYTES):])
    try:
        text = tail.decode(_python_encoding(options.encoding), errors="replace")
    except LookupError:
        return False
    lines = [line for line in text.splitlines()[1:] if line.strip()]  # the first may be cut
    if not lines:
        return False
    patterns = [re.compile(p, re.IGNORECASE) for p in BUILT_IN_TRAILERS]
    try:
        last = next(csv.reader([lines[-1]], delimiter=options.delimiter))
    except csv.Error:
        return False
    filled = [c.strip() for c in last if c.strip()]
    return bool(filled) and len(filled) <= 2 and any(p.fullmatch(filled[0]) for p in patterns)


def _python_encoding(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def csv_lines(path: Path, options: RowOptions, source: str) -> list[tuple[int, list[str]]]:
    """Every record of a CSV export with its row as a spreadsheet numbers it (DATA_CONTRACT §2):
    the header is row 1, a blank line is a row, a record whose quoted text spans lines is one."""
    read_header(path, options.encoding, options.delimiter, source)  # the same early checks as the Arrow path
    try:
        with path.open("r", encoding=_python_encoding(options.encoding), newline="") as handle:
            reader = csv.reader(handle, delimiter=options.delimiter, strict=False)
            out = [(row, cells) for row, cells in enumerate(reader, start=1)]  # a blank line is []
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name}: not valid {options.encoding} text ({exc.reason})",
                        hint='set encoding under the source in config.toml, e.g. encoding = "cp1252"') from None
    except csv.Error as exc:
        raise DataError(f"{path.name}: line {reader.line_num}: cannot be read as CSV: {exc}") from None
    return out


@dataclass
class RowsRead:
    raw: RawTable
    set_aside: int = 0  # lines before the header, skip_rows and trailer lines
    filtered: int = 0  # rows a `where` filter left out


def read_rows(path: Path, kind: str, options: RowOptions, wanted: dict[str, tuple[str, bool]],
              source: str) -> RowsRead:
    """A source's rows as the validator's `RawTable`, with what was set aside and filtered."""
    condition = _condition(options.where, source)
    if kind == "json":
        names, objects, lines = read_objects(path)
        if not objects:
            raise DataError(f"{path.name}: the file holds no JSON objects")
        rows = [[obj.get(n, "") for n in names] for obj in objects]
        header_line, set_aside = None, 0
        aliases: dict[str, str] = {}
    elif kind == "parquet":
        names, rows, lines = parquet_cells(path)
        header_line, set_aside, aliases = None, 0, {}
    else:
        numbered = read_lines(path, options.sheet, source) if kind == "workbook" else csv_lines(path, options, source)
        laid = lay_out(numbered, options.layout)
        if laid is None:
            raise DataError(f"{path.name}: there is no line {options.layout.header_row} to read column names from",
                            hint=f"check header_row under [sources.{source}]")
        names, rows, lines, aliases = laid.names, laid.rows, laid.lines, laid.aliases
        header_line, set_aside = options.layout.header_row, laid.skipped + len(laid.trailer_lines)
    computed = {c: parse(e) for c, e in (options.compute or {}).items()}
    wanted = {c: (aliases.get(h, h), required) for c, (h, required) in wanted.items() if c not in computed}
    found = map_columns(path, names, wanted, options.delimiter, source, header_line=header_line)
    width = len(names)
    ragged, kept, kept_lines = [], [], []
    for number, cells in zip(lines, rows):
        if kind == "csv" and len(cells) != width:  # as the Arrow reader: a row of another width is rejected
            ragged.append((number, options.delimiter.join(cells), width, len(cells)))
            continue
        kept.append(cells + [""] * (width - len(cells)))
        kept_lines.append(number)
    filtered = 0
    if condition is not None and kept:
        position = {name: i for i, name in enumerate(names)}
        cells = {name: pd.Series([row[position[aliases.get(name, name)]] for row in kept], dtype=object)
                 for name in _filter_columns(condition, names, aliases, path, source)}
        keep = _per_row(lambda: row_mask(condition, cells), len(kept), f"sources.{source}.where", path)
        filtered = int((~keep).sum())
        kept = [row for row, k in zip(kept, keep) if k]
        kept_lines = [n for n, k in zip(kept_lines, keep) if k]
    position = {name: i for i, name in enumerate(names)}
    skipping = [position[found[c]] for c in options.skip_blank if c in found]
    if skipping:
        keep = [not any(not row[j].strip() for j in skipping) for row in kept]
        filtered += keep.count(False)
        kept = [row for row, k in zip(kept, keep) if k]
        kept_lines = [n for n, k in zip(kept_lines, keep) if k]
    frame = pd.DataFrame({c: pd.Series([row[position[h]] for row in kept], dtype=object) for c, h in found.items()},
                         index=pd.RangeIndex(len(kept)))
    for canonical, expression in computed.items():
        used = {aliases.get(n, n) for n in expression_columns(expression)}
        missing = sorted(used - set(names))
        if missing:
            raise DataError(f"sources.{source}.compute.{canonical}: {path.name} has no column "
                            f"{', '.join(map(repr, missing))}")
        inputs = {n: pd.Series([row[position[aliases.get(n, n)]] for row in kept], dtype=object)
                  for n in expression_columns(expression)}
        values = _per_row(lambda: row_values(expression, inputs), len(kept), f"sources.{source}.compute.{canonical}", path)
        frame[canonical] = _as_text(pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values)
        found[canonical] = f"= {options.compute[canonical]}"
    raw = RawTable(frame, np.array(kept_lines, dtype=np.int64), found, ragged)
    return RowsRead(raw, set_aside, filtered)


def _per_row(evaluate, rows: int, key: str, path: Path):
    """An expression's value for each of ``rows`` rows: one value (an expression of literals
    only, such as 1 = 1) holds for every row; one that cannot be computed on these cells is
    a config error naming the key, not a traceback."""
    try:
        values = evaluate()
    except (ExpressionError, ValueError, TypeError, AttributeError, ArithmeticError, RecursionError) as exc:
        raise ConfigError(f"{key}: cannot be computed on {path.name}'s cells: {exc}",
                          hint="a filter compares columns with values (Plan = \"Enterprise\", Score >= 9); "
                               "docs/sources.md lists what each function takes") from None
    array = np.asarray(values)
    if array.ndim == 0 or len(array) != rows:
        if array.size != 1:
            raise ConfigError(f"{key}: gives {array.size} values for {rows} rows of {path.name}")
        return np.full(rows, array.reshape(-1)[0]) if array.dtype == bool else pd.Series([array.reshape(-1)[0]] * rows,
                                                                                          dtype=object)
    return values


def _as_text(values: pd.Series) -> pd.Series:
    """Computed values as the text a CSV would hold ('' where there is none)."""
    if values.dtype == object:
        return values.fillna("").astype(str)
    return pd.Series([repr(float(v)) if pd.notna(v) else "" for v in values], dtype=object)


def _condition(where: str | None, source: str) -> Node | None:
    if not where:
        return None
    try:
        return parse(where)
    except ExpressionError as exc:  # config validation parses it first; kept for library callers
        raise DataError(f"sources.{source}.where: {exc}") from None


def _filter_columns(condition: Node, names: list[str], aliases: dict[str, str], path: Path,
                    source: str) -> list[str]:
    needed = expression_columns(condition)
    missing = sorted(n for n in needed if aliases.get(n, n) not in names)
    if missing:
        raise DataError(f"sources.{source}.where: {path.name} has no column {', '.join(map(repr, missing))}",
                        hint=f"the filter names the export's own headers; it has: {', '.join(names[:20])}")
    return sorted(needed)


