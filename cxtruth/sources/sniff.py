"""`cxtruth init`: recognise a folder of exports and draft the config.toml that reads them.

For each file: what it is (CSV text, workbook, JSON lines), how it is written
(encoding, delimiter, decimal mark, header rows, date format), which source
it feeds (a preset's signature first, then the contract's column names and
the names tools commonly use for them), and which header is which canonical
column. Nothing is guessed where a wrong guess would change a number: a
date that reads both day-first and month-first is left for the user to
decide, with a comment saying so, and so are owners and targets.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import CxtruthError
from ..schema import SOURCES, source_spec
from .jsonlines import is_json_lines, read_objects
from .layout import TableLayout, join_names, lay_out
from .presets import PRESETS, Preset
from .reader import _normalise
from .workbook import WORKBOOK_SUFFIXES, read_lines, sniff as sniff_kind

SAMPLE_BYTES = 256 * 1024
SAMPLE_ROWS = 500

# Header names tools commonly give the contract's columns (compared after _normalise).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "nps": {
        "response_id": ("response id", "responseid", "respondent id", "response_id", "id", "#"),
        "responded_at": ("responded at", "submitted", "submitted at", "recorded date", "end date", "response date",
                         "created at", "date", "timestamp", "submit date (utc)"),
        "score": ("score", "nps", "nps score", "rating", "likelihood to recommend"),
        "comment": ("comment", "comments", "reason", "feedback", "verbatim"),
        "account_id": ("account", "account id", "company", "company id", "customer id", "customer"),
        "segment": ("segment", "plan", "tier", "customer segment"),
    },
    "accounts": {
        "account_id": ("account id", "account", "customer id", "company id", "record id", "id"),
        "segment": ("segment", "customer segment", "plan", "tier"),
        "start_date": ("start date", "customer since", "became a customer date", "contract start", "start",
                       "created"),
        "churn_date": ("churn date", "churned at", "churned on", "ended at", "cancellation date", "end date"),
        "mrr": ("mrr", "monthly recurring revenue", "mrr (usd)", "mrr (eur)", "mrr (gbp)"),
    },
    "adoption": {
        "account_id": ("account id", "account", "company id", "org id", "customer id"),
        "feature": ("feature", "event", "event name", "event type", "event_type"),
        "used_at": ("used at", "timestamp", "time", "event time", "occurred at", "event_time"),
    },
    "feedback": {
        "feedback_id": ("feedback id", "ticket id", "issue key", "conversation id", "id"),
        "account_id": ("account id", "account", "organization", "company", "company id"),
        "received_at": ("received at", "created at", "created", "created time", "opened at"),
        "closed_at": ("closed at", "solved at", "resolved", "resolved at", "resolved time", "closed"),
        "channel": ("channel", "source", "via"),
    },
    "handoffs": {
        "handoff_id": ("handoff id", "id"),
        "closed_won_at": ("closed won at", "close date", "closed won date"),
        "handoff_at": ("handoff at", "handoff date"),
    },
}

# Patterns tried on a date column that is not ISO 8601: the first of a group that reads
# every sample wins; day-first against month-first is never decided by the data alone.
DATE_CANDIDATES = (
    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p",
    "%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d",
    "%d-%m-%Y", "%d %b %Y", "%b %d, %Y", "%Y-%m-%d %H:%M:%S UTC",
)


@dataclass
class Recognised:
    path: Path
    source: str
    preset: Preset | None
    settings: dict  # [sources.<name>] keys other than columns and path
    columns: dict[str, str]  # canonical -> header
    missing_optional: list[str]
    notes: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # headers left unmapped


@dataclass
class _Sample:
    names: list[str]
    rows: list[dict[str, str]]
    settings: dict


def _text_sample(path: Path) -> tuple[str, dict]:
    raw = path.read_bytes()[:SAMPLE_BYTES]
    settings: dict = {}
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        settings["encoding"] = "utf-16"
        text = raw.decode("utf-16", errors="ignore")
    elif b"\x00" in raw[:200]:
        settings["encoding"] = "utf-16-le"
        text = raw.decode("utf-16-le", errors="ignore")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if exc.start < len(raw) - 4:  # not just a character cut by the sample's end
                settings["encoding"] = "cp1252"
                text = raw.decode("cp1252", errors="replace")
            else:
                text = raw[:exc.start].decode("utf-8-sig")
    if len(raw) == SAMPLE_BYTES:
        text = text[:text.rfind("\n") + 1]
    return text, settings


def _delimiter(text: str) -> str:
    first = [line for line in text.splitlines()[:20] if line.strip()]
    best, best_score = ",", -1
    for candidate in (",", ";", "\t", "|"):
        counts = [len(next(csv.reader([line], delimiter=candidate))) for line in first[:10]]
        if not counts:
            continue
        score = min(counts) if len(set(counts[1:])) <= 1 else max(counts) // 2
        if score > best_score and max(counts) > 1:
            best, best_score = candidate, score
    return best


def _csv_lines(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(physical line, cells) for the sample's records; a record spanning lines keeps its first line."""
    out, line = [], 1
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            out.append((line, cells))
            line = reader.line_num + 1
    except csv.Error:
        pass
    return out


