"""Table sources: a warehouse table or view read where it lives (docs/warehouse.md).

A table source is mapped and validated inside the engine: its columns are renamed to
the contract's and converted to its kinds, and every row rule (`rules.table_rules`) is
a predicate. One aggregate query counts the rows that break each rule; up to
MAX_SAMPLES keys per rule come back to name them (a table has no line numbers). What
is accepted stays an Ibis expression on the engine: nothing row by row is copied here.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import DataError
from ..schema import Column, SourceSpec
from ..warehouse import run
from .rules import table_rules

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

    from ..config import Config, SourceConfig
    from .adapters import SourceResult

log = logging.getLogger("cxtruth")
MAX_SAMPLES = 20  # keys named per rule broken
CACHE_ON_SPARK = True  # docs/performance.md, "Warehouse": measured with and without
ORDER = "_cxtruth_order"  # order_by's column, carried until repeated ids are settled


def read_table_source(name: str, config: "Config", con: "BaseBackend") -> "SourceResult":
    """Source ``name`` from its warehouse table: mapped, typed and validated by the engine."""
    import ibis

    from .. import warehouse
    from .adapters import ISSUE_COLUMNS, MAX_REASONS, RejectionReason, SourceResult

    started = time.perf_counter()
    source = config.sources.get(name)
    spec = config.source_spec(name)
    raw = warehouse.table(con, source.table, name)
    shown = source.table
    filtered_rows = raw
    if source.where:
        from ..expressions import ExpressionError, check, parse, to_ibis

        node = parse(source.where)
        kinds = {column: _kind_of(raw[column].type()) for column in raw.columns}
        try:
            check(node, kinds, "condition")
        except ExpressionError as exc:
            raise DataError(f"sources.{name}.where: {exc}") from None
        filtered_rows = raw.filter(to_ibis(node, raw).fill_null(False))
    typed, absent = _typed(name, shown, spec, source, filtered_rows, con, config.report.timezone)
    rules = table_rules(spec, typed, source, config)
    broken_any = _any([broken for _, broken, _ in rules])
    aggregate = typed.mutate(**{f"_r{i}": broken for i, (_, broken, _) in enumerate(rules)}, _bad=broken_any)
    sums = {f"_r{i}": aggregate[f"_r{i}"].sum() for i in range(len(rules))}
    if spec.unique_key:  # distinct keys among the rows that pass: fewer than those rows means repeats
        sums["_keys"] = ibis.cases((~aggregate._bad, _key_of(aggregate, spec.unique_key))).nunique()
    counted = run(aggregate.aggregate(_n=aggregate.count(), _bad=aggregate._bad.sum(), **sums)).iloc[0]
    kept_rows = int(counted["_n"])
    rows_read = int(run(raw.count())) if source.where else kept_rows  # `where` keeps kept_rows of them
    broken = _int(counted["_bad"])
    key = spec.unique_key or _identifying(spec, typed)
    issues, reasons = [], []
    for i, (column, predicate, reason) in enumerate(rules):
        n = _int(counted[f"_r{i}"])
        if not n:
            continue
        reasons.append(RejectionReason(column, reason, n))
        issues.append(_samples(shown, typed.filter(predicate), key, column, reason))
    accepted = typed.filter(~broken_any)
    passing = kept_rows - broken
    repeats = passing - _int(counted["_keys"]) if spec.unique_key else 0
    accepted, superseded, repeated = _one_row_per_key(name, shown, spec, source, accepted, key, repeats)
    if repeated is not None:
        issues.append(repeated[0])
        reasons.append(repeated[1])
        broken += repeated[1].rows
    rejected = broken + superseded
    accepted = accepted.select(*[c.name for c in spec.columns if c.name in accepted.columns])
    if con.name == "pyspark" and CACHE_ON_SPARK:
        # Every metric scans its sources again; Spark keeps the accepted rows (memory, spilling
        # to disk) after the first scan instead of re-reading and re-checking the table each time.
        accepted = accepted.cache()
    ordered = sorted(reasons, key=lambda r: -r.rows)[:MAX_REASONS]
    issue_frame = pd.concat([i for i in issues if len(i)], ignore_index=True) if any(len(i) for i in issues) \
        else pd.DataFrame(columns=ISSUE_COLUMNS)
    result = SourceResult(name, config.resolve(shown), "read", rows_read=rows_read, issues=issue_frame,
                          rejected=rejected, superseded=superseded, reasons=tuple(ordered),
                          absent_columns=absent, filtered=rows_read - kept_rows, table=accepted,
                          accepted_rows=kept_rows - rejected, location=f"table {shown}")
    log.info("read table %s: %s rows, %s rejected (%.1f s)", shown, f"{rows_read:,}", f"{rejected:,}",
             time.perf_counter() - started)
    return result


def _int(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def _any(predicates: list) -> Any:
    import ibis

    out = ibis.literal(False)
    for predicate in predicates:
        out |= predicate
    return out


def _identifying(spec: SourceSpec, table: "ir.Table") -> tuple[str, ...]:
    """What names a row of a source with no key (usage events): its account and time."""
    return tuple(c for c in ("account_id", spec.time_column) if c and c in table.columns)


def _samples(shown: str, broken: "ir.Table", key: tuple[str, ...], column: str,
             reason: str) -> pd.DataFrame:
    """Up to MAX_SAMPLES rows breaking one rule, named by their key, as issue rows."""
    rows = run(broken.select(*key).order_by(list(key)).limit(MAX_SAMPLES))
    values = [" / ".join("(blank)" if pd.isna(v) else str(v) for v in row) for row in rows.itertuples(index=False)]
    return pd.DataFrame({"file": f"table {shown}", "line": pd.array([pd.NA] * len(rows), dtype="Int64"), "column": column,
                         "value": values, "reason": reason})


def _one_row_per_key(name: str, shown: str, spec: SourceSpec, source: "SourceConfig", accepted: "ir.Table",
                     key: tuple[str, ...], repeats: int):
    """(rows kept, rows superseded, (issues, reason) for repeated keys or None); ``repeats``:
    rows beyond the first of each key (counted with the rules: nothing to do without any).

    With ``order_by`` the row with its latest value wins, as a file's last row does. Without
    it a table has no order to say which row is current: every row of a repeated key is
    rejected, counted and named, never picked at random."""
    import ibis
    from ibis import _

    from .adapters import RejectionReason

    if not spec.unique_key or not repeats:
        return accepted, 0, None
    keys = list(spec.unique_key)
    columns = [c for c in accepted.columns if c != ORDER]
    if source.order_by:
        # Ties on order_by are settled by the rows' own values, so the same data always keeps
        # the same row (which of two rows equal in every column is kept does not matter).
        ranked = accepted.mutate(_latest=ibis.row_number().over(
            group_by=keys, order_by=[ibis.desc(accepted[ORDER], nulls_first=False), *columns]))
        return ranked.filter(ranked._latest == 0).drop("_latest"), repeats, None
    # Without order_by: a row loaded twice, identical in every column, is one row (superseded
    # copies, as a file's); different rows under one key cannot be told apart and are rejected.
    distinct = accepted.select(*columns).distinct()
    copies = repeats - (_int(run(distinct.count())) - _int(run(distinct.select(*keys).distinct().count())))
    counted = distinct.mutate(_copies=_.count().over(group_by=keys))
    repeated = counted.filter(counted._copies > 1)
    n = _int(run(repeated.count()))
    if not n:
        return distinct, copies, None
    reason = (f"{' + '.join(keys)} repeated, and the table has no order_by column to say which row is latest: "
              f"set order_by under [sources.{name}]")
    issues = _samples(shown, repeated.select(*keys).distinct(), tuple(keys), keys[0], reason)
    return counted.filter(counted._copies == 1).drop("_copies"), copies, (issues, RejectionReason(keys[0], reason, n))


def _key_of(table: "ir.Table", keys: tuple[str, ...]):
    """A row's key as one value (a composite key's parts joined by a unit separator)."""
    if len(keys) == 1:
        return table[keys[0]]
    out = table[keys[0]].cast("string")
    for part in keys[1:]:
        out = out.concat("\x1f", table[part].cast("string"))
    return out


def _typed(name: str, shown: str, spec: SourceSpec, source: "SourceConfig", raw: "ir.Table",
           con: "BaseBackend", report_zone: str) -> tuple["ir.Table", tuple[str, ...]]:
    """The table's columns renamed to the contract's and converted to its kinds; DataError
    naming the column when one is missing or of a type that is not the kind's."""
    import ibis

    picked, absent = {}, []
    for column in spec.columns:
        found = source.columns.get(column.name, column.name)
        if found not in raw.columns:
            if column.required or column.name in source.columns:  # a mapped column must be there
                raise DataError(f"sources.{name}.table: {shown} has no column {found!r} (for {column.name})",
                                hint=f"map it under [sources.{name}.columns] "
                                     f"(the table has: {', '.join(raw.columns)})")
            absent.append(column.name)  # unknown, not blank: as a file without the column
            picked[column.name] = ibis.null(_NULL_TYPE[column.kind])
            continue
        picked[column.name] = _as_kind(name, shown, column, found, raw, con, source.timezone or report_zone,
                                       report_zone)
    if source.order_by:  # the table's own column, kept beside the contract's to rank repeated ids by
        if source.order_by not in raw.columns:
            raise DataError(f"sources.{name}.order_by: {shown} has no column {source.order_by!r}",
                            hint=f"the table has: {', '.join(raw.columns)}")
        picked[ORDER] = raw[source.order_by]
    return raw.select(**picked), tuple(absent)


