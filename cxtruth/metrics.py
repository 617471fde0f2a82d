"""The metrics of DATA_CONTRACT.md §3, as pure functions of validated frames.

`compute_month(inputs, month)` returns, per metric key, a dict holding
``value`` (None when nothing qualifies — never 0) and the contract's extras.
`MetricInputs` prepares what every month shares (tracked features, first
value per account, ...) once, so 13 months of trend cost little more than one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import Config
from .months import Month

DAY = pd.Timedelta(days=1)


def _num(value) -> float | None:
    """A plain float for JSON, or None for missing/NaN."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _pct(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None


def _in_month(values: pd.Series, month: Month) -> pd.Series:
    return (values >= month.start) & (values < month.end)


@dataclass
class MetricInputs:
    """Validated frames plus the per-source facts every month reuses."""

    config: Config
    nps: pd.DataFrame | None
    accounts: pd.DataFrame | None
    adoption: pd.DataFrame | None
    handoffs: pd.DataFrame | None
    feedback: pd.DataFrame | None
    awareness: pd.DataFrame | None

    @classmethod
    def from_frames(cls, config: Config, frames: dict[str, pd.DataFrame | None]) -> "MetricInputs":
        inputs = cls(config, *(frames.get(k) for k in
                               ("nps", "accounts", "adoption", "handoffs", "feedback", "awareness")))
        inputs._prepare()
        return inputs

    def _prepare(self) -> None:
        settings = self.config.metrics
        seen = [] if self.adoption is None else sorted(self.adoption["feature"].dropna().unique())
        self.tracked_features: list[str] = list(settings.feature_adoption.features) or list(seen)
        self.value_features: list[str] = list(settings.time_to_value.value_features) or self.tracked_features
        self.first_value = self._first_value()

    def _first_value(self) -> pd.DataFrame | None:
        """Per account: start_date and the first value-feature event on or after it."""
        if self.accounts is None or self.adoption is None:
            return None
        events = self.adoption[self.adoption["feature"].isin(self.value_features)]
        events = events.merge(self.accounts[["account_id", "start_date"]], on="account_id", how="inner")
        events = events[events["used_at"] >= events["start_date"]]
        first = events.groupby("account_id", sort=False).agg(
            start_date=("start_date", "first"), first_value=("used_at", "min"))
        return first.reset_index()


# -- one function per metric ---------------------------------------------------

def nps(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    empty = {"value": None, "n": 0 if inputs.nps is not None else None, "promoters": None,
             "passives": None, "detractors": None, "margin_of_error": None, "low_sample": None,
             "segments": {}}
    if inputs.nps is None:
        return empty
    rows = inputs.nps[_in_month(inputs.nps["responded_at"], month)]
    result = _nps_of(rows["score"])
    if result["value"] is None:
        return empty
    segments = {}
    for segment, group in rows.groupby("segment", sort=True, dropna=True):
        part = _nps_of(group["score"])
        segments[str(segment)] = {"value": part["value"], "n": part["n"],
                                  "margin_of_error": part["margin_of_error"]}
    result["segments"] = segments
    return result


def _nps_of(scores: pd.Series) -> dict[str, Any]:
    n = int(scores.notna().sum())
    if n == 0:
        return {"value": None, "n": 0, "promoters": 0, "passives": 0, "detractors": 0,
                "margin_of_error": None}
    promoters = int((scores >= 9).sum())
    detractors = int((scores <= 6).sum())
    p, d = promoters / n, detractors / n
    return {
        "value": 100.0 * (p - d),
        "n": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "margin_of_error": 196.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n),
    }


def _churn_base(accounts: pd.DataFrame, month: Month) -> pd.DataFrame:
    churn = accounts["churn_date"]
    return accounts[(accounts["start_date"] < month.start) & (churn.isna() | (churn >= month.start))]


