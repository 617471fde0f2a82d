"""Scoring (DATA_CONTRACT.md §4): status, owner, previous value, change, trend.

Pure functions of computed metrics and config; nothing here reads or writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import Config, MetricConfig
from ..metrics import Metric, declared
from ..months import Month
from .segments import LOW_SEGMENT_SAMPLE, worst_segment

STATUSES = ("off_track", "at_risk", "no_data", "on_track")  # most urgent first
STATUS_WORDS = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track", "no_data": "No data"}


def status_of(value: float | None, settings: MetricConfig) -> str:
    """on_track / at_risk / off_track / no_data, comparing the unrounded value."""
    if value is None:
        return "no_data"
    sign = 1 if settings.direction == "higher" else -1
    if sign * value >= sign * settings.target:
        return "on_track"
    if sign * value >= sign * settings.warn:
        return "at_risk"
    return "off_track"


@dataclass(frozen=True)
class TrendPoint:
    month: Month
    value: float | None
    status: str
    low_sample: bool = False


@dataclass
class ScoredMetric:
    key: str
    label: str
    unit: str
    definition: str
    value: float | None
    status: str
    owner: str
    consulted: list[str]
    target: float
    warn: float
    direction: str
    previous: float | None
    change: float | None
    extras: dict[str, Any]
    trend: list[TrendPoint] = field(default_factory=list)
    declaration: Metric | None = field(default=None, repr=False)  # what it is: sample noun, facts, ...

    @property
    def status_word(self) -> str:
        return STATUS_WORDS[self.status]

    @property
    def severity(self) -> int:
        return STATUSES.index(self.status)

    @property
    def improved(self) -> bool | None:
        """Whether the change moved the right way (None when there is no change)."""
        if self.change is None or self.change == 0:
            return None
        return bool((self.change > 0) == (self.direction == "higher"))  # a numpy bool is not `true` in Jinja


def withhold(result: dict[str, Any]) -> dict[str, Any]:
    """A month's result with no number in it: what rests on data that cannot be trusted
    is unknown (None; an empty object for per-feature and per-segment parts), never 0."""
    return {k: ({} if isinstance(v, dict) else None) for k, v in result.items()}


def score_metrics(config: Config, history: dict[Month, dict[str, dict[str, Any]]], month: Month,
                  withheld: dict[str, str] | None = None) -> list[ScoredMetric]:
    """Score every metric for ``month``; ``history`` must hold ``month`` and the months of the trend.

    ``withheld``: metric key -> why it has no number (a weakened source, a missing column,
    `cxtruth.quality`); such a metric is no data in every month, with no status.
    """
    withheld = withheld or {}
    history = {m: {k: withhold(r) if k in withheld else r for k, r in results.items()}
               for m, results in history.items()} if withheld else history
    months = sorted(history)
    current, previous = history[month], history.get(month.shift(-1))
    scored = []
    for key, info in declared(config).items():
        settings = config.metrics.get(key)
        result = dict(current[key])
        value = result.pop("value")
        prev_value = previous[key]["value"] if previous else None
        change = value - prev_value if value is not None and prev_value is not None else None
        if "segments" in result:
            low_below = settings.min_sample if info.segment_interval == "nps" else LOW_SEGMENT_SAMPLE
            result["worst_segment"] = worst_segment(info.segment_interval, value, settings.direction,
                                                    result["segments"], low_below)
        if info.change_test is not None:
            result["change_significant"] = info.change_test(current[key], previous[key]) if previous else None
        trend = [
            TrendPoint(m, history[m][key]["value"], status_of(history[m][key]["value"], settings),
                       bool(history[m][key].get("low_sample")))
            for m in months if m <= month
        ]
        scored.append(ScoredMetric(
            key=key, label=info.label, unit=info.unit, definition=info.definition,
            value=value, status=status_of(value, settings), owner=settings.owner,
            consulted=list(settings.consulted), target=settings.target, warn=settings.warn,
            direction=settings.direction, previous=prev_value, change=change, extras=result, trend=trend,
            declaration=info,
        ))
    return scored
