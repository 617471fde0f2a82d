"""What a metric is: one declaration, from which config, JSON, report and engine all read.

A metric declares its key, words and defaults, the sources and columns it reads,
which count is its sample size, the engine expressions that compute its parts
for every month of the window (`parts`), and the pure function that turns one
month's parts into its value and the contract's extras (`value`). Nothing here
imports pandas or Ibis: `config` builds its models from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator

if TYPE_CHECKING:
    from .engine import MonthParts, Window

Unit = Literal["points", "percent", "days", "count", "number"]
Direction = Literal["higher", "lower"]
# The interval drawn around a segment's value when the worst segment is named (cxtruth.agenda.segments).
SegmentInterval = Literal["nps", "proportion"]

# Every number in config.toml is finite and bounded: TOML allows inf, nan and 1e308. And it is
# a number: strict, so `target = true` is not 1 and `target = "40"` not 40 (pydantic's lax
# mode took both, and a status rested on them).
Threshold = Annotated[FiniteFloat, Field(ge=-1e6, le=1e6, strict=True)]
Days = Annotated[FiniteFloat, Field(ge=0, le=3660, strict=True)]  # up to ten years


class MetricSettings(BaseModel):
    """A metric's settings in config.toml ([metrics.<key>]); a metric with settings of its
    own (tracked features, an SLA) declares a subclass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str
    consulted: list[str] = Field(default_factory=list)
    target: Threshold
    warn: Threshold
    direction: Direction
    min_sample: int = Field(30, ge=1, le=10**9, strict=True)  # a month with fewer qualifying rows is flagged "low sample"

    @model_validator(mode="after")
    def _warn_beyond_target(self):
        # warn is the line between at_risk and off_track, so it must be worse than target.
        if self.direction == "higher" and self.warn > self.target:
            raise ValueError(f"warn ({self.warn:g}) must be <= target ({self.target:g}) when higher is better")
        if self.direction == "lower" and self.warn < self.target:
            raise ValueError(f"warn ({self.warn:g}) must be >= target ({self.target:g}) when lower is better")
        return self


Parts = Callable[["Window", Any], "dict[str, Any] | None"]
Value = Callable[["MonthParts | None", Any], "dict[str, Any]"]
Facts = Callable[[dict[str, Any]], "list[str]"]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: Unit
    sources: tuple[str, ...]
    definition: str
    # defaults for config, used when config.toml has no [metrics.<key>] value
    owner: str
    consulted: tuple[str, ...]
    target: float
    warn: float
    direction: Direction
    sample: str  # the extra holding the count this month's value rests on
    sample_noun: str  # that count in words: "responses", "accounts in the base"
    # engine expressions per part, grouped by month position `m` (None: a source it needs is absent)
    parts: Parts
    # one month's parts (None: a source it needs is absent) -> value and extras, in JSON order
    value: Value
    # the supporting numbers printed under the value, in words (the low-sample line is added for all)
    facts: Facts = lambda extras: []
    # Fewer qualifying rows than this and the month is flagged "low sample". Rates
    # (a share of accounts or answers) need ~30; medians of durations say something from ~10.
    min_sample: int = 30
    # Optional columns (source, column) without which the value is unknown, not zero: when a
    # source is read but lacks one, the metric is no data, with the reason (DATA_CONTRACT §7).
    needs_columns: tuple[tuple[str, str], ...] = ()
    settings: type[MetricSettings] = MetricSettings
    segment_interval: SegmentInterval | None = None
    segment_noun: str = "accounts"
    # Whether this month's change from the last is beyond noise (the JSON's `change_significant`),
    # given both months' results; None: the metric has no such test.
    change_test: Callable[[dict[str, Any], dict[str, Any]], "bool | None"] | None = None
    # (source, sentence): printed on the card when the value stands without that source, the
    # contract's fallback (adoption without accounts.csv), so the reader knows what it rests on.
    fallback: tuple[str, str] | None = None
    custom: bool = False  # declared in config.toml, not shipped
    kind: str | None = None  # a custom metric's kind (rate, mean, median, p90, count, ratio)
    notes: tuple[str, ...] = field(default=())  # written as the user wrote it (custom metrics)

    def default_settings(self) -> dict[str, Any]:
        return {"owner": self.owner, "consulted": list(self.consulted), "target": self.target,
                "warn": self.warn, "direction": self.direction, "min_sample": self.min_sample}
