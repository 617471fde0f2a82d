"""Source adapters: CSV exports in, validated canonical frames out.

`load_sources(config)` reads every source named in DATA_CONTRACT.md §2. Each
row that breaks a rule is left out and named (file, line, column, value,
reason); a file that cannot be read as a table raises `DataError`.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import Config, SourceConfig
from ..errors import DataError
from ..schema import SOURCES, Column, SourceSpec
from .dates import parse_timestamps, zone_in_header
from .parse import parse_booleans, parse_integers, parse_numbers
from .csvplan import plan
from .jsonlines import is_json_lines
from .reader import not_a_file, read_csv, read_parquet
from .rules import broken_rows
from .rows import needs_rows_path, read_rows
from .workbook import check_kind

ISSUE_COLUMNS = ["file", "line", "column", "value", "reason"]
log = logging.getLogger("cxtruth")
_NAT = np.iinfo(np.int64).min  # NaT's int64 nanoseconds
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
    rejected: int = 0  # rows left out: broken rows, and earlier rows of a repeated id
    superseded: int = 0  # of those, earlier rows of a repeated id (the last row wins)
    # The most frequent reasons rows were rejected (repeats aside), most frequent first.
    reasons: tuple["RejectionReason", ...] = ()
    # Optional columns of the contract that the export does not have (unknown, not blank).
    absent_columns: tuple[str, ...] = ()
    set_aside: int = 0  # lines that are not data: before the header, skip_rows, report trailers
    filtered: int = 0  # rows the source's `where` left out (a survey preview, say): not rejected
    note: str | None = None
    # Rows kept but worth a look (unknown account, mixed offsets, no data rows): same columns as issues.
    warnings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))
    lines: np.ndarray | None = None  # spreadsheet line of each accepted row
    # accounts with rows left out: every account_id written, theirs included (None: no row left out)
    ids_in_file: pd.Index | None = None
    # Each accepted row's position in the accounts frame (-1: unknown), once accounts are read.
    account_codes: np.ndarray | None = None
    # Rows naming an account_id accounts lacks, counted on the engine when a source is a
    # warehouse table (cxtruth.sources.tables.unknown_accounts); files use account_codes.
    unmatched_rows: int | None = None
    time_column: str | None = None  # the column date ranges and freshness use (default: the contract's)
    # A warehouse table source (cxtruth.sources.tables): its accepted rows as an expression on
    # the engine, never copied here; `frame` is None.
    table: Any = None
    accepted_rows: int = 0  # a table source's accepted rows (a file's are len(frame))
    location: str | None = None  # how messages name a table source ("table analytics.events")
    _date_range: tuple[pd.Timestamp, pd.Timestamp] | None = field(default=None, repr=False, compare=False)

    @property
    def accepted(self) -> int:
        if self.table is not None:
            return self.accepted_rows
        return 0 if self.frame is None else len(self.frame)

    @property
    def shown(self) -> str:
        """How a report names this source: its file's name, or "table <name>"."""
        return self.location or self.path.name

    @property
    def broken(self) -> int:
        """Rows left out because they break a rule: what the rejection gate counts."""
        return self.rejected - self.superseded

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """Earliest and latest value of the source's time column (kept: two passes over 10M rows);
        None when no accepted row has one (no rows, or the column blank in every row)."""
        if self._date_range is None:
            column = self.time_column or (SOURCES[self.name].time_column if self.name in SOURCES else None)
            if self.table is not None and column is not None:  # one aggregate on the engine
                from ..warehouse import run

                span = run(self.table.aggregate(low=self.table[column].min(), high=self.table[column].max()))
                low, high = span["low"].iloc[0], span["high"].iloc[0]
                if pd.isna(low):  # no accepted rows: no range, as for an empty file
                    return None
                self._date_range = (pd.Timestamp(low), pd.Timestamp(high))  # wall time already (tables.py)
                return self._date_range
            if self.frame is None or not len(self.frame) or column is None:
                return None
            # One pass of Arrow's min_max over the int64 nanoseconds, after one comparison for
            # NaT: pandas' (and numpy's) min and max are a pass each, plus a missing-value
            # mask each in pandas (12M events: 25-53 ms, now 8 ms).
            stamps = self.frame[column].to_numpy(dtype="datetime64[ns]").view(np.int64)  # no copy
            missing = stamps == _NAT
            if missing.any():
                stamps = stamps[~missing]
            bounds = pc.min_max(pa.array(stamps))
            low, high = bounds["min"].as_py(), bounds["max"].as_py()  # None when nothing is left
            self._date_range = (pd.NaT, pd.NaT) if low is None else (pd.Timestamp(low), pd.Timestamp(high))
        return None if pd.isna(self._date_range[0]) else self._date_range


