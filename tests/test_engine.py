"""The metric engine's known pitfalls (cxtruth/metrics/engine.py), each pinned.

Ibis compiles every metric to SQL; these are the places where SQL and the
definition part ways unless the expression is written with care.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxtruth.config import Config
from cxtruth.metrics import MetricInputs, compute_month
from cxtruth.metrics.engine import Engine, Window
from cxtruth.metrics.stats import quantile
from cxtruth.months import Month

OCTOBER = Month(2026, 10)


def _config(timezone: str = "UTC") -> Config:
    return Config.model_validate({"report": {"timezone": timezone}})


def _accounts(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["account_id", "segment", "start_date", "churn_date", "mrr"])
    for column in ("start_date", "churn_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    frame["mrr"] = frame["mrr"].astype("float64")
    return frame


def test_zone_aware_stamps_fall_in_the_report_zone_month():
    """A warehouse column holds instants; the month is the report zone's, whatever the session
    zone (Ibis sets DuckDB's to UTC). 03:30Z on Nov 1 is 23:30 on Oct 31 in New York."""
    import ibis

    stamps = pd.DataFrame({"at": pd.to_datetime(["2026-11-01T03:30:00Z", "2026-11-01T04:30:00Z",
                                                 "2026-10-01T03:59:59Z", "2026-10-01T04:00:00Z"])})
    window = Window(Engine({"t": stamps}), (Month(2026, 9), OCTOBER, Month(2026, 11)), "America/New_York")
    table = window.table("t")
    assert table.schema()["at"].timezone == "UTC"
    expr = table.select(m=window.month_of(table.at))
    assert window.execute(expr)["m"].tolist() == [1, 2, 0, 1]  # Oct, Nov, Sep (23:59:59 Sep 30), Oct
    assert "TRUNC" not in ibis.to_sql(expr, dialect="duckdb").upper()  # bounds, never truncation


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 10, 11, 12, 21, 99, 100, 101, 1001])
def test_median_and_p90_are_exact_and_equal_numpys(n):
    """The engine returns only the values ranked around each quantile; the result is numpy's
    on all of them, to the last bit (linear interpolation, not an approximate quantile)."""
    rng = np.random.default_rng(n)
    values = rng.exponential(7.0, n).round(6) * 86_400e6 // 1  # whole microseconds, like durations
    frame = pd.DataFrame({"m": np.zeros(n, dtype="int16"), "us": values.astype("int64")})
    window = Window(Engine({"t": frame}), (OCTOBER,), "UTC")
    ranked = window.execute(window.order_statistics(window.table("t"), "us", (0.5, 0.9)))
    assert len(ranked) <= 8 and set(ranked["n"]) == {n}  # a few rows back, never all of them
    known = {int(r): float(v) for r, v in zip(ranked["rank"], ranked["v"])}
    assert quantile(n, known, 0.5) == np.median(values)
    assert quantile(n, known, 0.9) == np.quantile(values, 0.9)


def test_a_blank_churn_date_is_still_a_customer():
    """`churn_date >= month start` is NULL, not true, for a blank churn date: the base is written
    `churn_date IS NULL OR churn_date >= start`, so an account without one stays in it."""
    accounts = _accounts([("a1", "SMB", "2025-01-01", None, 100.0),
                          ("a2", "SMB", "2025-01-01", "2026-10-10", 50.0),
                          ("a3", "SMB", "2025-01-01", "2026-09-10", 70.0)])
    result = compute_month(MetricInputs.from_frames(_config(), {"accounts": accounts}), OCTOBER)
    assert (result["logo_churn"]["base"], result["logo_churn"]["churned"]) == (2, 1)
    assert result["revenue_churn"]["base_mrr"] == 150.0


