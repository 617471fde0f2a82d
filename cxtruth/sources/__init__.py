"""Source adapters: CSV exports in, validated canonical frames out.

`load_sources(config)` reads every source named in DATA_CONTRACT.md §2. Each
row that breaks a rule is left out and named (file, line, column, value,
reason); a file that cannot be read as a table raises `DataError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import METRICS
from ..config import Config, SourceConfig
from ..errors import DataError
from ..schema import ACTION_STATUSES, SOURCES, Column, SourceSpec, source_spec
from .parse import parse_booleans, parse_datetimes, parse_integers, parse_numbers
from .reader import read_csv

ISSUE_COLUMNS = ["file", "line", "column", "value", "reason"]
_VALUE_CAP = 120  # characters of a bad cell kept in a report


@dataclass
class SourceResult:
    """One source after reading: the accepted rows and what was left out."""

    name: str
    path: Path
    status: str  # "read" or "absent"
    frame: pd.DataFrame | None = None
    rows_read: int = 0
    issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))
    rejected: int = 0
    note: str | None = None

    @property
    def accepted(self) -> int:
        return 0 if self.frame is None else len(self.frame)

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        column = SOURCES[self.name].time_column
        if self.frame is None or not len(self.frame) or column is None:
            return None
        values = self.frame[column]
        return values.min(), values.max()


@dataclass
class Sources:
    results: dict[str, SourceResult]

    def frame(self, name: str) -> pd.DataFrame | None:
        return self.results[name].frame

    @property
    def issues(self) -> pd.DataFrame:
        frames = [r.issues for r in self.results.values() if len(r.issues)]
        if not frames:
            return pd.DataFrame(columns=ISSUE_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    @property
    def rejected_rows(self) -> int:
        return sum(r.rejected for r in self.results.values())


def load_sources(config: Config) -> Sources:
    """Read and validate every source; raises DataError for an unreadable file."""
    return Sources({name: read_source(name, config) for name in SOURCES})


def read_source(name: str, config: Config) -> SourceResult:
    source_config: SourceConfig = getattr(config.sources, name)
    checklist = getattr(source_config, "checklist", ())
    spec = source_spec(name, checklist) if name == "handoffs" else SOURCES[name]
    path, user_set = config.source_path(name)
    if not path.is_file():
        if user_set or path.exists():
            raise DataError(f"sources.{name}.path: file not found: {path}")
        note = None if spec.optional else f"{path.name} not found in {path.parent}: its metrics show no data"
        return SourceResult(name, path, "absent", note=note)

    wanted = {c.name: (source_config.columns.get(c.name, c.name), c.required) for c in spec.columns}
    raw = read_csv(
        path,
        encoding=source_config.encoding,
        delimiter=source_config.delimiter,
        wanted=wanted,
        # Usage events rarely hold free text; the reader retries properly if they do.
        newlines_in_values=name != "adoption",
    )
    validator = _Validator(spec, path.name, raw.lines, raw.headers)
    for line, text, expected, found in raw.ragged:
        validator.add_issue_rows(np.array([line or 0]), "", _cap(text),
                                 f"row has {found} fields, expected {expected}", count=True)
    frame = validator.validate(raw.frame, source_config, config)
    return SourceResult(
        name, path, "read", frame=frame, rows_read=len(raw.frame) + len(raw.ragged),
        issues=validator.issues(), rejected=validator.rejected_count,
    )


def _cap(text: str) -> str:
    text = str(text)
    return text if len(text) <= _VALUE_CAP else text[:_VALUE_CAP] + "…"


class _Validator:
    """Collects rejected cells of one file, vectorised per column."""

    def __init__(self, spec: SourceSpec, file: str, lines: np.ndarray, headers: dict[str, str]):
        self.spec, self.file, self.lines, self.headers = spec, file, lines, headers
        self._parts: list[pd.DataFrame] = []
        self.rejected_count = 0

    def add_issue_rows(self, lines: np.ndarray, column: str, values, reason, count: bool = False):
        if not len(lines):
            return
        self._parts.append(pd.DataFrame({
            "file": self.file, "line": lines.astype(np.int64), "column": column,
            "value": values, "reason": reason,
        }))
        if count:
            self.rejected_count += len(lines)

    def issues(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=ISSUE_COLUMNS)
        return pd.concat(self._parts, ignore_index=True).sort_values("line", kind="stable", ignore_index=True)

    def _flag(self, bad: pd.Series, frame: pd.DataFrame, column: str, reason: str) -> None:
        if bad.any():
            values = frame.loc[bad, column].map(_cap) if column in frame else ""
            self.add_issue_rows(self.lines[bad.to_numpy()], column, values, reason)

    def validate(self, text: pd.DataFrame, source: SourceConfig, config: Config) -> pd.DataFrame:
        tz = config.report.timezone
        out = pd.DataFrame(index=text.index)
        rejected = pd.Series(False, index=text.index)
        for column in self.spec.columns:
            if column.name not in text:
                out[column.name] = _empty(column)
                continue
            raw = text[column.name]
            # Free text is kept exactly as written; everything else is trimmed.
            cell = raw if column.multiline else raw.str.strip()
            blank = cell.str.strip() == ""
            if not column.nullable:
                self._flag(blank, text, column.name, f"{column.name} is required but blank")
                rejected |= blank
            value, bad = _convert(column, cell, blank, source, tz)
            self._flag(bad, text, column.name, _expectation(column, source))
            rejected |= bad
            out[column.name] = value

        rejected |= self._row_rules(out, text, rejected, config)
        self.rejected_count += int(rejected.sum())
        kept = out[~rejected]
        kept_lines = self.lines[~rejected.to_numpy()]
        kept = self._dedupe(kept, kept_lines, text)
        return kept.reset_index(drop=True)

    def _row_rules(self, out, text, rejected, config) -> pd.Series:
        bad_any = pd.Series(False, index=out.index)
        for later, earlier, reason in self.spec.order_rules:
            bad = (out[later] < out[earlier]) & ~rejected
            self._flag(bad, text, later, reason)
            bad_any |= bad
        if self.spec.name == "actions":
            functions = config.report.functions
            rules = [
                ("owner", ~out["owner"].isin(functions),
                 f"owner must be one of the configured functions ({', '.join(functions)})"),
                ("status", ~out["status"].str.lower().isin(ACTION_STATUSES),
                 "status must be open, done or dropped"),
                ("metric", out["metric"].notna() & ~out["metric"].isin(list(METRICS)),
                 "metric must be blank or a metric key (e.g. nps, closure_time)"),
            ]
            for column, bad, reason in rules:
                bad = bad & ~rejected & ~bad_any
                self._flag(bad, text, column, reason)
                bad_any |= bad
            out["status"] = out["status"].str.lower()
        return bad_any

    def _dedupe(self, kept: pd.DataFrame, kept_lines: np.ndarray, text: pd.DataFrame) -> pd.DataFrame:
        key = list(self.spec.unique_key)
        if not key or not len(kept):
            return kept
        superseded = kept.duplicated(subset=key, keep="last")
        if superseded.any():
            winner = pd.Series(kept_lines, index=kept.index).groupby(
                [kept[k] for k in key], sort=False).transform("last")
            lines = kept_lines[superseded.to_numpy()]
            reasons = ("duplicate " + "+".join(key) + ": the row at line "
                       + winner[superseded].astype(str) + " wins")
            self.add_issue_rows(lines, key[0], kept.loc[superseded, key[0]].map(_cap), reasons.to_numpy())
            self.rejected_count += int(superseded.sum())
        return kept[~superseded]


def _empty(column: Column) -> pd.Series | object:
    return {"datetime": pd.NaT, "date": pd.NaT, "int": np.nan, "number": np.nan,
            "bool": pd.NA}.get(column.kind, None)


def _convert(column: Column, cell: pd.Series, blank: pd.Series, source: SourceConfig, tz: str):
    """(typed values, bad mask) for one column; blank cells are never 'bad' here."""
    kind = column.kind
    if kind == "text":
        return cell.where(~blank, None), pd.Series(False, index=cell.index)
    if kind in ("datetime", "date"):
        value = parse_datetimes(cell.where(~blank, ""), tz, source.date_format)
        if kind == "date":
            value = value.dt.normalize()
    elif kind == "int" or kind == "number":
        parse = parse_integers if kind == "int" else parse_numbers
        value = parse(cell.where(~blank, ""), source.decimal)
        inside = value.notna()
        if column.low is not None:
            inside &= value >= column.low
        if column.high is not None:
            inside &= value <= column.high
        value = value.where(inside)
        if kind == "int":
            value = value.astype("Int64")
    else:  # bool
        value = parse_booleans(cell)
    bad = value.isna() & ~blank
    return value, bad


def _expectation(column: Column, source: SourceConfig) -> str:
    name = column.name
    if column.kind in ("datetime", "date"):
        if source.date_format:
            return f"{name} must be a date as {source.date_format} or ISO 8601"
        return (f"{name} must be an ISO 8601 date{' or datetime' if column.kind == 'datetime' else ''} "
                "(e.g. 2026-10-31); set date_format in config for other forms")
    if column.kind == "int":
        return f"{name} must be a whole number {column.low:g}..{column.high:g}"
    if column.kind == "number":
        low = f" >= {column.low:g}" if column.low is not None else ""
        sep = "decimal comma" if source.decimal == "," else "decimal point"
        return f"{name} must be a plain number{low} (with a {sep}, no currency or thousands marks)"
    return f"{name} must be true/false, yes/no, y/n or 1/0"
