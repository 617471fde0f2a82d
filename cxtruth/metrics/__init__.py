"""The metrics: each declared once (a module per family), computed by one engine.

    from cxtruth.metrics import MetricInputs, compute_month
    compute_month(MetricInputs.from_frames(config, frames), Month(2026, 10))

`declared(config)` lists every metric a run computes: the shipped ones in the
contract's order, then the company's own KPIs from config.toml. Importing this
package imports neither pandas nor Ibis; computing does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .declare import Metric, MetricSettings
from .registry import BUILT_IN

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Config
    from ..months import Month


def declared(config: "Config") -> dict[str, Metric]:
    """Every metric of a run, by key: the shipped ones (contract order), then config's own."""
    from .custom import custom_metrics

    return {**BUILT_IN, **custom_metrics(config)}


@dataclass
class MetricInputs:
    """The validated frames a run computes from (by source name; None: not read)."""

    config: "Config"
    frames: dict[str, "pd.DataFrame | None"]
    # per source, each row's position in accounts (-1: unknown), if the sources looked it up
    account_codes: dict[str, Any] | None = None
    tables: dict[str, Any] | None = None  # table sources' accepted rows, on `backend` (docs/warehouse.md)
    backend: Any = None

    @classmethod
    def from_frames(cls, config: "Config", frames: dict[str, "pd.DataFrame | None"],
                    account_codes: dict[str, Any] | None = None, **_: Any) -> "MetricInputs":
        return cls(config, dict(frames), account_codes)

    @classmethod
    def from_sources(cls, config: "Config", sources: Any) -> "MetricInputs":
        """What `cxtruth.sources.load_sources` read: files' frames, tables' expressions."""
        results = sources.results
        return cls(config, {name: r.frame for name, r in results.items() if r.table is None},
                   sources.account_codes, {name: r.table for name, r in results.items() if r.table is not None},
                   sources.backend)


def compute_months(inputs: MetricInputs, months: list["Month"]) -> dict["Month", dict[str, dict[str, Any]]]:
    """Every metric for each of ``months``: per month, per key, the value and the contract's extras."""
    from ..months import Month
    from .engine import compute

    if not months:
        return {}
    first, last = min(months), max(months)
    window = [Month.from_index(i) for i in range(first.index, last.index + 1)]
    results = compute(inputs.config, list(declared(inputs.config).values()), inputs.frames, window,
                      inputs.account_codes, inputs.tables, inputs.backend)
    return {month: results[month] for month in months}


def compute_month(inputs: MetricInputs, month: "Month") -> dict[str, dict[str, Any]]:
    """Every metric for ``month``, in contract order (custom metrics after)."""
    return compute_months(inputs, [month])[month]


__all__ = ["BUILT_IN", "Metric", "MetricInputs", "MetricSettings", "compute_month", "compute_months", "declared"]
