"""The metrics of DATA_CONTRACT.md §3, as pure functions of validated frames.

`compute_month(inputs, month)` returns, per metric key, a dict holding
``value`` (None when nothing qualifies — never 0) and the contract's extras.
`MetricInputs` prepares what every month shares (tracked features, first
value per account, ...) once, so 13 months of trend cost little more than one.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
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


_NEVER_NS = np.iinfo(np.int64).max
_NEVER = np.datetime64(_NEVER_NS, "ns")  # a missing churn date: still a customer (2262)


def _never_if_missing(stamps: np.ndarray) -> np.ndarray:
    """An end date left blank (churn, closure) as ``_NEVER``: not yet, so every
    "ended before t" comparison is simply false."""
    return np.where(np.isnat(stamps), _NEVER, stamps)


def _labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for missing) and the sorted labels they index (those present)."""
    if isinstance(values.dtype, pd.CategoricalDtype):  # read dictionary-encoded: its order is first seen
        # Its codes, renumbered over the sorted categories that occur: what `factorize(sort=True)`
        # gives, without its pass through a hash table (1.5M segments: 17 -> 4 ms).
        values = values.cat.reorder_categories(sorted(values.cat.categories))
        codes = values.cat.codes.to_numpy().astype(np.int64)
        present = np.bincount(codes + 1, minlength=len(values.cat.categories) + 1)[1:] > 0
        if not present.all():
            codes = np.where(codes >= 0, (np.cumsum(present) - 1).take(codes, mode="wrap"), -1)
        return codes, [str(label) for label, used in zip(values.cat.categories, present) if used]
    codes, labels = pd.factorize(values, sort=True)
    return codes.astype(np.int64), [str(label) for label in labels]


