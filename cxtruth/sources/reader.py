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
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DataError

if TYPE_CHECKING:
    import pandas as pd  # imported where a text frame is built: the fast path never needs it

# (canonical -> header found, header -> sample cells) -> canonical -> Arrow type, or None for text only
TypeChooser = Callable[[dict[str, str], dict[str, list[str]]], "dict[str, pa.DataType] | None"]


class ConsecutiveLines:
    """The line numbers ``first, first + 1, ...`` of ``count`` rows, indexed like the array
    they stand for. A clean file read on the fast path numbers its rows this way, and
    only the few rows a warning names ever need their number: 10M rows save 80 MB."""

    def __init__(self, first: int, count: int):
        self.first, self.count = first, count

    def __len__(self) -> int:
        return self.count

    def __array__(self, dtype=None, copy=None):
        return np.arange(self.first, self.first + self.count, dtype=dtype or np.int64)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            if not -self.count <= key < self.count:
                raise IndexError(f"line index {key} out of range for {self.count} lines")
            return self.first + (key % self.count)
        if isinstance(key, slice):
            return np.arange(self.first, self.first + self.count, dtype=np.int64)[key]
        key = np.asarray(key)
        if key.dtype == bool:
            if len(key) != self.count:
                raise IndexError(f"boolean index of length {len(key)} for {self.count} lines")
            return np.flatnonzero(key) + self.first
        if len(key) and (key.min() < -self.count or key.max() >= self.count):
            raise IndexError("line index out of range")
        return np.where(key < 0, key + self.count, key).astype(np.int64) + self.first


@dataclass
class RawTable:
    frame: pd.DataFrame | None  # canonical column names, str cells ("" for blank)
    lines: np.ndarray | ConsecutiveLines  # spreadsheet line of each row (header = line 1)
    headers: dict[str, str]  # canonical name -> header as written in the file
    ragged: list[tuple[int, str, int, int]]  # (line, text, expected fields, found fields)
    # The fast path: columns already parsed by Arrow to the requested types (frame is None).
    typed: pa.Table | None = None
    blank_rows: int = 0  # rows of delimiters only (",,,,", as spreadsheets save them): set aside


def _normalise(header: str) -> str:
    # Exports differ in case, padding and non-breaking spaces; none of that is meaning.
    return re.sub(r"\s+", " ", header.replace("\ufeff", "").replace("\xa0", " ")).strip().casefold()


def not_a_file(path: Path) -> str | None:
    """What ``path`` is when it exists but is not a regular file ("a directory", "a named
    pipe (FIFO)", ...), or None. Such a path is never opened: a FIFO blocks, /dev/zero never ends."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _line_breaks(data: bytes) -> int:
    """Line ends in ``data``: \\n, \\r\\n, or \\r alone (old Mac exports; Arrow reads all three)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


# Signatures of files exported in the wrong format: the message says what the file is.
_MAGIC = ((b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?)"), (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
          (b"%PDF", "a PDF document"), (b"\x1f\x8b", "gzip-compressed"), (b"PAR1", "a Parquet file"),
          (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"SQLite format 3", "an SQLite database"),
          (b"\x7fELF", "a program (ELF binary)"))


def _binary_kind(raw: bytes, first_line: bytes) -> str | None:
    """"a ZIP archive ...", "binary data", ... when the file is not text at all, judged by its
    first bytes and header line (data cells may hold any character: a customer's text)."""
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    # A control byte other than tab or form feed: no header row names a column with one.
    if any(b in first_line for b in (*range(0, 9), 11, *range(14, 32), 127)):
        return "binary data"
    return None


