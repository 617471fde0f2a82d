"""The DuckDB reference: six headline metrics for 13 months, straight from DATA_CONTRACT.md §3.

    python bench/duckdb_reference.py DATA_DIR YYYY-MM

Reads DATA_DIR/*.csv as bench/generate.py writes them (canonical headers,
clean rows, report time zone UTC, tracked features from DATA_DIR/config.toml)
and prints {"metric": {"YYYY-MM": value or null}} as JSON. It is what an
analyst would write in a notebook instead of running cxtruth, and the yardstick
bench/run.py times cxtruth against. bench/warehouse.py calls reference() with
`tables`, to read the same columns from a Spark warehouse's Parquet files.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import duckdb

CHECKLIST = ["goals_documented", "stakeholders_identified", "success_criteria_defined",
             "technical_requirements_captured", "kickoff_scheduled"]


def reference(data: Path, month: str, tables: dict[str, str] | None = None) -> dict[str, dict[str, float | None]]:
    """`tables`: source name (accounts, adoption, ...) -> a Parquet glob to read instead of DATA_DIR/<name>.csv."""
    config = tomllib.loads((data / "config.toml").read_text(encoding="utf-8"))
    features = config["metrics"]["feature_adoption"]["features"]
    db = duckdb.connect()
    db.execute("SET enable_progress_bar = false")  # drawn on stdout (the JSON's) when a query takes 2 s
    db.execute("SET TimeZone = 'UTC'")  # the report's zone: instants in Parquet read as UTC wall times

    def csv(name: str, columns: dict[str, str]) -> str:
        if tables is not None:
            cast = ", ".join(f"{k}::{v} AS {k}" for k, v in columns.items())
            return f"(SELECT {cast} FROM read_parquet('{tables[name.removesuffix('.csv')]}'))"
        spec = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
        return f"read_csv('{data / name}', header = true, columns = {{{spec}}})"

    db.execute(f"""
        CREATE TEMP TABLE months AS
        SELECT (DATE '{month}-01' - INTERVAL (12 - i) MONTH)::TIMESTAMP AS start,
               (DATE '{month}-01' - INTERVAL (11 - i) MONTH)::TIMESTAMP AS stop
        FROM range(13) t(i)""")
    db.execute("CREATE TEMP TABLE accounts AS SELECT * FROM " + csv("accounts.csv", {
        "account_id": "VARCHAR", "segment": "VARCHAR", "start_date": "DATE", "churn_date": "DATE",
        "mrr": "DOUBLE"}))
    feature_list = ", ".join(f"'{f}'" for f in features)
    queries = {
        "nps": f"""
            SELECT m.start, 100.0 * (count(*) FILTER (score >= 9) - count(*) FILTER (score <= 6)) / count(*)
            FROM months m JOIN {csv("nps.csv", {"response_id": "VARCHAR", "account_id": "VARCHAR",
                                                "responded_at": "TIMESTAMP", "score": "INTEGER",
                                                "comment": "VARCHAR", "segment": "VARCHAR"})} r
              ON r.responded_at >= m.start AND r.responded_at < m.stop
            GROUP BY m.start""",
        "logo_churn": """
            SELECT m.start, 100.0 * count(*) FILTER (a.churn_date >= m.start AND a.churn_date < m.stop)
                            / count(*)
            FROM months m JOIN accounts a
              ON a.start_date < m.start AND (a.churn_date IS NULL OR a.churn_date >= m.start)
            GROUP BY m.start""",
        "revenue_churn": """
            SELECT m.start, 100.0 * coalesce(sum(a.mrr) FILTER (a.churn_date >= m.start AND a.churn_date < m.stop), 0)
                            / nullif(sum(coalesce(a.mrr, 0)), 0)
            FROM months m JOIN accounts a
              ON a.start_date < m.start AND (a.churn_date IS NULL OR a.churn_date >= m.start)
            GROUP BY m.start""",
        "feature_adoption": f"""
            WITH active AS (
                SELECT m.start, a.account_id FROM months m JOIN accounts a
                  ON a.start_date < m.stop AND (a.churn_date IS NULL OR a.churn_date >= m.start)),
            used AS (
                SELECT DISTINCT date_trunc('month', used_at) AS start, account_id, feature
                FROM {csv("adoption.csv", {"account_id": "VARCHAR", "feature": "VARCHAR", "used_at": "TIMESTAMP"})}
                WHERE feature IN ({feature_list})
                  AND used_at >= (SELECT min(start) FROM months) AND used_at < (SELECT max(stop) FROM months))
            SELECT a.start, 100.0 * count(u.feature) / (count(DISTINCT a.account_id) * {len(features)})
            FROM active a LEFT JOIN used u USING (start, account_id)
            GROUP BY a.start""",
        "handoff_quality": f"""
            SELECT m.start, avg(100.0 * ({" + ".join(f"coalesce({c}, false)::INT" for c in CHECKLIST)}) / {len(CHECKLIST)})
            FROM months m JOIN {csv("handoffs.csv", {"handoff_id": "VARCHAR", "account_id": "VARCHAR",
                                                     "closed_won_at": "DATE", "handoff_at": "DATE",
                                                     "csm_rating": "INTEGER",
                                                     **{c: "BOOLEAN" for c in CHECKLIST}})} h
              ON h.handoff_at >= m.start AND h.handoff_at < m.stop
            GROUP BY m.start""",
        "closure_time": f"""
            SELECT m.start, median(epoch(f.closed_at - f.received_at) / 86400.0)
            FROM months m JOIN {csv("feedback.csv", {"feedback_id": "VARCHAR", "account_id": "VARCHAR",
                                                     "received_at": "TIMESTAMP", "closed_at": "TIMESTAMP",
                                                     "channel": "VARCHAR"})} f
              ON f.closed_at >= m.start AND f.closed_at < m.stop
            GROUP BY m.start""",
    }
    months = [row[0].strftime("%Y-%m") for row in db.execute("SELECT start FROM months ORDER BY start").fetchall()]
    out = {}
    for key, sql in queries.items():
        values = {start.strftime("%Y-%m"): value for start, value in db.execute(sql).fetchall()}
        out[key] = {m: values.get(m) for m in months}
    return out


if __name__ == "__main__":
    print(json.dumps(reference(Path(sys.argv[1]), sys.argv[2]), indent=1))