def _feature_kinds(values: pd.Series, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Each event's feature as a small integer (-1: missing or not in ``names``) and the
    names those integers stand for. A categorical column (the fast path reads feature
    names dictionary-encoded) already is that: its codes, no per-row work at all."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), [str(c) for c in values.cat.categories]
    return lookup_codes(values, names), names


@dataclass
class ResponseColumns:
    """The NPS responses as the arrays the formula reads (filtered 13 times, so kept lean)."""

    at: np.ndarray
    score: np.ndarray
    segment: np.ndarray
    labels: list[str]
    # With a window: per month of it, unlabelled/each label, and detractor/passive/promoter,
    # how many responses (see `count_months`); `nps` then reads a month's row.
    counts: np.ndarray | None = None
    months: "_MonthIndex | None" = None

    @classmethod
    def of(cls, frame: pd.DataFrame) -> "ResponseColumns":
        return cls(frame["responded_at"].to_numpy(dtype="datetime64[ns]"),
                   frame["score"].to_numpy(dtype="float64"), *_labels(frame["segment"]))

    def count_months(self, months: "_MonthIndex") -> None:
        """Count every month of the window in one pass: 13 passes over 1.5M responses
        cost 0.1 s of the months' 0.4 s. The same comparisons as `nps` makes per month."""
        n_months, starts = months.n, months.starts
        month_of = _MonthOfDay(starts)
        group = len(self.labels) + 1  # 0: no segment
        counts = np.zeros(n_months * group * 3, dtype=np.int64)
        # In blocks, like the usage pass: temporaries that stay in cache (1.5M responses 35-90 -> 20 ms).
        for block in range(0, len(self.at), _BLOCK):
            at = self.at[block:block + _BLOCK].view(np.int64)
            inside = (at >= starts[0]) & (at < starts[-1])
            score = self.score[block:block + _BLOCK][inside]
            kind = (score > 6).astype(np.int64) + (score >= 9)  # detractor 0, passive 1, promoter 2
            key = (month_of(at[inside]) * group + self.segment[block:block + _BLOCK][inside] + 1) * 3 + kind
            counts += np.bincount(key, minlength=len(counts))
        self.counts, self.months = counts.reshape(n_months, group, 3), months

    def month_counts(self, month: "Month") -> np.ndarray | None:
        """``month``'s (segment, class) counts, if counted (see `count_months`)."""
        at = _position(self.months, month)
        return None if at is None else self.counts[at]


class _MonthIndex:
    """The months of a window, and timestamps as the month of it they fall in: the
    month filters of accounts and feedback then compare small integers, found once,
    instead of 8-byte timestamps 13 times over (0.05 s of the months' CPU)."""

    def __init__(self, window: tuple[Month, Month]):
        first, last = window
        self.first, self.n = first.index, last.index - first.index + 1
        self.starts = _month_starts(first, self.n)

    def of(self, stamps: np.ndarray) -> np.ndarray:
        """Per datetime64[ns] stamp (no NaT): -1 before the window, ``n`` from its end
        on, else the position of its month (int32). For month k: t < start of k is
        ``of(t) < k``, t >= start of k is ``of(t) >= k``, t in k is ``of(t) == k``."""
        return (np.searchsorted(self.starts, stamps.view(np.int64), side="right") - 1).astype(np.int32)

    def at(self, month: Month) -> int | None:
        """``month``'s position in the window, or None outside it."""
        at = month.index - self.first
        return at if 0 <= at < self.n else None


def _position(months: _MonthIndex | None, month: Month) -> int | None:
    """``month``'s position in ``months``, or None (no window, or outside it: then the
    caller compares timestamps)."""
    return None if months is None else months.at(month)


@dataclass
class AccountColumns:
    """accounts.csv as arrays: start, churn (``_NEVER`` when blank), MRR (0 when blank), segment.
    With `index_months`, the month filters below compare month positions for months in
    the window (the same comparisons, see `_MonthIndex.of`)."""

    start: np.ndarray
    churn: np.ndarray
    mrr: np.ndarray
    segment: np.ndarray
    labels: list[str]
    months: _MonthIndex | None = None
    start_month: np.ndarray | None = None
    churn_month: np.ndarray | None = None

    @classmethod
    def of(cls, frame: pd.DataFrame) -> "AccountColumns":
        return cls(frame["start_date"].to_numpy(dtype="datetime64[ns]"),
                   _never_if_missing(frame["churn_date"].to_numpy(dtype="datetime64[ns]")),
                   frame["mrr"].fillna(0.0).to_numpy(dtype="float64"), *_labels(frame["segment"]))

    def index_months(self, months: _MonthIndex) -> None:
        self.months, self.start_month, self.churn_month = months, months.of(self.start), months.of(self.churn)

    def churn_base(self, month: Month) -> np.ndarray:
        """Accounts that started before ``month`` and had not churned before it (a mask)."""
        at = _position(self.months, month)
        if at is None:
            start = month.start.to_datetime64()
            return (self.start < start) & (self.churn >= start)
        return (self.start_month < at) & (self.churn_month >= at)

    def churned_in(self, month: Month, rows: np.ndarray | None = None) -> np.ndarray:
        """Whether each account (of ``rows``, a mask, if given) churned in ``month``."""
        at = _position(self.months, month)
        if at is None:
            return month.mask(self.churn if rows is None else self.churn[rows])
        return (self.churn_month if rows is None else self.churn_month[rows]) == at

    def active_in(self, month: Month) -> np.ndarray:
        """Accounts that started before ``month`` ended and had not churned before it began."""
        at = _position(self.months, month)
        if at is None:
            return (self.start < month.end.to_datetime64()) & (self.churn >= month.start.to_datetime64())
        return (self.start_month <= at) & (self.churn_month >= at)

    def started_in(self, month: Month) -> np.ndarray:
        at = _position(self.months, month)
        return month.mask(self.start) if at is None else self.start_month == at


@dataclass
class FeedbackColumns:
    """Feedback items as arrays (int64 ns): received, closed (``_NEVER_NS`` while open), and
    the days each closed item took (NaN while open). `index_months` as for accounts."""

    received: np.ndarray
    closed: np.ndarray
    days: np.ndarray
    months: _MonthIndex | None = None
    received_month: np.ndarray | None = None
    closed_month: np.ndarray | None = None

    @classmethod
    def of(cls, frame: pd.DataFrame) -> "FeedbackColumns":
        received = frame["received_at"].to_numpy(dtype="datetime64[ns]")
        closed = frame["closed_at"].to_numpy(dtype="datetime64[ns]")
        days = (closed - received) / np.timedelta64(1, "D")  # NaT -> NaN
        return cls(received, _never_if_missing(closed), days)

    def index_months(self, months: _MonthIndex) -> None:
        self.months, self.received_month, self.closed_month = months, months.of(self.received), months.of(self.closed)

    def closed_in(self, month: Month) -> np.ndarray:
        at = _position(self.months, month)
        return month.mask(self.closed) if at is None else self.closed_month == at

    def open_at_end(self, month: Month) -> np.ndarray:
        """Items received before ``month`` ended and not closed by then (open items: closed = never)."""
        at = _position(self.months, month)
        if at is None:
            end = month.end.to_datetime64()
            return (self.received < end) & (self.closed >= end)
        return (self.received_month <= at) & (self.closed_month > at)


@dataclass
class HandoffColumns:
    """Handoffs as arrays: handoff date, checklist items done (blank: not done), days
    from closed-won to handoff, CSM rating (NaN: none). 13 months of filtering a
    DataFrame cost 30 ms of pandas overhead for 20k handoffs; these arrays, 3 ms."""

    at: np.ndarray
    done: np.ndarray
    lag_days: np.ndarray
    rating: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, checklist: list[str]) -> "HandoffColumns":
        return cls(frame["handoff_at"].to_numpy(dtype="datetime64[ns]"),
                   frame[checklist].fillna(False).astype(bool).sum(axis=1).to_numpy(),
                   ((frame["handoff_at"] - frame["closed_won_at"]) / DAY).to_numpy(dtype="float64"),
                   frame["csm_rating"].astype("float64").to_numpy(dtype="float64", na_value=np.nan))


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
            names = list(dict.fromkeys(self.tracked_features + self.value_features))
            self.feature_kind, kinds = _feature_kinds(self.adoption["feature"], names)
            # Per kind, and one more slot for -1: its tracked-feature code (-1: not tracked),
            # and whether it is a value feature. The usage pass looks events up in these.
            self.tracked_of_kind = np.array([self.tracked_features.index(k) if k in self.tracked_features else -1
                                             for k in kinds] + [-1], dtype=np.int32)
            self.value_of_kind = np.array([k in self.value_features for k in kinds] + [False])
        self.nps_columns = None if self.nps is None else ResponseColumns.of(self.nps)
        self.account_columns = None if self.accounts is None else AccountColumns.of(self.accounts)
        self.feedback_columns = None if self.feedback is None else FeedbackColumns.of(self.feedback)
        if window is not None:  # the window's months, found once for every source that uses them
            months = _MonthIndex(window)
            if self.nps_columns is not None:
                self.nps_columns.count_months(months)
            for columns in (self.account_columns, self.feedback_columns):
                if columns is not None:
                    columns.index_months(months)
        self.handoff_columns = None if self.handoffs is None else HandoffColumns.of(
            self.handoffs, list(self.config.sources.handoffs.checklist))
        self.usage = None if self.adoption is None else UsageIndex.build(self, window)
        # Per account code: distinct days active in its first 30 days (onboarding cohorts only).
        self.active_days = None if self.usage is None else self.usage.active_days
        self.value_reached = None if self.usage is None else self.usage.value_reached()