@dataclass(frozen=True)
class RejectionReason:
    column: str
    reason: str  # as in the data-quality issues; a fix is part of it where cxtruth knows one
    rows: int


MAX_REASONS = 3


@dataclass
class Sources:
    results: dict[str, SourceResult]
    # The warehouse connection table sources were read on (None: every source is a file);
    # the metrics run there too.
    backend: Any = None

    def frame(self, name: str) -> pd.DataFrame | None:
        """Source ``name``'s accepted rows. A table source's are fetched whole from the warehouse
        (once): only the action ledger does, actions being a short list. Everything else asks
        `rows` for the rows its rule can touch, or runs on the engine."""
        result = self.results[name]
        if result.table is not None and result.frame is None:
            if name == "adoption":
                raise AssertionError("usage events are read on the engine, never fetched")
            from ..warehouse import run

            result.frame = run(result.table)
        return result.frame

    def rows(self, name: str, where) -> pd.DataFrame | None:
        """Source ``name``'s accepted rows that may match ``where`` (a function of an Ibis table
        giving a condition). A table sends only those; a file's frame comes whole, so the
        caller filters it by the same rule (None: the source was not read)."""
        result = self.results.get(name)
        if result is None or result.table is None or result.frame is not None:
            return None if result is None else result.frame
        from ..warehouse import run

        return run(result.table.filter(where(result.table)))

    @property
    def issues(self) -> pd.DataFrame:
        return _concat([r.issues for r in self.results.values()])

    @property
    def warnings(self) -> pd.DataFrame:
        return _concat([r.warnings for r in self.results.values()])

    @property
    def account_codes(self) -> dict[str, np.ndarray]:
        return {name: r.account_codes for name, r in self.results.items() if r.account_codes is not None}

    @property
    def rejected_rows(self) -> int:
        return sum(r.rejected for r in self.results.values())


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ISSUE_COLUMNS)


def load_sources(config: Config) -> Sources:
    """Read and validate every source; raises DataError for an unreadable file
    (the first in contract order when several are)."""
    backend = None
    tables = [name for name in config.source_names if config.is_table(name)]
    if tables:
        from ..warehouse import connect
        from .tables import read_table_source

        backend = connect(config.warehouse)
    results = _read_all(config, skip=set(tables))
    for name in tables:  # one at a time: the engine spreads each query over its own cores
        results[name] = read_table_source(name, config, backend)
    results = {name: results[name] for name in config.source_names}
    check_account_references(results)
    # Arrow's allocator keeps the pages of freed parse buffers for reuse, and little is
    # parsed after this: handing them back takes 10 ms and lowered the 1 GB export's
    # peak RSS by 70-140 MiB (docs/performance.md, round nine).
    pa.default_memory_pool().release_unused()
    return Sources(results, backend)


def _read_all(config: Config, skip: set[str] = frozenset()) -> dict[str, SourceResult]:
    # Two at a time: Arrow parses without the GIL, so one file's parse overlaps another's
    # checks. accounts.csv (small) is read meanwhile on this thread; each other source's
    # account ids are looked up in it as soon as both are read, off the critical path.
    accounts_read: Future[SourceResult | None] = Future()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_read_linked, name, config, accounts_read)
                   for name in config.source_names if name != "accounts" and name not in skip}
        accounts_error = None
        try:
            accounts = None if "accounts" in skip else read_source("accounts", config)
        except DataError as exc:
            accounts, accounts_error = None, exc
        except BaseException as exc:  # not a user's mistake: the workers must not wait forever
            accounts_read.set_exception(exc)
            raise
        accounts_read.set_result(accounts)
        results = {}
        for name in config.source_names:
            if name in skip:
                continue
            if name == "accounts" and accounts_error:
                raise accounts_error
            results[name] = accounts if name == "accounts" else futures[name].result()
    return results


def _read_linked(name: str, config: Config, accounts_read: "Future[SourceResult | None]") -> SourceResult:
    """`read_source`, plus each row's position in accounts when both have rows."""
    known = None
    if "account_id" in config.source_spec(name).names:
        accounts = accounts_read.result()  # small, and read meanwhile: ready long before a big file
        if accounts is not None and accounts.frame is not None and len(accounts.frame):
            known = accounts.frame["account_id"]
    result = read_source(name, config, account_ids=known)
    if known is not None and result.frame is not None and result.account_codes is None:
        result.account_codes = lookup_codes(result.frame["account_id"], known)
    return result


MAX_UNKNOWN_ACCOUNTS = 20  # warnings per source; the rest are summed up in one line


