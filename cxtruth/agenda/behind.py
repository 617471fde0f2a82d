"""The accounts and items behind a month's numbers (issue 22): who churned, who stopped
using a feature, which feedback waits longest, which checklist items are missing, where
the detractors are. Each list applies its metric's own definition to the month's rows,
is capped at MAX_ROWS and says how many there are in all. Pure functions of the frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..config import Config
    from ..months import Month
    from ..sources import Sources

MAX_ROWS = 10


@dataclass(frozen=True)
class Table:
    """A capped list: ``rows`` (values by ``keys``, at most MAX_ROWS) of ``total`` in all."""

    title: str
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    total: int

    def document(self) -> dict[str, Any]:
        return {"title": self.title, "total": self.total, "rows": [dict(zip(self.keys, row)) for row in self.rows]}

    def cells(self) -> list[list[str]]:
        """The rows as the card prints them."""
        return [[_cell(value) for value in row] for row in self.rows]


Behind = tuple[Table, ...]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _plain(value: Any) -> Any:
    """A JSON value: None for missing, int/float/str otherwise."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


def _table(title: str, columns: dict[str, str], frame: pd.DataFrame, total: int | None = None) -> Table:
    rows = tuple(tuple(_plain(v) for v in row) for row in frame[list(columns)].head(MAX_ROWS).itertuples(index=False))
    return Table(title, tuple(columns), tuple(columns.values()), rows, len(frame) if total is None else total)


def _open_feedback(feedback: pd.DataFrame | None, end: pd.Timestamp) -> pd.DataFrame | None:
    """Feedback items received before ``end`` and not closed by then."""
    if feedback is None:
        return None
    open_ = (feedback["received_at"] < end) & (feedback["closed_at"].isna() | (feedback["closed_at"] >= end))
    return feedback[open_]


def churned_accounts(accounts: pd.DataFrame, nps: pd.DataFrame | None, feedback: pd.DataFrame | None,
                     month: "Month") -> Table:
    """The month's churned accounts (logo churn's base and rule), largest MRR first, with segment,
    tenure, their last NPS score by the month's end and their feedback items open at its end."""
    start, end = month.start, month.end
    base = (accounts["start_date"] < start) & (accounts["churn_date"].isna() | (accounts["churn_date"] >= start))
    churned = accounts[base & (accounts["churn_date"] >= start) & (accounts["churn_date"] < end)].copy()
    churned["tenure_months"] = ((churned["churn_date"] - churned["start_date"]).dt.days / 30.4375).round(1)
    churned["last_nps"] = None
    if nps is not None and "account_id" in nps:
        said = nps[nps["account_id"].isin(churned["account_id"].dropna()) & (nps["responded_at"] < end)]
        said = said.sort_values("responded_at", kind="stable")
        last = said.groupby("account_id")["score"].last()
        churned["last_nps"] = churned["account_id"].map(last)
    churned["open_feedback"] = None
    waiting = _open_feedback(feedback, end)
    if waiting is not None and "account_id" in waiting:
        churned["open_feedback"] = churned["account_id"].map(waiting.groupby("account_id").size()).fillna(0).astype(int)
    churned = churned.sort_values(["mrr", "account_id"], ascending=[False, True], na_position="last")
    return _table("Churned accounts, largest MRR first",
                  {"account_id": "Account", "segment": "Segment", "mrr": "MRR", "tenure_months": "Tenure (months)",
                   "last_nps": "Last NPS", "open_feedback": "Open feedback"}, churned)


def stopped_pairs(adoption: pd.DataFrame, features: list[str], month: "Month") -> pd.DataFrame:
    """(account_id, feature) used last month and not this month, from usage events in a frame."""
    before = month.shift(-1)
    window = adoption.loc[(adoption["used_at"] >= before.start) & (adoption["used_at"] < month.end)
                          & adoption["feature"].isin(features), ["account_id", "feature", "used_at"]]
    window = window.assign(now=window["used_at"] >= month.start)
    # per account and feature over the two months: used this month at all? (no: only last month)
    used_now = window.groupby(["account_id", "feature"], observed=True, sort=False)["now"].any()
    stopped = used_now[~used_now].reset_index()[["account_id", "feature"]]
    return stopped.assign(feature=stopped["feature"].astype(str))  # the few pairs, not every event


