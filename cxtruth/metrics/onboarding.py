"""Onboarding: whether new accounts engaged in their first 30 days, and how soon they reached value."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..formatting import fmt_count, fmt_value
from .adoption import event_months, has_events, of_features, tracked_features
from .declare import Metric, MetricSettings
from .stats import days_from_us, pct, quantile

ONBOARDING_DAYS = 30  # DATA_CONTRACT §3 onboarding_engagement: active days within [start, start + 30 days)


class OnboardingSettings(MetricSettings):
    min_active_days: int = Field(5, ge=1, le=30, strict=True)


class TimeToValueSettings(MetricSettings):
    value_features: list[str] = Field(default_factory=list)  # empty: the tracked adoption features


def engagement_parts(window, settings) -> dict[str, Any] | None:
    import ibis
    from ibis import _

    accounts, events = window.table("accounts"), window.table("adoption")
    if accounts is None or events is None:
        return None
    # the month's cohort: accounts that started in the month before it
    both = accounts.cross_join(window.months_table(shift=-1))
    cohort = both.filter((both.start_date >= both.start) & (both.start_date < both.end)).select(
        "m", "account", "start_date")
    # distinct calendar days with an event in [start, start + 30 days): start_date is a midnight
    first_days = cohort.join(events.select("account", "used_at"), "account").filter(
        lambda t: (t.used_at >= t.start_date) & (t.used_at < t.start_date + ibis.interval(days=ONBOARDING_DAYS)))
    # whole days since the start (a midnight), from the engine's exact microseconds: no zone involved
    day = first_days.used_at.delta(first_days.start_date, unit="microsecond") // 86_400_000_000
    days = first_days.group_by("m", "account").agg(days=day.nunique())
    # the cohort's 30 days run through the month before and this one: both must hold events
    events_before = event_months(window).assign(m=lambda f: f["m"] + 1)
    return {"cohort": cohort.group_by("m").agg(n=_.count()),
            "engaged": days.filter(days.days >= settings.min_active_days).group_by("m").agg(n=_.count()),
            "events": event_months(window), "events_before": events_before}


def engagement_value(parts, settings) -> dict[str, Any]:
    if parts is None or not has_events(parts) or not has_events(parts, "events_before"):
        return {"value": None, "cohort": None, "engaged": None}
    cohort = int(parts["cohort"]["n"].sum())
    if not cohort:
        return {"value": None, "cohort": 0, "engaged": 0}
    engaged = int(parts["engaged"]["n"].sum())
    return {"value": pct(engaged, cohort), "cohort": cohort, "engaged": engaged}


def engagement_facts(e: dict[str, Any]) -> list[str]:
    if e.get("cohort") is None:
        return []
    return [f"{fmt_count(e['engaged'])} of {fmt_count(e['cohort'])} accounts started last month engaged"]


def value_parts(window, settings) -> dict[str, Any] | None:
    import ibis
    from ibis import _

    accounts, events = window.table("accounts"), window.table("adoption")
    if accounts is None or events is None:
        return None
    features = list(settings.value_features) or tracked_features(window)
    # each account's first value-feature event on or after its start date
    valued = events.filter(of_features(events, features))
    joined = valued.select("account", "used_at").join(accounts.select("account", "start_date"), "account").filter(
        lambda t: t.used_at >= t.start_date)
    first = joined.group_by("account", "start_date").agg(first=joined.used_at.min())
    reached = first.mutate(m=window.month_of(first.first),
                           us=first.first.delta(first.start_date, unit="microsecond")).filter(_.m.notnull())
    return {"ranked": window.order_statistics(reached, "us", (0.5, 0.9))}


def value_value(parts, settings) -> dict[str, Any]:
    if parts is None:
        return {"value": None, "n": None, "p90_days": None}
    ranked = parts["ranked"]
    n = int(ranked["n"].iloc[0]) if len(ranked) else 0
    if not n:
        return {"value": None, "n": 0, "p90_days": None}
    ranked = {int(r): days_from_us(int(v)) for r, v in zip(ranked["rank"], ranked["v"])}
    # numpy's median and linear quantile: what pandas' Series.median/quantile(0.9) compute
    return {"value": quantile(n, ranked, 0.5), "n": n, "p90_days": quantile(n, ranked, 0.9)}


def value_facts(e: dict[str, Any]) -> list[str]:
    if not e.get("n"):
        return []
    return [f"{fmt_count(e['n'])} accounts reached first value; 90th percentile {fmt_value(e['p90_days'], 'days')}"]


ONBOARDING_ENGAGEMENT = Metric(
    key="onboarding_engagement", label="Onboarding engagement", unit="percent", sources=("accounts", "adoption"),
    definition="Cohort: accounts that started in the previous month (so each has had 30 days by "
               "month end). Engaged: usage events on at least the configured number of distinct "
               "days within 30 days of the start date. Value = engaged / cohort.",
    owner="Customer Success", consulted=("Product",), target=70, warn=50, direction="higher", min_sample=10,
    sample="cohort", sample_noun="accounts in the cohort", parts=engagement_parts, value=engagement_value,
    facts=engagement_facts, settings=OnboardingSettings,
)

TIME_TO_VALUE = Metric(
    key="time_to_value", label="Time to first value", unit="days", sources=("accounts", "adoption"),
    definition="Accounts whose first event of a value feature (on or after the start date) falls "
               "in the month; days from the start date to that event. Value = median.",
    owner="Customer Success", consulted=("Product",), target=14, warn=30, direction="lower", min_sample=10,
    sample="n", sample_noun="accounts reaching value", parts=value_parts, value=value_value,
    facts=value_facts, settings=TimeToValueSettings,
)
