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


def event_months(window):
    """Usage events per month of the window (``m``, ``n``; a month without any has no row),
    and in the month before it (``m`` = -1). A month without a single usage event is one the
    export does not cover: adoption and onboarding have no number for it, never 0 %
    (decision 77)."""
    if "event_months" not in window.cache:
        import pandas as pd
        from ibis import _

        events = window.table("adoption")
        dated = events.mutate(m=window.month_of(events.used_at)).filter(_.m.notnull())
        counts = window.execute(dated.group_by("m").agg(n=_.count()))
        start, end = window.month_before(events.used_at)
        before = int(window.execute(events.filter((events.used_at >= start) & (events.used_at < end)).count()))
        window.cache["event_months"] = pd.concat(
            [counts, pd.DataFrame({"m": [-1], "n": [before]})], ignore_index=True) if before else counts
    return window.cache["event_months"]


def has_events(parts, name: str = "events") -> bool:
    """Whether a month's parts hold any usage event."""
    return bool(len(parts[name])) and int(parts[name]["n"].sum()) > 0


MAX_ORED_FEATURES = 32  # beyond this, IN: a long chain of ORs nests too deep for Ibis


def of_features(events, features: list[str]):
    """The condition "the event's feature is one of ``features``" (none: no event). A few are
    written as ORed equalities, not IN: DuckDB plans an IN list as a join with the list, and
    the two queries over 10M usage events ran 25-40 % faster as a plain filter
    (docs/performance.md). Every feature seen is tracked by default: thousands of event
    names are an IN list."""
    import functools
    import operator

    import ibis

    if not features:
        return ibis.literal(False)
    if len(features) > MAX_ORED_FEATURES:
        return events.feature.isin(features)
    return functools.reduce(operator.or_, (events.feature == feature for feature in features))


def _active(table, window, i: int):
    """Whether each account of ``table`` (its start and churn dates) is active in month ``i``
    of the window: started before the month ended, not churned before it began."""
    start, end = window.bounds(table.start_date)[i], window.bounds(table.start_date)[i + 1]
    return (table.start_date < end) & (table.churn_date.isnull() | (table.churn_date >= start))


def parts(window, settings) -> dict[str, Any] | None:
    import ibis
    from ibis import _

    events, accounts = window.table("adoption"), window.table("accounts")
    if events is None:
        return None
    features = tracked_features(window)
    n = len(window.months)
    dated = events.mutate(m=window.month_of(events.used_at)).filter(_.m.notnull())
    who = "account" if accounts is not None else "account_id"  # accounts.csv's row, or the id itself
    # Per account and tracked feature: whether it was used in each month of the window (one
    # pass over the events; the month-by-month counts then read these few rows).
    tracked = dated.filter(of_features(dated, features))
    used = tracked.group_by(who, "feature").agg(**{f"in_{i}": (tracked.m == i).any() for i in range(n)})
    if accounts is not None:  # active: by start and churn dates; unknown accounts drop out here
        used = used.join(accounts, "account")
        counts = used.group_by("segment", "feature").agg(
            **{f"used_{i}": (used[f"in_{i}"] & _active(used, window, i)).sum() for i in range(n)})
        active = accounts.group_by("segment").agg(
            **{f"used_{i}": _active(accounts, window, i).sum() for i in range(n)})
    else:  # without accounts.csv: the accounts with any usage event in the month
        seen = dated.group_by("account_id").agg(**{f"in_{i}": (dated.m == i).any() for i in range(n)})
        counts = used.group_by("feature").agg(
            **{f"used_{i}": used[f"in_{i}"].sum() for i in range(n)}).mutate(
            segment=ibis.null("string"))
        active = seen.agg(**{f"used_{i}": seen[f"in_{i}"].sum() for i in range(n)}).mutate(
            segment=ibis.null("string"))
    return {"features": features, "events": event_months(window),
            "active": _by_month(window.execute(active), ["segment"], "n"),
            "used": _by_month(window.execute(counts), ["segment", "feature"], "used")}


def _by_month(wide, keys: list[str], name: str):
    """Columns used_0..used_k (one per month of the window) as rows: ``m``, ``keys``, ``name``."""
    long = wide.melt(id_vars=keys, var_name="m", value_name=name)
    long["m"] = long["m"].str.removeprefix("used_").astype("int64")
    long[name] = long[name].fillna(0).astype("int64")
    return long[long[name] > 0] if name == "n" else long


def _adoption(features: list[str], used, total: int) -> tuple[float | None, dict[str, float | None]]:
    import numpy as np

    if not total or not features:
        return None, {}
    counts = used.groupby("feature")["used"].sum() if len(used) else {}
    per = {f: pct(int(counts.get(f, 0)), total) for f in features}
    return float(np.mean(list(per.values()))), per


def value(parts, settings) -> dict[str, Any]:
    if parts is None or not has_events(parts):
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
    fallback=("accounts", "active accounts are those with a usage event this month: no accounts.csv was read, "
                          "so accounts that used nothing are not in the base"),
)
