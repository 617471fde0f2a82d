"""How each source's file is to be read, decided from config and the file's first
64 KiB alone: path, mapped columns, reader options and the Arrow types of the
fast path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from ..schema import SourceSpec

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
        if any(p in SPECIAL_FORMATS for p in patterns) or self.config.locale:
            return None
        return tuple(with_times(patterns))

    @property
    def typed_first(self) -> bool:
        """Whether Arrow parses typed columns first. Options Arrow lacks (decimal comma, a
        source zone, epoch dates ...) and the free-form actions file go straight to the text path."""
        c = self.config
        plain = (c.header_row, c.header_rows, c.skip_rows, c.where, c.timezone, c.thousands,
                 tuple(c.skip_blank), bool(c.compute)) == (1, 1, 0, None, None, None, (), False)
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


def plan(name: str, config: Config) -> SourcePlan:
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