def test_sums_over_no_rows_are_zero_where_the_definition_says_so_and_values_none():
    """SUM over no rows is NULL in SQL. Churned MRR in a month nobody left is 0.0 (a known
    amount); a month with no base has no churn rate at all (None, never 0)."""
    accounts = _accounts([("a1", None, "2026-10-05", None, 100.0), ("a2", None, "2025-01-01", None, 50.0)])
    inputs = MetricInputs.from_frames(_config(), {"accounts": accounts})
    october = compute_month(inputs, OCTOBER)["revenue_churn"]
    assert october == {"value": 0.0, "churned_mrr": 0.0, "base_mrr": 50.0, "base": 1, "low_sample": True}
    before = compute_month(inputs, Month(2024, 1))
    assert before["revenue_churn"]["value"] is None and before["revenue_churn"]["base"] == 0
    assert before["logo_churn"]["value"] is None and before["logo_churn"]["base"] == 0
    # a base whose MRR is all blank: 0 of 0 is no rate at all
    blank = _accounts([("a2", None, "2025-01-01", None, None)])
    unknown = compute_month(MetricInputs.from_frames(_config(), {"accounts": blank}), OCTOBER)["revenue_churn"]
    assert unknown["value"] is None and unknown["base_mrr"] == 0.0


def test_money_sums_are_exact_whatever_the_order():
    """Floats summed in file order give 0.30000000000000004 for 0.1 + 0.2; money is summed as
    DECIMAL, so the total is the same in any engine and any order (docs/decisions.md 55)."""
    rows = [(f"a{i}", None, "2025-01-01", "2026-10-02", mrr) for i, mrr in enumerate([0.1, 0.2, 3144.0, 0.01])]
    result = compute_month(MetricInputs.from_frames(_config(), {"accounts": _accounts(rows)}), OCTOBER)
    assert result["revenue_churn"]["churned_mrr"] == 3144.31


def test_distinct_counts_are_exact():
    """An account using a feature 1,000 times in a month is one adopter; 40 events on 3 days
    of its first 30 are 3 active days (COUNT DISTINCT, never an approximation)."""
    accounts = _accounts([("a1", "SMB", "2026-09-01", None, 10.0), ("a2", "SMB", "2026-09-02", None, 10.0)])
    stamps = [f"2026-10-{1 + i % 28:02d} 10:00" for i in range(1000)] + \
             [f"2026-09-{d:02d} {h:02d}:00" for d in (2, 3, 4) for h in range(13)] + ["2026-09-05 01:00"]
    events = pd.DataFrame({"account_id": ["a1"] * 1000 + ["a2"] * 40,
                           "feature": pd.Categorical(["reports"] * 1040),
                           "used_at": pd.to_datetime(stamps).astype("datetime64[ns]")})
    config = Config.model_validate({"metrics": {"feature_adoption": {"features": ["reports", "alerts"]},
                                                "onboarding_engagement": {"min_active_days": 4}}})
    result = compute_month(MetricInputs.from_frames(config, {"accounts": accounts, "adoption": events}), OCTOBER)
    assert result["feature_adoption"]["per_feature"] == {"reports": 50.0, "alerts": 0.0}
    # a2's 40 events fall on 4 distinct days (Sep 2, 3, 4, 5): engaged at min_active_days 4
    assert (result["onboarding_engagement"]["cohort"], result["onboarding_engagement"]["engaged"]) == (2, 1)


def test_every_metric_compiles_for_the_warehouse_engines():
    """Every built-in metric's parts compile to the SQL of the engines a warehouse runs (catches
    functions one of them lacks); the DuckDB run itself is what every other test checks."""
    import ibis
    import ibis.expr.types as ir

    from cxtruth.metrics import BUILT_IN
    from cxtruth.sources import load_sources

    config = Config.from_file(__import__("pathlib").Path(__file__).parent / "data" / "handcalc" / "config.toml")
    sources = load_sources(config)
    frames = {name: sources.frame(name) for name in sources.results}
    window = Window(Engine(frames), tuple(OCTOBER.trailing(13)), config.report.timezone, config,
                    {key: config.metrics.get(key) for key in BUILT_IN})
    compiled = 0
    for key, metric in BUILT_IN.items():
        for name, expr in (metric.parts(window, window.settings[key]) or {}).items():
            if not isinstance(expr, ir.Table):
                continue  # read whole or already executed (adoption's per-month columns)
            for dialect in ("postgres", "snowflake", "bigquery", "trino"):
                assert ibis.to_sql(expr, dialect=dialect), (key, name, dialect)
                compiled += 1
    assert compiled >= 4 * 8
