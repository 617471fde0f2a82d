"""Which segment is worst, and whether it differs from the whole by more than noise.

DATA_CONTRACT §3 gives per-segment values for nps, logo_churn and
feature_adoption. The report names the worst segment only when the overall
value lies outside that segment's 95 % interval, so a small segment's bad
month is not presented as a finding. Pure functions; see docs/decisions.md.
"""

from __future__ import annotations

from typing import Any

from ..metrics.stats import wilson_interval

MIN_SEGMENT_SIZE = 10  # below this the normal approximation behind the intervals is not worth printing
LOW_SEGMENT_SAMPLE = 30  # churn and adoption segments smaller than this are flagged, like NPS's min_sample


def _size(entry: dict[str, Any]) -> int:
    """A segment's count: responses or accounts (`n`), or churn's `base`."""
    return int(entry.get("n", entry.get("base")) or 0)


def segment_interval(kind: str | None, entry: dict[str, Any]) -> tuple[float, float] | None:
    """The 95 % interval around a segment's value, in the metric's unit (``kind``: the
    declaration's `segment_interval`, "nps" or "proportion")."""
    value, n = entry.get("value"), _size(entry)
    if value is None or not n:
        return None
    if kind == "nps":
        moe = entry.get("margin_of_error")
        return None if moe is None else (value - moe, value + moe)
    # Rates: churn is a proportion of the base; adoption is a mean of per-account
    # proportions, whose variance is at most p(1-p), so this interval is conservative.
    low, high = wilson_interval(min(max(value / 100.0, 0.0), 1.0), n)
    return 100.0 * low, 100.0 * high


def worst_segment(kind: str | None, value: float | None, direction: str, segments: dict[str, dict[str, Any]],
                  low_sample_below: int = LOW_SEGMENT_SAMPLE) -> dict[str, Any] | None:
    """The worst segment with at least MIN_SEGMENT_SIZE rows, and whether it is beyond noise.

    None when there are fewer than two such segments or no overall value.
    """
    sized = {name: e for name, e in segments.items()
             if e.get("value") is not None and _size(e) >= MIN_SEGMENT_SIZE}
    if value is None or len(sized) < 2:
        return None
    sign = 1 if direction == "higher" else -1
    name = min(sized, key=lambda s: (sign * sized[s]["value"], s))
    entry = sized[name]
    interval = segment_interval(kind, entry)
    beyond = interval is not None and not interval[0] <= value <= interval[1]
    worse = sign * (entry["value"] - value) < 0
    n = _size(entry)
    return {"segment": name, "value": entry["value"], "n": n, "low_sample": n < low_sample_below,
            "interval": list(interval) if interval else None, "beyond_noise": bool(beyond and worse)}
