"""Feedback loop closure time: how long the customer waited to hear what was done."""

from __future__ import annotations

from typing import Any

from ..formatting import fmt_count, fmt_value
from .declare import Days, Metric, MetricSettings
from .stats import days_from_us, num, quantile


class ClosureSettings(MetricSettings):
    sla_days: Days = 14


def parts(window, settings) -> dict[str, Any] | None:
    from ibis import _

    feedback = window.table("feedback")
    if feedback is None:
        return None
    closed = feedback.mutate(m=window.month_of(feedback.closed_at),
                             us=feedback.closed_at.delta(feedback.received_at, unit="microsecond")
                             ).filter(_.m.notnull())
    sla_us = round(settings.sla_days * 86_400 * 10**6)
    both = feedback.cross_join(window.months_table())
    still_open = both.filter((both.received_at < both.end) & (both.closed_at.isnull() | (both.closed_at >= both.end)))
    return {
        "ranked": window.order_statistics(closed, "us", (0.5, 0.9)),
        "sla": closed.group_by("m").agg(n=_.count(), within=(_.us <= sla_us).sum()),
        "open": still_open.group_by("m").agg(n=_.count(), oldest=_.received_at.min()),
    }


def value(parts, settings) -> dict[str, Any]:
    if parts is None:
        return {"value": None, "n": None, "p90_days": None, "within_sla_pct": None,
                "open_backlog": None, "oldest_open_days": None}
    sla, still_open = parts["sla"], parts["open"]
    n = int(sla["n"].sum())
    ranked = {int(r): days_from_us(int(v)) for r, v in zip(parts["ranked"]["rank"], parts["ranked"]["v"])}
    backlog = int(still_open["n"].sum())
    oldest = None
    if backlog:
        import pandas as pd

        waited = parts.month.end - pd.Timestamp(still_open["oldest"].iloc[0])
        oldest = num(waited.value / 86_400e9)  # ns, as numpy divides a timedelta by a day
    return {
        "value": quantile(n, ranked, 0.5),
        "n": n,
        "p90_days": quantile(n, ranked, 0.9),
        "within_sla_pct": 100.0 * (int(sla["within"].sum()) / n) if n else None,
        "open_backlog": backlog,
        "oldest_open_days": oldest,
    }


def facts(e: dict[str, Any]) -> list[str]:
    if e.get("n") is None:
        return []
    out = []
    if e["n"]:
        out.append(f"{fmt_count(e['n'])} items closed; 90th percentile {fmt_value(e['p90_days'], 'days')}; "
                   f"{fmt_value(e['within_sla_pct'], 'percent')} within SLA")
    oldest = f", oldest {fmt_value(e['oldest_open_days'], 'days')}" if e.get("oldest_open_days") else ""
    out.append(f"{fmt_count(e['open_backlog'])} still open at month end{oldest}")
    return out


CLOSURE_TIME = Metric(
    key="closure_time", label="Feedback loop closure time", unit="days", sources=("feedback",),
    definition="Feedback items closed (customer told what was done) in the month; days from "
               "received to closed. Value = median. Backlog = items received by month end and "
               "still open at month end.",
    owner="Support", consulted=("Product",), target=7, warn=14, direction="lower", min_sample=10,
    sample="n", sample_noun="items closed", parts=parts, value=value, facts=facts, settings=ClosureSettings,
    # Without closing dates no item is ever closed and every item counts as open.
    needs_columns=(("feedback", "closed_at"),),
)
