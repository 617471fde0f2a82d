"""The agenda model: scored metrics arranged for the meeting.

`build_report(config, sources, month)` is the whole pure core — frames in,
a `Report` out — which templates render and `metrics_document` serialises.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import __version__
from ..config import Config
from ..formatting import fmt_change, fmt_count, fmt_value
from .freshness import StaleSource, stale_sources
from .ledger import Action, Ledger, build_ledger, ledger_as_of
from ..metrics import MetricInputs, compute_months, declared
from ..metrics.engine import wall_literal
from ..months import Month, generated_now
from ..records import Printed
from .quality import MetricQuality, SourceQuality, Unscored, metric_quality, source_quality
from .behind import Behind, behind_numbers
from .drivers import Drivers, decompose, drivers_sentence
from .restated import Restatement, find_restatements
from .score import ScoredMetric, score_metrics
from ..sources import Sources
from .verbatims import Verbatims, month_verbatims
from .themes import ThemeCounts, comment_findings

log = logging.getLogger("cxtruth")
TREND_MONTHS = 13
OPENING_MINUTES = 5
CLOSING_MINUTES = 5
SEVERITY_WEIGHT = {"off_track": 3, "at_risk": 2, "no_data": 1, "on_track": 0}
MAX_ISSUES_SHOWN = 60  # rejected rows listed in the PDF; the rest are counted
MAX_ISSUES_JSON = 10_000
MAX_COVER_ACTIONS = 5  # overdue actions listed on the first page; the rest are counted


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
    ledger: Ledger | None = None


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
    filtered: int = 0  # rows a `where` (or skip_blank) left out: not rejected
    set_aside: int = 0  # lines that are not data: before the header, skip_rows, trailers


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
    warnings: list[dict[str, Any]]  # rows kept, but worth a look
    warnings_total: int
    ledger: Ledger
    verbatims: Verbatims
    no_owner_action: list[str]  # keys of off-track metrics with no open action linked
    stale: list[StaleSource] = field(default_factory=list)
    quality: dict[str, MetricQuality] = field(default_factory=dict)  # per metric key
    source_quality: dict[str, SourceQuality] = field(default_factory=dict)  # per read source
    # Per metric key: its change split by segment into rate and mix (None: no segments or no change).
    drivers: dict[str, Drivers | None] = field(default_factory=dict)
    # Per metric key: the accounts and items behind the number (see `cxtruth.agenda.behind`).
    behind: dict[str, Behind | None] = field(default_factory=dict)

    def moved(self, m: ScoredMetric) -> bool:
        """Whether the card shows "What moved it" (`shows_what_moved`)."""
        return shows_what_moved(m, self.drivers.get(m.key), self.behind.get(m.key))

    def drivers_line(self, m: ScoredMetric) -> str | None:
        drivers = self.drivers.get(m.key)
        return None if drivers is None else drivers_sentence(drivers, lambda c: fmt_change(c, m.unit))
    # per metric key: earlier months whose value changed since their report printed it (newest first)
    restated: dict[str, list[Restatement]] = field(default_factory=dict)
    themes: ThemeCounts | None = None  # NPS comments per configured theme; None without [themes]

    @property
    def weakened(self) -> list[SourceQuality]:
        """Sources over the rejection gate: their metrics have no number and the report is a DRAFT."""
        return [s for s in self.source_quality.values() if s.weakened]

    @property
    def draft(self) -> bool:
        return bool(self.weakened or self.stale)

    @property
    def stale_shown(self) -> list[StaleSource]:
        """Stale sources, but for those over the gate: their freshness says nothing more."""
        weakened = {s.name for s in self.weakened}
        return [s for s in self.stale if s.name not in weakened]

    @property
    def draft_reasons(self) -> list[str]:
        return [s.describe() for s in self.weakened] + [s.describe(self.month) for s in self.stale_shown]

    @property
    def draft_kind(self) -> str:
        """What makes it a draft, in two or three words (the page header)."""
        if self.weakened and self.stale_shown:
            return "data problems"
        return "rows rejected" if self.weakened else "stale data"

    @property
    def withheld(self) -> list[tuple[Unscored, list[ScoredMetric]]]:
        """(reason, the metrics it leaves without a number), in contract order: page 1's first words."""
        groups: dict[Unscored, list[ScoredMetric]] = {}
        for m in self.metrics:
            for reason in self.quality[m.key].reasons if m.key in self.quality else ():
                groups.setdefault(reason, []).append(m)
        return list(groups.items())

    def open_actions(self, key: str) -> list[Action]:
        return self.ledger.open_for_metric(key)

    @property
    def status_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("off_track", "at_risk", "on_track", "no_data")}
        for m in self.metrics:
            counts[m.status] += 1
        return counts


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


