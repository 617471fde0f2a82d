"""The company's own KPIs, declared in config.toml (see docs/metrics.md, "Your own KPIs")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .declare import Metric

if TYPE_CHECKING:
    from ..config import Config


def custom_metrics(config: "Config") -> dict[str, Metric]:
    return {}
