"""The row rules of DATA_CONTRACT.md §2, written once for every reader.

Each reader turns its cells into typed columns first (Arrow's typed CSV read,
Parquet's own types, or the text path's converters) and says which cells held
something that is not a value of their type. `broken_rows` then checks every
rule on those typed columns, the same way whatever the file was: a required
cell that is blank, a value out of its range, a date in the future, two dates
in the wrong order, an action's owner, status and metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics import declared
from ..metrics.engine import literal_like
from ..config import Config, SourceConfig
from ..months import generated_now
from ..schema import ACTION_STATUSES, Column, SourceSpec

_COMMA_HINT = '; this looks like a decimal comma: set decimal = "," under [sources.{}]'


@dataclass(frozen=True)
class Broken:
    """Rows that break one rule in one column, and why."""

    column: str
    rows: np.ndarray  # bool per row
    reason: str


def latest_allowed(tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(now, the latest date a row may carry) as naive report-zone times.

    A day's grace: an export's clock or zone may run a little ahead of ours.
    """
    now = pd.Timestamp(generated_now(tz).replace(tzinfo=None))
    return now, now + pd.Timedelta(days=1)


def broken_rows(spec: SourceSpec, typed: pd.DataFrame, source: SourceConfig, config: Config,
                unparsed: dict[str, pd.Series] | None = None, cells: pd.DataFrame | None = None,
                checked: Callable[[Column, pd.Series], None] | None = None) -> tuple[list[Broken], pd.Series]:
    """Every rule a typed row must pass: the rows that break each, in the order they are
    checked, and every row that breaks any.

    ``typed`` holds each column of ``spec`` that the file has, a blank cell as missing. ``unparsed``: per
    column, the cells that held something that is not a value of its type (the text
    path; a typed read has none). ``cells``: the cells as written, for a hint about
    decimal commas. ``checked(column, rejected)`` is called after each column with the
    rows rejected so far.
    """
    run_date, latest = latest_allowed(config.report.timezone)
    out: list[Broken] = []
    # Masks as numpy arrays: pandas' boolean operators cost 10-20 ms each on 10M rows.
    rejected = np.zeros(len(typed), dtype=bool)
    for column in spec.columns:
        if column.name not in typed:  # an optional column the export does not have
            continue
        value = typed[column.name]
        bad = (unparsed or {}).get(column.name)
        bad = None if bad is None else np.asarray(bad, dtype=bool)
        if not column.nullable:
            blank = value.isna().to_numpy()
            blank = blank if bad is None else blank & ~bad
            out.append(Broken(column.name, blank, f"{column.name} is required but blank"))
            rejected |= blank
        outside = _outside(column, value)
        bad = outside if bad is None else bad if outside is None else bad | outside
        if bad is not None:
            expected = expectation(column, source)
            if cells is not None and column.kind in ("int", "number") and source.decimal != ",":
                comma = bad & _looks_like_decimal_comma(cells[column.name].str.strip()).to_numpy()
                out.append(Broken(column.name, comma, expected + _COMMA_HINT.format(spec.name)))
                bad = bad & ~comma
                rejected |= comma
            out.append(Broken(column.name, bad, expected))
            rejected |= bad
        if column.kind in ("datetime", "date") and not column.future_ok:
            # numpy's comparison (NaT is never later): pandas' masks each NaT first, 40 ms on 10M rows
            future = (value.to_numpy(dtype="datetime64[ns]") > latest.to_datetime64()) & ~rejected
            out.append(Broken(column.name, future, f"{column.name} is in the future (this ran on {run_date:%Y-%m-%d})"))
            rejected |= future
        if checked is not None:
            checked(column, rejected)
    row_rules = [(later, (typed[later] < typed[earlier]).to_numpy(), reason)
                 for later, earlier, reason in spec.order_rules if later in typed and earlier in typed]
    if spec.name == "actions":
        functions = config.report.functions
        row_rules += [
            ("owner", ~typed["owner"].isin(functions).to_numpy(),
             f"owner must be one of the configured functions ({', '.join(functions)})"),
            ("status", ~typed["status"].str.lower().isin(ACTION_STATUSES).to_numpy(),
             "status must be open, done or dropped"),
        ]
        if "metric" in typed:
            row_rules.append(("metric", (typed["metric"].notna() & ~typed["metric"].isin(list(declared(config)))).to_numpy(),
                              "metric must be blank or a metric key (e.g. nps, closure_time)"))
    bad_any = np.zeros(len(typed), dtype=bool)
    for name, bad, reason in row_rules:  # each row named once, under the first it breaks
        bad = bad & ~rejected & ~bad_any
        out.append(Broken(name, bad, reason))
        bad_any |= bad
    return out, rejected | bad_any