def shows_what_moved(m: ScoredMetric, drivers: Drivers | None, behind: Behind | None) -> bool:
    """Whether the data answers "what moved it" and the meeting asks it (off track or at risk,
    or a change beyond noise)."""
    asked = m.status in ("off_track", "at_risk") or bool(drivers and drivers.beyond_noise)
    return asked and bool(drivers or any(t.total for t in behind or ()))


def discussion_prompts(m: ScoredMetric, ledger: Ledger, reason: str | None = None, answered: bool = False
                       ) -> list[str]:
    """``answered``: the card already shows what moved it, so the question is what to do about it."""
    value, target = fmt_value(m.value, m.unit), fmt_value(m.target, m.unit)
    helpers = ", ".join(m.consulted) or "the other functions"
    if m.status == "off_track":
        prompts = [
            f"{m.label} is {value} against a target of {target}, past the warning line "
            f"({fmt_value(m.warn, m.unit)}). " + ("What moved it is shown above: which of it will "
                                                  f"{m.owner} act on first?" if answered else
                                                  "What drove it, in which accounts or segments?"),
        ]
        open_actions = ledger.open_for_metric(m.key)
        if open_actions:
            late = [a for a in open_actions if a.due < ledger.as_of]
            ids = ", ".join(a.action_id for a in open_actions)
            prompts.append(f"Open action{'s' if len(open_actions) > 1 else ''} {ids}: "
                           + ("overdue; is it still the right fix, and what is the new date?" if late
                              else "on course to move this number? If not, what changes?"))
        else:
            prompts.append(f"No owner action: nothing open is linked to {m.label}. Agree one today: "
                           f"what {m.owner} will do, by when, and what it needs from {helpers}.")
        return prompts
    if m.status == "at_risk":
        return [
            f"{m.label} is {value}, short of {target}. Is the month's move ({fmt_change(m.change, m.unit)}) "
            "a real shift or noise?",
            f"What would bring it back to target by next month, and who in {m.owner} owns that?",
        ]
    if m.status == "no_data" and reason:
        return [f"No number this month: {reason}. Who fixes the export, and by when, so that next "
                "month's figure can be trusted?"]
    if m.status == "no_data":
        return ["No qualifying data this month. Which export is missing or empty, and who supplies it "
                "before the next session?"]
    return [f"On target ({value}). Anything {m.owner} should keep doing or share with {helpers}?"]


def _sections(config: Config, metrics: list[ScoredMetric], ledger: Ledger) -> list[FunctionSection]:
    sections = []
    for function in config.report.functions:
        owned = sorted((m for m in metrics if m.owner == function), key=lambda m: m.severity)
        consulted = [m for m in metrics if function in m.consulted]
        own_ledger = ledger.for_owner(function)
        if owned or consulted or not own_ledger.is_empty:
            sections.append(FunctionSection(function, owned, consulted_on=consulted, ledger=own_ledger))
    return sections


def _running_order(config: Config, sections: list[FunctionSection]) -> list[AgendaItem]:
    total = config.report.meeting_minutes
    opening, closing = (OPENING_MINUTES, CLOSING_MINUTES) if total >= 30 else (2, 3)
    metrics = [m for s in sections for m in s.metrics]
    minutes = allocate_minutes([SEVERITY_WEIGHT[m.status] for m in metrics], total - opening - closing)
    items = [AgendaItem(0, opening, "Scorecard and overdue actions", "All")]
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
            name=name, file=result.shown, status=result.status, rows_read=result.rows_read,
            accepted=result.accepted, rejected=result.rejected,
            first=span[0].strftime("%Y-%m-%d") if span else None,
            last=span[1].strftime("%Y-%m-%d") if span else None,
            note=result.note, filtered=result.filtered, set_aside=result.set_aside,
        ))
    return out


def _issue_records(frame) -> list[dict]:
    """The first issue rows as records; a warehouse table's rows have no line (None)."""
    import pandas as pd

    rows = frame.head(MAX_ISSUES_JSON).to_dict("records")
    for row in rows:
        row["line"] = None if pd.isna(row["line"]) else int(row["line"])
    return rows