def _header_layout(lines: list[tuple[int, list[str]]]) -> TableLayout:
    """The line of names: the first whose filled cells are at least half the widest line's."""
    widest = max((sum(1 for c in cells if c.strip()) for _, cells in lines[:50]), default=0)
    for number, cells in lines[:50]:
        if sum(1 for c in cells if c.strip()) >= max(2, widest // 2):
            return TableLayout(header_row=number)
    return TableLayout()


def _match_preset(names: list[str], second: list[str] | None) -> Preset | None:
    normal = {_normalise(n) for n in names}
    joined = {_normalise(n) for n in join_names([names, second])[0]} if second else set()
    for preset in PRESETS.values():
        wanted = {_normalise(s) for s in preset.signature}
        if wanted <= normal or (joined and wanted <= joined):
            return preset
    return None


def _sample(path: Path) -> _Sample | None:
    if is_json_lines(path):
        names, rows, _ = read_objects(path)
        return _Sample(names, rows[:SAMPLE_ROWS], {})
    kind = sniff_kind(path)
    if kind == "workbook" or path.suffix.lower() in WORKBOOK_SUFFIXES:
        lines = read_lines(path, None, "init")[: SAMPLE_ROWS + 50]
        settings: dict = {}
    elif kind == "text":
        text, settings = _text_sample(path)
        delimiter = _delimiter(text)
        if delimiter != ",":
            settings["delimiter"] = delimiter
        lines = _csv_lines(text, delimiter)
    else:
        return None
    if not lines:
        return None
    layout = _header_layout(lines)
    first = next(cells for number, cells in lines if number == layout.header_row)
    following = [cells for number, cells in lines if number > layout.header_row][:1]
    preset = _match_preset(first, following[0] if following else None)
    if preset is not None:
        for key in ("header_row", "header_rows", "skip_rows"):
            if key in preset.settings:
                layout = TableLayout(**{**layout.__dict__, key: preset.settings[key]})
    if layout.header_row != 1:
        settings["header_row"] = layout.header_row
    laid = lay_out(lines, layout)
    if laid is None:
        return None
    rows = [dict(zip(laid.names, cells)) for cells in laid.rows[:SAMPLE_ROWS]]
    return _Sample(laid.names, rows, settings)


def recognise(path: Path, taken: set[str] = frozenset(), also: dict[Path, str] | None = None) -> Recognised | None:
    """What ``path`` is and how to read it, or None when it matches no source. ``also``: where
    to note a file that fits a source in ``taken`` (another file feeds it)."""
    sample = _sample(path)
    if sample is None:
        return None
    names = sample.names
    normal = {}
    for name in names:
        normal.setdefault(_normalise(name), name)
    preset = _match_preset(names, None)
    best = None
    for source in SOURCES:
        spec = source_spec(source)
        columns: dict[str, str] = {}
        if preset is not None and preset.source == source:
            columns.update({c: h for c, h in preset.columns.items() if _find(h, names)})
        for column in spec.columns:
            if column.name in columns:
                continue
            for candidate in (column.name, *SYNONYMS.get(source, {}).get(column.name, ())):
                header = normal.get(_normalise(candidate))
                if header is not None and header not in columns.values():
                    columns[column.name] = header
                    break
        required = [c.name for c in spec.columns if c.required]
        if preset is not None and preset.source == source:
            required = [c for c in required if c not in preset.must_map]
        if not all(c in columns for c in required):
            continue
        score = (preset is not None and preset.source == source, path.stem.lower() == source, len(columns))
        if source in taken:
            score = (False, False, -1)
            if also is not None:
                also[path] = source
        if best is None or score > best[0]:
            best = (score, source, columns)
    if best is None or best[0][2] < 0:
        return None
    _, source, columns = best
    spec = source_spec(source)
    use_preset = preset if preset is not None and preset.source == source else None
    settings = dict(sample.settings)
    notes = []
    if use_preset:
        settings.pop("header_row", None)  # the preset's own
        for canonical, what in use_preset.must_map.items():
            if canonical in columns:
                continue
            picked = _likely_column(canonical, names, sample.rows, set(columns.values()))
            if picked:
                columns[canonical] = picked
                notes.append(f"check {canonical} = {picked!r}: picked as {_LIKELY[canonical][2]}; the preset "
                             f"asks for {what}")
            else:
                notes.append(f"map {canonical}: {what}")
        if use_preset.note:
            notes.append(use_preset.note)
    dates = [c.name for c in spec.columns if c.kind in ("date", "datetime") and c.name in columns]
    if not (use_preset and "date_format" in use_preset.settings):
        fmt, note = sniff_date_format([row.get(columns[c], "") for row in sample.rows for c in dates])
        if fmt:
            settings["date_format"] = fmt
        if note:
            notes.append(note)
    numbers = [c.name for c in spec.columns if c.kind in ("number", "int") and c.name in columns]
    cells = [row.get(columns[c], "").strip() for row in sample.rows for c in numbers]
    cells = [c for c in cells if c]
    if cells and sum(bool(re.fullmatch(r"-?\d+,\d{1,2}", c)) for c in cells) > len(cells) / 2:
        settings["decimal"] = ","
    missing = [c.name for c in spec.columns if not c.required and c.name not in columns]
    unmapped = [n for n in names if n not in columns.values()]
    return Recognised(path, source, use_preset, settings, columns, missing, notes, unmapped)


# What a column the preset cannot know usually looks like: (header words, values, in words).
_LIKELY = {
    "score": (r"recommend|likely|nps|score|^q\d+$", r"\d{1,2}(\.0)?", "the column of whole numbers 0-10 "
              "whose header reads like the NPS question"),
    "account_id": (r"company|account|org|customer|group", r".+", "the property whose name says account"),
}


def _likely_column(canonical: str, names: list[str], rows: list[dict[str, str]], taken: set[str]) -> str | None:
    if canonical not in _LIKELY:
        return None
    words, values, _ = _LIKELY[canonical]
    for name in names:
        if name in taken or not re.search(words, name, re.IGNORECASE) or re.search(r"distinct|anon", name, re.I):
            continue
        cells = [row.get(name, "").strip() for row in rows]
        cells = [c for c in cells if c]
        if not cells or not all(re.fullmatch(values, c) for c in cells):
            continue
        if canonical == "score" and not all(0 <= float(c) <= 10 for c in cells):
            continue
        return name
    return None


def _find(header: str, names: list[str]) -> bool:
    if "*" in header:
        pattern = re.compile(".*".join(re.escape(p) for p in _normalise(header).split("*")))
        return any(pattern.fullmatch(_normalise(n)) for n in names)
    return _normalise(header) in {_normalise(n) for n in names}


def sniff_date_format(cells: list[str]) -> tuple[str | list[str] | None, str | None]:
    """A date_format that reads every sample cell, or None (ISO 8601, or undecided: the note says why)."""
    cells = [c.strip() for c in cells if c and c.strip()][:SAMPLE_ROWS]
    if not cells:
        return None, None
    values = pd.Series(cells, dtype=object)
    if pd.to_datetime(values, format="ISO8601", errors="coerce", utc=True).notna().all():
        return None, None
    if values.str.fullmatch(r"\d{10}(\.\d+)?").all():
        return "epoch", None
    if values.str.fullmatch(r"\d{13}").all():
        return "epoch_ms", None
    fits = [p for p in DATE_CANDIDATES
            if pd.to_datetime(values, format=p, errors="coerce").notna().all()]
    day_first = [p for p in fits if p.startswith("%d/%m") or p.startswith("%d.%m")]
    month_first = [p for p in fits if p.startswith("%m/%d")]
    if day_first and month_first:
        return None, (f"dates such as {cells[0]!r} read both day-first and month-first: set date_format to "
                      f"'{day_first[0]}' or '{month_first[0]}' (cxtruth never guesses)")
    if fits:
        return fits[0], None
    return None, f"dates such as {cells[0]!r} match no known pattern: set date_format (docs/sources.md)"


def printable(text: str) -> str:
    """A file or column name as one printable line: a name may hold a line break, and written
    raw into the draft's comments it would start a line of TOML of its own (an [email] table
    addressed to anyone), or move the terminal's cursor."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _toml(value) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def draft_config(folder: Path, config_dir: Path) -> tuple[str, list[Recognised], list[Path]]:
    """The commented config.toml text for the exports in ``folder``, what was recognised and what not."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".gz", ".zip",
                                            *WORKBOOK_SUFFIXES))
    # Files named after a source first, so nps.csv is nps even if another file also looks like it.
    files.sort(key=lambda p: (p.stem.lower() not in SOURCES, p.name))
    recognised, unknown, taken, also = [], [], set(), {}
    for path in files:
        try:
            found = recognise(path, taken, also)
        except (CxtruthError, OSError, ValueError, UnicodeError, csv.Error):
            found = None  # one unreadable file must not stop the draft: it is listed as not recognised
        if found is None:
            unknown.append(path)
        else:
            recognised.append(found)
            taken.add(found.source)
    return _render(folder, config_dir, recognised, unknown, also), recognised, unknown


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def _render(folder: Path, config_dir: Path, recognised: list[Recognised], unknown: list[Path],
            also: dict[Path, str]) -> str:
    out = [
        "# config.toml drafted by `cxtruth init` from the exports in "
        f"{_relative(folder, config_dir)}/.",
        "# Every key: docs/configuration.md. Lines marked DECIDE need you; `cxtruth validate` checks the rest.",
        "",
        "[report]",
        'title = "Monthly CX Truth Session"',
        'company = "Your company"        # DECIDE: your company name',
        'timezone = "UTC"                # DECIDE: the zone months are counted in (an IANA name, e.g. "Europe/Berlin")',
        'output_dir = "reports"',
        "",
        "[data]",
        f"dir = {_toml(_relative(folder, config_dir))}",
    ]
    if unknown:
        out += ["", "# Not recognised (map them by hand if they are exports):"]
        out += [f"#   {p.name}: " + (f"also looks like {also[p]}, which another file feeds (one file a source)"
                                     if p in also else "no source's required columns found") for p in unknown]
    for found in recognised:
        head = [f"[sources.{found.source}]"]
        if found.path.name != f"{found.source}.csv":
            head.append(f"path = {_toml(_relative(found.path, config_dir))}")
        if found.preset:
            head.append(f"preset = {_toml(found.preset.name)}    # {found.preset.tool}: {found.preset.where_in_tool}")
        head += [f"{key} = {_toml(value)}" for key, value in found.settings.items()]
        head += [f"# DECIDE: {note}" for note in found.notes]
        preset_columns = found.preset.columns if found.preset else {}
        mapping = []
        for canonical, header in found.columns.items():
            if preset_columns.get(canonical) == header:
                mapping.append(f"# {canonical} = {_toml(header)}    (the preset's)")
            elif header != canonical:  # a header that is the canonical name needs no mapping
                mapping.append(f"{canonical} = {_toml(header)}")
        mapping += [f'# {canonical} = "?"    # optional, not in the export: docs/sources.md says what that changes'
                    for canonical in found.missing_optional]
        if found.unmapped:
            shown = ", ".join(found.unmapped[:12]) + (" ..." if len(found.unmapped) > 12 else "")
            mapping.append(f"# not read: {shown}")
        out += ["", f"# {found.path.name}: {found.source}"]
        if len(head) > 1 or any(not line.startswith("#") for line in mapping):
            out += head
            out += [f"[sources.{found.source}.columns]", *mapping] if mapping else []
        else:
            out += [f"#   read as it is; {line[2:]}" if line.startswith("# ") else line for line in mapping]
    out += ["", "# Owners, targets and warning lines are the catalogue's until you set them, e.g.:",
            "# [metrics.nps]", '# owner = "CX Leadership"    # DECIDE', "# target = 40                # DECIDE",
            "# warn = 25", '# direction = "higher"', ""]
    # each entry is one line: names from the exports (files, headers) cannot add lines
    return "\n".join(printable(line) for line in out)