def _python_encoding(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def read_header(path: Path, encoding: str, delimiter: str, source: str) -> tuple[list[str], str]:
    """The header row as written and the first 64 KiB as text, or a DataError saying why."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(65536)
    except OSError as exc:
        raise DataError(f"{path.name}: cannot be read: {exc.strerror or exc}")
    if not raw.strip():
        raise DataError(f"{path.name}: the file is empty (expected a header row naming the columns)")
    py_encoding = _python_encoding(encoding)
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") and not py_encoding.startswith("utf-16"):
        raise DataError(
            f"{path.name}: the file is UTF-16 text (a spreadsheet 'Unicode text' export)",
            hint=f'add encoding = "utf-16" under [sources.{source}] in config.toml',
        )
    first_line = re.split(rb"\r\n?|\n", raw, maxsplit=1)[0]
    # NUL in every other byte: UTF-16 text (little- or big-endian) without a byte-order mark
    nuls = max(first_line[1::2].count(0), first_line[0::2].count(0))
    utf16_like = len(first_line) > 1 and nuls >= len(first_line) // 2 - 1
    if not py_encoding.startswith(("utf-16", "utf-32")) and not utf16_like:
        kind = _binary_kind(raw, first_line)
        if kind:
            # Never shown: the bytes of a binary file (or a system file) are nobody's business here.
            raise DataError(f"{path.name}: the file is {kind}, not a CSV export",
                            hint=f"export the data as CSV, or point [sources.{source}] path at the CSV file")
    if b"\x00" in first_line and not py_encoding.startswith(("utf-16", "utf-32")):
        # NULs between the letters of the header: UTF-16 without a byte-order mark.
        # (A NUL inside a data cell is kept: it is the customer's text, and renders harmlessly.)
        raise DataError(
            f"{path.name}: line 1: the header holds NUL bytes: the file looks like UTF-16 text without a byte-order mark",
            hint=f'add encoding = "utf-16-le" under [sources.{source}] in config.toml, or re-export as UTF-8 CSV',
        )
    try:
        text = raw.decode(py_encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 4 or len(raw) < 65536:
            line = _line_breaks(raw[: exc.start]) + 1
            raise DataError(
                f"{path.name}: line {line}: not valid {encoding} text ({exc.reason} at byte {exc.start})",
                hint=_encoding_hint(encoding, source),
            )
        text = raw[: exc.start].decode(py_encoding)  # a character cut by the 64 KiB window
    try:
        # newline="": \r\n and a lone \r end lines too (csv's documented way), as they do for Arrow
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except (StopIteration, csv.Error) as exc:
        raise DataError(f"{path.name}: line 1: cannot read the header row ({exc or 'no row'})",
                        hint="the first line should name the columns, separated by the delimiter")
    return header, text


def _delimiter_hint(header: list[str], delimiter: str, source: str) -> str | None:
    """When the header is one field holding another common delimiter, say which."""
    if len(header) != 1:
        return None
    for other, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
        if other != delimiter and header[0].count(other) >= 1:
            shown = "\\t" if other == "\t" else other
            extra = ' (and decimal = "," if numbers are written 9,5)' if other == ";" else ""
            return (f"the header is separated by {name}s, not {delimiter!r}: set delimiter = \"{shown}\"{extra} "
                    f"under [sources.{source}] in config.toml")
    return None


def map_columns(path: Path, header: list[str], wanted: dict[str, tuple[str, bool]],
                delimiter: str = ",", source: str = "<name>", header_line: int | None = 1) -> dict[str, str]:
    """Find each canonical column's header. ``wanted``: canonical -> (configured header, required).

    Exact matches win; otherwise a header equal up to case and spacing is used. A ``*`` in a
    configured name matches any text there, and must match exactly one header.
    Returns canonical -> header for the columns found. ``header_line``: the line that
    holds the names, for messages (None: the names come from elsewhere, e.g. JSON keys).
    """
    where = f"line {header_line}: " if header_line else ""
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
        if "*" in configured:  # a header that varies by export, e.g. "Conversation started at (*)"
            pattern = re.compile(".*".join(re.escape(part) for part in _normalise(configured).split("*")))
            near = [h for norm, hs in by_norm.items() if pattern.fullmatch(norm) for h in hs]
        else:
            near = by_norm.get(_normalise(configured), [])
        # A header mapped by name in config is taken exactly; a default name must not be ambiguous.
        mapped = configured != canonical
        candidates = [configured] if exact.get(configured) and (mapped or len(near) == 1) else near
        if candidates and exact.get(candidates[0], 0) > 1:
            raise DataError(
                f"{path.name}: {where}column {configured!r} appears more than once in the header; "
                "rename or remove the copies"
            )
        if len(candidates) > 1 and "*" in configured:
            raise DataError(f"{path.name}: {where}{configured!r} matches several headers: "
                            f"{', '.join(map(repr, candidates))}",
                            hint=f"map the one you mean by its full name under [sources.{source}.columns]")
        if len(candidates) > 1:
            raise DataError(
                f"{path.name}: {where}columns {', '.join(map(repr, candidates))} differ only by case or "
                f"spacing, so which is {canonical!r} is unclear",
                hint=f"rename one, or map the one you mean under [sources.{source}.columns]",
            )
        if candidates:
            found[canonical] = candidates[0]
        elif required:
            missing.append(_display(configured) if configured == canonical
                           else f"{_display(configured)} (for {canonical})")
    if missing:
        hint = _delimiter_hint(header, delimiter, source)
        if hint or _looks_like_names(header):
            found_text = f"found: {', '.join(map(_display, header[:_SHOWN_NAMES])) or '(none)'}"
            if len(header) > _SHOWN_NAMES:
                found_text += f" … ({len(header):,} columns)"
        else:
            # Not a header at all (a system file, a log, a report): its text is not repeated here.
            found_text = "line 1 is not a row of column names (not shown)"
            hint = hint or "check that the path names the CSV export: its first line names the columns"
        raise DataError(
            f"{path.name}: {where}required column{'s' if len(missing) > 1 else ''} missing: "
            f"{', '.join(missing)}; {found_text}",
            hint=hint or f"map your header names under [sources.{source}.columns] in config.toml",
        )
    taken: dict[str, str] = {}
    for canonical, header_name in found.items():
        if header_name in taken:  # one column cannot be two: its cells would be read twice over
            raise DataError(f"{path.name}: {where}column {_display(header_name)!r} is mapped to both "
                            f"{taken[header_name]} and {canonical}",
                            hint=f"map each of them to its own column under [sources.{source}.columns]")
        taken[header_name] = canonical
    return found


_SHOWN_NAMES = 30  # header names listed in "found: ..."


def _display(name: str) -> str:
    """A header name in a one-line message: as written, or quoted (and cut) when it holds
    a line break or other invisible character, or is very long."""
    if name.isprintable() and len(name) <= 64:
        return name
    return repr(name[:64]) + ("…" if len(name) > 64 else "")


def _looks_like_names(header: list[str]) -> bool:
    """Whether a header row is worth repeating in a message: several short printable names."""
    return len(header) > 1 and all(len(h) <= 64 and h.replace("\ufeff", "").isprintable() for h in header)


def _quiet_undecodable_rows() -> None:
    """Keep pyarrow's "Exception ignored ... Traceback" off the terminal when a ragged row
    holds bytes that are not UTF-8: pyarrow decodes the row for our handler, fails, prints
    the traceback and then fails the read. `read_csv` names the bad bytes' line instead.
    Only exceptions raised for our row handlers are kept quiet; pytest and others that
    replace the hook get it wrapped again on the next read."""
    current = sys.unraisablehook
    if getattr(current, "_cxtruth_rows", False):
        return

    def hook(unraisable) -> None:
        if getattr(unraisable.object, "_cxtruth_rows", False) and issubclass(unraisable.exc_type, UnicodeDecodeError):
            return
        current(unraisable)

    hook._cxtruth_rows = True
    sys.unraisablehook = hook


# Arrow's blocks: a row must fit in one. 16 MiB, as on the typed path; a longer row is
# read again with blocks this large before the file is refused.
_BLOCK = 16 << 20
_LARGEST_BLOCK = 256 << 20


def _read_arrow(path: Path, encoding: str, delimiter: str, headers: list[str],
                newlines_in_values: bool, threads: bool, block_size: int = _BLOCK):
    ragged: list = []

    def on_invalid(row) -> str:
        ragged.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    on_invalid._cxtruth_rows = True
    _quiet_undecodable_rows()
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding, use_threads=threads, block_size=block_size),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=newlines_in_values, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=headers,
            column_types={h: pa.large_string() for h in headers},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, ragged


@dataclass(frozen=True)
class _Layout:
    """What the first 64 KiB of a CSV export decide about reading it."""

    found: dict[str, str]  # canonical -> header
    read_headers: list[str]
    arrow_encoding: str
    column_types: dict[str, pa.DataType] | None  # by header; None: text only
    date_patterns: tuple[str, ...] = ()  # strptime patterns the typed read tries before ISO 8601


def _layout(path: Path, encoding: str, delimiter: str, wanted: dict[str, tuple[str, bool]],
            source: str, types: TypeChooser | None, date_patterns: tuple[str, ...] = ()) -> _Layout:
    header, sample = read_header(path, encoding, delimiter, source)
    found = map_columns(path, header, wanted, delimiter, source)
    headers = list(found.values())
    # The last column is always read: an unclosed quote there swallows the rest of
    # the file into one cell, and only that cell can show it (see _unclosed_quote).
    last = header[-1] if header and header.count(header[-1]) == 1 else None
    read_headers = headers + ([last] if last and last not in headers else [])
    arrow_encoding = "utf8" if codecs.lookup(encoding).name == "utf-8" else encoding
    chosen = types(found, _sample_rows(sample, delimiter, header)) if types else None
    column_types = {found[c]: t for c, t in chosen.items()} if chosen else None
    return _Layout(found, read_headers, arrow_encoding, column_types, tuple(date_patterns))


def read_csv(path: Path, *, encoding: str, delimiter: str, wanted: dict[str, tuple[str, bool]],
             newlines_in_values: bool = True, source: str = "<name>",
             types: TypeChooser | None = None, date_patterns: tuple[str, ...] = ()) -> RawTable:
    """Read ``path`` keeping only the wanted columns, every cell as text.

    With ``types`` (canonical name -> Arrow type, given the file's header and a
    sample of its rows) Arrow first parses the columns to those types in its
    threaded reader; a file where any cell does not parse, or any row is
    ragged, is read again as text so each bad cell can be named.
    """
    layout = _layout(path, encoding, delimiter, wanted, source, types, date_patterns)
    found, read_headers, arrow_encoding = layout.found, layout.read_headers, layout.arrow_encoding
    if layout.column_types:
        typed = _read_typed(path, arrow_encoding, delimiter, read_headers, newlines_in_values,
                            layout.column_types, layout.date_patterns)
        if typed is not None and typed.num_rows:
            lines = ConsecutiveLines(2, typed.num_rows)
            _refuse_unclosed_quote(path, typed, lines, [], encoding, delimiter)
            typed = typed.rename_columns([_canonical(found, name) for name in typed.column_names])
            return RawTable(None, lines, found, [], typed=typed)
    block_size = _BLOCK
    while True:
        try:
            table, ragged = _read_text(path, arrow_encoding, delimiter, read_headers, newlines_in_values,
                                       block_size)
            break
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if "straddl" in message and block_size < _LARGEST_BLOCK:
                block_size = _LARGEST_BLOCK  # one row longer than a block: a huge cell, or an unclosed quote
                continue
            _refuse_unreadable(path, encoding, delimiter, message, source)
        except (UnicodeDecodeError, ValueError, LookupError) as exc:  # a codec other than UTF-8 met bad bytes
            _refuse_unreadable(path, encoding, delimiter, str(exc), source)
        except OSError as exc:
            raise DataError(f"{path.name}: cannot be read: {exc.strerror or exc}")

    total = table.num_rows + len(ragged)
    ragged_lines = np.array([r[0] for r in ragged if r[0] is not None], dtype=np.int64)
    lines = np.setdiff1d(np.arange(2, total + 2, dtype=np.int64), ragged_lines, assume_unique=True)
    lines = lines[: table.num_rows]
    _refuse_unclosed_quote(path, table, lines, ragged, encoding, delimiter)
    import pandas as pd

    import pyarrow.compute as pc  # here, not at the top: decision 37

    # A row of delimiters only is no row (the line-by-line reader skips it too): set aside, counted.
    blank = None
    for column in table.columns:
        empty = pc.equal(pc.utf8_trim_whitespace(column), "")
        blank = empty if blank is None else pc.and_(blank, empty)
    blank_rows = 0 if blank is None else int(pc.sum(blank).as_py() or 0)
    if blank_rows:
        keep = pc.invert(blank)
        table, lines = table.filter(keep), lines[keep.to_numpy(zero_copy_only=False)]
    frame = pd.DataFrame({canonical: table.column(h).to_pandas() for canonical, h in found.items()})
    frame.index = pd.RangeIndex(len(frame))
    return RawTable(frame, lines, found, ragged, blank_rows=blank_rows)


def _read_text(path: Path, encoding: str, delimiter: str, headers: list[str], newlines_in_values: bool,
               block_size: int):
    table, ragged = _read_arrow(path, encoding, delimiter, headers, newlines_in_values, True, block_size)
    if ragged and not newlines_in_values:
        # A quoted newline looks like a broken row to the fast parser: read properly.
        table, ragged = _read_arrow(path, encoding, delimiter, headers, True, True, block_size)
    if ragged:
        # Row numbers are only known single-threaded; this is the rare path.
        table, ragged = _read_arrow(path, encoding, delimiter, headers, True, False, block_size)
    return table, ragged


def _encoding_hint(encoding: str, source: str) -> str:
    if codecs.lookup(encoding).name == "utf-8":
        return 'set encoding under the source in config.toml, e.g. encoding = "cp1252"'
    # Already set, and wrong: suggesting cp1252 again would not help.
    return (f"the file is not {encoding} text: set encoding under [sources.{source}] to the one it was "
            'exported in (e.g. "utf-8", "cp1252", "utf-16"), or re-export it')


def _refuse_unreadable(path: Path, encoding: str, delimiter: str, message: str, source: str = "<name>") -> NoReturn:
    """The DataError for a file Arrow could not read as text: bad bytes first (they are
    the usual cause, and Arrow blames what follows from them), then a row too long for
    a block, then Arrow's reason without the row text it quotes."""
    line = _first_undecodable_line(path, encoding)
    if line or "invalid UTF8" in message:
        raise DataError(
            f"{path.name}: {f'line {line}: ' if line else ''}not valid {encoding} text",
            hint=_encoding_hint(encoding, source),
        )
    if "straddl" in message:
        if not _quotes_balanced(path, encoding, delimiter):
            raise DataError(f"{path.name}: a quoted value is never closed, so the rest of the file would be "
                            "read into one cell (expected a closing \" before the end of the file)",
                            hint="fix the quote in the export (a quote inside a value is written as two: \"\")")
        raise DataError(f"{path.name}: a row is longer than {_LARGEST_BLOCK >> 20} MiB: not a table cxtruth reads")
    reason = re.sub(r"(got \d+)\b.*", r"\1", _first_line(message, limit=10_000))  # no row text
    raise DataError(f"{path.name}: cannot be read as a CSV table: {reason[:160]}")


# Text that means "no value" is only the empty cell: "NA" or "null" may be a customer's word.
_NULLS = [""]
_TRUE_WORDS = ["true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "1"]
_FALSE_WORDS = ["false", "False", "FALSE", "no", "No", "NO", "n", "N", "0"]


def _canonical(found: dict[str, str], header: str) -> str:
    for canonical, name in found.items():
        if name == header:
            return canonical
    return "__last_column__"  # read only for the unclosed-quote check


def _sample_rows(sample: str, delimiter: str, header: list[str]) -> dict[str, list[str]]:
    """Up to 200 complete rows of the first 64 KiB, by header: what the type chooser looks at."""
    try:
        rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))[1:-1][:200]
    except csv.Error:  # e.g. a NUL or a huge cell in the sample: the sample only guides the types
        rows = []
    return {name: [row[i] for row in rows if len(row) > i] for i, name in enumerate(header)}


