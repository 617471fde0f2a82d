"""The engine the metric declarations run on: Ibis expressions, DuckDB embedded.

Each metric's `parts` are Ibis expressions grouped by the month position `m`
of the window; they compile to SQL for DuckDB here (and for Spark, Postgres,
Snowflake, BigQuery or Trino elsewhere). Only those aggregates come back, as
small frames, and each metric's pure `value` function reads one month's rows.

Rules the expressions follow, each pinned by a test (tests/test_engine.py):
- A month is the half-open range between two bounds computed here in Python
  with zoneinfo; SQL never truncates a timestamp to a month (Ibis sets the
  session zone to UTC, so a zone-aware stamp would land in the wrong month).
- Medians and the 90th percentile are exact: the engine returns the few ranked
  values around each quantile, and `stats.quantile` interpolates them exactly
  as numpy does.
- A comparison with a NULL is NULL, not false: "not churned before t" is
  written `churn IS NULL OR churn >= t`.
- SUM over no rows is NULL: parts count with COUNT, and sums are read with 0
  for a missing row only where the definition says so.
- Distinct counts are exact (COUNT(DISTINCT), never an approximation).
- Money is summed exactly as DECIMAL, so the total does not depend on the
  order an engine happens to add rows in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ..months import Month

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd

MONEY = "decimal(38, 6)"  # a millionth of a currency unit: exact sums of any MRR an export holds
# The sources whose rows metrics join to accounts.csv's (by its row, `account`).
JOINED_TO_ACCOUNTS = ("accounts", "adoption")


def literal_like(stamp: "ir.Value", moment: dt.datetime, timezone: str) -> "ir.Value":
    """``moment`` (naive, the report zone's wall time) as a literal comparable with ``stamp``:
    the instant in the report zone when the column holds instants (zone-aware), the wall time
    otherwise, a date for a date column."""
    import ibis

    kind = stamp.type()
    if getattr(kind, "timezone", None) is not None:
        return ibis.literal(moment.replace(tzinfo=ZoneInfo(timezone)), type=kind)
    if kind.is_date():
        return ibis.literal(moment.date())
    return ibis.literal(moment)


def wall_literal(moment: "pd.Timestamp") -> "ir.Value":
    """A naive report-zone time as a literal for a table source's times (which the sources
    turned into that zone's wall time, cxtruth.sources.tables)."""
    import ibis

    return ibis.literal(moment.to_pydatetime())


def _embedded():
    """DuckDB embedded, for the Arrow buffers of the validated frames."""
    import ibis

    con = ibis.duckdb.connect()
    # DuckDB hands a filter on an Arrow table to pyarrow's scanner, which evaluates it row by
    # row (an IN list becomes ORed comparisons): 0.75 s of a 0.8 s query over 10M usage
    # events. Filtered in DuckDB after the scan instead, every metric is the same and the
    # metrics take a third less time (docs/performance.md).
    con.raw_sql("SET disabled_optimizers = 'filter_pushdown'")
    return con


class Engine:
    """An Ibis connection over the validated sources, each an Ibis table: by default DuckDB
    embedded, scanning the Arrow buffers of the validated frames (no copy); with [warehouse],
    the warehouse's engine, where table sources already are and file sources are sent."""

    def __init__(self, frames: dict[str, "pd.DataFrame | None"], account_codes: dict[str, Any] | None = None,
                 tables: dict[str, "ir.Table"] | None = None, backend: Any = None):
        """``account_codes``: per source, each row's position in accounts (-1: unknown), when the
        sources already looked them up (their unknown-account check does): not done twice.
        ``tables``: the table sources' accepted rows, on ``backend``."""
        import numpy as np
        import ibis
        import pyarrow as pa
        import pyarrow.compute as pc

        account_codes = account_codes or {}
        self.backend = backend if backend is not None else _embedded()
        self.tables: dict[str, ir.Table] = {}
        arrow = {name: pa.Table.from_pandas(frame, preserve_index=False)
                 for name, frame in frames.items() if frame is not None}
        if tables:
            # On a warehouse, sources join to accounts by the id itself: an engine's join of text
            # keys is its own business, and a file's row numbers mean nothing there.
            for name, table in tables.items():
                self.tables[name] = table.mutate(account=table.account_id) if name in JOINED_TO_ACCOUNTS else table
            for name, table in arrow.items():
                if name in JOINED_TO_ACCOUNTS:
                    table = table.append_column("account", table["account_id"])
                self.tables[name] = ibis.memtable(table)
            return
        accounts = arrow.get("accounts")
        for name, table in arrow.items():
            if accounts is not None and name in JOINED_TO_ACCOUNTS:
                # `account`: the row of accounts.csv an account_id names (NULL: none). Joins on this
                # small integer instead of the id text: 10M usage events join and group 2-3x faster.
                known = account_codes.get(name)
                if name == "accounts":
                    code = pa.array(range(len(table)), pa.int32())
                elif known is not None and len(known) == len(table):
                    code = pa.array(np.asarray(known, dtype=np.int32), mask=np.asarray(known) < 0)
                else:
                    code = pc.index_in(table["account_id"], value_set=accounts["account_id"].combine_chunks())
                table = table.append_column("account", code)
            self.tables[name] = ibis.memtable(table)

    def execute(self, expr: "ir.Table") -> "pd.DataFrame":
        from ..warehouse import run

        return run(expr, self.backend)


@dataclass
class Window:
    """The months a report computes (oldest first, consecutive), and the engine's tables."""

    engine: Engine
    months: tuple[Month, ...]
    timezone: str
    config: Any = None  # the run's Config (source settings such as the handoff checklist)
    settings: dict[str, Any] = field(default_factory=dict)  # every metric's, by key
    cache: dict[str, Any] = field(default_factory=dict)  # what several metrics read (tracked features)
    _bounds: list[dt.datetime] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        first = self.months[0]
        self._bounds = [first.shift(i).start.to_pydatetime() for i in range(len(self.months) + 1)]

    def table(self, name: str) -> "ir.Table | None":
        return self.engine.tables.get(name)

    def execute(self, expr: "ir.Table") -> "pd.DataFrame":
        return self.engine.execute(expr)

    def bounds(self, stamp: "ir.Value") -> list:
        """Month starts of the window and the end of its last month, as literals comparable
        with ``stamp``: naive report-zone wall time, or instants in the report zone when the
        column is zone-aware (a warehouse's TIMESTAMP WITH TIME ZONE)."""
        if stamp.type().is_date():  # a date against midnight: the bounds as they are
            import ibis

            return [ibis.literal(b) for b in self._bounds]
        return [literal_like(stamp, b, self.timezone) for b in self._bounds]

    def month_before(self, stamp: "ir.Value") -> tuple:
        """The bounds (start, end) of the month before the window's first, as `bounds` gives them."""
        import ibis

        start = self.months[0].shift(-1).start.to_pydatetime()
        first = ibis.literal(start) if stamp.type().is_date() else literal_like(stamp, start, self.timezone)
        return first, self.bounds(stamp)[0]

    def month_of(self, stamp: "ir.Value") -> "ir.IntegerValue":
        """The position in the window of the month ``stamp`` falls in; NULL outside it (and for NULL)."""
        import ibis

        b = self.bounds(stamp)
        return ibis.cases((stamp < b[0], ibis.null("int16")),
                          *((stamp < b[i + 1], ibis.literal(i, "int16")) for i in range(len(self.months))),
                          else_=ibis.null("int16"))

    def months_table(self, shift: int = 0) -> "ir.Table":
        """One row per month of the window: its position ``m`` and bounds ``start`` <= t < ``end``
        (of the month ``shift`` months from it, e.g. -1: the month before), to join on."""
        import ibis
        import pandas as pd

        starts = [m.shift(shift).start for m in self.months]
        frame = pd.DataFrame({"m": range(len(self.months)), "start": starts,
                              "end": [m.shift(shift).end for m in self.months]})
        frame["m"] = frame["m"].astype("int16")
        return ibis.memtable(frame)

    def order_statistics(self, rows: "ir.Table", value: str, quantiles: tuple[float, ...]) -> "ir.Table":
        """Per month ``m`` of ``rows``: ``n`` and the values ranked around each of ``quantiles``
        (0-based ``rank``), enough for `stats.quantile` to give numpy's exact result."""
        import ibis
        from ibis import _

        ranked = rows.select("m", value).mutate(
            rank=ibis.row_number().over(group_by="m", order_by=value),
            n=_.count().over(group_by="m"))
        near = [(ranked.rank >= ((ranked.n - 1) * q).floor() - 1) & (ranked.rank <= ((ranked.n - 1) * q).floor() + 2)
                for q in quantiles]
        keep = near[0]
        for more in near[1:]:
            keep |= more
        return ranked.filter(keep).select("m", "n", "rank", v=ranked[value])


@dataclass
class MonthParts:
    """One month's rows of each part (column ``m`` dropped), and what was read whole."""

    month: Month
    rows: dict[str, "pd.DataFrame"]

    def __getitem__(self, name: str) -> "pd.DataFrame":
        return self.rows[name]


def compute(config: Any, metrics: list[Any], frames: dict[str, "pd.DataFrame | None"],
            months: list[Month], account_codes: dict[str, Any] | None = None,
            tables: dict[str, Any] | None = None, backend: Any = None) -> dict[Month, dict[str, dict[str, Any]]]:
    """Every metric's value and extras for each of ``months`` (consecutive), flagged low sample."""
    settings = {metric.key: config.metrics.get(metric.key) for metric in metrics}
    engine = Engine(frames, account_codes, tables, backend)
    window = Window(engine, tuple(sorted(months)), config.report.timezone, config, settings)
    out: dict[Month, dict[str, dict[str, Any]]] = {m: {} for m in window.months}
    for metric in metrics:
        own = settings[metric.key]
        exprs = metric.parts(window, own)
        results = None if exprs is None else {name: _result(window, expr) for name, expr in exprs.items()}
        for position, month in enumerate(window.months):
            parts = None if results is None else MonthParts(month, {
                name: whole if by_month is None else by_month.get(position, whole)
                for name, (by_month, whole) in results.items()})
            out[month][metric.key] = flag_low_sample(metric, finite(metric.value(parts, own)), own.min_sample)
    return out


def finite(result: Any) -> Any:
    """``result`` with every float that is not a number (infinity, NaN) made None: a mean of
    cells near the largest float overflows, and no value at all is the honest answer."""
    import math

    if isinstance(result, dict):
        return {key: finite(value) for key, value in result.items()}
    if isinstance(result, list):
        return [finite(value) for value in result]
    if isinstance(result, float) and not math.isfinite(result):
        return None
    return result


def _result(window: Window, expr: Any) -> tuple[dict[int, Any] | None, Any]:
    """(rows per month position, what a month without rows gets) of a part. A part without
    an ``m`` column (a list, a count, a frame of all months) has no rows per month: (None, it)."""
    import ibis.expr.types as ir

    frame = window.execute(expr) if isinstance(expr, ir.Table) else expr
    if not hasattr(frame, "columns") or "m" not in frame.columns:
        return None, frame
    by_month = {int(m): rows.drop(columns="m").reset_index(drop=True)
                for m, rows in frame.groupby("m", sort=True)}
    return by_month, frame.drop(columns="m").iloc[0:0]


def flag_low_sample(metric: Any, result: dict[str, Any], min_sample: int) -> dict[str, Any]:
    """``low_sample``: True/False when there is a value, None when there is none."""
    size = result.get(metric.sample)
    result["low_sample"] = None if result["value"] is None or size is None else size < min_sample
    return result
