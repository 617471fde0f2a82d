"""The action ledger: what earlier sessions agreed, and where each action stands.

Pure functions of the validated actions frame and a date. The ledger is read
"as of" a day (see `ledger_as_of`), and each action's state is reconstructed
for that day from its opened/closed dates, so re-rendering an old month shows
the ledger that month's meeting saw, not today's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from ..months import Month


@dataclass(frozen=True)
class Action:
    action_id: str
    title: str
    owner: str
    metric: str | None
    opened: date
    due: date
    state: str  # open / done / dropped, as of the ledger's day
    closed: date | None
    metric_label: str = "—"  # the metric's label, "—" for none


@dataclass
class Ledger:
    """Actions grouped the way the meeting reviews them."""

    available: bool  # False when there is no actions.csv
    as_of: date
    next_session: date
    last_session: date
    overdue: list[Action] = field(default_factory=list)  # open, due before as_of
    due_soon: list[Action] = field(default_factory=list)  # open, due before the next session
    open_later: list[Action] = field(default_factory=list)  # open, due after that
    done: list[Action] = field(default_factory=list)  # done since the last session
    dropped: list[Action] = field(default_factory=list)  # dropped since the last session

    def days_overdue(self, action: Action) -> int:
        return (self.as_of - action.due).days

    @property
    def open(self) -> list[Action]:
        return self.overdue + self.due_soon + self.open_later

    def open_for_metric(self, key: str) -> list[Action]:
        return [a for a in self.open if a.metric == key]

    def for_owner(self, owner: str) -> "Ledger":
        def mine(actions: list[Action]) -> list[Action]:
            return [a for a in actions if a.owner == owner]

        return Ledger(self.available, self.as_of, self.next_session, self.last_session,
                      mine(self.overdue), mine(self.due_soon), mine(self.open_later),
                      mine(self.done), mine(self.dropped))

    def groups(self) -> list[tuple[str, str, list[Action]]]:
        """(key, label, actions) in the order the meeting reviews them; the PDF and `cxtruth actions` share it."""
        return [("overdue", "Overdue", self.overdue), ("due_soon", "Due before next session", self.due_soon),
                ("open_later", "Open, due later", self.open_later), ("done", "Done since last session", self.done),
                ("dropped", "Dropped since last session", self.dropped)]

    @property
    def is_empty(self) -> bool:
        return not (self.overdue or self.due_soon or self.open_later or self.done or self.dropped)


def _plus_months(day: date, months: int) -> date:
    return (pd.Timestamp(day) + pd.DateOffset(months=months)).date()


def ledger_as_of(month: Month, today: date) -> date:
    """The day the ledger is read for the report on ``month``.

    The meeting about month M happens early in M+1, so the ledger is read
    today, kept within M+1: never before M has ended, and never later than
    the end of M+1 when an old month is re-rendered.
    """
    first, last = month.end.date(), month.shift(2).start.date() - timedelta(days=1)
    return min(max(today, first), last)


def _state_on(status: str, opened: date, closed: date | None, day: date) -> str | None:
    """An action's state on ``day``: None if not yet opened; open until the day it closed."""
    if opened > day:
        return None
    if status == "open" or (closed is not None and closed >= day):
        return "open"
    return status


def build_ledger(actions: pd.DataFrame | None, as_of: date, labels: dict[str, str] | None = None) -> Ledger:
    """``labels``: metric key -> label, for the actions that name a metric."""
    labels = labels or {}
    ledger = Ledger(actions is not None, as_of, _plus_months(as_of, 1), _plus_months(as_of, -1))
    if actions is None:
        return ledger
    for row in actions.sort_values(["due", "action_id"], kind="stable").itertuples(index=False):
        opened, due = row.opened.date(), row.due.date()
        closed = None if pd.isna(row.closed) else row.closed.date()
        state = _state_on(row.status, opened, closed, as_of)
        if state is None:
            continue
        metric = None if pd.isna(row.metric) else str(row.metric)
        action = Action(str(row.action_id), str(row.title), str(row.owner), metric, opened, due, state, closed,
                        labels.get(metric, "—") if metric else "—")
        if state == "open":
            if due < as_of:
                ledger.overdue.append(action)
            elif due < ledger.next_session:
                ledger.due_soon.append(action)
            else:
                ledger.open_later.append(action)
        elif (closed or due) >= ledger.last_session:
            # Without a closed date, the due date is the best guess of when it ended.
            (ledger.done if state == "done" else ledger.dropped).append(action)
    return ledger
