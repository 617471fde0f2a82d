"""The agenda model: scored metrics arranged for the meeting.

`build_report(config, sources, month)` is the whole pure core — frames in,
a `Report` out — which templates render and `metrics_document` serialises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo

from . import __version__
from .config import Config
from .formatting import fmt_change, fmt_count, fmt_value
from .metrics import MetricInputs, compute_months
from .months import Month
from .schema import SOURCES
from .score import ScoredMetric, score_metrics
from .sources import Sources

TREND_MONTHS = 13
OPENING_MINUTES = 5
CLOSING_MINUTES = 5
SEVERITY_WEIGHT = {"off_track": 3, "at_risk": 2, "no_data": 1, "on_track": 0}
MAX_ISSUES_SHOWN = 60  # rejected rows listed in the PDF; the rest are counted
MAX_ISSUES_JSON = 10_000


@dataclass
class AgendaItem:
    start: int  # minutes from the meeting's start
    minutes: int
    title: str
    owner: str
    metric: ScoredMetric | None = None


@dataclass
class FunctionSection:
    name: str
    metrics: list[ScoredMetric]
    minutes: int = 0
    consulted_on: list[ScoredMetric] = field(default_factory=list)


@dataclass
class SourceSummary:
    name: str
    file: str
    status: str
    rows_read: int
    accepted: int
    rejected: int
    first: str | None
    last: str | None
    note: str | None


@dataclass
class Report:
    title: str
    company: str
    month: Month
    timezone: str
    generated_at: datetime
    version: str
    meeting_minutes: int
    metrics: list[ScoredMetric]
    sections: list[FunctionSection]
    running_order: list[AgendaItem]
    headline: list[ScoredMetric]
    prompts: dict[str, list[str]]
    facts: dict[str, list[str]]
    sources: list[SourceSummary]
    issues: list[dict[str, Any]]
    issues_total: int
    rejected_rows: int

    @property
    def status_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("off_track", "at_risk", "on_track", "no_data")}
        for m in self.metrics:
            counts[m.status] += 1
        return counts


def generated_now(timezone: str) -> datetime:
    """Now in the report zone; SOURCE_DATE_EPOCH pins it for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = datetime.fromtimestamp(int(epoch), dt_timezone.utc) if epoch else datetime.now(dt_timezone.utc)
    return now.astimezone(ZoneInfo(timezone))


def gap_beyond_target(metric: ScoredMetric) -> float:
    """How far past target, in widths of the target-to-warn band (0 when on track)."""
    if metric.value is None:
        return 0.0
    sign = 1 if metric.direction == "higher" else -1
    band = abs(metric.target - metric.warn) or 1.0
    return max(0.0, sign * (metric.target - metric.value) / band)


def allocate_minutes(weights: list[int], total: int) -> list[int]:
    """Split ``total`` minutes by weight with whole minutes that add up exactly (largest remainder)."""
    if not weights or total <= 0:
        return [0] * len(weights)
    if sum(weights) == 0:
        weights = [1] * len(weights)
    share = [total * w / sum(weights) for w in weights]
    minutes = [int(s) for s in share]
    order = sorted(range(len(weights)), key=lambda i: (share[i] - minutes[i], weights[i]), reverse=True)
    for i in order[: total - sum(minutes)]:
        minutes[i] += 1
    return minutes


def discussion_prompts(m: ScoredMetric) -> list[str]:
    value, target = fmt_value(m.value, m.unit), fmt_value(m.target, m.unit)
    helpers = ", ".join(m.consulted) or "the other functions"
    if m.status == "off_track":
        return [
            f"{m.label} is {value} against a target of {target}, past the warning line "
            f"({fmt_value(m.warn, m.unit)}). What drove it, in which accounts or segments?",
            f"What will {m.owner} change before the next session, and what does it need from {helpers}?",
        ]
    if m.status == "at_risk":
        return [
            f"{m.label} is {value}, short of {target}. Is the month's move ({fmt_change(m.change, m.unit)}) "
            "a real shift or noise?",
            f"What would bring it back to target by next month, and who in {m.owner} owns that?",
        ]
    if m.status == "no_data":
        return [f"No qualifying data this month. Which export is missing or empty, and who supplies it "
                "before the next session?"]
    return [f"On target ({value}). Anything {m.owner} should keep doing or share with {helpers}?"]


