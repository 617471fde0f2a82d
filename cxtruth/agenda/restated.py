"""Restated months: an earlier month whose value, computed again today, is not what its report printed.

Each render keeps what it printed for its own month in its run record
(`cxtruth.records.RunRecord.printed`, read back as `Printed`; decision 62). When month M is
built, every earlier month X of the trend whose report printed a value is compared
with X computed again from today's exports. The rule (docs/metrics.md, "Restated
months") is pure arithmetic on the two results; nothing here reads a file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping

from ..formatting import fmt_count, fmt_value
from ..metrics import Metric
from ..months import Month
from ..records import Printed
from .score import ScoredMetric

Z_95 = 1.96
# A restatement lists at most this many months per metric: the earlier months of the trend.
MAX_RESTATED = 12
# Metrics whose value is one share of its sample (numerator / sample * 100): a binomial
# standard error applies. Custom metrics of kind "rate" are shares too.
BINOMIAL_RATES = frozenset({"logo_churn", "onboarding_engagement"})


@dataclass(frozen=True)
class Restatement:
    month: Month
    label: str  # the metric's label, for the sentence
    unit: str
    printed: float | None
    now: float | None
    sample: str  # the extra that holds the sample size ("n", "base", ...)
    sample_noun: str
    sample_printed: int | None
    sample_now: int | None
    printed_at: str
    beyond: float | None  # |now - printed| / (1.96 * SE), when a sampling test was applied

    @property
    def reason(self) -> str:
        """Why it moved, in the metric's own sample noun: late rows, rows gone, or a corrected export."""
        if self.now is None:
            return "it has no data now"
        if self.printed is None:
            return "it had no data when printed"
        a, b = self.sample_printed, self.sample_now
        if a is None or b is None:
            return "the exports changed since"
        if b > a:
            return f"{fmt_count(b - a)} {self.sample_noun} arrived late"
        if b < a:
            return f"{fmt_count(a - b)} {self.sample_noun} were removed from the exports"
        return f"the same {fmt_count(a)} {self.sample_noun}: an export was corrected"

    @property
    def sentence(self) -> str:
        """"September 2026 NPS was presented as 33.3; it is now 31.9 — 41 responses arrived late"."""
        now = "it has no data now" if self.now is None else f"it is now {fmt_value(self.now, self.unit)}"
        head = f"{self.month.label} {self.label} was presented as {fmt_value(self.printed, self.unit)}; {now}"
        return head if self.now is None or self.printed is None else f"{head} — {self.reason}"

    def document(self) -> dict[str, Any]:
        return {"month": str(self.month), "printed": self.printed, "now": self.now,
                "sample": self.sample, "sample_printed": self.sample_printed, "sample_now": self.sample_now,
                "printed_at": self.printed_at or None, "reason": self.reason, "text": self.sentence}


def unit_sd(declaration: Metric, now: Mapping[str, Any]) -> float | None:
    """The standard deviation of one sampled row's contribution, estimated from today's result.

    NPS: a response scores +100, 0 or -100, so sd = 100 * sqrt(p + d - (p - d)^2).
    A binomial rate (percent): sd = sqrt(v * (100 - v)). None: no sampling model (medians,
    means of rates, MRR shares, ...), so only the printed precision counts.
    """
    value = now.get("value")
    if value is None:
        return None
    if declaration.segment_interval == "nps":
        n, promoters, detractors = now.get("n"), now.get("promoters"), now.get("detractors")
        if not n or promoters is None or detractors is None:
            return None
        p, d = promoters / n, detractors / n
        return 100 * math.sqrt(max(0.0, p + d - (p - d) ** 2))
    if declaration.key in BINOMIAL_RATES or (declaration.custom and declaration.kind == "rate"):
        return math.sqrt(max(0.0, value * (100 - value)))
    return None


def restatement(declaration: Metric, month: Month, printed: Printed, now: Mapping[str, Any]) -> Restatement | None:
    """The restatement of ``month`` for one metric, or None when the change is within noise.

    Rule (docs/metrics.md): a number that became no data, or the reverse, is restated;
    otherwise the printed figure (0.1 in the metric's unit) must change, and when the
    sample size changed and the metric has a sampling model, the difference must exceed
    1.96 x the standard error of the difference between a sample and the same sample
    with rows added (or removed): sd * sqrt(|1/n_printed - 1/n_now|).
    """
    value = now.get("value")
    sample_now = now.get(declaration.sample)
    sample_now = None if sample_now is None else int(sample_now)
    found = Restatement(month, declaration.label, declaration.unit, printed.value, value, declaration.sample,
                        declaration.sample_noun, printed.sample, sample_now, printed.printed_at, None)
    if printed.value is None and value is None:
        return None
    if printed.value is None or value is None:
        return found
    if fmt_value(printed.value, declaration.unit) == fmt_value(value, declaration.unit):
        return None
    a, b = printed.sample, sample_now
    sd = unit_sd(declaration, now)
    if a is None or b is None or a == b or sd is None or min(a, b) <= 0:
        return found  # a corrected export, or no sampling model: the printed figure changed
    se = sd * math.sqrt(abs(1 / a - 1 / b))
    if se == 0:
        return found
    beyond = abs(value - printed.value) / (Z_95 * se)
    if beyond <= 1:
        return None
    return replace(found, beyond=beyond)


def find_restatements(declarations: Mapping[str, Metric], history: Mapping[Month, Mapping[str, Mapping[str, Any]]],
                      printed: Mapping[Month, Mapping[str, Printed]], month: Month,
                      withheld: frozenset[str] | set[str] = frozenset()) -> dict[str, list[Restatement]]:
    """Per metric key, the earlier months of ``history`` restated since their report printed them.

    ``history``: month -> key -> today's result (value and extras); ``printed``: month -> key
    -> what that month's report printed. Months not before ``month``, months without a
    printed value, and metrics with no number today for a data reason (``withheld``: they
    were not computed again) are never restated. Newest month first, at most MAX_RESTATED.
    """
    out: dict[str, list[Restatement]] = {}
    for key, declaration in declarations.items():
        found = []
        for earlier in sorted(history, reverse=True):
            if earlier >= month or key in withheld or key not in history[earlier]:
                continue
            shown = printed.get(earlier, {}).get(key)
            if shown is None:
                continue
            r = restatement(declaration, earlier, shown, history[earlier][key])
            if r is not None:
                found.append(r)
        out[key] = found[:MAX_RESTATED]
    return out


def printed_values(metrics: list[ScoredMetric]) -> dict[str, dict[str, Any]]:
    """What a report prints for its own month, per metric key, as its run record keeps it."""
    out = {}
    for m in metrics:
        sample = m.extras.get(m.declaration.sample) if m.declaration is not None else None
        sample = int(sample) if isinstance(sample, (int, float)) and float(sample).is_integer() else None
        out[m.key] = Printed(None if m.value is None else float(m.value), sample).record()
    return out
