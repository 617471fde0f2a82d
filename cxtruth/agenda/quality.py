"""What each number rests on: the rejection gate and missing columns (DATA_CONTRACT.md §7).

- A source is *weakened* when more of its rows were rejected than
  `max_rejected_share` allows (`[report]`, default 0.05, or the source's own),
  or when every row was rejected. Every metric that reads it gets no status:
  it is no data, with the reason, and the report is a DRAFT.
- A metric that needs an optional column its source does not have (no
  `churn_date` column at all) is no data too: unknown is not zero.

Pure functions of the sources' counts and config; nothing here reads files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..formatting import fmt_count


def fmt_share(share: float) -> str:
    """96.5 %, 5 %, 0.3 %: one decimal, two where one would round to a whole 0 or 100 %
    that it is not (99.96 % is not all), none for a whole number."""
    percent = 100 * share
    text = f"{percent:.1f}"
    if text in ("0.0", "100.0") and percent not in (0.0, 100.0):
        text = f"{percent:.2f}"
    return (text[:-2] if text.endswith(".0") and percent == int(percent) else text) + " %"


@dataclass(frozen=True)
class SourceQuality:
    """One read source's rows: how many, how many used, and whether it passes the gate."""

    name: str
    file: str
    rows: int  # data rows read (a broken row included)
    used: int  # rows the metrics read
    rejected: int  # rows left out: broken ones and earlier rows of a repeated id
    broken: int  # rows left out for breaking a rule: what the gate counts
    limit: float  # max_rejected_share for this source
    reasons: tuple  # RejectionReason, most frequent first
    absent_columns: tuple[str, ...]
    # usage events whose account accounts.csv does not have (adoption, when both are read):
    # kept, but the account metrics cannot count them
    unmatched: int = 0
    filtered: int = 0  # rows the source's where (or skip_blank) left out

    @property
    def emptied(self) -> bool:
        """Every row was filtered out: a filter that keeps nothing is a mistake, not a quiet month."""
        return self.rows == 0 and self.filtered > 0

    @property
    def unmatched_over_gate(self) -> bool:
        """Too many used rows name an unknown account for the account metrics to rest on them."""
        return self.unmatched > 0 and (self.unmatched / self.used > self.limit or self.unmatched == self.used)

    @property
    def share(self) -> float:
        return self.broken / self.rows if self.rows else 0.0

    @property
    def weakened(self) -> bool:
        """Over the gate; a source with every row rejected always is, whatever the limit."""
        return self.broken > 0 and (self.share > self.limit or self.broken == self.rows)

    def describe(self) -> str:
        """"accounts.csv: 772 of 800 rows rejected (96.5 %, over the 5 % limit)"."""
        return (f"{self.file}: {fmt_count(self.broken)} of {fmt_count(self.rows)} rows rejected "
                f"({fmt_share(self.share)}, over the {fmt_share(self.limit)} limit)")

    def reason_lines(self) -> list[str]:
        """The top reasons with their counts, each with the fix it names where there is one."""
        return [f"{fmt_count(r.rows)} row{'s' if r.rows != 1 else ''}: {r.reason}" for r in self.reasons]

    def document(self) -> dict[str, Any]:
        return {"source": self.name, "file": self.file, "rows": self.rows, "used": self.used,
                "rejected": self.rejected, "rejected_share": self.share, "max_rejected_share": self.limit,
                "top_reasons": [{"column": r.column, "reason": r.reason, "rows": r.rows} for r in self.reasons]}


@dataclass(frozen=True)
class Unscored:
    """Why a metric has no number, and the likeliest fix where cxtruth knows one."""

    text: str
    short: str  # for the scorecard: "from 28 of 800 accounts.csv rows"
    fix: str | None = None


