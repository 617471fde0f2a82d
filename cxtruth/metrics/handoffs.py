"""Sales-to-CS handoff quality: how complete each handoff's checklist was, and how fast."""

from __future__ import annotations

import math
from itertools import chain, repeat
from typing import Any

from ..formatting import fmt_count, fmt_value
from .declare import Days, Metric, MetricSettings


class HandoffSettings(MetricSettings):
    sla_days: Days = 5


def parts(window, settings) -> dict[str, Any] | None:
    import ibis
    from ibis import _

    handoffs = window.table("handoffs")
    if handoffs is None:
        return None
    checklist = list(window.config.sources.handoffs.checklist)
    # per handoff: checklist items marked done (blank = not done)
    done = sum((handoffs[item].fill_null(False).cast("int32") for item in checklist), ibis.literal(0, "int32"))
    lag_us = handoffs.handoff_at.delta(handoffs.closed_won_at, unit="microsecond")
    sla_us = int(settings.sla_days * 86_400 * 10**6)
    dated = handoffs.mutate(m=window.month_of(handoffs.handoff_at), done=done,
                            within=(lag_us <= sla_us).cast("int32")).filter(_.m.notnull())
    return {"checklist_size": len(checklist), "by_done": dated.group_by("m", "done").agg(
        n=_.count(), within=_.within.sum(),
        rated=_.csm_rating.count(), rating_sum=_.csm_rating.cast("int64").sum())}


def value(parts, settings) -> dict[str, Any]:
    if parts is None:
        return {"value": None, "n": None, "mean_csm_rating": None, "within_sla_pct": None}
    rows = parts["by_done"]
    n = int(rows["n"].sum())
    if not n:
        return {"value": None, "n": 0, "mean_csm_rating": None, "within_sla_pct": None}
    items = parts["checklist_size"]
    # per handoff: % of checklist items done; their mean (the sum exact, whatever the rows' order)
    completeness = math.fsum(chain.from_iterable(
        repeat(100.0 * int(d) / items, int(c)) for d, c in zip(rows["done"], rows["n"]))) / n
    rated = int(rows["rated"].sum())
    ratings = int(rows["rating_sum"].fillna(0).sum())
    return {
        "value": completeness,
        "n": n,
        "mean_csm_rating": ratings / rated if rated else None,
        "within_sla_pct": 100.0 * (int(rows["within"].sum()) / n),
    }


def facts(e: dict[str, Any]) -> list[str]:
    if not e.get("n"):
        return []
    out = [f"{fmt_count(e['n'])} handoffs; {fmt_value(e['within_sla_pct'], 'percent')} within SLA"]
    if e.get("mean_csm_rating") is not None:
        out.append(f"mean CSM rating {e['mean_csm_rating']:.1f} / 5")
    return out


HANDOFF_QUALITY = Metric(
    key="handoff_quality", label="Sales-to-CS handoff quality", unit="percent", sources=("handoffs",),
    definition="Handoffs with handoff date in the month. Each handoff's completeness is the "
               "share of checklist items marked done (blank = not done); the value is the "
               "mean completeness. Within SLA = handoff date minus closed-won date is at most "
               "the SLA days.",
    owner="Sales", consulted=("Customer Success",), target=90, warn=75, direction="higher", min_sample=10,
    sample="n", sample_noun="handoffs", parts=parts, value=value, facts=facts, settings=HandoffSettings,
)
