"""Net Promoter Score: survey responses in the month."""

from __future__ import annotations

import math
from typing import Any

from ..formatting import fmt_count
from .declare import Metric
from .stats import Z95, nps_of, nps_standard_error

DETRACTOR, PASSIVE, PROMOTER = 0, 1, 2


def parts(window, settings) -> dict[str, Any] | None:
    import ibis
    from ibis import _

    responses = window.table("nps")
    if responses is None:
        return None
    m = window.month_of(responses.responded_at)
    kind = ibis.cases((responses.score >= 9, PROMOTER), (responses.score <= 6, DETRACTOR), else_=PASSIVE)
    counted = responses.mutate(m=m, kind=kind).filter(_.m.notnull())
    return {"counts": counted.group_by("m", "segment", "kind").agg(n=_.count())}


def value(parts, settings) -> dict[str, Any]:
    empty = {"value": None, "n": 0 if parts is not None else None, "promoters": None,
             "passives": None, "detractors": None, "margin_of_error": None, "low_sample": None,
             "segments": {}}
    if parts is None:
        return empty
    counts = parts["counts"]
    by_kind = counts.groupby("kind")["n"].sum()
    total = int(by_kind.sum())
    result = nps_of(total, int(by_kind.get(PROMOTER, 0)), int(by_kind.get(DETRACTOR, 0)))
    if result["value"] is None:
        return empty
    labelled = counts[counts["segment"].notna()]
    segments = {}
    for label, rows in sorted(labelled.groupby("segment"), key=lambda item: str(item[0])):
        per = rows.groupby("kind")["n"].sum()
        part = nps_of(int(per.sum()), int(per.get(PROMOTER, 0)), int(per.get(DETRACTOR, 0)))
        segments[str(label)] = {"value": part["value"], "n": part["n"], "margin_of_error": part["margin_of_error"]}
    result["segments"] = segments
    return result


def change_significant(current: dict[str, Any], previous: dict[str, Any]) -> bool | None:
    """|change| > 1.96 * sqrt(se_M² + se_prev²); None when either month has no data."""
    if current.get("value") is None or previous.get("value") is None:
        return None
    se_now, se_prev = (nps_standard_error(e.get("n"), e.get("promoters"), e.get("detractors"))
                       for e in (current, previous))
    return abs(current["value"] - previous["value"]) > Z95 * math.sqrt(se_now**2 + se_prev**2)


def facts(e: dict[str, Any]) -> list[str]:
    if not e.get("n"):
        return []
    out = [f"{fmt_count(e['n'])} responses: {fmt_count(e['promoters'])} promoters, "
           f"{fmt_count(e['passives'])} passives, {fmt_count(e['detractors'])} detractors"]
    if e.get("margin_of_error") is not None:
        out.append(f"margin of error ±{e['margin_of_error']:.1f} points (95 %)")
    if e.get("change_significant") is not None:
        out.append("change vs last month is " + ("statistically significant" if e["change_significant"]
                                                 else "within noise (not significant)"))
    return out


NPS = Metric(
    key="nps", label="Net Promoter Score", unit="points", sources=("nps",),
    definition="Survey responses in the month. NPS = % promoters (9-10) minus % detractors "
               "(0-6). Margin of error: 95 % normal approximation.",
    owner="CX Leadership", consulted=("Customer Success", "Product"), target=40, warn=25, direction="higher",
    sample="n", sample_noun="responses", parts=parts, value=value, facts=facts,
    segment_interval="nps", segment_noun="responses", change_test=change_significant,
)