def stopped_using_on_engine(accounts, events, features: list[str], month: "Month") -> Table:
    """`stopped_using` where the usage events are (a warehouse table): the pairs, the join to
    the active accounts, the count and the order run there; only the accounts shown and their
    features come back. ``accounts``: an Ibis table of accounts (None: no accounts source)."""
    import ibis

    from ..metrics.engine import wall_literal
    from ..warehouse import run

    since, start, end = (wall_literal(t) for t in (month.shift(-1).start, month.start, month.end))
    at = events.used_at
    window = events.filter((at >= since) & (at < end) & events.feature.isin(features))
    pairs = window.group_by("account_id", "feature").agg(now=(window.used_at >= start).any())
    stopped = pairs.filter(~pairs.now).select("account_id", "feature")
    who = stopped.select("account_id").distinct()
    if accounts is not None:
        active = accounts.filter((accounts.start_date < end)
                                 & (accounts.churn_date.isnull() | (accounts.churn_date >= start)))
        who = who.join(active.select("account_id", "segment", "mrr"), "account_id")
    else:
        who = who.mutate(segment=ibis.null("string"), mrr=ibis.null("float64"))
    total = int(run(who.count()))
    shown = run(who.order_by([ibis.desc("mrr", nulls_first=False), "account_id"]).limit(MAX_ROWS))
    listed = run(stopped.filter(stopped.account_id.isin(shown["account_id"].tolist())))
    features_of = {account: sorted(rows["feature"]) for account, rows in listed.groupby("account_id")}
    shown["stopped"] = [features_of.get(account, []) for account in shown["account_id"]]
    return _table("Accounts that stopped using a tracked feature this month, largest MRR first",
                  {"account_id": "Account", "segment": "Segment", "mrr": "MRR", "stopped": "Stopped using"}, shown,
                  total=total)


def stopped_using(accounts: pd.DataFrame | None, stopped: pd.DataFrame, month: "Month") -> Table:
    """Accounts active this month (adoption's definition) that used a tracked feature last month
    and not this month (``stopped``: those account and feature pairs), largest MRR first, with
    the features they stopped using."""
    who = pd.DataFrame({"account_id": stopped["account_id"].unique()})
    if accounts is not None:
        active = accounts[(accounts["start_date"] < month.end)
                          & (accounts["churn_date"].isna() | (accounts["churn_date"] >= month.start))]
        who = who.merge(active[["account_id", "segment", "mrr"]], on="account_id", how="inner")
    else:
        who["segment"], who["mrr"] = None, np.nan
    who = who.sort_values(["mrr", "account_id"], ascending=[False, True], na_position="last")
    shown = who.head(MAX_ROWS).copy()  # features are listed for the accounts shown only
    listed = stopped[stopped["account_id"].isin(shown["account_id"])]
    features_of = {account: sorted(rows["feature"]) for account, rows in listed.groupby("account_id")}
    shown["stopped"] = [features_of.get(account, []) for account in shown["account_id"]]
    return _table("Accounts that stopped using a tracked feature this month, largest MRR first",
                  {"account_id": "Account", "segment": "Segment", "mrr": "MRR", "stopped": "Stopped using"}, shown,
                  total=len(who))



def oldest_open(feedback: pd.DataFrame, month: "Month") -> Table:
    """Feedback items still open at the month's end (closure time's backlog), oldest first."""
    waiting = _open_feedback(feedback, month.end).sort_values(["received_at", "feedback_id"]).copy()
    waiting["age_days"] = ((month.end - waiting["received_at"]).dt.total_seconds() / 86_400).round(1)
    columns = {"feedback_id": "Item", "account_id": "Account", "received_at": "Received", "age_days": "Open (days)"}
    if "channel" in waiting:
        columns["channel"] = "Channel"
    return _table("Oldest feedback items still open at month end", columns, waiting)


def missing_items(handoffs: pd.DataFrame, checklist: list[str], month: "Month") -> Table:
    """Per checklist item, how many of the month's handoffs lack it (blank = not done), most first."""
    rows = handoffs[(handoffs["handoff_at"] >= month.start) & (handoffs["handoff_at"] < month.end)]
    missing = pd.DataFrame({"item": checklist,
                            "missing": [int((~rows[item].fillna(False).astype(bool)).sum()) for item in checklist],
                            "handoffs": len(rows)})
    missing = missing[missing["missing"] > 0].sort_values(["missing", "item"], ascending=[False, True])
    return _table("Checklist items most often missing", {"item": "Item", "missing": "Missing in",
                                                         "handoffs": "of handoffs"}, missing)


