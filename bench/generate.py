"""Deterministic, scaled canonical exports for the benchmark (not for tests of behaviour).

    python bench/generate.py OUT_DIR [--scale 1.0] [--seed 7]

At scale 1: 10M usage events, 1M NPS responses, 100k accounts, 200k
feedback items, 20k handoffs, spread over 14 months ending October 2026.
Writes OUT_DIR/{accounts,adoption,nps,feedback,handoffs}.csv and a
config.toml (timezone UTC, no actions) that both cxtruth and the DuckDB
reference read. The same seed and scale always give the same bytes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

SIZES = {"adoption": 10_000_000, "nps": 1_000_000, "accounts": 100_000, "feedback": 200_000, "handoffs": 20_000}
FIRST = np.datetime64("2025-09-01T00:00:00", "s")
END = np.datetime64("2026-11-01T00:00:00", "s")  # exclusive: the data ends with October 2026
FEATURES = ["reports", "dashboards", "alerts", "integrations", "api", "exports", "sso", "mobile"]
TRACKED = FEATURES[:5]
SEGMENTS = ["SMB", "MID", "ENT"]
CHECKLIST = ["goals_documented", "stakeholders_identified", "success_criteria_defined",
             "technical_requirements_captured", "kickoff_scheduled"]
COMMENTS = ["", "", "", "", "Great product", "Support was slow, again", 'The "new" dashboards are confusing',
            "Billing, invoices and exports\nneed work", "Löst unser Problem 👍", "<b>fine</b>"]

CONFIG = f"""# Benchmark exports (bench/generate.py); read by cxtruth and bench/duckdb_reference.py.
[report]
company = "Benchmark"
timezone = "UTC"
output_dir = "reports"
max_staleness_days = 3

[data]
dir = "."

[metrics.feature_adoption]
features = {TRACKED!r}
""".replace("'", '"')


def _ids(prefix: str, n: int) -> pa.Array:
    width = len(str(n))
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(pa.array(np.arange(1, n + 1)).cast(pa.string()),
                                                            width=width, padding="0"), "")


def _times(rng: np.random.Generator, n: int, start=FIRST, end=END) -> np.ndarray:
    span = (end - start).astype(np.int64)
    return start + rng.integers(0, span, n).astype("timedelta64[s]")


def _iso(values: np.ndarray, fmt: str = "%Y-%m-%dT%H:%M:%S") -> pa.Array:
    return pc.strftime(pa.array(values.astype("datetime64[s]")), format=fmt)


def _write(table: pa.Table, path: Path, quoted: bool = False) -> None:
    # Like most exports: plain cells, quotes only where a file holds free text (every string there).
    style = "needed" if quoted else "none"
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style=style))


def generate(out: Path, scale: float = 1.0, seed: int = 7) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    n = {k: max(10, int(v * scale)) for k, v in SIZES.items()}
    out.mkdir(parents=True, exist_ok=True)

    # accounts: starts over three years; a quarter churn within two years of starting
    starts = np.datetime64("2023-10-01", "D") + rng.integers(0, 1126, n["accounts"]).astype("timedelta64[D]")
    churns = starts + rng.integers(30, 730, n["accounts"]).astype("timedelta64[D]")
    churned = rng.random(n["accounts"]) < 0.25
    account_ids = _ids("A", n["accounts"])
    mrr = np.round(rng.gamma(2.0, 400.0, n["accounts"]), 2)
    _write(pa.table({
        "account_id": account_ids,
        "segment": pa.array(np.array(SEGMENTS)[rng.integers(0, 3, n["accounts"])]),
        "start_date": _iso(starts, "%Y-%m-%d"),
        "churn_date": pc.if_else(pa.array(churned), _iso(churns, "%Y-%m-%d"), ""),
        "mrr": pa.array(mrr).cast(pa.string()),
    }), out / "accounts.csv")

    def some_accounts(count: int) -> pa.Array:
        return pc.take(account_ids, pa.array(rng.integers(0, n["accounts"], count)))

    # usage events: naive timestamps, the busiest file by far
    _write(pa.table({
        "account_id": some_accounts(n["adoption"]),
        "feature": pa.array(np.array(FEATURES)[rng.integers(0, len(FEATURES), n["adoption"])]),
        "used_at": _iso(_times(rng, n["adoption"])),
    }), out / "adoption.csv")

    # NPS: UTC offsets as survey tools write them, comments with commas, quotes and newlines
    scores = rng.choice(11, n["nps"], p=[.03, .02, .03, .04, .05, .06, .07, .15, .2, .18, .17])
    _write(pa.table({
        "response_id": _ids("R", n["nps"]),
        "account_id": some_accounts(n["nps"]),
        "responded_at": _iso(_times(rng, n["nps"]), "%Y-%m-%dT%H:%M:%SZ"),
        "score": pa.array(scores).cast(pa.string()),
        "comment": pa.array(np.array(COMMENTS)[rng.integers(0, len(COMMENTS), n["nps"])]),
        "segment": pa.array(np.array(SEGMENTS)[rng.integers(0, 3, n["nps"])]),
    }), out / "nps.csv", quoted=True)

    received = _times(rng, n["feedback"])
    closed_at = received + rng.exponential(6 * 86400, n["feedback"]).astype("timedelta64[s]")
    is_closed = (rng.random(n["feedback"]) < 0.8) & (closed_at < END)
    _write(pa.table({
        "feedback_id": _ids("F", n["feedback"]),
        "account_id": some_accounts(n["feedback"]),
        "received_at": _iso(received),
        "closed_at": pc.if_else(pa.array(is_closed), _iso(closed_at), ""),
        "channel": pa.array(np.array(["email", "chat", "call"])[rng.integers(0, 3, n["feedback"])]),
    }), out / "feedback.csv")

    won = np.datetime64("2025-08-15", "D") + rng.integers(0, 440, n["handoffs"]).astype("timedelta64[D]")
    handoff = won + rng.integers(0, 15, n["handoffs"]).astype("timedelta64[D]")
    columns = {
        "handoff_id": _ids("H", n["handoffs"]),
        "account_id": some_accounts(n["handoffs"]),
        "closed_won_at": _iso(won, "%Y-%m-%d"),
        "handoff_at": _iso(np.minimum(handoff, np.datetime64("2026-10-31", "D")), "%Y-%m-%d"),
        "csm_rating": pc.if_else(pa.array(rng.random(n["handoffs"]) < 0.7),
                                 pa.array(rng.integers(1, 6, n["handoffs"])).cast(pa.string()), ""),
    }
    for item in CHECKLIST:
        columns[item] = pa.array(np.where(rng.random(n["handoffs"]) < 0.75, "true", "false"))
    _write(pa.table(columns), out / "handoffs.csv")

    (out / "config.toml").write_text(CONFIG, encoding="utf-8")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    sizes = generate(args.out, args.scale, args.seed)
    total = sum(f.stat().st_size for f in args.out.glob("*.csv"))
    print(f"wrote {', '.join(f'{k} {v:,}' for k, v in sizes.items())} rows "
          f"({total / 1e6:,.0f} MB) to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