def check_account_references(results: dict[str, SourceResult]) -> None:
    """Warn (row kept) where a source names an account_id that accounts.csv lacks.

    One warning per unknown id, at its first line, with how many rows name it.
    """
    accounts = results.get("accounts")
    if accounts is not None and any(r.table is not None for r in results.values()):
        from .tables import unknown_accounts

        unknown_accounts(results)
        return
    if accounts is None or accounts.frame is None or not len(accounts.frame):
        return
    known = pa.array(accounts.frame["account_id"], type=pa.large_string(), from_pandas=True)
    for name, result in results.items():
        if name == "accounts" or result.frame is None or "account_id" not in result.frame:
            continue
        ids = result.frame["account_id"]
        if result.account_codes is None:  # kept: the usage metrics need the same lookup
            result.account_codes = lookup_codes(ids, known)
        missing = result.account_codes < 0  # unknown, or no id at all (blank where allowed)
        if not missing.any():
            continue
        values = pa.array(ids, type=pa.large_string(), from_pandas=True)
        unknown = missing & values.is_valid().to_numpy(zero_copy_only=False) if values.null_count else missing
        if not unknown.any():
            continue
        file = accounts.path.name
        # Arrow's filter, chunk by chunk: `ids[mask]` takes by position, and a take from a
        # chunked string column first copies every chunk into one (528 MB for 12M UUIDs).
        named = values.filter(pa.array(unknown))
        rows = pd.DataFrame({"id": named.to_numpy(zero_copy_only=False), "line": result.lines[unknown]})
        per_id = rows.groupby("id", sort=False)["line"].agg(["min", "size"]).sort_values("min")
        shown = per_id.head(MAX_UNKNOWN_ACCOUNTS)
        left_out = False
        if accounts.ids_in_file is not None:  # Arrow's is_in: pandas' isin walks 100k+ ids in Python
            left_out = pc.is_in(pa.array(shown.index, type=pa.large_string()),
                                value_set=pa.array(accounts.ids_in_file, type=pa.large_string())).to_numpy(
                                    zero_copy_only=False)
        what = np.where(left_out, f"this account's row in {file} was left out (see its issues)",
                        f"account_id is not in {file}")
        effect = (f"left out of adoption, which counts only accounts in {file}" if name == "adoption"
                  else "kept")
        hint = np.where(left_out | (name == "adoption"), "", "; check that both exports use the same ids")
        reasons = what + " (" + shown["size"].map(_rows_word).to_numpy() + " here): " + effect + hint
        parts = [result.warnings, pd.DataFrame({
            "file": result.path.name, "line": shown["min"].to_numpy(np.int64), "column": "account_id",
            "value": shown.index.map(_cap), "reason": reasons})]
        if len(per_id) > len(shown):
            rest = per_id.iloc[len(shown):]
            parts.append(pd.DataFrame({
                "file": [result.path.name], "line": [int(rest["min"].min())], "column": ["account_id"],
                "value": [""], "reason": [f"… and {len(rest):,} more account ids missing from {file}'s accepted rows "
                                          f"({_rows_word(int(rest['size'].sum()))})"]}))
        result.warnings = _concat(parts).sort_values("line", kind="stable", ignore_index=True)