def _as_kind(name: str, shown: str, column: Column, found: str, raw: "ir.Table", con: "BaseBackend",
             zone: str, report_zone: str):
    """One column converted to ``column``'s kind, or DataError (a view can cast it)."""
    import ibis
    import ibis.expr.datatypes as dt

    value = raw[found]
    kind = value.type()
    if column.kind == "text":
        if kind.is_integer():
            value, kind = value.cast("string"), dt.string
        if kind.is_string():
            # As a file's cells are read: blank (empty or only spaces) is missing; one-line text
            # is trimmed, free text (comments) kept as written.
            if column.multiline:
                return ibis.cases((value.strip() == "", ibis.null("string")), else_=value)
            return value.strip().nullif("")
    elif column.kind == "int":
        if kind.is_integer():
            return value.cast("int64")
        if kind.is_decimal() and kind.scale == 0:
            return value.cast("int64")
    elif column.kind == "number":
        if kind.is_numeric():
            return value.cast("float64")
    elif column.kind == "bool":
        if kind.is_boolean():
            return value
    elif column.kind == "date":
        # As a file's dates are read: midnight, a naive timestamp (the definitions subtract them).
        if kind.is_date():
            return value.cast(dt.Timestamp())
        if kind.is_timestamp():  # its date in the report zone (an instant's first made wall time)
            if kind.timezone is not None or _holds_instants(con, raw, found):
                value = wall_time_of(con, raw, value.cast(dt.Timestamp(timezone="UTC")), report_zone)
            return value.date().cast(dt.Timestamp())
    elif column.kind == "datetime":
        if kind.is_timestamp():
            if kind.timezone is not None or _holds_instants(con, raw, found):
                # Instants (TIMESTAMPTZ, Spark's TIMESTAMP) become the report zone's wall time,
                # as a file's stamps are: every definition then reads one kind of time, and the
                # engine's own session zone plays no part.
                return wall_time_of(con, raw, value.cast(dt.Timestamp(timezone="UTC")), report_zone)
            if zone == report_zone:
                return value  # wall time in the report zone, as a file's stamps without an offset
            if zone == "UTC":
                return wall_time_of(con, raw, value.cast(dt.Timestamp(timezone="UTC")), report_zone)
            raise DataError(f"sources.{name}.timezone: {shown}.{found} holds times without a zone; a table's "
                            f"must be in UTC or the report zone ({report_zone}), not {zone}",
                            hint="convert it to a zone-aware timestamp in a view")
        if kind.is_date():
            return value.cast(dt.Timestamp())
    raise DataError(f"sources.{name}.table: {shown}.{found} is {kind}; {name}.{column.name} must be "
                    f"{_WANTED[column.kind]}", hint="cast it in a view, or map another column")


