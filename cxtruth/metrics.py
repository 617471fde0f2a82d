"""The metrics of DATA_CONTRACT.md §3, as pure functions of validated frames.

`compute_month(inputs, month)` returns, per metric key, a dict holding
``value`` (None when nothing qualifies — never 0) and the contract's extras.
`MetricInputs` prepares what every month shares (tracked features, first
value per account, ...) once, so 13 months of trend cost little more than one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .config import Config
from .months import Month
from .sources import lookup_codes

DAY = pd.Timedelta(days=1)


def _num(value) -> float | None:
    """A plain float for JSON, or None for missing/NaN."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _pct(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None


_NEVER = np.datetime64(np.iinfo(np.int64).max, "ns")  # a missing churn date: still a customer (2262)


def _labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for missing) and the sorted labels they index."""
    codes, labels = pd.factorize(values, sort=True)
    return codes.astype(np.int64), [str(label) for label in labels]


@dataclass
class ResponseColumns:
    """The NPS responses as the arrays the formula reads (filtered 13 times, so kept lean)."""

    at: np.ndarray
    score: np.ndarray
    segment: np.ndarray
    labels: list[str]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> "ResponseColumns":
        return cls(frame["responded_at"].to_numpy(dtype="datetime64[ns]"),
                   frame["score"].to_numpy(dtype="float64"), *_labels(frame["segment"]))


@dataclass
class AccountColumns:
    """accounts.csv as arrays: start, churn (``_NEVER`` when blank), MRR (0 when blank), segment."""

    start: np.ndarray
    churn: np.ndarray
    mrr: np.ndarray
    segment: np.ndarray
    labels: list[str]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> "AccountColumns":
        churn = frame["churn_date"].to_numpy(dtype="datetime64[ns]")
        return cls(frame["start_date"].to_numpy(dtype="datetime64[ns]"),
                   np.where(np.isnat(churn), _NEVER, churn),
                   frame["mrr"].fillna(0.0).to_numpy(dtype="float64"), *_labels(frame["segment"]))


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
    # Per source, each row's position in accounts (-1: unknown), when `Sources` already looked it up.
    account_codes: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_frames(cls, config: Config, frames: dict[str, pd.DataFrame | None],
                    window: tuple[Month, Month] | None = None,
                    account_codes: dict[str, np.ndarray] | None = None) -> "MetricInputs":
        """``window``: the first and last month that will be computed (default: all the data spans).
        ``account_codes``: per source, each row's position in accounts (from `Sources`), if known."""
        inputs = cls(config, *(frames.get(k) for k in
                               ("nps", "accounts", "adoption", "handoffs", "feedback", "awareness")),
                     account_codes=account_codes or {})
        inputs._prepare(window)
        return inputs

    def _prepare(self, window: tuple[Month, Month] | None) -> None:
        settings = self.config.metrics
        self.tracked_features: list[str] = list(settings.feature_adoption.features)
        if not self.tracked_features and self.adoption is not None:  # none configured: every feature seen
            self.tracked_features = sorted(self.adoption["feature"].dropna().unique())
        self.value_features: list[str] = list(settings.time_to_value.value_features) or self.tracked_features
        if self.adoption is not None:
            # One hash lookup of every event's feature, against tracked and value features together.
            names = list(dict.fromkeys(self.tracked_features + self.value_features))
            self.feature_codes_all = lookup_codes(self.adoption["feature"], names)
            tracked_code = np.array([self.tracked_features.index(n) if n in self.tracked_features else -1
                                     for n in names] + [-1], dtype=np.int32)
            self.feature_codes = tracked_code[self.feature_codes_all]  # -1 (unknown) picks the last
            self.value_feature = np.array([n in self.value_features for n in names] + [False])
        self.nps_columns = None if self.nps is None else ResponseColumns.of(self.nps)
        self.account_columns = None if self.accounts is None else AccountColumns.of(self.accounts)
        self.usage = None if self.adoption is None else UsageIndex.build(self, window)
        self.active_days: np.ndarray | None = None  # per account code, computed on first use
        self.first_value = None if self.usage is None else self.usage.first_value()


_DAY_NS = 86_400 * 10**9