def _read_typed(path: Path, encoding: str, delimiter: str, headers: list[str], newlines_in_values: bool,
                types: dict[str, pa.DataType], date_patterns: tuple[str, ...] = ()) -> pa.Table | None:
    """The columns parsed to ``types`` by Arrow, or None if any cell or row does not fit. With
    ``date_patterns``, the date columns are read as text and parsed by `_parse_dates`."""
    dated = {h: t for h, t in types.items() if pa.types.is_timestamp(t)} if date_patterns else {}
    types = {**types, **{h: pa.large_string() for h in dated}}
    try:
        table = pacsv.read_csv(
            path,
            # 16 MiB blocks, not 1 MiB: fewer, larger chunks for every later step (measured).
            read_options=pacsv.ReadOptions(encoding=encoding, use_threads=True, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines_in_values),
            convert_options=pacsv.ConvertOptions(
                include_columns=headers,
                # large_string: the layout pandas keeps text in, so handing columns over copies nothing
                column_types={h: types.get(h, pa.large_string()) for h in headers},
                null_values=_NULLS, true_values=_TRUE_WORDS, false_values=_FALSE_WORDS,
                strings_can_be_null=True, quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, LookupError, OSError):
        return None  # the text path reads it again and says why
    if dated:
        return _parse_dates(table, dated, date_patterns)
    return table


def _parse_dates(table: pa.Table, dated: dict[str, pa.DataType], patterns: tuple[str, ...]) -> pa.Table | None:
    """The date columns a pattern reads, read as text and parsed here (`dates.parse_typed_column`):
    Arrow's CSV timestamp parsers would roll "31/09/2026" over to October 1 unseen."""
    from .dates import parse_typed_column

    for header, target in dated.items():
        parsed = parse_typed_column(table.column(header), patterns, target)
        if parsed is None:
            return None
        table = table.set_column(table.column_names.index(header), header, parsed)
    return table


def _first_undecodable_line(path: Path, encoding: str) -> int | None:
    """The physical line of the first byte that is not valid ``encoding`` (error path only)."""
    decoder = codecs.getincrementaldecoder(_python_encoding(encoding))()
    line, cr_before = 1, False
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            line -= cr_before and block.startswith(b"\n")  # a \r\n cut by the block boundary is one line end
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return line + _line_breaks(block[: exc.start])
            line += _line_breaks(block)
            cr_before = block.endswith(b"\r")
    try:
        decoder.decode(b"", final=True)  # a character cut off by the end of the file
    except UnicodeDecodeError:
        return line
    return None


def _refuse_unclosed_quote(path: Path, table: pa.Table, lines: np.ndarray | ConsecutiveLines, ragged: list,
                           encoding: str, delimiter: str) -> None:
    """An opening quote never closed makes the parser read the rest of the file
    into one cell of the last row: rows vanish without a trace. Refuse the file."""
    last_ragged = ragged[-1] if ragged else None
    if last_ragged and _breaks_line(last_ragged[1]) and (not len(lines) or last_ragged[0] > lines[-1]):
        line, column = last_ragged[0], None
    elif table.num_rows:
        last_row = {name: table.column(name)[table.num_rows - 1].as_py() for name in table.column_names}
        suspects = [name for name, value in last_row.items() if isinstance(value, str) and _breaks_line(value)]
        if not suspects:
            return
        line, column = int(lines[-1]), suspects[0]
    else:
        return
    if _quotes_balanced(path, encoding, delimiter):
        return  # the last row just holds a quoted line break
    where = f"line {line}" + (f", column {column!r}" if column else "")
    raise DataError(
        f"{path.name}: {where}: a quoted value is never closed, so every line after it would be "
        "read into this one cell (expected a closing \" before the end of the file)",
        hint="fix the quote in the export (a quote inside a value is written as two: \"\")",
    )


def _breaks_line(text: str) -> bool:
    return "\n" in text or "\r" in text  # a lone \r ends a line too (old Mac exports)


def _quotes_balanced(path: Path, encoding: str, delimiter: str) -> bool:
    """Whether Python's strict CSV reader reaches the end of the file outside a quote.

    Only called when the last row holds a line break, so its cost is rare.
    """
    csv.field_size_limit(2**31 - 1)
    with path.open(encoding=_python_encoding(encoding), newline="") as handle:
        try:
            for _ in csv.reader(handle, delimiter=delimiter, strict=True):
                pass
        except csv.Error:
            return False
    return True


# -- Parquet ---------------------------------------------------------------------

def read_parquet(path: Path, *, wanted: dict[str, tuple[str, bool]], source: str = "<name>",
                 typed: Callable[[pa.Table], pa.Table | None] | None = None) -> RawTable:
    """Read the wanted columns of a Parquet file (the way to feed very large exports).

    Columns are matched by name exactly as in a CSV header. With ``typed``, the
    columns are converted to cxtruth's types straight from Parquet's own (no
    text parsing at all); otherwise every cell becomes text for the validator,
    which names each bad cell. Lines are numbered as if the file were a CSV
    export with a header row (the first row is line 2).
    """
    import pyarrow.parquet as pq

    # A damaged file fails in Arrow's reader (ArrowInvalid, OSError; a column name that is not
    # UTF-8, UnicodeDecodeError); a column of lists or structs, where a value is expected, in
    # the conversions (ArrowNotImplementedError, ArrowTypeError). Each is one line naming the file.
    unreadable = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError, UnicodeDecodeError)
    try:
        names = pq.read_schema(path).names
        found = map_columns(path, names, wanted, source=source)
        table = pq.read_table(path, columns=list(found.values()), use_threads=True)
    except unreadable as exc:
        raise DataError(f"{path.name}: cannot be read as a Parquet file: {_first_line(str(exc))}")
    table = table.rename_columns(list(found))
    nested = [name for name in table.column_names if pa.types.is_nested(table.schema.field(name).type)]
    if nested:
        raise DataError(f"{path.name}: column {found[nested[0]]!r} holds {table.schema.field(nested[0]).type}, "
                        "not plain values", hint="write the column as text, numbers, dates or booleans")
    lines = ConsecutiveLines(2, table.num_rows)
    try:
        if typed is not None:
            converted = typed(table)
            if converted is not None and converted.num_rows:
                return RawTable(None, lines, found, [], typed=converted)
        import pandas as pd

        frame = pd.DataFrame({name: _as_text(table.column(name)).to_pandas() for name in table.column_names})
    except unreadable as exc:
        raise DataError(f"{path.name}: a column cannot be read as values: {_first_line(str(exc))}")
    frame.index = pd.RangeIndex(len(frame))
    return RawTable(frame, lines, found, [])


