"""Why a metric moved: its month-over-month change split by segment into rate and mix.

A metric with segments is a weighted mean of its segments' values, the weights
being each segment's share of the sample (responses, accounts in the base,
active accounts). Between last month (0) and this month (1), segment s with
share w and value r contributes

    rate_s = (r1 - r0) * (w0 + w1) / 2     its own value moving
    mix_s  = (w1 - w0) * (r0 + r1) / 2     its share of the sample moving

and the parts sum exactly to the change: sum(rate_s + mix_s) = sum(w1 r1) -
sum(w0 r0) (the symmetric two-factor split; docs/metrics.md, "What moved it").
Rows without a segment form one more segment, "(no segment)", so nothing is
left out. A segment present in one month only moves the mix alone.

Segments are named only when the change itself is beyond noise (NPS: the
metric's significance test; rates: a two-proportion test at 95 %), and then
only those explaining at least a quarter of it, at most two. Pure functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..metrics.stats import Z95

NO_SEGMENT = "(no segment)"
MAX_NAMED = 2
MIN_SHARE_NAMED = 0.25  # of the change: a segment explaining less is not "what drove it"


@dataclass(frozen=True)
class SegmentPart:
    segment: str
    value_before: float | None
    value_now: float | None
    n_before: int
    n_now: int
    rate: float  # the part of the change from the segment's own value moving
    mix: float  # the part from its share of the sample moving
    beyond_noise: bool | None  # its own value's move, against its sampling error (None: unknown)

    @property
    def total(self) -> float:
        return self.rate + self.mix

    def document(self) -> dict[str, Any]:
        return {"segment": self.segment, "value_previous": self.value_before, "value": self.value_now,
                "n_previous": self.n_before, "n": self.n_now, "rate_effect": self.rate,
                "mix_effect": self.mix, "total": self.total, "beyond_noise": self.beyond_noise}


@dataclass(frozen=True)
class Drivers:
    change: float
    rate: float  # sum of the segments' rate parts
    mix: float  # sum of their mix parts
    parts: tuple[SegmentPart, ...]  # largest contribution first
    beyond_noise: bool
    named: tuple[SegmentPart, ...]  # the one or two that explain most of it (only beyond noise)

    def document(self) -> dict[str, Any]:
        return {"change": self.change, "rate_effect": self.rate, "mix_effect": self.mix,
                "beyond_noise": self.beyond_noise, "named": [p.segment for p in self.named],
                "segments": [p.document() for p in self.parts]}


def _segments(extras: dict[str, Any], size_key: str) -> dict[str, tuple[float, int]] | None:
    """Each segment's (value, size), the rows without one as NO_SEGMENT (what remains of the whole)."""
    value, size = extras.get("value"), extras.get(size_key)
    segments = extras.get("segments")
    if value is None or not size or segments is None:
        return None
    out = {}
    for name, entry in segments.items():
        n = entry.get("n", entry.get("base"))
        if entry.get("value") is not None and n:
            out[name] = (float(entry["value"]), int(n))
    rest = int(size) - sum(n for _, n in out.values())
    if rest > 0:
        total = value * size - sum(v * n for v, n in out.values())
        if NO_SEGMENT in out:  # an export's own segment of that name: the blank rows join it
            v, n = out[NO_SEGMENT]
            total, rest = total + v * n, rest + n
        out[NO_SEGMENT] = (total / rest, rest)
    return out


def _proportion_moved(before: float, n0: int, now: float, n1: int) -> bool:
    """Two-proportion test at 95 % on percentages: |p1 - p0| > 1.96 * sqrt(p0 q0 / n0 + p1 q1 / n1)."""
    p0, p1 = before / 100.0, now / 100.0
    se = math.sqrt(max(p0 * (1 - p0), 0.0) / n0 + max(p1 * (1 - p1), 0.0) / n1)
    return abs(p1 - p0) > Z95 * se if se else p1 != p0


def _nps_moved(before: dict[str, Any] | None, now: dict[str, Any] | None) -> bool | None:
    """A segment's NPS move against both months' margins of error (1.96 * se each)."""
    if not before or not now or before.get("margin_of_error") is None or now.get("margin_of_error") is None:
        return None
    se0, se1 = before["margin_of_error"] / Z95, now["margin_of_error"] / Z95
    return abs(now["value"] - before["value"]) > Z95 * math.sqrt(se0**2 + se1**2)


def decompose(now: dict[str, Any], before: dict[str, Any] | None, size_key: str, interval: str | None,
              change_significant: bool | None = None) -> Drivers | None:
    """The change from ``before`` to ``now`` (a metric's month extras) split by segment; None when
    either month has no value or the metric has no segments."""
    if before is None:
        return None
    seg_now, seg_before = _segments(now, size_key), _segments(before, size_key)
    if seg_now is None or seg_before is None:
        return None
    n_now, n_before = sum(n for _, n in seg_now.values()), sum(n for _, n in seg_before.values())
    parts = []
    for name in sorted(set(seg_now) | set(seg_before)):
        r1, c1 = seg_now.get(name, (None, 0))
        r0, c0 = seg_before.get(name, (None, 0))
        a, b = (r0 if r0 is not None else r1), (r1 if r1 is not None else r0)  # present once: mix only
        w0, w1 = c0 / n_before, c1 / n_now
        if interval == "nps":
            moved = _nps_moved((before.get("segments") or {}).get(name), (now.get("segments") or {}).get(name))
        else:
            moved = _proportion_moved(r0, c0, r1, c1) if c0 and c1 else None
        parts.append(SegmentPart(name, r0, r1, c0, c1, (b - a) * (w0 + w1) / 2, (w1 - w0) * (a + b) / 2, moved))
    change = now["value"] - before["value"]
    if interval == "nps":
        beyond = bool(change_significant)
    else:
        beyond = _proportion_moved(before["value"], int(before[size_key]), now["value"], int(now[size_key]))
    parts.sort(key=lambda p: (-abs(p.total), p.segment))
    named = ()
    if beyond and change:
        named = tuple(p for p in parts if p.total * change > 0 and abs(p.total) >= MIN_SHARE_NAMED * abs(change)
                      )[:MAX_NAMED]
    return Drivers(change, sum(p.rate for p in parts), sum(p.mix for p in parts), tuple(parts), beyond, named)


def drivers_sentence(drivers: Drivers, unit_change) -> str:
    """The decomposition in words; ``unit_change`` formats a change in the metric's unit."""
    if not drivers.beyond_noise:
        return (f"The change ({unit_change(drivers.change)}) is within noise: no segment is named as its cause "
                f"(own values {unit_change(drivers.rate)}, mix of segments {unit_change(drivers.mix)})")
    if not drivers.named:
        return (f"The change ({unit_change(drivers.change)}) is spread over the segments: own values "
                f"{unit_change(drivers.rate)}, mix of segments {unit_change(drivers.mix)}")
    said = []
    for p in drivers.named:
        share = round(100 * p.total / drivers.change)
        how = "its own value moving" if abs(p.rate) >= abs(p.mix) else "its share of the sample moving"
        said.append(f"{p.segment} {unit_change(p.total)} ({share} % of it, mostly {how}"
                    + (f": {unit_change(p.value_now - p.value_before)} on its own"
                       if p.value_now is not None and p.value_before is not None else "") + ")")
    return f"What moved it ({unit_change(drivers.change)}): " + "; ".join(said)
