"""Feature adoption: of the accounts active in the month, the share that used each tracked feature."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..formatting import fmt_count, fmt_value
from .declare import Metric, MetricSettings
from .stats import pct


class AdoptionSettings(MetricSettings):
    features: list[str] = Field(default_factory=list)  # empty: every feature seen


def tracked_features(window) -> list[str]:
    """The configured features, or (none configured) every feature the usage events name, sorted."""
    if "tracked_features" not in window.cache:
        features = list(window.settings["feature_adoption"].features)
        events = window.table("adoption")
        if not features and events is not None:
            seen = window.execute(events.select("feature").filter(events.feature.notnull()).distinct())
            features = sorted(str(f) for f in seen["feature"])
        window.cache["tracked_features"] = features
    return window.cache["tracked_features"]


def active_accounts(window):
    """Per month ``m``: the accounts active in it (started before it ended, not churned before
    it began), with their segment; without accounts.csv, those with a usage event in it."""
    import ibis

    accounts, events = window.table("accounts"), window.table("adoption")
    if accounts is not None:
        both = accounts.cross_join(window.months_table())
        active = both.filter((both.start_date < both.end)
                             & (both.churn_date.isnull() | (both.churn_date >= both.start)))
        return active.select("m", "account_id", "segment")
    dated = events.mutate(m=window.month_of(events.used_at)).filter(lambda t: t.m.notnull())
    return dated.select("m", "account_id", segment=ibis.null("string")).distinct()


def parts(window, settings) -> dict[str, Any] | None:
    import ibis
    from ibis import _

    events = window.table("adoption")
    if events is None:
        return None
    features = tracked_features(window)
    active = active_accounts(window)
    used = (events.filter(events.feature.isin(features) if features else ibis.literal(False))
            .mutate(m=window.month_of(events.used_at)).filter(_.m.notnull())
            .select("m", "account_id", "feature").distinct())
    by_feature = used.join(active, ["m", "account_id"]).group_by("m", "segment", "feature").agg(used=_.count())
    return {"features": features,
            "active": active.group_by("m", "segment").agg(n=_.count()),
            "used": by_feature}


def _adoption(features: list[str], used, total: int) -> tuple[float | None, dict[str, float | None]]:
    import numpy as np

    if not total or not features:
        return None, {}
    counts = used.groupby("feature")["used"].sum() if len(used) else {}
    per = {f: pct(int(counts.get(f, 0)), total) for f in features}
    return float(np.mean(list(per.values()))), per


def value(parts, settings) -> dict[str, Any]:
    if parts is None:
        return {"value": None, "active_accounts": None, "per_feature": {}, "segments": {}}
    features, active, used = parts["features"], parts["active"], parts["used"]
    total = int(active["n"].sum())
    value, per_feature = _adoption(features, used, total)
    segments = {}
    labelled = active[active["segment"].notna()]
    for label, rows in sorted(labelled.groupby("segment"), key=lambda item: str(item[0])):
        size = int(rows["n"].sum())
        if size:
            own = used[used["segment"] == label]
            segments[str(label)] = {"value": _adoption(features, own, size)[0], "n": size}
    return {"value": value, "active_accounts": total, "per_feature": per_feature, "segments": segments}


def facts(e: dict[str, Any]) -> list[str]:
    if e.get("active_accounts") is None:
        return []
    out = [f"{fmt_count(e['active_accounts'])} active accounts"]
    per = e.get("per_feature") or {}
    if per:
        out.append("per feature: " + ", ".join(f"{k} {fmt_value(v, 'percent')}" for k, v in per.items()))
    return out


FEATURE_ADOPTION = Metric(
    key="feature_adoption", label="Feature adoption", unit="percent", sources=("accounts", "adoption"),
    definition="Active accounts: started before the month ended and not churned before it began. "
               "For each tracked feature, the share of active accounts with a usage event in the "
               "month; the value is the mean over tracked features.",
    owner="Product", consulted=("Customer Success",), target=50, warn=35, direction="higher",
    sample="active_accounts", sample_noun="active accounts", parts=parts, value=value, facts=facts,
    # Without churn dates every account that ever started counts as active.
    needs_columns=(("accounts", "churn_date"),), settings=AdoptionSettings, segment_interval="proportion",
)