def _rows_word(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def read_source(name: str, config: Config, account_ids: pd.Series | None = None) -> SourceResult:
    """One source read and validated. ``account_ids``: the accepted accounts' ids, if
    known; a fast-path read then also looks its rows' account ids up in them."""
    started = time.perf_counter()
    result = _read_source(name, config, account_ids)
    result.time_column = config.source_spec(name).time_column
    if result.status == "read":  # a stage on a terminal (cxtruth --verbose; quiet under cron)
        log.info("read %s: %s rows, %s rejected%s (%.1f s)", result.path.name, f"{result.rows_read:,}",
                 f"{result.rejected:,}", f", {result.filtered:,} filtered out" if result.filtered else "",
                 time.perf_counter() - started)
    return result


def _read_source(name: str, config: Config, account_ids: pd.Series | None) -> SourceResult:
    source = plan(name, config)
    spec, path = source.spec, source.path
    if not path.is_file():
        kind = not_a_file(path)  # a directory, a FIFO, /dev/zero...: named, and never opened
        if kind:
            where = f"sources.{name}.path: " if source.user_set else ""
            hint = (f"point path under [sources.{name}] at the export" if source.user_set
                    else f"put the {name} export there as a file, or set path under [sources.{name}]")
            raise DataError(f"{where}{path} is {kind}, not a file", hint=hint)
        if source.user_set or path.exists():
            raise DataError(f"sources.{name}.path: file not found: {path}")
        note = None if spec.optional else f"{path.name} not found in {path.parent}: its metrics show no data"
        return SourceResult(name, path, "absent", note=note)
    kind = "json" if is_json_lines(path) else check_kind(path, name)
    options = source.config.row_options
    if options.sheet is not None and kind != "workbook":
        raise DataError(f"sources.{name}.sheet: {path.name} is not a workbook, so it has no sheets",
                        hint="remove sheet, or point path at the workbook")
    # A Parquet file with a filter or computed columns: its cells as text, read as a CSV's are.
    by_rows = source.parquet and bool(options.where or options.skip_blank or options.compute)
    if by_rows or kind in ("json", "workbook") or (kind == "text" and not source.parquet
                                                    and needs_rows_path(path, options)):
        kind = "parquet" if source.parquet else "csv" if kind == "text" else kind
        rows = read_rows(path, kind, options, source.wanted, name)
        # A workbook's number cells are numbers, written out with a point: no decimal mark to apply.
        settings = source.config.model_copy(update={"decimal": ".", "thousands": None}) if kind == "workbook" \
            else source.config
        result = _validated(name, path, spec, rows.raw, None, settings, config, account_ids)
        result.set_aside, result.filtered = rows.set_aside, rows.filtered
        return result
    if source.parquet:
        read = partial(read_parquet, path, wanted=source.wanted, source=name)
        raw = read(typed=partial(parquet_types, spec) if name != "actions" else None)
        return _validated(name, path, spec, raw, read, source.config, config, account_ids)
    read = partial(read_csv, path, **source.csv_options())
    # The fast path: Arrow parses typed columns while reading; if every row then
    # passes every rule, no cell needs naming and the text path is never taken.
    raw = read(types=source.type_chooser())
    return _validated(name, path, spec, raw, read, source.config, config, account_ids)


def _validated(name: str, path: Path, spec: SourceSpec, raw, read, source_config: SourceConfig,
               config: Config, account_ids: pd.Series | None) -> SourceResult:
    """The accepted rows of ``raw``; a typed table that breaks a rule is read again as text."""
    if raw.typed is not None:
        accepted = accept_clean(raw.typed, spec, config, account_ids, source_config)
        if accepted is not None:
            frame, codes = accepted
            return SourceResult(name, path, "read", frame=frame, rows_read=len(frame), lines=raw.lines,
                                account_codes=codes, absent_columns=_absent_columns(spec, raw.headers))
        raw = read()
    validator = _Validator(spec, path.name, raw.lines, raw.headers)
    for line, text, expected, found in raw.ragged:
        validator.add_issue_rows(np.array([line or 0]), "", _cap(text),
                                 f"row has {found} fields, expected {expected}", count=True)
    if not len(raw.frame) and not raw.ragged:
        validator.warn(np.array([1]), "", "", "the file has a header but no data rows: "
                       "metrics from it show no data")
    frame, lines = validator.validate(raw.frame, source_config, config)
    ids_in_file = None
    if name == "accounts" and len(frame) < len(raw.frame):
        ids_in_file = pd.Index(raw.frame["account_id"].str.strip().unique())
    return SourceResult(
        name, path, "read", frame=frame, rows_read=len(raw.frame) + len(raw.ragged), set_aside=raw.blank_rows,
        issues=validator.issues(), rejected=validator.rejected_count, superseded=validator.superseded_count,
        reasons=validator.top_reasons(), absent_columns=_absent_columns(spec, raw.headers),
        warnings=validator.warnings(), lines=lines, ids_in_file=ids_in_file,
    )


def _absent_columns(spec: SourceSpec, headers: dict[str, str]) -> tuple[str, ...]:
    return tuple(c.name for c in spec.columns if not c.required and c.name not in headers)


def parquet_types(spec: SourceSpec, table: pa.Table) -> pa.Table | None:
    """Parquet's own column types converted to the ones `accept_clean` checks, or None
    when a column holds something else (text dates, fractional scores): the text path
    then parses and names each cell."""
    columns = {}
    for column in spec.columns:
        if column.name not in table.column_names:
            continue
        values = table.column(column.name)
        kind, t = column.kind, values.type
        if pa.types.is_dictionary(t) and kind != "text":
            values, t = values.cast(t.value_type), t.value_type
        if kind == "text":
            plain = values.cast(t.value_type) if pa.types.is_dictionary(t) else values
            values = plain.cast(pa.large_string())
        elif kind in ("datetime", "date") and (pa.types.is_timestamp(t) or pa.types.is_date(t)):
            values = values.cast(pa.timestamp("ns", t.tz if pa.types.is_timestamp(t) else None))
        elif kind == "int" and pa.types.is_integer(t):
            values = values.cast(pa.int64())
        elif kind == "number" and (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
            values = values.cast(pa.float64())
        elif kind == "bool" and pa.types.is_boolean(t):
            pass
        else:
            return None
        columns[column.name] = values
    return pa.table(columns)


_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def accept_clean(table: pa.Table, spec: SourceSpec, config: Config, account_ids: pd.Series | None = None,
                 source: SourceConfig | None = None) -> tuple[pd.DataFrame, np.ndarray | None] | None:
    """The validated frame from an Arrow-typed table and, with ``account_ids``, its rows'
    account codes (else None), or None if any row breaks a rule or repeats a key.

    Cells are made what the text path makes them (text trimmed, blank text missing,
    times in the report zone), then checked by the same rules (`rules.broken_rows`).
    None sends the file down the text path, which names each row.

    With ``account_ids`` (the accepted accounts' ids), an account_id column is
    looked up in them as it is trimmed: each row's position there (-1: none).
    """
    tz = config.report.timezone
    columns = {}
    account_codes = None
    for column in spec.columns:
        if column.name not in table.column_names:
            continue
        values = table.column(column.name)
        if column.kind == "text":
            if pa.types.is_dictionary(values.type) and _dictionaries_clean(values):
                columns[column.name] = values  # blank cells were read as nulls
                continue
            if pa.types.is_dictionary(values.type):  # a blank or untrimmed value: check row by row
                values = values.cast(pa.large_string())
            if column.multiline:  # kept exactly as written; blank means empty or only whitespace
                blank = pc.fill_null(pc.or_(pc.equal(values, ""), pc.utf8_is_space(values)), True)
            elif column.name == "account_id" and account_ids is not None:
                values, account_codes, blank = _account_ids(values, account_ids)
            else:
                values = _trimmed(values)
                blank = pc.fill_null(pc.equal(values, ""), True)
            if blank is not None and pc.any(blank).as_py():  # copying strings costs: only when some cell is blank
                values = pc.if_else(blank, pa.scalar(None, pa.large_string()), values)
        else:
            if pa.types.is_timestamp(values.type) and values.type.tz is not None:
                # wall-clock time in the report zone (a per-value zone lookup, skipped for UTC)
                values = values.cast(pa.timestamp("ns", tz))
                values = values.cast(pa.timestamp("ns")) if tz == "UTC" else pc.local_timestamp(values)
            if column.kind == "date":
                values = pc.floor_temporal(values, unit="day")
            # pandas cannot tell NaN (a "nan" cell, which is no number) from a blank: the text path names it
            if column.kind == "number" and pc.any(pc.is_nan(values)).as_py():
                return None
        columns[column.name] = values
    key = [k for k in spec.unique_key if k in columns]
    if len(key) == 1 and not _all_distinct(columns[key[0]]):
        return None
    encoded = {name: values for name, values in columns.items() if pa.types.is_dictionary(values.type)}
    plain = {name: values for name, values in columns.items() if name not in encoded}
    frame = (pa.table(plain).to_pandas(types_mapper=_PANDAS_TYPES.get) if plain
             else pd.DataFrame(index=pd.RangeIndex(table.num_rows)))
    for name, values in encoded.items():
        frame[name] = _categorical(values)
    if broken_rows(spec, frame, source or SourceConfig(), config)[1].any():
        return None
    if len(key) > 1 and frame.duplicated(subset=key).any():
        return None
    for column in spec.columns:  # absent optional columns, as the text path makes them
        if column.name not in frame:
            frame[column.name] = _empty(column)
    return frame[spec.names], account_codes


def _account_ids(values: pa.ChunkedArray, known: pd.Series
                 ) -> tuple[pa.ChunkedArray, np.ndarray, pa.ChunkedArray | None]:
    """An account_id column checked as `accept_clean` checks text, and looked up in
    ``known`` (accepted accounts' ids, so trimmed and never blank): the column as kept,
    each row's position in ``known`` (-1: none), and its blank cells (None: none).

    The lookup reads every id anyway, and an id it finds is one of ``known``'s: only the
    ids it does not find can need trimming or be blank. Checking every id first read
    all 432 MB of 12M UUIDs once more (80 ms on the critical path, docs/performance.md).
    """
    codes = lookup_codes(values, known)
    unknown = codes < 0
    if not unknown.any():
        return values, codes, None
    odd = values.filter(pa.array(unknown))
    if any(_may_need_trim(chunk) for chunk in odd.chunks):  # rare: trim them all and look up again
        values = _trimmed(values)
        codes = lookup_codes(values, known)
    elif not odd.null_count and not pc.any(pc.equal(odd, "")).as_py():
        return values, codes, None
    return values, codes, pc.fill_null(pc.equal(values, ""), True)


def _categorical(values: pa.ChunkedArray) -> pd.Categorical:
    """A dictionary-encoded column as a pandas Categorical, categories in order of first
    appearance as Arrow's own conversion gives them. That conversion unifies the chunks'
    dictionaries and copies the indices twice (48 ms for 12M events in 96 chunks); here
    each chunk's indices are mapped once into the final codes (decision 41)."""
    categories: dict[str, int] = {}
    mappings = [[categories.setdefault(word, len(categories)) for word in chunk.dictionary.to_pylist()]
                for chunk in values.chunks]
    width = next(t for t in (np.int8, np.int16, np.int32, np.int64) if len(categories) < np.iinfo(t).max)
    codes = np.empty(len(values), dtype=width)
    at = 0
    for chunk, mapping in zip(values.chunks, mappings):
        n = len(chunk)
        if not n:
            continue
        indices = chunk.indices
        raw = np.frombuffer(indices.buffers()[1], dtype=indices.type.to_pandas_dtype())[indices.offset:indices.offset + n]
        out = codes[at:at + n]
        # -1 last: a chunk of only nulls has an empty dictionary (a null's slot may hold anything)
        np.take(np.array(mapping + [-1], dtype=width), raw, out=out, mode="clip")
        if chunk.null_count:
            out[chunk.is_null().to_numpy(zero_copy_only=False)] = -1
        at += n
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(categories)), validate=False)