def build_report(config: Config, sources: Sources, month: Month,
                 printed: dict[Month, dict[str, Printed]] | None = None) -> Report:
    """Compute, score and arrange everything for ``month``. Pure: no file is read or written.

    ``printed``: what earlier months' reports printed (`cxtruth.records.read_printed`), to list
    the months restated since.
    """
    months = month.trailing(TREND_MONTHS)
    started = time.perf_counter()
    # The month's comments are picked while the metrics are computed (another core's work).
    with ThreadPoolExecutor(max_workers=1) as pool:
        since, end = (wall_literal(t) for t in (month.shift(-1).start, month.end))  # themes compare two months
        commented = sources.rows("nps", lambda t: (t.responded_at >= since) & (t.responded_at < end)
                                 & t.comment.notnull())
        comments = pool.submit(comment_findings, commented, month, config.themes)
        inputs = MetricInputs.from_sources(config, sources)
        history = compute_months(inputs, months)
        themes, verbatims = comments.result()
    sources_quality = source_quality(config, sources.results)
    quality = metric_quality(sources_quality, declared(config))
    metrics = score_metrics(config, history, month,
                            withheld={key: q.reason for key, q in quality.items() if q.reason})
    if themes is not None and quality["nps"].reason:  # the counts rest on the NPS metric's rows
        themes = themes.withhold(quality["nps"].reason)
        verbatims = month_verbatims(commented, month)  # the newest, not those of themes uncounted
    log.info("computed %d metrics over %d months (%.1f s)", len(metrics), len(months), time.perf_counter() - started)
    generated_at = generated_now(config.report.timezone)
    ledger = build_ledger(sources.frame("actions"), ledger_as_of(month, generated_at.date()),
                          {key: metric.label for key, metric in declared(config).items()})
    sections = _sections(config, metrics, ledger)
    running_order = _running_order(config, sections)
    troubled = [m for m in metrics if m.status in ("off_track", "at_risk")]
    headline = sorted(troubled, key=lambda m: (m.severity, -gap_beyond_target(m)))[:3]
    no_owner_action = [m.key for m in metrics if m.status == "off_track" and not ledger.open_for_metric(m.key)]
    issues, warnings = sources.issues, sources.warnings
    drivers = {m.key: None if quality[m.key].reason else decompose(
        history[month][m.key], history.get(month.shift(-1), {}).get(m.key), m.declaration.sample,
        m.declaration.segment_interval, m.extras.get("change_significant")) for m in metrics}
    # a list explains a number: none for a metric without one (withheld, or no data this month)
    behind = behind_numbers(config, sources, month,
                            {m.key for m in metrics if not quality[m.key].reason and m.value is not None})
    return Report(
        title=config.report.title,
        company=config.report.company,
        month=month,
        timezone=config.report.timezone,
        generated_at=generated_at,
        version=__version__,
        meeting_minutes=config.report.meeting_minutes,
        metrics=metrics,
        sections=sections,
        running_order=running_order,
        headline=headline,
        prompts={m.key: discussion_prompts(m, ledger, quality[m.key].reason,
                                           shows_what_moved(m, drivers[m.key], behind.get(m.key)))
                 for m in metrics},
        facts={m.key: metric_facts(m, config.metrics.get(m.key).min_sample) + _basis_facts(m, quality[m.key])
               for m in metrics},
        sources=_source_summaries(sources),
        issues=_issue_records(issues),
        issues_total=len(issues),
        rejected_rows=sources.rejected_rows,
        warnings=_issue_records(warnings),
        warnings_total=len(warnings),
        ledger=ledger,
        verbatims=verbatims,
        no_owner_action=no_owner_action,
        stale=stale_sources(config, sources, month),
        quality=quality,
        source_quality=sources_quality,
        drivers=drivers,
        behind=behind,
        restated=find_restatements(declared(config), history, printed or {}, month,
                                   {key for key, q in quality.items() if q.reason}),
        themes=themes,
    )


def _basis_facts(m: ScoredMetric, quality: MetricQuality) -> list[str]:
    """What a number rests on when the contract's fallback was taken: said where it is read."""
    read = {s.name for s in quality.sources}
    fallback = m.declaration.fallback
    if fallback and m.value is not None and fallback[0] not in read:
        return [fallback[1]]
    return []


def segment_fact(m: ScoredMetric) -> str | None:
    """The worst segment in words, named as a finding only when it is beyond noise."""
    worst = m.extras.get("worst_segment")
    if not worst:
        return None
    size = f"{fmt_count(worst['n'])} {m.declaration.segment_noun}"
    if worst["low_sample"]:
        size += ", low sample"
    seg = f"{worst['segment']} {fmt_value(worst['value'], m.unit)} ({size})"
    if worst["beyond_noise"]:
        return (f"Worst segment: {seg} against {fmt_value(m.value, m.unit)} overall, "
                "a gap beyond noise (outside the segment's 95 % interval)")
    return f"No segment differs from the whole beyond noise (lowest-performing: {seg})"


def metric_facts(m: ScoredMetric, min_sample: int) -> list[str]:
    """The supporting numbers printed under a metric's value, in words: the declaration's own,
    then a low-sample warning and the worst segment, which every metric shares."""
    e, declaration = m.extras, m.declaration
    facts = declaration.facts(e)
    if e.get("low_sample"):
        size = e[declaration.sample]
        facts.append(f"LOW SAMPLE: only {fmt_count(size)} {declaration.sample_noun} this month "
                     f"(minimum {min_sample}); read the value with care")
    segment = segment_fact(m)
    if segment:
        facts.append(segment)
    return facts
