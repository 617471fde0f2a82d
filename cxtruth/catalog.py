"""The metrics cxtruth knows: names, units and the definitions printed in the report.

The formulas themselves live in `cxtruth.metrics`; the wording here must say
the same thing, because leaders read it next to the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class MetricInfo:
    key: str
    label: str
    unit: Literal["points", "percent", "days"]
    sources: tuple[str, ...]
    definition: str
    # defaults for config, used when config.toml has no [metrics.<key>] value
    owner: str
    consulted: tuple[str, ...]
    target: float
    warn: float
    direction: Literal["higher", "lower"]
    # Fewer qualifying rows than this and the month is flagged "low sample". Rates
    # (a share of accounts or answers) need ~30; medians of durations say something from ~10.
    min_sample: int = 30
    # Optional columns (source, column) without which the value is unknown, not zero: when a
    # source is read but lacks one, the metric is no data, with the reason (DATA_CONTRACT §7).
    needs_columns: tuple[tuple[str, str], ...] = ()


METRICS: dict[str, MetricInfo] = {
    m.key: m
    for m in (
        MetricInfo(
            "handoff_quality", "Sales-to-CS handoff quality", "percent", ("handoffs",),
            "Handoffs with handoff date in the month. Each handoff's completeness is the "
            "share of checklist items marked done (blank = not done); the value is the "
            "mean completeness. Within SLA = handoff date minus closed-won date is at most "
            "the SLA days.",
            "Sales", ("Customer Success",), 90, 75, "higher", 10,
        ),
        MetricInfo(
            "onboarding_engagement", "Onboarding engagement", "percent", ("accounts", "adoption"),
            "Cohort: accounts that started in the previous month (so each has had 30 days by "
            "month end). Engaged: usage events on at least the configured number of distinct "
            "days within 30 days of the start date. Value = engaged / cohort.",
            "Customer Success", ("Product",), 70, 50, "higher", 10,
        ),
        MetricInfo(
            "time_to_value", "Time to first value", "days", ("accounts", "adoption"),
            "Accounts whose first event of a value feature (on or after the start date) falls "
            "in the month; days from the start date to that event. Value = median.",
            "Customer Success", ("Product",), 14, 30, "lower", 10,
        ),
        MetricInfo(
            "logo_churn", "Logo churn", "percent", ("accounts",),
            "Base: accounts that started before the month and had not churned before it. "
            "Value = base accounts with a churn date in the month / base.",
            "Customer Success", ("Sales",), 1.0, 2.0, "lower",
            needs_columns=(("accounts", "churn_date"),),
        ),
        MetricInfo(
            "revenue_churn", "Revenue (MRR) churn", "percent", ("accounts",),
            "Same base as logo churn. Value = MRR of the accounts that churned in the month / "
            "MRR of the base (blank MRR counts as 0).",
            "Customer Success", ("Sales",), 1.0, 2.0, "lower",
            needs_columns=(("accounts", "churn_date"), ("accounts", "mrr")),
        ),
        MetricInfo(
            "feature_adoption", "Feature adoption", "percent", ("accounts", "adoption"),
            "Active accounts: started before the month ended and not churned before it began. "
            "For each tracked feature, the share of active accounts with a usage event in the "
            "month; the value is the mean over tracked features.",
            "Product", ("Customer Success",), 50, 35, "higher",
            # Without churn dates every account that ever started counts as active.
            needs_columns=(("accounts", "churn_date"),),
        ),
        MetricInfo(
            "feature_awareness", "Feature awareness", "percent", ("awareness",),
            "Awareness survey answers in the month; per feature, aware answers / answers. "
            "Value = mean over the features asked about.",
            "Product", ("Customer Success",), 70, 50, "higher",
        ),
        MetricInfo(
            "closure_time", "Feedback loop closure time", "days", ("feedback",),
            "Feedback items closed (customer told what was done) in the month; days from "
            "received to closed. Value = median. Backlog = items received by month end and "
            "still open at month end.",
            "Support", ("Product",), 7, 14, "lower", 10,
            # Without closing dates no item is ever closed and every item counts as open.
            needs_columns=(("feedback", "closed_at"),),
        ),
        MetricInfo(
            "nps", "Net Promoter Score", "points", ("nps",),
            "Survey responses in the month. NPS = % promoters (9-10) minus % detractors "
            "(0-6). Margin of error: 95 % normal approximation.",
            "CX Leadership", ("Customer Success", "Product"), 40, 25, "higher",
        ),
    )
}

# JSON and the scorecard list metrics in contract order, not journey order.
CONTRACT_ORDER = (
    "nps", "logo_churn", "revenue_churn", "feature_adoption", "handoff_quality",
    "closure_time", "onboarding_engagement", "time_to_value", "feature_awareness",
)
METRICS = {key: METRICS[key] for key in CONTRACT_ORDER}

DEFAULT_FUNCTIONS = ("Sales", "Customer Success", "Product", "Support", "CX Leadership")