def parquet_cells(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Every column of a Parquet file as the text a CSV export would hold, row by row, for the
    line-by-line reader (a `where`, `skip_blank` or `compute` reads columns it may not map):
    (column names, rows, lines numbered as `read_parquet` numbers them)."""
    import pyarrow.parquet as pq

    unreadable = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError, UnicodeDecodeError)
    try:
        table = pq.read_table(path, use_threads=True)
        nested = [f.name for f in table.schema if pa.types.is_nested(f.type)]
        columns = [_as_text(table.column(name)).to_pylist() for name in table.column_names if name not in nested]
    except unreadable as exc:
        raise DataError(f"{path.name}: cannot be read as a Parquet file: {_first_line(str(exc))}")
    names = [name for name in table.column_names if name not in nested]
    return names, [list(row) for row in zip(*columns)], list(range(2, table.num_rows + 2))


def _first_line(message: str, limit: int = 160) -> str:
    """A library's error message cut to its first line: Arrow's continue with internals."""
    lines = message.strip().splitlines()
    line = (lines[0] if lines else "no reason given")[:limit]
    return "".join(ch if ch.isprintable() else "?" for ch in line)  # no control bytes to the terminal


def _as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Any Parquet column as the text a CSV export would hold ('' for null)."""
    import pyarrow.compute as pc  # here: importing it (40 ms) would delay the first read (decision 37)

    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        values = pc.strftime(values, format="%Y-%m-%dT%H:%M:%S%z")
    elif pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        values = pc.strftime(values.cast(pa.timestamp("ns")), format="%Y-%m-%dT%H:%M:%S")
    elif pa.types.is_boolean(values.type):
        values = pc.if_else(values, "true", "false")
    elif pa.types.is_floating(values.type):
        values = pc.cast(values, pa.large_string())
    return pc.fill_null(values.cast(pa.large_string()), "")
