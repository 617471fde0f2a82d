"""What each source holds: canonical columns, their types and row rules.

This is DATA_CONTRACT.md §2 written down once, for the adapters (which read
and validate) and for config validation (which checks column mappings).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["text", "datetime", "date", "int", "number", "bool"]
MAX_MRR = 1e15


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True  # the column must be in the file
    nullable: bool = False  # a blank cell is allowed
    low: float | None = None
    high: float | None = None
    multiline: bool = False  # free text that may hold quoted newlines
    future_ok: bool = False  # a date after the run is normal (a due date), not an error
    # Text with a handful of distinct values in millions of rows (feature names, segments):
    # the fast path reads it dictionary-encoded, one small integer per row.
    few_values: bool = False


@dataclass(frozen=True)
class SourceSpec:
    name: str
    columns: tuple[Column, ...]
    unique_key: tuple[str, ...] = ()
    optional: bool = False  # an absent file is normal, not a data-quality note
    time_column: str | None = None  # the column freshness and date ranges use
    # (later column, earlier column, reason) pairs: a row where later < earlier is rejected
    order_rules: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


DEFAULT_CHECKLIST = (
    "goals_documented",
    "stakeholders_identified",
    "success_criteria_defined",
    "technical_requirements_captured",
    "kickoff_scheduled",
)

ACTION_STATUSES = ("open", "done", "dropped")

SOURCES: dict[str, SourceSpec] = {
    "nps": SourceSpec(
        "nps",
        (
            Column("response_id", "text"),
            Column("account_id", "text", required=False, nullable=True),
            Column("responded_at", "datetime"),
            Column("score", "int", low=0, high=10),
            Column("comment", "text", required=False, nullable=True, multiline=True),
            Column("segment", "text", required=False, nullable=True, few_values=True),
        ),
        unique_key=("response_id",),
        time_column="responded_at",
    ),
    "accounts": SourceSpec(
        "accounts",
        (
            Column("account_id", "text"),
            Column("segment", "text", required=False, nullable=True, few_values=True),
            # CRMs carry signed-but-not-started contracts and notice already given.
            Column("start_date", "date", future_ok=True),
            Column("churn_date", "date", required=False, nullable=True, future_ok=True),
            # At most 10^15 a month (no account pays that, in any currency): the exact sum of
            # every account's MRR then fits the engine's DECIMAL(38, 6) (decision 78).
            Column("mrr", "number", required=False, nullable=True, low=0, high=MAX_MRR),
        ),
        unique_key=("account_id",),
        time_column="start_date",
        order_rules=(("churn_date", "start_date", "churn_date is before start_date"),),
    ),
    "adoption": SourceSpec(
        "adoption",
        (
            Column("account_id", "text"),
            Column("feature", "text", few_values=True),
            Column("used_at", "datetime"),
        ),
        time_column="used_at",
    ),
    "handoffs": SourceSpec(
        "handoffs",
        (
            Column("handoff_id", "text"),
            Column("account_id", "text", required=False, nullable=True),
            Column("closed_won_at", "date"),
            Column("handoff_at", "date"),
            Column("csm_rating", "int", required=False, nullable=True, low=1, high=5),
            # checklist columns are added from config, see handoff_spec()
        ),
        unique_key=("handoff_id",),
        time_column="handoff_at",
        order_rules=(("handoff_at", "closed_won_at", "handoff_at is before closed_won_at"),),
    ),
    "feedback": SourceSpec(
        "feedback",
        (
            Column("feedback_id", "text"),
            Column("account_id", "text", required=False, nullable=True),
            Column("received_at", "datetime"),
            Column("closed_at", "datetime", required=False, nullable=True),
            Column("channel", "text", required=False, nullable=True),
        ),
        unique_key=("feedback_id",),
        time_column="received_at",
        order_rules=(("closed_at", "received_at", "closed_at is before received_at"),),
    ),
    "actions": SourceSpec(
        "actions",
        (
            Column("action_id", "text"),
            Column("title", "text", multiline=True),
            Column("owner", "text"),
            Column("metric", "text", required=False, nullable=True),
            # The ledger reads every action as of one day, so a later date just means
            # "not yet" there; no action date is rejected for lying in the future.
            Column("opened", "date", future_ok=True),
            Column("due", "date", future_ok=True),
            Column("status", "text"),
            Column("closed", "date", required=False, nullable=True, future_ok=True),
        ),
        unique_key=("action_id",),
        optional=True,
        time_column="opened",
    ),
    "awareness": SourceSpec(
        "awareness",
        (
            Column("response_id", "text"),
            Column("account_id", "text", required=False, nullable=True),
            Column("responded_at", "datetime"),
            Column("feature", "text"),
            Column("aware", "bool"),
        ),
        unique_key=("response_id", "feature"),
        optional=True,
        time_column="responded_at",
    ),
}


# The type words of a custom source's [sources.<name>.types] table, and the kind each is read as.
CUSTOM_TYPES: dict[str, Kind] = {
    "text": "text", "integer": "int", "number": "number", "boolean": "bool", "date": "date", "datetime": "datetime",
}


def custom_spec(name: str, types: dict[str, str], key: tuple[str, ...] = ()) -> SourceSpec:
    """A custom source's spec (docs/sources.md, "Custom sources"): every declared column
    required in the file, blank cells allowed except in the key, the last row of a
    repeated key wins, and the first date or datetime column declared is its time column
    (freshness and date ranges; the only one whose future dates are rejected)."""
    time_column = next((column for column, word in types.items() if CUSTOM_TYPES[word] in ("date", "datetime")), None)
    columns = tuple(Column(column, CUSTOM_TYPES[word], nullable=column not in key,
                           future_ok=column != time_column)
                    for column, word in types.items())
    return SourceSpec(name, columns, unique_key=tuple(key), time_column=time_column)


def source_spec(name: str, checklist: tuple[str, ...] | list[str] = DEFAULT_CHECKLIST) -> SourceSpec:
    """The spec for ``name``; for handoffs, with the configured checklist columns."""
    spec = SOURCES[name]
    if name != "handoffs":
        return spec
    extra = tuple(Column(item, "bool", nullable=True) for item in checklist)
    return replace(spec, columns=spec.columns + extra)