def logo_churn(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.accounts is None:
        return {"value": None, "churned": None, "base": None, "segments": {}}
    base = _churn_base(inputs.accounts, month)
    churned = _in_month(base["churn_date"], month)
    segments = {}
    for segment, group in base.assign(_churned=churned).groupby("segment", sort=True, dropna=True):
        segments[str(segment)] = {"value": _pct(group["_churned"].sum(), len(group)), "base": len(group)}
    return {"value": _pct(churned.sum(), len(base)), "churned": int(churned.sum()),
            "base": len(base), "segments": segments}


def revenue_churn(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.accounts is None:
        return {"value": None, "churned_mrr": None, "base_mrr": None, "base": None}
    base = _churn_base(inputs.accounts, month)
    mrr = base["mrr"].fillna(0.0)
    churned_mrr = float(mrr[_in_month(base["churn_date"], month)].sum())
    base_mrr = float(mrr.sum())
    return {"value": _pct(churned_mrr, base_mrr), "churned_mrr": churned_mrr, "base_mrr": base_mrr,
            "base": len(base)}


def _active_accounts(inputs: MetricInputs, month: Month, events: pd.DataFrame) -> pd.DataFrame:
    """Active accounts in ``month`` (account_id, segment)."""
    if inputs.accounts is not None:
        a = inputs.accounts
        churn = a["churn_date"]
        active = a[(a["start_date"] < month.end) & (churn.isna() | (churn >= month.start))]
        return active[["account_id", "segment"]]
    ids = events["account_id"].drop_duplicates()
    return pd.DataFrame({"account_id": ids, "segment": None})


def feature_adoption(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.adoption is None:
        return {"value": None, "active_accounts": None, "per_feature": {}, "segments": {}}
    events = inputs.adoption[_in_month(inputs.adoption["used_at"], month)]
    active = _active_accounts(inputs, month, events)
    features = inputs.tracked_features
    used = events[events["feature"].isin(features) & events["account_id"].isin(active["account_id"])]
    used = used[["account_id", "feature"]].drop_duplicates()

    def adoption_of(accounts: pd.DataFrame) -> tuple[float | None, dict[str, float | None]]:
        total = len(accounts)
        if not total or not features:
            return None, {}
        mine = used[used["account_id"].isin(accounts["account_id"])]
        counts = mine.groupby("feature").size()
        per = {f: _pct(int(counts.get(f, 0)), total) for f in features}
        return float(np.mean(list(per.values()))), per

    value, per_feature = adoption_of(active)
    segments = {}
    for segment, group in active.groupby("segment", sort=True, dropna=True):
        segments[str(segment)] = {"value": adoption_of(group)[0], "n": len(group)}
    return {"value": value, "active_accounts": len(active), "per_feature": per_feature,
            "segments": segments}


def handoff_quality(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.handoffs is None:
        return {"value": None, "n": None, "mean_csm_rating": None, "within_sla_pct": None}
    settings = inputs.config.metrics.handoff_quality
    checklist = inputs.config.sources.handoffs.checklist
    rows = inputs.handoffs[_in_month(inputs.handoffs["handoff_at"], month)]
    if not len(rows):
        return {"value": None, "n": 0, "mean_csm_rating": None, "within_sla_pct": None}
    done = rows[checklist].fillna(False).astype(bool).sum(axis=1)
    completeness = 100.0 * done / len(checklist)
    lag_days = (rows["handoff_at"] - rows["closed_won_at"]) / DAY
    return {
        "value": float(completeness.mean()),
        "n": len(rows),
        "mean_csm_rating": _num(rows["csm_rating"].astype("float64").mean()),
        "within_sla_pct": 100.0 * float((lag_days <= settings.sla_days).mean()),
    }


def closure_time(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.feedback is None:
        return {"value": None, "n": None, "p90_days": None, "within_sla_pct": None,
                "open_backlog": None, "oldest_open_days": None}
    settings = inputs.config.metrics.closure_time
    f = inputs.feedback
    closed = f[_in_month(f["closed_at"], month)]
    days = (closed["closed_at"] - closed["received_at"]) / DAY
    still_open = f[(f["received_at"] < month.end) & (f["closed_at"].isna() | (f["closed_at"] >= month.end))]
    oldest = (month.end - still_open["received_at"].min()) / DAY if len(still_open) else None
    return {
        "value": _num(days.median()) if len(days) else None,
        "n": len(days),
        "p90_days": _num(days.quantile(0.9)) if len(days) else None,
        "within_sla_pct": 100.0 * float((days <= settings.sla_days).mean()) if len(days) else None,
        "open_backlog": len(still_open),
        "oldest_open_days": _num(oldest),
    }


def onboarding_engagement(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.accounts is None or inputs.adoption is None:
        return {"value": None, "cohort": None, "engaged": None}
    settings = inputs.config.metrics.onboarding_engagement
    cohort = inputs.accounts[_in_month(inputs.accounts["start_date"], month.shift(-1))]
    if not len(cohort):
        return {"value": None, "cohort": 0, "engaged": 0}
    events = inputs.adoption[inputs.adoption["account_id"].isin(cohort["account_id"])]
    events = events.merge(cohort[["account_id", "start_date"]], on="account_id")
    window = (events["used_at"] >= events["start_date"]) & (events["used_at"] < events["start_date"] + 30 * DAY)
    events = events[window]
    active_days = events.assign(day=events["used_at"].dt.normalize()).groupby("account_id")["day"].nunique()
    engaged = int((active_days >= settings.min_active_days).sum())
    return {"value": _pct(engaged, len(cohort)), "cohort": len(cohort), "engaged": engaged}


def time_to_value(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    first = inputs.first_value
    if first is None:
        return {"value": None, "n": None, "p90_days": None}
    reached = first[_in_month(first["first_value"], month)]
    days = (reached["first_value"] - reached["start_date"]) / DAY
    if not len(days):
        return {"value": None, "n": 0, "p90_days": None}
    return {"value": _num(days.median()), "n": len(days), "p90_days": _num(days.quantile(0.9))}


def feature_awareness(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.awareness is None:
        return {"value": None, "n": None, "per_feature": {}}
    rows = inputs.awareness[_in_month(inputs.awareness["responded_at"], month)]
    if not len(rows):
        return {"value": None, "n": 0, "per_feature": {}}
    per = rows.groupby("feature", sort=True)["aware"].mean() * 100.0
    per_feature = {str(k): float(v) for k, v in per.items()}
    return {"value": float(np.mean(list(per_feature.values()))), "n": len(rows), "per_feature": per_feature}


CALCULATORS = {
    "nps": nps,
    "logo_churn": logo_churn,
    "revenue_churn": revenue_churn,
    "feature_adoption": feature_adoption,
    "handoff_quality": handoff_quality,
    "closure_time": closure_time,
    "onboarding_engagement": onboarding_engagement,
    "time_to_value": time_to_value,
    "feature_awareness": feature_awareness,
}


# The count each metric's value rests on; below the metric's min_sample it is flagged.
SAMPLE_SIZE_KEY = {
    "nps": "n", "logo_churn": "base", "revenue_churn": "base", "feature_adoption": "active_accounts",
    "handoff_quality": "n", "closure_time": "n", "onboarding_engagement": "cohort",
    "time_to_value": "n", "feature_awareness": "n",
}


def _flag_low_sample(key: str, result: dict[str, Any], min_sample: int) -> dict[str, Any]:
    """``low_sample``: True/False when there is a value, None when there is none."""
    size = result.get(SAMPLE_SIZE_KEY[key])
    result["low_sample"] = None if result["value"] is None or size is None else size < min_sample
    return result


def compute_month(inputs: MetricInputs, month: Month) -> dict[str, dict[str, Any]]:
    """Every metric for ``month``, in contract order."""
    settings = inputs.config.metrics
    return {key: _flag_low_sample(key, calculate(inputs, month), settings.get(key).min_sample)
            for key, calculate in CALCULATORS.items()}


def compute_months(inputs: MetricInputs, months: list[Month]) -> dict[Month, dict[str, dict[str, Any]]]:
    return {month: compute_month(inputs, month) for month in months}