_DAY_NS = 86_400 * 10**9
ONBOARDING_DAYS = 30  # DATA_CONTRACT §3 onboarding_engagement: active days within [start, start + 30 days)

# Usage events are reduced in blocks of this many: every temporary is then 1-2 MB,
# reused from block to block and mostly still in cache, instead of one fresh 40-80 MB
# array per step on 10M events (touching fresh memory is what cost most on a VM).
# 1 << 18 rather than 1 << 20: the pass 0.22 -> 0.17 s on 10M events, a quarter of
# the page faults (docs/performance.md, round eight).
_BLOCK = 1 << 18


def _month_starts(first: Month, n_months: int) -> np.ndarray:
    """The starts of ``n_months`` months from ``first`` and of the month after (int64 ns)."""
    return np.array([first.shift(i).start for i in range(n_months + 1)], dtype="datetime64[ns]").view(np.int64)


class _MonthOfDay:
    """Which month of ``starts`` (month starts in ns, ascending) a timestamp falls in.

    Via a day -> month table: an integer division and a lookup per row, several
    times faster than a binary search or calendar arithmetic on 10M rows.
    """

    def __init__(self, starts: np.ndarray):
        self.origin = int(starts[0])
        days = (starts - self.origin) // _DAY_NS
        self.table = np.repeat(np.arange(len(days) - 1, dtype=np.int64), np.diff(days))

    def __call__(self, stamps: np.ndarray, clip: bool = False) -> np.ndarray:
        """Month index (int64) of each of ``stamps`` (int64 ns within the months; with
        ``clip``, stamps outside them get the first or last month instead of an error)."""
        day = stamps - self.origin
        day //= _DAY_NS
        if clip:
            np.clip(day, 0, len(self.table) - 1, out=day)
        return self.table[day]


