"""How each source's file is to be read, decided from config and the file's first
64 KiB alone: path, mapped columns, reader options and the Arrow types of the
fast path. pyarrow only, no pandas and no pydantic, so the command line can
start the big reads first (`read_ahead_as_written`, `read_ahead`) and import
the rest while Arrow parses.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pyarrow as pa

from ..configfile import (DEFAULT_DATA_DIR, DEFAULT_DECIMAL, DEFAULT_DELIMITER, DEFAULT_ENCODING,
                          one_char_delimiter, read_toml, source_file)
from ..schema import DEFAULT_CHECKLIST, SOURCES, SourceSpec, source_spec
from . import reader

if TYPE_CHECKING:
    from ..config import Config, SourceConfig

# A time of day followed by a UTC offset: ...14:05Z, ...14:05:00+02, +0200, +02:00.
# (The time is required so the "-31" of a plain date is not read as an offset.)
OFFSET_RE = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")

# date_format values that are not strptime patterns (cxtruth.sources.dates reads them).
SPECIAL_FORMATS = ("epoch", "epoch_ms", "excel")
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%f", "%z", "%X", "%c", "%T", "%R")


def with_times(patterns) -> list[str]:
    """Each pattern, and for a date-only one the same with a 24-hour time after it: a
    date_format of '%d/%m/%Y' reads '31/10/2026 14:05' too, as it always has."""
    out = []
    for pattern in patterns:
        out.append(pattern)
        if not any(d in pattern for d in _TIME_DIRECTIVES):
            out += [f"{pattern} %H:%M", f"{pattern} %H:%M:%S"]
    return out


@dataclass(frozen=True)
class SourcePlan:
    name: str
    spec: SourceSpec
    config: SourceConfig
    path: Path
    user_set: bool  # the path is in config.toml, so a missing file is an error
    wanted: dict[str, tuple[str, bool]]  # canonical -> (header in config, required)

    @property
    def parquet(self) -> bool:
        return self.path.suffix.lower() == ".parquet"

    @property
    def date_patterns(self) -> tuple[str, ...] | None:
        """The strptime patterns Arrow's typed read tries before ISO 8601 (none: ISO only), or
        None when the dates need what only the text path does (epoch, Excel serials, month
        names in another language)."""
        fmt = self.config.date_format
        if not fmt:
            return ()
        patterns = (fmt,) if isinstance(fmt, str) else tuple(fmt) if isinstance(fmt, list) else ()
        if (not patterns or not all(isinstance(p, str) for p in patterns)  # config as written: not checked yet
                or any(p in SPECIAL_FORMATS for p in patterns) or getattr(self.config, "locale", None)):
            return None
        return tuple(with_times(patterns))

    @property
    def typed_first(self) -> bool:
        """Whether Arrow parses typed columns first. Options Arrow lacks (decimal comma, a
        source zone, epoch dates ...) and the free-form actions file go straight to the text path."""
        c = self.config
        plain = (getattr(c, "header_row", 1), getattr(c, "header_rows", 1), getattr(c, "skip_rows", 0),
                 getattr(c, "where", None), getattr(c, "timezone", None), getattr(c, "thousands", None),
                 tuple(getattr(c, "skip_blank", ())), bool(getattr(c, "compute", None))
                 ) == (1, 1, 0, None, None, None, (), False)
        return self.name != "actions" and c.decimal == "." and self.date_patterns is not None and plain

    def csv_options(self) -> dict:
        """`reader.read_csv`'s keyword arguments, types aside."""
        return dict(
            encoding=self.config.encoding,
            delimiter=self.config.delimiter,
            wanted=self.wanted,
            # Only free text holds line breaks; the reader retries properly if another column does.
            newlines_in_values=any(c.multiline for c in self.spec.columns),
            source=self.name,
            date_patterns=self.date_patterns or (),
        )

    def type_chooser(self):
        """`reader.read_csv`'s ``types``: None sends the file to the text path."""
        return partial(arrow_types, self.spec) if self.typed_first else None


def plan(name: str, config: "Config | _AsWritten") -> SourcePlan:
    source_config: SourceConfig = config.sources.get(name)
    spec = config.source_spec(name)
    path, user_set = config.source_path(name)
    wanted = {c.name: (source_config.columns.get(c.name, c.name), c.required) for c in spec.columns}
    return SourcePlan(name, spec, source_config, path, user_set, wanted)