def _month_index(stamps: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Which month of ``starts`` (month starts, ascending) each timestamp falls in.

    Via a day -> month table: an integer division and a lookup per row, several
    times faster than a binary search or calendar arithmetic on 10M rows.
    """
    first_day = starts[0].astype("datetime64[D]")
    days = (starts.astype("datetime64[D]") - first_day).astype(np.int64)
    month_of_day = np.repeat(np.arange(len(days) - 1, dtype=np.int32), np.diff(days))
    # integer nanoseconds, in place: numpy divides int64 far faster than timedelta64
    day = stamps.view(np.int64) - starts[0].astype(np.int64)
    day //= _DAY_NS
    return month_of_day[day]


# Distinct integer keys are found with a bitmap up to this many possible keys
# (one byte each), beyond it by sorting: both beat hashing millions of keys.
_BITMAP_LIMIT = 200_000_000


def _distinct(keys: np.ndarray, space: int) -> np.ndarray:
    """Sorted distinct values of ``keys`` (all in 0..space-1)."""
    if space <= _BITMAP_LIMIT:
        seen = np.zeros(space, dtype=bool)
        seen[keys] = True
        return np.flatnonzero(seen)
    return np.unique(keys)


@dataclass
class UsageIndex:
    """The usage events reduced once to what the trend months need.

    Accounts and features become integer codes and each event a month index
    within the window, so a month's adoption is an array slice instead of a
    pass over every event; each of the contract's formulas still decides what
    counts (see the metric functions).
    """

    inputs: "MetricInputs"
    first_month: int  # Month.index of the window's first month
    n_months: int  # months in the window
    account_ids: pd.Series  # code -> account_id
    event_account: np.ndarray  # per event: account code (-1: not in accounts.csv)
    # distinct (month index, account, feature code) of tracked features, sorted by month
    used: tuple[np.ndarray, np.ndarray, np.ndarray]
    accounts_by_month: tuple[np.ndarray, np.ndarray] | None  # distinct (month index, account), no accounts.csv

    @classmethod
    def build(cls, inputs: "MetricInputs", window: tuple[Month, Month] | None) -> "UsageIndex":
        events = inputs.adoption
        if inputs.accounts is not None:
            account_ids = inputs.accounts["account_id"].reset_index(drop=True)
            event_account = inputs.account_codes.get("adoption")
            if event_account is None:
                event_account = lookup_codes(events["account_id"], account_ids)
        else:
            codes, uniques = pd.factorize(events["account_id"])
            account_ids, event_account = pd.Series(uniques), codes.astype(np.int64)
        used_at = events["used_at"].to_numpy(dtype="datetime64[ns]")
        if window is None:  # every month the data spans, and the one after (its onboarding cohort)
            span = [pd.Timestamp(t) for t in (used_at.min(), used_at.max())] if len(used_at) else []
            first, last = tuple(Month(t.year, t.month) for t in span) or (Month(1970, 1), Month(1970, 1))
            window = first, last.shift(1)
        first, last = window
        n_months = last.index - first.index + 1
        starts = np.array([first.shift(i).start for i in range(n_months + 1)], dtype="datetime64[ns]")
        n_accounts = max(len(account_ids), 1)
        n_features = max(len(inputs.tracked_features), 1)
        # Boolean masks and in-place arithmetic: on 10M events every temporary is 40-80 MB.
        inside = (used_at >= starts[0]) & (used_at < starts[-1]) & (event_account >= 0)
        by_month = None
        if inputs.accounts is None:
            pairs = _month_index(used_at[inside], starts).astype(np.int64)
            pairs *= n_accounts
            pairs += event_account[inside]
            by_month = np.divmod(_distinct(pairs, n_months * n_accounts), n_accounts)
            del pairs
        inside &= inputs.feature_codes >= 0  # tracked features only
        # one int64 key per (month, account, feature): month x account x feature overflows int32
        keys = _month_index(used_at[inside], starts).astype(np.int64)
        keys *= n_accounts
        keys += event_account[inside]
        keys *= n_features
        keys += inputs.feature_codes[inside]
        month_account, feature_code = np.divmod(_distinct(keys, n_months * n_accounts * n_features), n_features)
        del keys
        used = (*np.divmod(month_account, n_accounts), feature_code)
        return cls(inputs, first.index, n_months, account_ids, event_account, used, by_month)

    def _slice(self, months: np.ndarray, month: Month) -> slice:
        """Where ``month`` lies in an array of month indexes sorted ascending."""
        index = month.index - self.first_month
        return slice(np.searchsorted(months, index, side="left"), np.searchsorted(months, index, side="right"))

    def active(self, month: Month) -> np.ndarray:
        """Codes of the accounts active in ``month``."""
        a = self.inputs.account_columns
        if a is not None:
            return np.flatnonzero((a.start < month.end.to_datetime64()) & (a.churn >= month.start.to_datetime64()))
        months, accounts = self.accounts_by_month
        return accounts[self._slice(months, month)]

    def feature_counts(self, month: Month, accounts: np.ndarray) -> np.ndarray:
        """Per tracked feature: how many of ``accounts`` used it in ``month``."""
        months, used_accounts, features = self.used
        rows = self._slice(months, month)
        member = np.zeros(len(self.account_ids), dtype=bool)
        member[accounts] = True
        counted = features[rows][member[used_accounts[rows]]]
        return np.bincount(counted, minlength=len(self.inputs.tracked_features))

    def first_value(self) -> pd.DataFrame | None:
        """Per account: start_date and its first value-feature event on or after it."""
        accounts = self.inputs.accounts
        if accounts is None:
            return None
        events = self.inputs.adoption
        is_value = self.inputs.value_feature[self.inputs.feature_codes_all]
        known = self.event_account >= 0
        starts = accounts["start_date"].to_numpy(dtype="datetime64[ns]")
        used_at = events["used_at"].to_numpy(dtype="datetime64[ns]")
        value_events = is_value & known
        account = self.event_account[value_events]
        at = used_at.view(np.int64)[value_events]
        on_or_after = at >= starts.view(np.int64)[account]
        never = np.iinfo(np.int64).max
        first = np.full(len(starts), never)
        np.minimum.at(first, account[on_or_after], at[on_or_after])  # earliest per account, unbuffered
        reached = np.flatnonzero(first != never)
        return pd.DataFrame({"account_id": self.account_ids.to_numpy()[reached],
                             "start_date": starts[reached],
                             "first_value": first[reached].view("datetime64[ns]")})

    def active_days_after_start(self, days: int = 30) -> np.ndarray:
        """Per account code: distinct calendar days with any event in [start, start + ``days``).

        Only for the onboarding cohorts of the window's months (accounts that
        started in the month before each); every other account gets 0.
        """
        accounts = self.inputs.accounts
        starts = accounts["start_date"].to_numpy(dtype="datetime64[ns]")
        first = Month.from_index(self.first_month - 1)
        last = Month.from_index(self.first_month + self.n_months - 2)
        cohort = (starts >= first.start.to_datetime64()) & (starts < last.end.to_datetime64())
        # one more slot for code -1 (not in accounts.csv), never in a cohort
        rows = np.flatnonzero(np.append(cohort, False)[self.event_account])
        account = self.event_account[rows].astype(np.int64)
        used_at = self.inputs.adoption["used_at"].to_numpy(dtype="datetime64[ns]")
        # start_date is a date (midnight), so whole days since it are calendar days
        day = (used_at[rows].view(np.int64) - starts.view(np.int64)[account]) // _DAY_NS
        inside = (day >= 0) & (day < days)
        n_accounts = len(starts)
        seen = _distinct(account[inside] * days + day[inside], max(n_accounts, 1) * days)
        return np.bincount(seen // days, minlength=n_accounts)


# -- one function per metric ---------------------------------------------------

def nps(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    empty = {"value": None, "n": 0 if inputs.nps is not None else None, "promoters": None,
             "passives": None, "detractors": None, "margin_of_error": None, "low_sample": None,
             "segments": {}}
    if inputs.nps is None:
        return empty
    responses = inputs.nps_columns
    inside = month.mask(responses.at)
    score, segment = responses.score[inside], responses.segment[inside]
    result = _nps_of(len(score), int((score >= 9).sum()), int((score <= 6).sum()))
    if result["value"] is None:
        return empty
    labelled = segment >= 0
    per = [np.bincount(segment[labelled], weights=w, minlength=len(responses.labels)).astype(np.int64)
           for w in (None, score[labelled] >= 9, score[labelled] <= 6)]
    segments = {}
    for code, label in enumerate(responses.labels):  # labels are sorted
        if per[0][code]:
            part = _nps_of(int(per[0][code]), int(per[1][code]), int(per[2][code]))
            segments[label] = {"value": part["value"], "n": part["n"], "margin_of_error": part["margin_of_error"]}
    result["segments"] = segments
    return result


def _nps_of(n: int, promoters: int, detractors: int) -> dict[str, Any]:
    if n == 0:
        return {"value": None, "n": 0, "promoters": 0, "passives": 0, "detractors": 0,
                "margin_of_error": None}
    p, d = promoters / n, detractors / n
    return {
        "value": 100.0 * (p - d),
        "n": n,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "margin_of_error": 196.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n),
    }


def _churn_base(accounts: "AccountColumns", month: Month) -> np.ndarray:
    """Accounts that started before ``month`` and had not churned before it."""
    start = month.start.to_datetime64()
    return (accounts.start < start) & (accounts.churn >= start)


def logo_churn(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.accounts is None:
        return {"value": None, "churned": None, "base": None, "segments": {}}
    a = inputs.account_columns
    base = _churn_base(a, month)
    churned = base & month.mask(a.churn)
    segments = {}
    labelled = base & (a.segment >= 0)
    sizes = np.bincount(a.segment[labelled], minlength=len(a.labels))
    lost = np.bincount(a.segment[labelled & churned], minlength=len(a.labels))
    for code, label in enumerate(a.labels):
        if sizes[code]:
            segments[label] = {"value": _pct(int(lost[code]), int(sizes[code])), "base": int(sizes[code])}
    n_base, n_churned = int(base.sum()), int(churned.sum())
    return {"value": _pct(n_churned, n_base), "churned": n_churned, "base": n_base, "segments": segments}


def revenue_churn(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.accounts is None:
        return {"value": None, "churned_mrr": None, "base_mrr": None, "base": None}
    a = inputs.account_columns
    base = _churn_base(a, month)
    mrr = a.mrr[base]
    churned_mrr = float(mrr[month.mask(a.churn[base])].sum())
    base_mrr = float(mrr.sum())
    return {"value": _pct(churned_mrr, base_mrr), "churned_mrr": churned_mrr, "base_mrr": base_mrr,
            "base": int(base.sum())}


def feature_adoption(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    usage = inputs.usage
    if usage is None:
        return {"value": None, "active_accounts": None, "per_feature": {}, "segments": {}}
    features = inputs.tracked_features
    active = usage.active(month)

    def adoption_of(accounts: np.ndarray) -> tuple[float | None, dict[str, float | None]]:
        total = len(accounts)
        if not total or not features:
            return None, {}
        counts = usage.feature_counts(month, accounts)
        per = {f: _pct(int(counts[i]), total) for i, f in enumerate(features)}
        return float(np.mean(list(per.values()))), per

    value, per_feature = adoption_of(active)
    segments = {}
    a = inputs.account_columns
    if a is not None:  # without accounts.csv there are no segments
        segment_of_active = a.segment[active]
        for code, label in enumerate(a.labels):
            members = active[segment_of_active == code]
            if len(members):
                segments[label] = {"value": adoption_of(members)[0], "n": len(members)}
    return {"value": value, "active_accounts": len(active), "per_feature": per_feature,
            "segments": segments}


def handoff_quality(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.handoffs is None:
        return {"value": None, "n": None, "mean_csm_rating": None, "within_sla_pct": None}
    settings = inputs.config.metrics.handoff_quality
    checklist = inputs.config.sources.handoffs.checklist
    rows = inputs.handoffs[month.mask(inputs.handoffs["handoff_at"])]
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
    closed = f[month.mask(f["closed_at"])]
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
    if inputs.accounts is None or inputs.usage is None:
        return {"value": None, "cohort": None, "engaged": None}
    settings = inputs.config.metrics.onboarding_engagement
    cohort = np.flatnonzero(month.shift(-1).mask(inputs.account_columns.start))
    if not len(cohort):
        return {"value": None, "cohort": 0, "engaged": 0}
    if inputs.active_days is None:
        inputs.active_days = inputs.usage.active_days_after_start(30)  # the same for every month
    engaged = int((inputs.active_days[cohort] >= settings.min_active_days).sum())
    return {"value": _pct(engaged, len(cohort)), "cohort": len(cohort), "engaged": engaged}


def time_to_value(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    first = inputs.first_value
    if first is None:
        return {"value": None, "n": None, "p90_days": None}
    reached = first[month.mask(first["first_value"])]
    days = (reached["first_value"] - reached["start_date"]) / DAY
    if not len(days):
        return {"value": None, "n": 0, "p90_days": None}
    return {"value": _num(days.median()), "n": len(days), "p90_days": _num(days.quantile(0.9))}


def feature_awareness(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.awareness is None:
        return {"value": None, "n": None, "per_feature": {}}
    rows = inputs.awareness[month.mask(inputs.awareness["responded_at"])]
    if not len(rows):
        return {"value": None, "n": 0, "per_feature": {}}
    per = rows.groupby("feature", sort=True)["aware"].mean() * 100.0
    per_feature = {str(k): float(v) for k, v in sorted(per.items())}
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
