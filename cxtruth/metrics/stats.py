"""Small exact statistics the metric declarations share: shares, NPS and its margin of
error, Wilson intervals, and quantiles from ranked values. Pure functions."""

from __future__ import annotations

import math
from typing import Any

Z95 = 1.96


def pct(part: float, whole: float) -> float | None:
    """``part`` as a percentage of ``whole``; None (no data, never 0) when ``whole`` is 0."""
    return 100.0 * part / whole if whole else None


def num(value: Any) -> float | None:
    """A plain float for JSON, or None for missing/NaN."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):  # pandas' NA
        return None
    return None if math.isnan(value) else value


def nps_of(n: int, promoters: int, detractors: int) -> dict[str, Any]:
    """NPS = % promoters (9-10) minus % detractors (0-6), with its 95 % margin of error
    (normal approximation: 1.96 * sqrt((p + d - (p - d)^2) / n), in points)."""
    if n == 0:
        return {"value": None, "n": 0, "promoters": 0, "passives": 0, "detractors": 0,
                "margin_of_error": None}
    p, d = promoters / n, detractors / n
    return {
        "value": 100.0 * (p - d),
        "n": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "margin_of_error": 196.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n),
    }


def nps_standard_error(n: int | None, promoters: int | None, detractors: int | None) -> float | None:
    """The standard error of an NPS (in points), or None without responses."""
    if not n or promoters is None:
        return None
    p, d = promoters / n, detractors / n
    return 100.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)


def wilson_interval(p: float, n: int) -> tuple[float, float]:
    """95 % Wilson score interval for a proportion (0..1); sound near 0 % churn."""
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def quantile(n: int, ranked: dict[int, float], q: float) -> float | None:
    """The ``q`` quantile (linear interpolation, numpy's default) of ``n`` values of which
    ``ranked`` holds those ranked around it (0-based rank -> value; see
    `Window.order_statistics`). numpy itself interpolates, on an array that has those
    values at their ranks and the nearest known value elsewhere, so the result is
    numpy's to the last bit, whatever the rounding of its index arithmetic."""
    if not n:
        return None
    import numpy as np

    ranks = sorted(ranked)
    values = np.empty(n, dtype="float64")  # sorted: each known value up to the next known rank
    values[:ranks[0]] = ranked[ranks[0]]
    for rank, following in zip(ranks, ranks[1:] + [n]):
        values[rank:following] = ranked[rank]
    return num(np.median(values) if q == 0.5 else np.quantile(values, q))


def days_from_us(microseconds: int) -> float:
    """A duration the engine measured in whole microseconds, in days: the nanoseconds divided
    by a day's, as numpy divides a timedelta64[ns] by one day (bit for bit)."""
    return float(microseconds * 1000) / 86_400e9