# Distinct integer keys are found with a bitmap up to this many possible keys
# (one byte each), beyond it by sorting: both beat hashing millions of keys, and
# the bitmap is read back without decoding any key.
_BITMAP_LIMIT = 200_000_000


_BYTE_BITS = (np.arange(256)[:, None] >> np.arange(8)) & 1  # row v: the 8 bits of v, lowest first


class _DistinctKeys:
    """Which integer keys (month * inner + key within the month) were `add`ed, read back
    one month at a time as a boolean row over the month's ``inner`` keys."""

    def __init__(self, n_months: int, inner: int):
        self.n_months, self.inner = n_months, inner
        self.seen = np.zeros(n_months * inner, dtype=bool) if n_months * inner <= _BITMAP_LIMIT else None
        self.parts: list[np.ndarray] = []
        self._keys: np.ndarray | None = None  # sorted, once all are added
        self._row: tuple[int, np.ndarray] | None = None

    def add(self, keys: np.ndarray) -> None:
        if self.seen is not None:
            self.seen[keys] = True
        else:
            self.parts.append(np.unique(keys))

    def merge(self, other: "_DistinctKeys") -> None:
        if self.seen is not None:
            self.seen |= other.seen
        else:
            self.parts += other.parts

    def month(self, index: int) -> np.ndarray:
        """Boolean row: which keys within month ``index`` (0-based in the window) were seen."""
        if self.seen is not None:
            return self.seen[index * self.inner:(index + 1) * self.inner]  # a view
        cached = self._row  # read once: months are computed in two threads
        if cached is not None and cached[0] == index:  # each month is asked for once per segment
            return cached[1]
        if self._keys is None:
            self._keys = np.unique(np.concatenate(self.parts)) if self.parts else np.empty(0, dtype=np.int64)
        lo, hi = np.searchsorted(self._keys, [index * self.inner, (index + 1) * self.inner])
        row = np.zeros(self.inner, dtype=bool)
        row[self._keys[lo:hi] - index * self.inner] = True
        self._row = index, row
        return row


@dataclass
class _EventTotals:
    """What a pass over some of the usage events collects (see `_EventReduction`)."""

    used: _DistinctKeys
    pairs: _DistinctKeys | None
    first_value: np.ndarray | None
    days_seen: _DistinctKeys | None

    def merge(self, other: "_EventTotals") -> None:
        self.used.merge(other.used)
        if self.pairs is not None:
            self.pairs.merge(other.pairs)
        if self.first_value is not None:
            np.minimum(self.first_value, other.first_value, out=self.first_value)
            self.days_seen.merge(other.days_seen)