def _sections(config: Config, metrics: list[ScoredMetric]) -> list[FunctionSection]:
    sections = []
    for function in config.report.functions:
        owned = sorted((m for m in metrics if m.owner == function), key=lambda m: m.severity)
        consulted = [m for m in metrics if function in m.consulted]
        if owned or consulted:
            sections.append(FunctionSection(function, owned, consulted_on=consulted))
    return sections


def _running_order(config: Config, sections: list[FunctionSection]) -> list[AgendaItem]:
    total = config.report.meeting_minutes
    opening, closing = (OPENING_MINUTES, CLOSING_MINUTES) if total >= 30 else (2, 3)
    metrics = [m for s in sections for m in s.metrics]
    minutes = allocate_minutes([SEVERITY_WEIGHT[m.status] for m in metrics], total - opening - closing)
    items = [AgendaItem(0, opening, "Scorecard: what moved since last month", "All")]
    clock = opening
    index = 0
    for section in sections:
        for metric in section.metrics:
            if minutes[index]:
                items.append(AgendaItem(clock, minutes[index], metric.label, metric.owner, metric))
                clock += minutes[index]
                section.minutes += minutes[index]
            index += 1
    items.append(AgendaItem(clock, closing, "Decisions: owner, action and due date for each item", "All"))
    return items


def _source_summaries(sources: Sources) -> list[SourceSummary]:
    out = []
    for name, result in sources.results.items():
        span = result.date_range()
        out.append(SourceSummary(
            name=name, file=result.path.name, status=result.status, rows_read=result.rows_read,
            accepted=result.accepted, rejected=result.rejected,
            first=span[0].strftime("%Y-%m-%d") if span else None,
            last=span[1].strftime("%Y-%m-%d") if span else None,
            note=result.note,
        ))
    return out


def build_report(config: Config, sources: Sources, month: Month) -> Report:
    """Compute, score and arrange everything for ``month``. Pure: no file is read or written."""
    inputs = MetricInputs.from_frames(config, {name: sources.frame(name) for name in SOURCES})
    history = compute_months(inputs, month.trailing(TREND_MONTHS))
    metrics = score_metrics(config, history, month)
    sections = _sections(config, metrics)
    running_order = _running_order(config, sections)
    troubled = [m for m in metrics if m.status in ("off_track", "at_risk")]
    headline = sorted(troubled, key=lambda m: (m.severity, -gap_beyond_target(m)))[:3]
    issues = sources.issues
    return Report(
        title=config.report.title,
        company=config.report.company,
        month=month,
        timezone=config.report.timezone,
        generated_at=generated_now(config.report.timezone),
        version=__version__,
        meeting_minutes=config.report.meeting_minutes,
        metrics=metrics,
        sections=sections,
        running_order=running_order,
        headline=headline,
        prompts={m.key: discussion_prompts(m) for m in metrics},
        facts={m.key: metric_facts(m) for m in metrics},
        sources=_source_summaries(sources),
        issues=issues.head(MAX_ISSUES_JSON).to_dict("records"),
        issues_total=len(issues),
        rejected_rows=sources.rejected_rows,
    )