def wall_time_of(con: "BaseBackend", raw: "ir.Table", instant, zone: str):
    """``instant`` (a zone-aware column) as naive wall time in ``zone``, written portably: the
    zone's UTC offset is constant between its transitions, so the offset is a CASE over the
    transitions within the column's own span (a few per year), found here with zoneinfo.
    Engines differ in how (and whether) they convert zones; addition they share."""
    import ibis
    import ibis.expr.datatypes as dt

    # The span of plausible instants only: a sentinel (9999-12-31, 1900-01-01) would otherwise
    # add a branch per clock change for centuries. Beyond the span the edge's offset applies;
    # such rows are rejected as in the future, or lie decades before any month reported.
    lowest, highest = (ibis.literal(t, type=instant.type()) for t in _plausible_span())
    plausible = instant.between(lowest, highest)
    span = run(raw.aggregate(low=instant.min(where=plausible), high=instant.max(where=plausible))).iloc[0]
    if pd.isna(span["low"]):
        return instant.cast(dt.Timestamp())
    offsets = offsets_between(pd.Timestamp(span["low"]).to_pydatetime(), pd.Timestamp(span["high"]).to_pydatetime(),
                              zone)
    shifted = [instant + ibis.interval(seconds=seconds) for _, seconds in offsets]
    wall = shifted[-1]
    if len(offsets) > 1:
        wall = ibis.cases(*((instant < ibis.literal(until, type=instant.type()), shift)
                            for (until, _), shift in zip(offsets[1:], shifted[:-1])), else_=shifted[-1])
    return wall.cast(dt.Timestamp())  # the engine's session zone is UTC (Ibis sets it): UTC wall = zone wall


