"""The `cxtruth metrics --json` document (DATA_CONTRACT.md §5) of a built report."""

from __future__ import annotations

import json
from typing import Any

from ..agenda import Report
from ..agenda.ledger import Action, Ledger


def metrics_json(report: Report) -> str:
    """`metrics_document` as the text `cxtruth metrics --json` prints and render writes."""
    return json.dumps(metrics_document(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"



def metrics_document(report: Report) -> dict[str, Any]:
    """The `cxtruth metrics --json` document of DATA_CONTRACT.md §5."""
    metrics = {}
    for m in report.metrics:
        entry = {
            "value": m.value, "status": m.status, "owner": m.owner, "consulted": m.consulted,
            "target": m.target, "warn": m.warn, "direction": m.direction,
            "previous": m.previous, "change": m.change,
        }
        if m.declaration is not None and m.declaration.custom:
            entry["kind"] = m.declaration.kind  # DATA_CONTRACT §7: a custom metric says what kind it is
        entry.update(m.extras)
        entry["open_actions"] = [a.action_id for a in report.open_actions(m.key)]
        entry["no_owner_action"] = m.key in report.no_owner_action
        entry["trend"] = [{"month": str(p.month), "value": p.value, "status": p.status, "low_sample": p.low_sample}
                          for p in m.trend]
        entry["data_quality"] = report.quality[m.key].document()
        drivers, behind = report.drivers.get(m.key), report.behind.get(m.key)
        entry["drivers"] = None if drivers is None else drivers.document()
        entry["accounts"] = None if behind is None else [table.document() for table in behind]
        entry["restated"] = [r.document() for r in report.restated.get(m.key, [])]  # DATA_CONTRACT §7
        if m.key == "nps":
            entry["themes"] = report.themes.document() if report.themes else None
        metrics[m.key] = entry
    return {
        "month": str(report.month),
        "timezone": report.timezone,
        "metrics": metrics,
        "data_quality": {
            "rejected_rows": report.rejected_rows,
            "issues": _issue_rows(report.issues),
            "issues_total": report.issues_total,
            "warnings": _issue_rows(report.warnings),
            "warnings_total": report.warnings_total,
            "sources": {s.name: {"file": s.file, "status": s.status, "rows_read": s.rows_read,
                                 "accepted": s.accepted, "rejected": s.rejected, "filtered": s.filtered,
                                 "set_aside": s.set_aside, "first": s.first, "last": s.last}
                        for s in report.sources},
        },
        "draft": report.draft,
        "weakened_sources": [s.document() for s in report.weakened],
        "stale_sources": [{"source": s.name, "file": s.file, "newest": s.newest,
                           "days_before_month_end": s.days_before_end, "limit_days": s.limit_days}
                          for s in report.stale],
        "actions": ledger_document(report.ledger),
        "generated_by": f"cxtruth {report.version}",
    }



def _issue_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A warehouse table has no line numbers: its rows' line is null, named by the value (their key).
    return [{k: (None if k == "line" and (v is None or v != v) else int(v) if k == "line" else v)
             for k, v in row.items()} for row in rows]



def ledger_document(ledger: Ledger) -> dict[str, Any]:
    def rows(actions: list[Action]) -> list[dict[str, Any]]:
        return [{"action_id": a.action_id, "title": a.title, "owner": a.owner, "metric": a.metric,
                 "opened": a.opened.isoformat(), "due": a.due.isoformat(), "state": a.state,
                 "closed": a.closed.isoformat() if a.closed else None} for a in actions]

    return {
        "available": ledger.available,
        "as_of": ledger.as_of.isoformat(),
        "next_session": ledger.next_session.isoformat(),
        "overdue": rows(ledger.overdue),
        "due_before_next_session": rows(ledger.due_soon),
        "open_later": rows(ledger.open_later),
        "done_since_last_session": rows(ledger.done),
        "dropped_since_last_session": rows(ledger.dropped),
    }