@dataclass
class _EventReduction:
    """One pass over blocks of usage events (int64 ns ``used_at``, account codes) for
    `UsageIndex`: distinct (month, account, feature) and (month, account) keys, and,
    with accounts.csv, each account's first value event and its onboarding days."""

    inputs: "MetricInputs"
    used_at: np.ndarray
    event_account: np.ndarray
    starts: np.ndarray  # month starts of the window and the end, int64 ns
    n_months: int
    n_accounts: int
    n_features: int
    cohort: np.ndarray | None  # per account: in an onboarding cohort of the window (None: no accounts.csv)

    def __call__(self, blocks: range) -> _EventTotals:
        inputs, starts, n_accounts, n_features = self.inputs, self.starts, self.n_accounts, self.n_features
        month_of = _MonthOfDay(starts)
        # one int64 key per (month, account, feature): month x account x feature overflows int32
        used = _DistinctKeys(self.n_months, n_accounts * n_features)
        with_accounts = self.cohort is not None
        pairs = None if with_accounts else _DistinctKeys(self.n_months, n_accounts)
        first_value = days_seen = None
        if with_accounts:
            account_start = inputs.account_columns.start.view(np.int64)
            first_value = np.full(len(account_start), _NEVER_NS)
            days_seen = _DistinctKeys(1, len(account_start) * ONBOARDING_DAYS)
            # one more slot for code -1 (not in accounts.csv): never started, never in a cohort
            start_of = np.append(account_start, _NEVER_NS)
            in_cohort = np.append(self.cohort, False)
        # Keys are computed for every row of a block and the rows that count picked once
        # at the end: one boolean pick costs more than the arithmetic it saves.
        for block in blocks:
            rows = slice(block, block + _BLOCK)
            at, account = self.used_at[rows], self.event_account[rows]
            inside = (account >= 0) & (at >= starts[0]) & (at < starts[-1])
            key = month_of(at, clip=True)  # rows outside the window get a month too, then are dropped
            key *= n_accounts
            key += account
            if pairs is not None:
                pairs.add(key[inside])
            kind = inputs.feature_kind[rows]
            tracked = inputs.tracked_of_kind[kind]
            inside &= tracked >= 0  # tracked features only
            key *= n_features
            key += tracked
            used.add(key[inside])
            if not with_accounts:
                continue
            # time to value: the earliest value-feature event on or after the account's start
            start = start_of[account]
            value = inputs.value_of_kind[kind] & (at >= start)
            # Only an event earlier than the account's first value so far can change it: after
            # the first blocks that is few, and `minimum.at` costs per row (-0.09 s on 12M events).
            if len(first_value):  # none when accounts.csv has no accepted row: value is False already
                value &= at < first_value.take(account, mode="wrap")  # -1 (unknown): value is False already
            np.minimum.at(first_value, account[value], at[value])  # unbuffered: repeats count
            # onboarding: distinct days since start_date (a midnight, so whole days are calendar days)
            day = at - start
            day //= _DAY_NS
            first_days = in_cohort[account] & (day >= 0) & (day < ONBOARDING_DAYS)
            days_seen.add(account[first_days].astype(np.int64) * ONBOARDING_DAYS + day[first_days])
        return _EventTotals(used, pairs, first_value, days_seen)