def _plausible_span():
    """(earliest, latest) instants worth converting exactly: 30 years back, two days ahead."""
    import datetime as dtm

    now = dtm.datetime.now(dtm.timezone.utc)
    return now - dtm.timedelta(days=366 * 30), now + dtm.timedelta(days=2)


def offsets_between(low, high, zone: str) -> list[tuple[Any, int]]:
    """[(from instant, UTC offset in seconds of ``zone`` from then on)] covering low..high
    (aware datetimes), oldest first; the first entry's instant is ``low``."""
    import datetime as dtm
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    utc = dtm.timezone.utc
    low, high = (t.replace(tzinfo=utc) if t.tzinfo is None else t.astimezone(utc) for t in (low, high))

    def offset(t) -> int:
        return int(t.astimezone(tz).utcoffset().total_seconds())

    out = [(low, offset(low))]
    step = dtm.timedelta(days=1)  # no zone changes its offset twice in a day
    t = low
    while t < high:  # a change within a step is found by bisection, to the second
        nxt = min(t + step, high)
        if offset(nxt) != out[-1][1]:
            a, b = t, nxt
            while b - a > dtm.timedelta(seconds=1):
                mid = a + (b - a) / 2
                a, b = (mid, b) if offset(mid) == out[-1][1] else (a, mid)
            out.append((b.replace(microsecond=0) if offset(b.replace(microsecond=0)) != out[-1][1] else b,
                        offset(b)))
        t = nxt
    return out