def metrics_document(report: Report) -> dict[str, Any]:
    """The `cxtruth metrics --json` document of DATA_CONTRACT.md §5."""
    metrics = {}
    for m in report.metrics:
        entry = {
            "value": m.value, "status": m.status, "owner": m.owner, "consulted": m.consulted,
            "target": m.target, "warn": m.warn, "direction": m.direction,
            "previous": m.previous, "change": m.change,
        }
        entry.update(m.extras)
        entry["trend"] = [{"month": str(p.month), "value": p.value, "status": p.status} for p in m.trend]
        metrics[m.key] = entry
    return {
        "month": str(report.month),
        "timezone": report.timezone,
        "metrics": metrics,
        "data_quality": {
            "rejected_rows": report.rejected_rows,
            "issues": [{k: (int(v) if k == "line" else v) for k, v in issue.items()} for issue in report.issues],
            "issues_total": report.issues_total,
            "sources": {s.name: {"file": s.file, "status": s.status, "rows_read": s.rows_read,
                                 "accepted": s.accepted, "rejected": s.rejected,
                                 "first": s.first, "last": s.last} for s in report.sources},
        },
        "generated_by": f"cxtruth {report.version}",
    }


def metric_facts(m: ScoredMetric) -> list[str]:
    """The supporting numbers printed under a metric's value, in words."""
    e = m.extras
    facts: list[str] = []
    if m.key == "nps" and e.get("n"):
        facts.append(f"{fmt_count(e['n'])} responses: {fmt_count(e['promoters'])} promoters, "
                     f"{fmt_count(e['passives'])} passives, {fmt_count(e['detractors'])} detractors")
        if e.get("margin_of_error") is not None:
            facts.append(f"margin of error ±{e['margin_of_error']:.1f} points (95 %)")
        if e.get("low_sample"):
            facts.append("LOW SAMPLE: fewer responses than the configured minimum; read with care")
        if e.get("change_significant") is not None:
            facts.append("change vs last month is " + ("statistically significant" if e["change_significant"]
                                                        else "within noise (not significant)"))
    elif m.key in ("logo_churn", "revenue_churn") and e.get("base") is not None:
        facts.append(f"{fmt_count(e['churned'])} of {fmt_count(e['base'])} accounts churned")
    if m.key == "revenue_churn" and e.get("base_mrr") is not None:
        facts.append(f"{e['churned_mrr']:,.0f} of {e['base_mrr']:,.0f} MRR churned")
    if m.key == "feature_adoption" and e.get("active_accounts") is not None:
        facts.append(f"{fmt_count(e['active_accounts'])} active accounts")
        per = e.get("per_feature") or {}
        if per:
            facts.append("per feature: " + ", ".join(f"{k} {fmt_value(v, 'percent')}" for k, v in per.items()))
    if m.key == "handoff_quality" and e.get("n"):
        facts.append(f"{fmt_count(e['n'])} handoffs; {fmt_value(e['within_sla_pct'], 'percent')} within SLA")
        if e.get("mean_csm_rating") is not None:
            facts.append(f"mean CSM rating {e['mean_csm_rating']:.1f} / 5")
    if m.key == "closure_time" and e.get("n") is not None:
        if e["n"]:
            facts.append(f"{fmt_count(e['n'])} items closed; 90th percentile {fmt_value(e['p90_days'], 'days')}; "
                         f"{fmt_value(e['within_sla_pct'], 'percent')} within SLA")
        oldest = f", oldest {fmt_value(e['oldest_open_days'], 'days')}" if e.get("oldest_open_days") else ""
        facts.append(f"{fmt_count(e['open_backlog'])} still open at month end{oldest}")
    if m.key == "onboarding_engagement" and e.get("cohort") is not None:
        facts.append(f"{fmt_count(e['engaged'])} of {fmt_count(e['cohort'])} accounts started last month engaged")
    if m.key == "time_to_value" and e.get("n"):
        facts.append(f"{fmt_count(e['n'])} accounts reached first value; 90th percentile "
                     f"{fmt_value(e['p90_days'], 'days')}")
    if m.key == "feature_awareness" and e.get("n"):
        facts.append(f"{fmt_count(e['n'])} answers; " + ", ".join(
            f"{k} {fmt_value(v, 'percent')}" for k, v in (e.get("per_feature") or {}).items()))
    return facts