def detractors(nps: pd.DataFrame, month: "Month") -> tuple[Table, Table]:
    """The share of detractors (0-6) by segment, and the accounts with more than one detractor
    response this month."""
    rows = nps[(nps["responded_at"] >= month.start) & (nps["responded_at"] < month.end)]
    detractor = rows["score"] <= 6
    # as text first: a segment read as a category cannot take a value it does not have
    by_segment = pd.DataFrame({"segment": rows["segment"].astype(object).fillna("(no segment)").astype(str),
                               "detractor": detractor.astype(int)})
    share = by_segment.groupby("segment")["detractor"].agg(["sum", "count"]).reset_index()
    share.columns = ["segment", "detractors", "responses"]
    share["share_pct"] = (100.0 * share["detractors"] / share["responses"]).round(1)
    share = share.sort_values(["share_pct", "segment"], ascending=[False, True])
    repeat = pd.DataFrame(columns=["account_id", "detractor_responses"])
    if "account_id" in rows:
        counts = rows[detractor & rows["account_id"].notna()].groupby("account_id").size()
        repeat = counts[counts > 1].rename("detractor_responses").reset_index()
        repeat = repeat.sort_values(["detractor_responses", "account_id"], ascending=[False, True])
    return (_table("Detractors by segment", {"segment": "Segment", "detractors": "Detractors",
                                             "responses": "Responses", "share_pct": "Share (%)"}, share),
            _table("Accounts with more than one detractor response", {"account_id": "Account",
                                                                      "detractor_responses": "Detractor responses"},
                   repeat))


def behind_numbers(config: "Config", sources: "Sources", month: "Month", keys: set[str]) -> dict[str, Behind | None]:
    """The lists for each built-in metric of ``keys`` whose sources were read (None otherwise)."""
    # Each list reads only the rows its rule can touch: a warehouse table sends just those
    # (a file's frame is whole, and every list filters it again by the same rule).
    from ..metrics.engine import wall_literal

    start, end = (wall_literal(t) for t in (month.start, month.end))
    # a table's accounts: only those that churned this month (the churn list's rule filters again)
    accounts = sources.rows("accounts", lambda t: (t.churn_date >= start) & (t.churn_date < end))
    out: dict[str, Behind | None] = {}
    if accounts is not None and {"logo_churn", "revenue_churn"} & keys:
        gone = accounts.loc[(accounts["churn_date"] >= month.start) & (accounts["churn_date"] < month.end),
                            "account_id"].dropna().unique().tolist()
        nps = sources.rows("nps", lambda t: t.account_id.isin(gone) & (t.responded_at < end))
        feedback = sources.rows("feedback", lambda t: t.account_id.isin(gone) & _open_at(t, end))
        churn = (churned_accounts(accounts, nps, feedback, month),)
        out.update({k: churn for k in ("logo_churn", "revenue_churn") if k in keys})
    usage = sources.results.get("adoption")
    if usage is not None and usage.status == "read" and "feature_adoption" in keys:
        features = list(config.metrics.get("feature_adoption").features)
        if usage.table is not None:  # a warehouse table: the events stay there
            import ibis

            from ..warehouse import run

            if not features:
                seen = run(usage.table.select("feature").filter(usage.table.feature.notnull()).distinct())
                features = sorted(str(f) for f in seen["feature"])
            crm = sources.results.get("accounts")
            on_engine = None if crm is None or crm.status != "read" else crm.table if crm.table is not None \
                else ibis.memtable(crm.frame[["account_id", "segment", "start_date", "churn_date", "mrr"]])
            out["feature_adoption"] = (stopped_using_on_engine(on_engine, usage.table, features, month),)
        else:
            features = features or sorted(str(f) for f in usage.frame["feature"].dropna().unique())
            stopped = stopped_pairs(usage.frame, features, month)
            ids = stopped["account_id"].unique().tolist()  # a table of accounts sends only theirs
            who = sources.rows("accounts", lambda t: t.account_id.isin(ids))
            out["feature_adoption"] = (stopped_using(who, stopped, month),)
    feedback = sources.rows("feedback", lambda t: _open_at(t, end))
    if feedback is not None and "closure_time" in keys:
        out["closure_time"] = (oldest_open(feedback, month),)
    handoffs = sources.rows("handoffs", lambda t: (t.handoff_at >= start) & (t.handoff_at < end))
    if handoffs is not None and "handoff_quality" in keys:
        out["handoff_quality"] = (missing_items(handoffs, list(config.sources.handoffs.checklist), month),)
    nps = sources.rows("nps", lambda t: (t.responded_at >= start) & (t.responded_at < end))
    if nps is not None and "nps" in keys:
        out["nps"] = detractors(nps, month)
    return out


def _open_at(table, end):
    """Feedback received before ``end`` and not closed by then (`_open_feedback` on the engine)."""
    return (table.received_at < end) & (table.closed_at.isnull() | (table.closed_at >= end))