_NULL_TYPE = {"text": "string", "int": "int64", "number": "float64", "bool": "boolean", "date": "timestamp",
              "datetime": "timestamp"}
_WANTED = {"text": "text (or a whole number)", "int": "a whole number", "number": "a number",
           "bool": "a boolean", "date": "a date", "datetime": "a timestamp (or a date)"}


def _holds_instants(con: "BaseBackend", raw: "ir.Table", column: str) -> bool:
    """Whether a timestamp Ibis types without a zone holds instants: Spark's TIMESTAMP (not
    TIMESTAMP_NTZ) does, shown in a session zone Ibis sets to UTC."""
    if con.name != "pyspark":
        return False
    from pyspark.sql.types import TimestampNTZType

    frame = con._session.sql(con.compile(raw.select(column).limit(0)))
    return not isinstance(frame.schema[column].dataType, TimestampNTZType)


def _kind_of(dtype) -> str:
    """A column's type in the words `expressions.check` uses."""
    if dtype.is_string():
        return "text"
    if dtype.is_integer():
        return "int"
    if dtype.is_numeric():
        return "number"
    if dtype.is_boolean():
        return "bool"
    if dtype.is_date():
        return "date"
    if dtype.is_timestamp():
        return "datetime"
    return "text"


def unknown_accounts(results: dict[str, "SourceResult"]) -> None:
    """`adapters.check_account_references` where a source is a warehouse table: the rows naming
    an account_id that accounts lacks are counted on the engine, and the MAX_SAMPLES ids named
    most often come back as warnings (row kept; adoption counts only known accounts)."""
    import ibis

    from ..warehouse import run
    from .adapters import ISSUE_COLUMNS, _concat, _rows_word

    accounts = results["accounts"]
    if accounts.status != "read":
        return
    known = _ids(accounts)
    for name, result in results.items():
        if name == "accounts" or result.status != "read" or "account_id" not in _columns(result):
            continue
        ids = _ids(result)
        missing = ids.filter(ids.account_id.notnull()).anti_join(known, "account_id")
        per_id = missing.group_by("account_id").agg(rows=ibis._.count())
        total = run(per_id.aggregate(ids=per_id.count(), rows=per_id.rows.sum())).iloc[0]
        result.unmatched_rows = _int(total["rows"])
        if not _int(total["ids"]):
            continue
        shown = run(per_id.order_by([ibis.desc("rows"), "account_id"]).limit(MAX_SAMPLES))
        effect = (f"left out of adoption, which counts only accounts in {accounts.shown}" if name == "adoption"
                  else "kept; check that both use the same ids")
        rows = [pd.DataFrame({"file": result.shown, "line": pd.array([pd.NA] * len(shown), dtype="Int64"),
                              "column": "account_id", "value": shown["account_id"].astype(str).to_numpy(),
                              "reason": [f"account_id is not in {accounts.shown} ({_rows_word(int(n))} here): {effect}"
                                         for n in shown["rows"]]})]
        rest = _int(total["ids"]) - len(shown)
        if rest > 0:
            rows.append(pd.DataFrame({"file": [result.shown], "line": pd.array([pd.NA], dtype="Int64"),
                                      "column": ["account_id"], "value": [""],
                                      "reason": [f"… and {rest:,} more account ids missing from {accounts.shown}"]}))
        result.warnings = _concat([result.warnings, *rows])[ISSUE_COLUMNS]


def _columns(result: "SourceResult") -> list[str]:
    return list(result.table.columns) if result.table is not None else list(result.frame.columns)


def _ids(result: "SourceResult") -> "ir.Table":
    """A source's account_id column on the engine: the table's, or a file's sent there."""
    import ibis

    if result.table is not None:
        return result.table.select("account_id")
    return ibis.memtable(result.frame[["account_id"]].astype({"account_id": "object"}))