def _all_distinct(values: pa.ChunkedArray) -> bool:
    """No value twice and none missing."""
    return not values.null_count and pc.count_distinct(values).as_py() == len(values)


PARALLEL_LOOKUP = 2_000_000  # values past which the lookup is split over two threads (one per core)


def lookup_codes(values: pd.Series | pa.ChunkedArray, universe) -> np.ndarray:
    """Each value's position in ``universe`` (distinct values), -1 where absent or
    missing, as int32: Arrow's hash lookup (`index_in`), which releases the GIL, so a
    long column is looked up in two halves at once."""
    if isinstance(values, pa.ChunkedArray):  # (`pa.array` would copy its chunks into one)
        array = values if values.type == pa.large_string() else values.cast(pa.large_string())
    else:
        array = pa.array(values, type=pa.large_string(), from_pandas=True)
    value_set = pa.array(universe, type=pa.large_string(), from_pandas=True)
    if isinstance(value_set, pa.ChunkedArray):
        value_set = value_set.combine_chunks()

    def positions(part) -> np.ndarray:
        codes = pc.index_in(part, value_set=value_set).fill_null(-1)
        return np.asarray(codes.to_numpy(zero_copy_only=False) if isinstance(codes, pa.Array)
                          else codes.to_numpy(), dtype=np.int32)

    if len(array) <= PARALLEL_LOOKUP:
        return positions(array)
    half = len(array) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        return np.concatenate(list(pool.map(positions, (array[:half], array[half:]))))