def arrow_types(spec: SourceSpec, found: dict[str, str], sample: dict[str, list[str]]):
    """Arrow types for the typed columns of ``spec``, judged from sample rows; None when a
    datetime column mixes naive and offset values (only the text path handles that)."""
    types = {}
    for column in spec.columns:
        if column.name not in found:
            continue
        if column.kind == "text":
            # Plain strings, except where a column holds a handful of values: dictionary-
            # encoding ids while parsing cost more CPU than the one hash lookup the usage
            # metrics do later, but feature names encode cheaply (docs/performance.md).
            if column.few_values:
                types[column.name] = pa.dictionary(pa.int32(), pa.large_string())
            continue
        if column.kind in ("datetime", "date"):
            values = [v.strip() for v in sample.get(found[column.name], []) if v.strip()]
            offsets = {bool(OFFSET_RE.search(v)) for v in values}
            if len(offsets) > 1:
                return None
            types[column.name] = pa.timestamp("ns", "UTC") if offsets == {True} else pa.timestamp("ns")
        else:
            types[column.name] = {"int": pa.int64(), "number": pa.float64(), "bool": pa.bool_()}[column.kind]
    return types


def read_ahead(config: Config) -> None:
    """Start the typed read of every CSV export that takes the fast path, three at a
    time (as `load_sources` reads them), and return at once.

    `load_sources` then takes each parsed table instead of reading the file again,
    if the file and its reading are unchanged. A file that cannot be read this way
    is simply not read ahead: `load_sources` says why, as it always does.
    """
    _start([plan(name, config) for name in SOURCES])


def read_ahead_as_written(config_file: Path) -> None:
    """`read_ahead` from config.toml as written, before pydantic (0.1 s to import) has
    validated it, so Arrow parses meanwhile. A guess, safely: `load_sources` takes a
    read only if everything that decides its result is what the validated config asks
    for, and `read_ahead` then starts whatever the guess got wrong. A file that is not
    valid TOML, or anything else amiss, starts nothing here; `load_config` says why."""
    try:
        plans = [plan(name, _AsWritten(read_toml(config_file), config_file.resolve().parent)) for name in SOURCES]
        plans = [p for p in plans if p.typed_first]  # judged on values not yet validated
    except Exception:
        return
    _start(plans)


def _start(plans: list[SourcePlan]) -> None:
    plans = [p for p in plans if p.typed_first and not p.parquet and p.path.is_file()]
    if not plans:
        return
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="read-ahead")
    for p in plans:
        reader.start_typed_read(pool, p.path, **p.csv_options(), types=p.type_chooser())
    pool.shutdown(wait=False)  # its threads end when their reads do


class _AsWritten:
    """config.toml's [data] and [sources] tables as written, with `Config`'s defaults:
    what `plan` reads of a config, without validating anything."""

    def __init__(self, raw: dict, base_dir: Path):
        self.base_dir = base_dir
        self.data_dir = raw.get("data", {}).get("dir", DEFAULT_DATA_DIR)
        tables = raw.get("sources", {})
        self.sources = SimpleNamespace(**{name: self._source(tables.get(name, {})) for name in SOURCES})
        self.sources.get = partial(getattr, self.sources)

    @staticmethod
    def _source(table: dict) -> SimpleNamespace:
        return SimpleNamespace(
            path=table.get("path"), encoding=table.get("encoding", DEFAULT_ENCODING),
            delimiter=one_char_delimiter(table.get("delimiter", DEFAULT_DELIMITER)),
            decimal=table.get("decimal", DEFAULT_DECIMAL), date_format=table.get("date_format"),
            columns=dict(table.get("columns", {})), checklist=list(table.get("checklist", DEFAULT_CHECKLIST)))

    def source_spec(self, name: str) -> SourceSpec:
        checklist = self.sources.get(name).checklist
        return source_spec(name, checklist) if name == "handoffs" else SOURCES[name]

    def source_path(self, name: str) -> tuple[Path, bool]:
        return source_file(self.base_dir, self.data_dir, name, getattr(self.sources, name).path)