@dataclass(frozen=True)
class MetricQuality:
    """The sources a metric read this run, and why it has no number (None: it has one)."""

    sources: tuple[SourceQuality, ...]
    reasons: tuple[Unscored, ...] = ()  # each on its own: a weakened source, a missing column

    @property
    def reason(self) -> str | None:
        return "; ".join(r.text for r in self.reasons) or None

    @property
    def short_reason(self) -> str | None:
        return "; ".join(r.short for r in self.reasons) or None

    @property
    def partial(self) -> list[SourceQuality]:
        """The sources it read that had rows left out (combined parts of one account are not)."""
        return [s for s in self.sources if s.rejected]

    @property
    def rows_note(self) -> str | None:
        """"from 28 of 800 accounts.csv rows", for each source that had rows left out."""
        if not self.partial:
            return None
        return "from " + " and ".join(f"{fmt_count(s.used)} of {fmt_count(s.rows)} {s.file} rows"
                                      for s in self.partial)

    def document(self) -> dict[str, Any]:
        return {"sources": {s.name: {"rows": s.rows, "used": s.used, "rejected": s.rejected} for s in self.sources},
                "reason": self.reason}


def source_quality(config: Config, results: dict) -> dict[str, SourceQuality]:
    """Per source that was read (``results``: name -> SourceResult), its rows and gate."""
    return {
        name: SourceQuality(name, r.shown, r.rows_read, r.accepted, r.rejected, r.broken,
                            config.rejection_limit(name), tuple(r.reasons), tuple(r.absent_columns),
                            _unmatched(name, r, results), r.filtered)
        for name, r in results.items() if r.status == "read"
    }


def _unmatched(name: str, result, results: dict) -> int:
    accounts = results.get("accounts")
    if name != "adoption" or accounts is None or accounts.status != "read":
        return 0
    if result.unmatched_rows is not None:  # counted on the warehouse
        return result.unmatched_rows
    if result.account_codes is None:
        return 0
    return int((result.account_codes < 0).sum())


def metric_quality(sources: dict[str, SourceQuality], metrics: dict[str, Any]) -> dict[str, MetricQuality]:
    """Per metric key: the read sources it rests on, and the reason it has no number, if any."""
    out = {}
    for key, info in metrics.items():
        read = tuple(sources[name] for name in info.sources if name in sources)
        reasons = [Unscored(f"{s.file} had {fmt_count(s.broken)} of {fmt_count(s.rows)} rows rejected "
                            f"({fmt_share(s.share)}, over the {fmt_share(s.limit)} limit), so the number "
                            f"would rest on {fmt_count(s.used)} row{'s' if s.used != 1 else ''}",
                            f"only {fmt_count(s.used)} of {fmt_count(s.rows)} {s.file} rows usable",
                            f"Most rows: {s.reason_lines()[0]}" if s.reasons else None)
                   for s in read if s.weakened]
        reasons += [Unscored(f"every row of {s.file} was left out by its where filter ({fmt_count(s.filtered)} "
                             "rows), so there is nothing to count", f"{s.file}: every row filtered out",
                             f"Fix: check [sources.{s.name}] where: it names the export's own column values")
                    for s in read if s.emptied]
        usage, accounts = sources.get("adoption"), sources.get("accounts")
        if ("adoption" in info.sources and "accounts" in info.sources and usage and accounts
                and usage.unmatched_over_gate and not usage.weakened and not accounts.weakened):
            reasons.append(Unscored(
                f"{usage.file} had {fmt_count(usage.unmatched)} of {fmt_count(usage.used)} events naming an account "
                f"that {accounts.file} does not have ({fmt_share(usage.unmatched / usage.used)}, over the "
                f"{fmt_share(usage.limit)} limit), so the number would rest on "
                f"{fmt_count(usage.used - usage.unmatched)} of them",
                f"{fmt_count(usage.used - usage.unmatched)} of {fmt_count(usage.used)} {usage.file} rows match "
                f"{accounts.file}",
                f"Fix: check that both exports use the same account ids (map {usage.file}'s account_id to the "
                f"column that holds {accounts.file}'s ids)"))
        reasons += [Unscored(f"{sources[name].file} has no {column} column, so the value is unknown",
                             f"{sources[name].file} has no {column} column",
                             f"Fix: map the export's {column} column under [sources.{name}.columns], or add it")
                    for name, column in info.needs_columns
                    if name in sources and column in sources[name].absent_columns]
        out[key] = MetricQuality(read, tuple(reasons))
    return out
