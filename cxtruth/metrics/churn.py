"""Logo churn and revenue (MRR) churn: of the accounts a month starts with, who left in it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..formatting import fmt_count
from .declare import Metric
from .engine import MONEY
from .stats import pct


def base_and_churned(window):
    """Per month ``m``: the base (started before the month, not churned before it) and
    whether each base account churned in the month, with its MRR (blank: 0)."""
    import ibis

    accounts = window.table("accounts")
    if accounts is None:
        return None
    months = window.months_table()
    both = accounts.cross_join(months)
    base = both.filter((both.start_date < both.start) & (both.churn_date.isnull() | (both.churn_date >= both.start)))
    return base.mutate(churned=(base.churn_date >= base.start) & (base.churn_date < base.end),
                       mrr_exact=base.mrr.cast(MONEY).fill_null(ibis.literal(0, MONEY)))


def logo_parts(window, settings) -> dict[str, Any] | None:
    from ibis import _

    base = base_and_churned(window)
    if base is None:
        return None
    return {"counts": base.group_by("m", "segment").agg(
        base=_.count(), churned=_.churned.fill_null(False).sum())}


def logo_value(parts, settings) -> dict[str, Any]:
    if parts is None:
        return {"value": None, "churned": None, "base": None, "segments": {}}
    counts = parts["counts"]
    segments = {}
    for label, rows in sorted(counts[counts["segment"].notna()].groupby("segment"), key=lambda item: str(item[0])):
        size, lost = int(rows["base"].sum()), int(rows["churned"].sum())
        if size:
            segments[str(label)] = {"value": pct(lost, size), "base": size}
    n_base, n_churned = int(counts["base"].sum()), int(counts["churned"].sum())
    return {"value": pct(n_churned, n_base), "churned": n_churned, "base": n_base, "segments": segments}


def logo_facts(e: dict[str, Any]) -> list[str]:
    if e.get("base") is None:
        return []
    return [f"{fmt_count(e['churned'])} of {fmt_count(e['base'])} accounts churned"]


def revenue_parts(window, settings) -> dict[str, Any] | None:
    import ibis
    from ibis import _

    base = base_and_churned(window)
    if base is None:
        return None
    return {"sums": base.group_by("m").agg(
        base=_.count(), base_mrr=_.mrr_exact.sum(),
        churned_mrr=ibis.cases((_.churned, _.mrr_exact), else_=ibis.literal(0, MONEY)).sum())}


def _money(value: Any) -> float:
    """An exact DECIMAL sum as the nearest float (0 when the engine's SUM saw no rows)."""
    return 0.0 if value is None else float(Decimal(str(value)))


def revenue_value(parts, settings) -> dict[str, Any]:
    if parts is None:
        return {"value": None, "churned_mrr": None, "base_mrr": None, "base": None}
    sums = parts["sums"]
    if not len(sums):
        return {"value": None, "churned_mrr": 0.0, "base_mrr": 0.0, "base": 0}
    row = sums.iloc[0]
    churned_mrr, base_mrr = _money(row["churned_mrr"]), _money(row["base_mrr"])
    return {"value": pct(churned_mrr, base_mrr), "churned_mrr": churned_mrr, "base_mrr": base_mrr,
            "base": int(row["base"])}


def revenue_facts(e: dict[str, Any]) -> list[str]:
    if e.get("base_mrr") is None:
        return []
    return [f"{e['churned_mrr']:,.0f} of {e['base_mrr']:,.0f} MRR churned"]


LOGO_CHURN = Metric(
    key="logo_churn", label="Logo churn", unit="percent", sources=("accounts",),
    definition="Base: accounts that started before the month and had not churned before it. "
               "Value = base accounts with a churn date in the month / base.",
    owner="Customer Success", consulted=("Sales",), target=1.0, warn=2.0, direction="lower",
    sample="base", sample_noun="accounts in the base", parts=logo_parts, value=logo_value, facts=logo_facts,
    needs_columns=(("accounts", "churn_date"),), segment_interval="proportion",
)

REVENUE_CHURN = Metric(
    key="revenue_churn", label="Revenue (MRR) churn", unit="percent", sources=("accounts",),
    definition="Same base as logo churn. Value = MRR of the accounts that churned in the month / "
               "MRR of the base (blank MRR counts as 0).",
    owner="Customer Success", consulted=("Sales",), target=1.0, warn=2.0, direction="lower",
    sample="base", sample_noun="accounts in the base", parts=revenue_parts, value=revenue_value,
    facts=revenue_facts, needs_columns=(("accounts", "churn_date"), ("accounts", "mrr")),
)
