"""The freshness gate: is every source's data recent enough to report the month?

A source whose newest row is older than the month's end by more than its
limit (`[report] max_staleness_days`, default 3, or the source's own
`max_staleness_days`) makes the report a DRAFT; `render --strict` refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..config import Config
from ..months import Month
from ..sources import Sources

# actions.csv records decisions, not activity: its newest row says nothing about freshness.
GATED_SOURCES = ("nps", "accounts", "adoption", "handoffs", "feedback", "awareness")


@dataclass(frozen=True)
class StaleSource:
    name: str
    file: str
    newest: str  # YYYY-MM-DD, or "no rows"
    days_before_end: float | None  # None when the file has no dated rows
    limit_days: float

    def describe(self, month: Month) -> str:
        if self.days_before_end is None:
            return f"{self.file} has no dated rows"
        return (f"{self.file}: newest row {self.newest}, {self.days_before_end:.1f} days before "
                f"the end of {month.label} (limit {self.limit_days:g})")


def _newest(result, name: str) -> pd.Timestamp | None:
    if name == "accounts" and result.table is not None:  # on the engine: the newest of both dates
        table = result.table
        from ..warehouse import run

        newest = run(table.aggregate(a=table.start_date.max(), b=table.churn_date.max())).iloc[0]
        return pd.Timestamp(pd.Series(newest).dropna().max()) if newest.notna().any() else None
    if result.table is not None:
        span = result.date_range()
        return span[1] if span else None
    frame = result.frame
    if frame is None or not len(frame):
        return None
    if name == "accounts":  # a CRM export is fresh if it carries recent starts or churns
        return pd.concat([frame["start_date"], frame["churn_date"]]).max()
    span = result.date_range()
    return span[1] if span else None


def stale_sources(config: Config, sources: Sources, month: Month) -> list[StaleSource]:
    """Sources that were read but whose newest row is too old for ``month``."""
    stale = []
    # A custom source is gated like a built-in one when it has a date column to judge by.
    custom = [name for name in config.sources.custom if config.source_spec(name).time_column]
    for name in [*GATED_SOURCES, *custom]:
        result = sources.results.get(name)
        if result is None or result.status != "read":
            continue
        limit = config.staleness_limit(name)
        newest = _newest(result, name)
        if newest is None or pd.isna(newest):
            stale.append(StaleSource(name, result.shown, "no rows", None, limit))
            continue
        behind = (month.end - newest) / pd.Timedelta(days=1)
        if behind > limit:
            stale.append(StaleSource(name, result.shown, newest.strftime("%Y-%m-%d"), behind, limit))
    return stale
