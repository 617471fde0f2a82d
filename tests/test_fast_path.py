"""The fast path (typed Arrow reads, usage index, Parquet) keeps the contract's results.

Small data from the benchmark's own generator (bench/generate.py), so the
regression test runs the same shapes the benchmark times:
- cxtruth's six headline metrics x 13 months equal the DuckDB reference's SQL;
- the typed fast path and the text path give the same document;
- Parquet input gives the same document as CSV, typed or as text.
"""

import csv
import importlib
import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import cxtruth.metrics as metric_functions
from conftest import DATA, ROOT

sys.path.insert(0, str(ROOT / "bench"))
generate = importlib.import_module("generate")
duckdb_reference = importlib.import_module("duckdb_reference")
run_bench = importlib.import_module("run")


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    generate.generate(folder, scale=0.002, seed=11)  # 20k events, 2k NPS, 200 accounts
    return folder


def metrics(run, config: Path) -> dict:
    result = run("metrics", "--month", "2026-10", "--config", config, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fast_path_equals_the_duckdb_reference(bench_data, run):
    doc = metrics(run, bench_data / "config.toml")
    reference = duckdb_reference.reference(bench_data, "2026-10")
    assert run_bench.agreement(doc, reference) == []
    # not a vacuous comparison: all but one month (no handoffs at this size) have values
    assert sum(v is None for values in reference.values() for v in values.values()) <= 1


def test_usage_blocks_threads_and_sorted_keys_give_the_same_document(bench_data, run, monkeypatch):
    whole = metrics(run, bench_data / "config.toml")
    # 20k events in blocks of 997 shared by two threads: block edges fall inside months, accounts and days
    monkeypatch.setattr(metric_functions, "_BLOCK", 997)
    monkeypatch.setattr(metric_functions, "_BITMAP_LIMIT", 0)  # distinct keys by sorting, not a bitmap
    assert metrics(run, bench_data / "config.toml") == whole
    assert whole["metrics"]["onboarding_engagement"]["value"] is not None
    assert whole["metrics"]["time_to_value"]["value"] is not None


@pytest.mark.parametrize("block", [None, 997])  # 997: responses counted in blocks whose edges fall inside months
def test_metrics_prepared_for_a_window_equal_each_month_filtered(bench_data, block, monkeypatch):
    # With a window, NPS responses are counted ahead and accounts' and feedback's dates
    # become month positions; each month must come out as filtering it alone gives.
    if block:
        monkeypatch.setattr(metric_functions, "_BLOCK", block)
    from cxtruth.config import load_config
    from cxtruth.metrics import MetricInputs, closure_time, compute_month, logo_churn, nps, revenue_churn
    from cxtruth.months import Month
    from cxtruth.schema import SOURCES
    from cxtruth.sources import load_sources

    config = load_config(bench_data / "config.toml")
    sources = load_sources(config)
    frames = {name: sources.frame(name) for name in SOURCES}
    months = Month(2026, 10).trailing(13)
    counted = MetricInputs.from_frames(config, frames, window=(months[2], months[-2]))
    filtered = MetricInputs.from_frames(config, frames)  # no window: each month filtered
    assert counted.nps_columns.counts is not None and filtered.nps_columns.counts is None
    assert counted.account_columns.months is not None and filtered.account_columns.months is None
    for month in months:  # inside the window, and on either side of it
        for metric in (nps, logo_churn, revenue_churn, closure_time):
            assert metric(counted, month) == metric(filtered, month), (metric.__name__, month)
    for month in months[2:-1]:  # every metric, where the usage index has the month
        assert compute_month(counted, month) == compute_month(filtered, month), month
    assert nps(counted, months[-2])["segments"]  # segments compared, not empty
    assert logo_churn(counted, months[-2])["churned"] and closure_time(counted, months[-2])["open_backlog"]


def test_fast_and_text_paths_give_the_same_document(bench_data, run, tmp_path):
    # In New York, so the NPS timestamps' "Z" offsets are converted on both paths.
    zoned = tmp_path / "fast"
    shutil.copytree(bench_data, zoned)
    config = (zoned / "config.toml").read_text(encoding="utf-8").replace('"UTC"', '"America/New_York"')
    (zoned / "config.toml").write_text(config, encoding="utf-8")
    fast = metrics(run, zoned / "config.toml")
    assert fast["timezone"] == "America/New_York"
    text = tmp_path / "text"
    shutil.copytree(zoned, text)
    # A date_format turns the typed read off (ISO 8601 is still read): every cell goes through text.
    for source in ("nps", "accounts", "adoption", "handoffs", "feedback"):
        config += f'\n[sources.{source}]\ndate_format = "%d/%m/%Y"\n'
    (text / "config.toml").write_text(config, encoding="utf-8")
    slow = metrics(run, text / "config.toml")
    assert json.dumps(slow) == json.dumps(fast)  # in the same order too (segments are listed sorted)


def to_parquet(csv_path: Path, typed: bool) -> Path:
    """The CSV as Parquet: typed as Arrow infers it, or every column as text."""
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        names = next(csv.reader(handle))
    convert = (pacsv.ConvertOptions(strings_can_be_null=True) if typed
               else pacsv.ConvertOptions(column_types={name: pa.string() for name in names}))
    table = pacsv.read_csv(csv_path, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                           convert_options=convert)
    target = csv_path.with_suffix(".parquet")
    pq.write_table(table, target)
    csv_path.unlink()
    return target


@pytest.mark.parametrize("typed", [True, False])
def test_parquet_input_gives_the_same_document(bench_data, run, tmp_path, typed):
    expected = metrics(run, bench_data / "config.toml")
    folder = tmp_path / "parquet"
    shutil.copytree(bench_data, folder)
    config = (folder / "config.toml").read_text(encoding="utf-8")
    for source in ("adoption", "nps", "accounts"):
        to_parquet(folder / f"{source}.csv", typed)
        config += f'\n[sources.{source}]\npath = "{source}.parquet"\n'
    (folder / "config.toml").write_text(config, encoding="utf-8")
    doc = metrics(run, folder / "config.toml")
    for source in ("adoption", "nps", "accounts"):
        doc["data_quality"]["sources"][source]["file"] = f"{source}.csv"
    assert doc == expected


def test_parquet_bad_cells_are_named_like_csv(run, tmp_path):
    """The hand-computed fixture (with its bad rows) as text-column Parquet: same issues, same lines."""
    folder = tmp_path / "handcalc"
    shutil.copytree(DATA / "handcalc", folder)
    expected = metrics(run, folder / "config.toml")
    config = (folder / "config.toml").read_text(encoding="utf-8")
    to_parquet(folder / "nps.csv", typed=False)
    (folder / "config.toml").write_text(config.replace("[data]", '[sources.nps]\npath = "nps.parquet"\n\n[data]')
                                        if "[sources.nps]" not in config else config, encoding="utf-8")
    doc = metrics(run, folder / "config.toml")
    assert [i for i in doc["data_quality"]["issues"] if i["file"] == "nps.parquet"] == [
        {**i, "file": "nps.parquet"} for i in expected["data_quality"]["issues"] if i["file"] == "nps.csv"]
    assert doc["metrics"]["nps"] == expected["metrics"]["nps"]