def _outside(column: Column, value: pd.Series) -> np.ndarray | None:
    """Numbers beyond the column's range (and, read typed, not finite); None for other kinds."""
    if column.kind not in ("int", "number"):
        return None
    numbers = value.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        outside = np.isinf(numbers)  # NaN is a blank here (a typed read has no "nan" text)
        if column.low is not None:
            outside |= numbers < column.low
        if column.high is not None:
            outside |= numbers > column.high
    return outside


def _looks_like_decimal_comma(cell: pd.Series) -> pd.Series:
    return cell.str.fullmatch(r"-?\d+,\d{1,2}", na=False) & ~cell.str.fullmatch(r"-?\d{1,3},\d{3}", na=False)


def expectation(column: Column, source: SourceConfig) -> str:
    """What a cell of ``column`` must be, as a rejected row's reason says it."""
    name = column.name
    if column.kind in ("datetime", "date"):
        return source.date_rule.expectation(name, with_time=column.kind == "datetime")
    if column.kind == "int":
        if column.low is None or column.high is None:  # a custom source's integer: any whole number
            return f"{name} must be a whole number"
        return f"{name} must be a whole number {column.low:g}..{column.high:g}"
    if column.kind == "number":
        low = f" >= {column.low:g}" if column.low is not None else ""
        high = f" and at most {column.high:g}".replace("e+", "e") if column.high is not None else ""
        sep = "decimal comma" if source.decimal == "," else "decimal point"
        return f"{name} must be a plain number{low}{high} (with a {sep}, no currency or thousands marks)"
    return f"{name} must be true/false, yes/no, y/n or 1/0"


def table_rules(spec: SourceSpec, table, source: SourceConfig, config: Config) -> list[tuple[str, Any, str]]:
    """`broken_rows`'s rules as engine predicates over a warehouse table's typed columns (the
    same rules, in the same order, each row counted as there): (column, broken, reason), each
    ``broken`` a boolean Ibis expression never NULL. A table's cells are typed by the engine,
    so "not a value of its type" cannot happen; a blank text is NULL or only spaces."""
    import ibis

    run_date, latest = latest_allowed(config.report.timezone)
    out: list[tuple[str, Any, str]] = []
    rejected = ibis.literal(False)

    def add(column: str, broken, reason: str):
        out.append((column, broken.fill_null(False), reason))

    for column in spec.columns:
        if column.name not in table.columns:
            continue
        value = table[column.name]
        if not column.nullable:
            blank = value.isnull()  # a table's blank text is NULL by now (tables._as_kind)
            add(column.name, blank, f"{column.name} is required but blank")
            rejected |= blank.fill_null(False)
        odd = ibis.literal(False)
        if column.kind == "number" and value.type().is_floating():  # NaN or infinity: not a number
            odd = (value.isnan() | value.isinf()).fill_null(False)
            add(column.name, odd, f"{column.name} must be a finite number")
            rejected |= odd
        if column.kind in ("int", "number") and (column.low is not None or column.high is not None):
            outside = ibis.literal(False)
            if column.low is not None:
                outside |= value < column.low
            if column.high is not None:
                outside |= value > column.high
            outside = outside.fill_null(False) & ~odd
            add(column.name, outside, _within(column))
            rejected |= outside.fill_null(False)
        if column.kind in ("datetime", "date") and not column.future_ok:
            limit = literal_like(value, latest.to_pydatetime(), config.report.timezone)
            future = (value > limit).fill_null(False) & ~rejected
            add(column.name, future, f"{column.name} is in the future (this ran on {run_date:%Y-%m-%d})")
            rejected |= future
    row_rules = [(later, table[later] < table[earlier], reason)
                 for later, earlier, reason in spec.order_rules if later in table.columns and earlier in table.columns]
    if spec.name == "actions":
        functions = config.report.functions
        row_rules += [
            ("owner", table["owner"].notin(functions),
             f"owner must be one of the configured functions ({', '.join(functions)})"),
            ("status", table["status"].lower().notin(ACTION_STATUSES), "status must be open, done or dropped"),
        ]
        if "metric" in table.columns:
            row_rules.append(("metric", table["metric"].notnull() & table["metric"].notin(list(declared(config))),
                              "metric must be blank or a metric key (e.g. nps, closure_time)"))
    bad_any = ibis.literal(False)
    for name, bad, reason in row_rules:  # each row named once, under the first it breaks
        bad = bad.fill_null(False) & ~rejected & ~bad_any
        add(name, bad, reason)
        bad_any |= bad
    return out



def _within(column: Column) -> str:
    """A typed column's range, as a table's rejected row's reason says it (no cell to misread)."""
    low, high = (None if x is None else f"{x:g}".replace("e+", "e") for x in (column.low, column.high))
    if low is not None and high is not None:
        return f"{column.name} must be {low}..{high}"
    if low is not None:
        return f"{column.name} must be >= {low}"
    return f"{column.name} must be <= {high}"
