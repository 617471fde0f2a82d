"""Feature awareness: from an in-app survey, the share of answers aware of each feature."""

from __future__ import annotations

from typing import Any

from ..formatting import fmt_count, fmt_value
from .declare import Metric


def parts(window, settings) -> dict[str, Any] | None:
    from ibis import _

    answers = window.table("awareness")
    if answers is None:
        return None
    dated = answers.mutate(m=window.month_of(answers.responded_at)).filter(_.m.notnull())
    return {"per_feature": dated.group_by("m", "feature").agg(
        n=_.count(), aware=_.aware.sum())}


def value(parts, settings) -> dict[str, Any]:
    import numpy as np

    if parts is None:
        return {"value": None, "n": None, "per_feature": {}}
    rows = parts["per_feature"]
    n = int(rows["n"].sum())
    if not n:
        return {"value": None, "n": 0, "per_feature": {}}
    # per feature: the mean of its answers' aware (True = 1), in percent
    per_feature = {str(f): (int(a) / int(c)) * 100.0
                   for f, c, a in sorted(zip(rows["feature"], rows["n"], rows["aware"]), key=lambda r: str(r[0]))
                   if f is not None and f == f}
    return {"value": float(np.mean(list(per_feature.values()))), "n": n, "per_feature": per_feature}


def facts(e: dict[str, Any]) -> list[str]:
    if not e.get("n"):
        return []
    return [f"{fmt_count(e['n'])} answers; " + ", ".join(
        f"{k} {fmt_value(v, 'percent')}" for k, v in (e.get("per_feature") or {}).items())]


FEATURE_AWARENESS = Metric(
    key="feature_awareness", label="Feature awareness", unit="percent", sources=("awareness",),
    definition="Awareness survey answers in the month; per feature, aware answers / answers. "
               "Value = mean over the features asked about.",
    owner="Product", consulted=("Customer Success",), target=70, warn=50, direction="higher",
    sample="n", sample_noun="answers", parts=parts, value=value, facts=facts,
)