def _value_bounds(chunk: pa.Array) -> np.ndarray:
    """A large_string chunk's value boundaries in its data buffer (int64, one more than
    its length): value i is bytes [bounds[i], bounds[i + 1]). A view, no copy."""
    return np.frombuffer(chunk.buffers()[1], dtype=np.int64, count=len(chunk) + 1, offset=chunk.offset * 8)


def _dictionaries_clean(values: pa.ChunkedArray) -> bool:
    """Whether every dictionary value of a dictionary-encoded text column is already
    trimmed and not blank, so each row's value is as the text path would keep it."""
    for chunk in values.chunks:
        words = chunk.dictionary
        if len(words) and (_may_need_trim(words) or pc.any(pc.equal(words, "")).as_py()):
            return False
    return True


def _trimmed(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text without surrounding whitespace. Chunk by chunk, and a chunk with nothing
    to trim is kept as it is: a 10M-row id column is not copied just to be checked."""
    chunks = [pc.utf8_trim_whitespace(chunk) if _may_need_trim(chunk) else chunk for chunk in values.chunks]
    return pa.chunked_array(chunks, type=values.type)


def _may_need_trim(chunk: pa.Array) -> bool:
    """Whether any string in ``chunk`` starts or ends with a byte that may be whitespace.

    Looks only at each string's first and last byte, straight from Arrow's buffers:
    trimming 10M ids to compare them with themselves costs several times as much.
    "May be": any byte below "!" (spaces, tabs, line breaks, other control bytes) or
    not ASCII (Unicode spaces such as U+00A0), so a false alarm only costs a trim.
    """
    if chunk.type != pa.large_string() or not len(chunk):
        return len(chunk) > 0
    data = chunk.buffers()[2]
    if data is None or not data.size:
        return False  # only empty strings and nulls
    text = np.frombuffer(data, dtype=np.uint8)
    bounds = _value_bounds(chunk)
    # An empty string's "first byte" is the next string's first and its "last byte" the
    # previous string's last (or the buffer's end): bytes checked anyway, so no masking.
    for ends in (text.take(bounds[:-1], mode="clip"), text.take(bounds[1:] - 1, mode="clip")):
        ends -= 0x21  # wraps around: below "!" becomes 0xDF and up, 0x80 and up becomes 0x5F and up
        if (ends >= 0x80 - 0x21).any():
            return True
    return False


def _cap(text: str) -> str:
    text = str(text)
    return text if len(text) <= _VALUE_CAP else text[:_VALUE_CAP] + "…"


class _Validator:
    """Collects rejected cells of one file, vectorised per column."""

    def __init__(self, spec: SourceSpec, file: str, lines: np.ndarray, headers: dict[str, str]):
        self.spec, self.file, self.lines, self.headers = spec, file, lines, headers
        self._parts: list[pd.DataFrame] = []
        self._repeat_parts: list[pd.DataFrame] = []  # earlier rows of a repeated id
        self._warning_parts: list[pd.DataFrame] = []
        self.rejected_count = 0
        self.superseded_count = 0

    def _rows(self, lines: np.ndarray, column: str, values, reason) -> pd.DataFrame:
        return pd.DataFrame({"file": self.file, "line": lines.astype(np.int64), "column": column,
                             "value": values, "reason": reason})

    def add_issue_rows(self, lines: np.ndarray, column: str, values, reason, count: bool = False):
        if not len(lines):
            return
        self._parts.append(self._rows(lines, column, values, reason))
        if count:
            self.rejected_count += len(lines)

    def warn(self, lines: np.ndarray, column: str, values, reason) -> None:
        self._warning_parts.append(self._rows(lines, column, values, reason))

    def issues(self) -> pd.DataFrame:
        return _concat(self._parts + self._repeat_parts).sort_values("line", kind="stable", ignore_index=True)

    def top_reasons(self) -> tuple[RejectionReason, ...]:
        """The most frequent (column, reason) pairs of broken rows; repeated ids are not counted."""
        broken = _concat(self._parts)
        if not len(broken):
            return ()
        counts = broken.groupby(["column", "reason"], sort=False).size().sort_values(ascending=False, kind="stable")
        return tuple(RejectionReason(str(column), str(reason), int(n))
                     for (column, reason), n in counts.head(MAX_REASONS).items())

    def warnings(self) -> pd.DataFrame:
        return _concat(self._warning_parts).sort_values("line", kind="stable", ignore_index=True)

    def _flag(self, bad: np.ndarray, frame: pd.DataFrame, column: str, reason: str) -> None:
        if bad.any():
            values = frame.loc[bad, column].map(_cap) if column in frame else ""
            self.add_issue_rows(self.lines[bad], column, values, reason)

    def validate(self, text: pd.DataFrame, source: SourceConfig, config: Config) -> tuple[pd.DataFrame, np.ndarray]:
        """The accepted rows, typed, and the spreadsheet line of each."""
        tz = config.report.timezone
        typed, unparsed, mixed_offsets, blanks = {}, {}, {}, {}
        for column in self.spec.columns:
            if column.name not in text:
                continue
            raw = text[column.name]
            # Free text is kept exactly as written; everything else is trimmed.
            cell = raw if column.multiline else raw.str.strip()
            blank = (cell.str.strip() if column.multiline else cell) == ""
            typed[column.name], unparsed[column.name], mixed = _convert(column, cell, blank, source, tz,
                                                                         self.headers.get(column.name, ""))
            if mixed is not None:
                mixed_offsets[column.name], blanks[column.name] = mixed, blank
        out = pd.DataFrame(typed, index=text.index)

        def warn_mixed(column: Column, rejected: np.ndarray) -> None:
            if column.name in mixed_offsets:
                offset = mixed_offsets[column.name][~blanks[column.name] & ~rejected]
                self._warn_mixed_offsets(offset, text[column.name].str.strip(), column.name, tz)

        broken, rejected = broken_rows(self.spec, out, source, config, unparsed, text, warn_mixed)
        for rule in broken:
            self._flag(rule.rows, text, rule.column, rule.reason)
        for column in self.spec.columns:
            if column.name not in out:
                out[column.name] = _empty(column)
        out = out[self.spec.names]
        if self.spec.name == "actions":
            out["status"] = out["status"].str.lower()
        self.rejected_count += int(rejected.sum())
        kept = out[~rejected]
        kept_lines = self.lines[~rejected]
        if getattr(source, "combine_repeated", False) and self.spec.name == "accounts":
            kept, kept_lines = self._combine_accounts(kept, kept_lines)
        kept, kept_lines = self._dedupe(kept, kept_lines, text)
        return kept.reset_index(drop=True), kept_lines

    def _warn_mixed_offsets(self, offset: pd.Series, cells: pd.Series, column: str, tz: str) -> None:
        """Naive and offset timestamps in one column: legal (§1), but usually an export mix-up."""
        naive = int((~offset).sum())
        if naive and naive < len(offset):
            first = offset.index[~offset.to_numpy()][0]
            self.warn(self.lines[[first]], column, [_cap(cells[first])],
                      f"{naive:,} of {len(offset):,} {column} values have no UTC offset while the rest do; "
                      f"those were read as {tz} time")

    def _combine_accounts(self, kept: pd.DataFrame, kept_lines: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows repeating an account id as parts of one account (a row per subscription):
        its start is the earliest; it churned only when every part ended, on the last
        end; its MRR is its live parts' (for a churned account, the parts that ended
        last: what it was paying when it left). Told once, as a warning."""
        ids = kept["account_id"]
        if not ids.duplicated().any():
            return kept, kept_lines
        frame = kept.assign(_line=kept_lines)
        by = frame.groupby("account_id", sort=False)
        live = frame["churn_date"].isna()
        any_live = live.groupby(ids, sort=False).any()
        last_end = by["churn_date"].max()
        counted = np.where(ids.map(any_live), live, frame["churn_date"] == ids.map(last_end))
        combined = pd.DataFrame({
            "account_id": by["account_id"].first(),
            "segment": by["segment"].last(),
            "start_date": by["start_date"].min(),
            "churn_date": last_end.where(~any_live),
            "mrr": frame["mrr"].where(counted).groupby(ids, sort=False).sum(min_count=1),
            "_line": by["_line"].min(),
        }).sort_values("_line", kind="stable")
        parts = len(frame) - len(combined)
        first = int(frame.loc[ids.duplicated(keep=False), "_line"].min())
        self.warn(np.array([first]), "account_id", [""],
                  f"{len(frame):,} rows are {len(combined):,} accounts: {parts:,} "
                  f"{'row repeats' if parts == 1 else 'rows repeat'} an account id and "
                  f"{'was' if parts == 1 else 'were'} combined with it (combine_repeated)")
        return combined[self.spec.names].reset_index(drop=True), combined["_line"].to_numpy(np.int64)

    def _dedupe(self, kept: pd.DataFrame, kept_lines: np.ndarray, text: pd.DataFrame):
        """The last row of each unique key wins; earlier ones are named, copies told from conflicts."""
        key = list(self.spec.unique_key)
        if not key or not len(kept):
            return kept, kept_lines
        superseded = kept.duplicated(subset=key, keep="last")
        if superseded.any():
            groups = pd.Series(np.arange(len(kept)), index=kept.index).groupby([kept[k] for k in key], sort=False)
            winner_pos = groups.transform("last")[superseded].to_numpy()
            losers = kept[superseded].reset_index(drop=True)
            winners = kept.iloc[winner_pos].reset_index(drop=True)
            same = ((losers == winners).fillna(False) | (losers.isna() & winners.isna())).all(axis=1)
            winner_lines = pd.Series(kept_lines[winner_pos]).astype(str)
            what = "+".join(key)
            reasons = np.where(
                same, "exact copy of the row at line " + winner_lines + ": counted once",
                f"same {what} as line " + winner_lines + " with different values: the row at line "
                + winner_lines + " wins")
            lines = kept_lines[superseded.to_numpy()]
            self._repeat_parts.append(self._rows(lines, key[0], kept.loc[superseded, key[0]].map(_cap).to_numpy(),
                                                 reasons))
            self.rejected_count += int(superseded.sum())
            self.superseded_count += int(superseded.sum())
        return kept[~superseded], kept_lines[~superseded.to_numpy()]


def _empty(column: Column) -> pd.Series | object:
    return {"datetime": pd.NaT, "date": pd.NaT, "int": np.nan, "number": np.nan,
            "bool": pd.NA}.get(column.kind, None)


def _convert(column: Column, cell: pd.Series, blank: pd.Series, source: SourceConfig, tz: str, header: str = ""):
    """(typed values, bad mask) for one column; blank cells are never 'bad' here. ``header``:
    the column's name in the export (a zone written there is read with timezone = "header")."""
    kind = column.kind
    mixed = None  # datetimes: which had an offset, when naive and offset values are mixed
    if kind == "text":
        return cell.where(~blank, None), pd.Series(False, index=cell.index), mixed
    if kind in ("datetime", "date"):
        rule = source.date_rule
        if rule.timezone == "header":
            rule = replace(rule, timezone=zone_in_header(header, column.name))
        value, mixed = parse_timestamps(cell.where(~blank, ""), tz, rule)
        if kind == "date":
            value = value.dt.normalize()
    elif kind == "int" or kind == "number":
        parse = parse_integers if kind == "int" else parse_numbers
        value = parse(cell.where(~blank, ""), source.decimal, source.thousands)
        if kind == "int":  # (the range is a rule: cxtruth.sources.rules)
            value = value.where(value.abs() <= _LARGEST_WHOLE).astype("Int64")
    else:  # bool
        value = parse_booleans(cell)
    bad = value.isna() & ~blank
    return value, bad, mixed


_LARGEST_WHOLE = 2 ** 53  # a whole number beyond this is not held exactly: not one cxtruth reads