@dataclass
class UsageIndex:
    """The usage events reduced, in one pass, to what the metrics need.

    Accounts and features become integer codes and each event a month index
    within the window, so a month's adoption reads one row of a bitmap
    (account x feature) instead of passing over every event; each of the
    contract's formulas still decides what counts (see the metric functions).
    """

    inputs: "MetricInputs"
    first_month: int  # Month.index of the window's first month
    n_months: int  # months in the window
    account_ids: pd.Series  # code -> account_id
    # (month, account, tracked feature) seen together; (month, account) seen, without accounts.csv
    used: _DistinctKeys
    accounts_by_month: _DistinctKeys | None
    # With accounts.csv (else None), per account code: the first value-feature event on or
    # after start_date (ns, _NEVER_NS if none), and the distinct days with any event in the
    # first ONBOARDING_DAYS after start_date (onboarding cohorts of the window only, else 0).
    first_value: np.ndarray | None
    active_days: np.ndarray | None
    # The window was taken from the events themselves: a month outside it has none.
    whole_span: bool = False

    @classmethod
    def build(cls, inputs: "MetricInputs", window: tuple[Month, Month] | None) -> "UsageIndex":
        events = inputs.adoption
        accounts = inputs.account_columns
        if accounts is not None:
            account_ids = inputs.accounts["account_id"].reset_index(drop=True)
            event_account = inputs.account_codes.get("adoption")
            if event_account is None:
                event_account = lookup_codes(events["account_id"], account_ids)
        else:
            codes, uniques = pd.factorize(events["account_id"])
            account_ids, event_account = pd.Series(uniques), codes.astype(np.int64)
        used_at = events["used_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)  # no copy
        whole_span = window is None
        if whole_span:  # every month the data spans, and the one after (its onboarding cohort)
            span = [pd.Timestamp(t) for t in (used_at.min(), used_at.max())] if len(used_at) else []
            first, last = tuple(Month(t.year, t.month) for t in span) or (Month(1970, 1), Month(1970, 1))
            window = first, last.shift(1)
        first, last = window
        n_months = last.index - first.index + 1
        starts = _month_starts(first, n_months)
        n_accounts = max(len(account_ids), 1)
        n_features = max(len(inputs.tracked_features), 1)
        cohort = None
        if accounts is not None:
            # onboarding cohorts of the window's months: accounts that started in the month before each
            cohort_from = Month.from_index(first.index - 1).start.to_datetime64()
            cohort_to = Month.from_index(last.index - 1).end.to_datetime64()
            cohort = (accounts.start >= cohort_from) & (accounts.start < cohort_to)
        reduce = _EventReduction(inputs, used_at, event_account, starts, n_months, n_accounts, n_features, cohort)
        # Two workers, each on every other block: numpy releases the GIL in these loops.
        blocks = range(0, len(used_at), _BLOCK)
        shares = [blocks[0::2], blocks[1::2]] if len(blocks) > 1 else [blocks]
        with ThreadPoolExecutor(max_workers=len(shares)) as pool:
            totals = list(pool.map(reduce, shares))
        total = totals[0]
        for other in totals[1:]:
            total.merge(other)
        active_days = None
        if accounts is not None:
            active_days = total.days_seen.month(0).reshape(-1, ONBOARDING_DAYS).sum(axis=1)
        return cls(inputs, first.index, n_months, account_ids, total.used, total.pairs, total.first_value,
                   active_days, whole_span)

    def _month_row(self, keys: _DistinctKeys, month: Month) -> np.ndarray:
        """``keys``' boolean row for ``month``."""
        at = month.index - self.first_month
        if 0 <= at < self.n_months:
            return keys.month(at)
        if not self.whole_span:  # events of that month were never reduced: no answer is honest
            raise ValueError(f"{month} is outside the months this usage index was built for")
        return np.zeros(keys.inner, dtype=bool)

    def active(self, month: Month) -> np.ndarray:
        """Codes of the accounts active in ``month``."""
        a = self.inputs.account_columns
        if a is not None:
            return np.flatnonzero(a.active_in(month))
        return np.flatnonzero(self._month_row(self.accounts_by_month, month))

    def feature_counts(self, month: Month, accounts: np.ndarray, groups: np.ndarray,
                       n_groups: int) -> tuple[np.ndarray, np.ndarray]:
        """Per tracked feature: how many of ``accounts`` used it in ``month``, in all and
        per group (``groups``: each account's group code, -1 for none), as an
        (n_groups, features) array."""
        n_features = len(self.inputs.tracked_features)
        row = self._month_row(self.used, month).reshape(-1, max(n_features, 1))
        if not n_features:
            return np.zeros(0, dtype=np.int64), np.zeros((n_groups, 0), dtype=np.int64)
        used = row.take(accounts, axis=0)[:, :n_features]
        group = np.where(groups >= 0, groups, n_groups)  # no group: in the total only
        # Eight features to a byte: per byte, one bincount of (group, byte value), then each
        # value's bits summed. 0.5 ms a month instead of 6 ms for a pass per group.
        packed = np.packbits(used, axis=1, bitorder="little")
        per_group = np.concatenate(
            [np.bincount(group * 256 + byte, minlength=(n_groups + 1) * 256).reshape(-1, 256) @ _BYTE_BITS
             for byte in packed.T], axis=1)[:, :n_features]
        return per_group.sum(axis=0), per_group[:n_groups]

    def value_reached(self) -> "ValueReached | None":
        """The accounts that reached value: their start_date and first value-feature event."""
        if self.first_value is None:
            return None
        reached = np.flatnonzero(self.first_value != _NEVER_NS)
        return ValueReached(self.inputs.account_columns.start[reached],
                            self.first_value[reached].view("datetime64[ns]"))


@dataclass
class ValueReached:
    """Per account that reached value: its start_date and first value-feature event,
    as datetime64[ns] arrays."""

    start: np.ndarray
    first_value: np.ndarray


# -- one function per metric ---------------------------------------------------

def nps(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    empty = {"value": None, "n": 0 if inputs.nps is not None else None, "promoters": None,
             "passives": None, "detractors": None, "margin_of_error": None, "low_sample": None,
             "segments": {}}
    if inputs.nps is None:
        return empty
    responses = inputs.nps_columns
    counts = responses.month_counts(month)
    if counts is not None:  # counted ahead: (segment, detractor/passive/promoter)
        total = counts.sum(axis=0)
        result = _nps_of(int(total.sum()), int(total[2]), int(total[0]))
        labelled = counts[1:]
        per = [labelled.sum(axis=1), labelled[:, 2], labelled[:, 0]]
    else:
        inside = month.mask(responses.at)
        score, segment = responses.score[inside], responses.segment[inside]
        result = _nps_of(len(score), int((score >= 9).sum()), int((score <= 6).sum()))
        labelled = segment >= 0
        per = [np.bincount(segment[labelled], weights=w, minlength=len(responses.labels)).astype(np.int64)
               for w in (None, score[labelled] >= 9, score[labelled] <= 6)]
    if result["value"] is None:
        return empty
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


def logo_churn(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.accounts is None:
        return {"value": None, "churned": None, "base": None, "segments": {}}
    a = inputs.account_columns
    base = a.churn_base(month)
    churned = base & a.churned_in(month)
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
    base = a.churn_base(month)
    mrr = a.mrr[base]
    churned_mrr = float(mrr[a.churned_in(month, base)].sum())
    base_mrr = float(mrr.sum())
    return {"value": _pct(churned_mrr, base_mrr), "churned_mrr": churned_mrr, "base_mrr": base_mrr,
            "base": int(base.sum())}


def feature_adoption(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    usage = inputs.usage
    if usage is None:
        return {"value": None, "active_accounts": None, "per_feature": {}, "segments": {}}
    features = inputs.tracked_features
    active = usage.active(month)
    a = inputs.account_columns  # without accounts.csv there are no segments
    labels = a.labels if a is not None else []
    segment = a.segment[active] if a is not None else np.full(len(active), -1)
    counts, per_segment = usage.feature_counts(month, active, segment, len(labels))

    def adoption_of(counts: np.ndarray, total: int) -> tuple[float | None, dict[str, float | None]]:
        if not total or not features:
            return None, {}
        per = {f: _pct(int(counts[i]), total) for i, f in enumerate(features)}
        return float(np.mean(list(per.values()))), per

    value, per_feature = adoption_of(counts, len(active))
    segments = {}
    sizes = np.bincount(segment[segment >= 0], minlength=len(labels))
    for code, label in enumerate(labels):
        if sizes[code]:
            segments[label] = {"value": adoption_of(per_segment[code], int(sizes[code]))[0], "n": int(sizes[code])}
    return {"value": value, "active_accounts": len(active), "per_feature": per_feature,
            "segments": segments}


def handoff_quality(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.handoffs is None:
        return {"value": None, "n": None, "mean_csm_rating": None, "within_sla_pct": None}
    settings = inputs.config.metrics.handoff_quality
    checklist = inputs.config.sources.handoffs.checklist
    h = inputs.handoff_columns
    inside = month.mask(h.at)
    n = int(inside.sum())
    if not n:
        return {"value": None, "n": 0, "mean_csm_rating": None, "within_sla_pct": None}
    completeness = 100.0 * h.done[inside] / len(checklist)  # per handoff: % of checklist items done
    rating = h.rating[inside]
    rated = ~np.isnan(rating)
    return {
        "value": float(completeness.mean()),
        "n": n,
        "mean_csm_rating": float(rating[rated].mean()) if rated.any() else None,
        "within_sla_pct": 100.0 * float((h.lag_days[inside] <= settings.sla_days).mean()),
    }


def closure_time(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.feedback is None:
        return {"value": None, "n": None, "p90_days": None, "within_sla_pct": None,
                "open_backlog": None, "oldest_open_days": None}
    settings = inputs.config.metrics.closure_time
    f = inputs.feedback_columns
    days = f.days[f.closed_in(month)]
    end = month.end.to_datetime64()
    still_open = f.open_at_end(month)
    oldest = (end - f.received[still_open].min()) / np.timedelta64(1, "D") if still_open.any() else None
    return {
        "value": float(np.median(days)) if len(days) else None,
        "n": len(days),
        "p90_days": float(np.quantile(days, 0.9)) if len(days) else None,
        "within_sla_pct": 100.0 * float((days <= settings.sla_days).mean()) if len(days) else None,
        "open_backlog": int(still_open.sum()),
        "oldest_open_days": _num(oldest),
    }


def onboarding_engagement(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    if inputs.accounts is None or inputs.usage is None:
        return {"value": None, "cohort": None, "engaged": None}
    settings = inputs.config.metrics.onboarding_engagement
    cohort = np.flatnonzero(inputs.account_columns.started_in(month.shift(-1)))
    if not len(cohort):
        return {"value": None, "cohort": 0, "engaged": 0}
    engaged = int((inputs.active_days[cohort] >= settings.min_active_days).sum())
    return {"value": _pct(engaged, len(cohort)), "cohort": len(cohort), "engaged": engaged}


def time_to_value(inputs: MetricInputs, month: Month) -> dict[str, Any]:
    reached = inputs.value_reached
    if reached is None:
        return {"value": None, "n": None, "p90_days": None}
    inside = month.mask(reached.first_value)
    days = (reached.first_value[inside] - reached.start[inside]) / np.timedelta64(1, "D")
    if not len(days):
        return {"value": None, "n": 0, "p90_days": None}
    # numpy's median and linear quantile: what pandas' Series.median/quantile(0.9) compute
    return {"value": _num(np.median(days)), "n": len(days), "p90_days": _num(np.quantile(days, 0.9))}


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
    """`compute_month` for each of ``months``, two at a time: the formulas are pure and spend
    most of their time in numpy, which releases the GIL (13 months of a 1 GB export:
    0.39-0.44 s in one thread, 0.25-0.29 s in two)."""
    if len(months) < 2:
        return {month: compute_month(inputs, month) for month in months}
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(months, pool.map(partial(compute_month, inputs), months)))
