"""Regressions from the independent review of issues 17 and 19 (each failed before its fix)."""

import gzip
import json

import pytest

from conftest import one_line


def project(tmp_path, files: dict, source: str, settings: str, report: str = "") -> "object":
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[report]\ntimezone = "UTC"\nmax_staleness_days = 400\n{report}\n[data]\ndir = "."\n'
                      f"[sources.{source}]\n{settings}\n", encoding="utf-8")
    return config


FEEDBACK = "feedback_id,received_at,closed_at,channel\nF1,2026-10-01,2026-10-03,Mail\nF2,2026-10-02,,Chat\n"


@pytest.mark.parametrize("compute, expected", [
    ('{ channel = "lower(channel)" }', ["mail", "chat"]),
    ('{ channel = "trim(channel)" }', ["Mail", "Chat"]),
])
def test_computed_text_columns(tmp_path, compute, expected):
    from cxtruth.config import load_config
    from cxtruth.sources import read_source

    config = project(tmp_path, {"feedback.csv": FEEDBACK}, "feedback", f"compute = {compute}")
    assert read_source("feedback", load_config(config)).frame["channel"].tolist() == expected


@pytest.mark.parametrize("compute, says", [
    ('{ closed_at = "received_at is null" }', "is a condition; a computed column is a value"),
    ('{ closed_at = "' + "-" * 1500 + '1" }', "the expression nests too deeply"),
])
def test_a_computed_column_that_is_no_value_is_a_config_error(tmp_path, run, compute, says):
    config = project(tmp_path, {"feedback.csv": FEEDBACK}, "feedback", f"compute = {compute}")
    assert says in one_line(run("validate", "--config", config), 3)


@pytest.mark.parametrize("content, says", [
    (b'{"event": "a", "properties": ' * 3000 + b"1" + b"}" * 3000 + b"\n", "nests too deeply"),
    (b'{"event": "a", "time": ' + b"9" * 5000 + b"}\n", "holds a number too long"),
])
def test_hostile_json_lines_are_one_error_line(tmp_path, run, content, says):
    config = project(tmp_path, {"events.jsonl": content}, "adoption", 'path = "events.jsonl"')
    assert says in one_line(run("metrics", "--month", "2026-10", "--config", config), 4)


def test_a_damaged_gzip_is_one_error_line(tmp_path, run):
    data = bytearray(gzip.compress(b'{"event": "a", "time": 1}\n' * 500))
    data[40:60] = b"\xff" * 20
    config = project(tmp_path, {"events.jsonl.gz": bytes(data)}, "adoption", 'path = "events.jsonl.gz"')
    assert "events.jsonl.gz: cannot be read" in one_line(run("metrics", "--month", "2026-10", "--config", config), 4)


def test_a_zone_name_in_a_pattern_is_refused(tmp_path, run):
    config = project(tmp_path, {"feedback.csv": FEEDBACK}, "feedback", 'date_format = "%Y-%m-%d %H:%M:%S %Z"')
    assert "%Z (a zone name such as PST) is not read" in one_line(run("validate", "--config", config), 3)


def test_excel_dates_read_serials_and_iso_cells_alike(tmp_path, metrics_json):
    rows = "feedback_id,received_at,closed_at\nF1,46300,2026-10-08\nF2,2026-10-02T00:00:00,46302\n"
    doc = metrics_json(project(tmp_path, {"feedback.csv": rows}, "feedback", 'date_format = "excel"'))
    closure = doc["metrics"]["closure_time"]
    # F1: Oct 5 (serial 46300) to Oct 8, 3 days; F2: Oct 2 to Oct 7 (serial 46302), 5 days
    assert doc["data_quality"]["rejected_rows"] == 0 and closure["n"] == 2 and closure["value"] == 4.0


def test_a_workbooks_numbers_ignore_the_decimal_comma(tmp_path, metrics_json):
    openpyxl = pytest.importorskip("openpyxl")
    import datetime as dt

    book = openpyxl.Workbook()
    book.active.append(["account_id", "start_date", "churn_date", "mrr"])
    book.active.append(["A1", dt.date(2025, 1, 1), dt.date(2026, 10, 5), 774.81])
    book.active.append(["A2", dt.date(2025, 1, 1), None, 1000.0])
    book.save(tmp_path / "accounts.xlsx")
    config = project(tmp_path, {}, "accounts", 'path = "accounts.xlsx"\ndecimal = ","')
    doc = metrics_json(config)
    assert doc["data_quality"]["rejected_rows"] == 0
    assert doc["metrics"]["revenue_churn"]["churned_mrr"] == pytest.approx(774.81)


def test_a_filter_that_keeps_nothing_fails_validate_and_is_said(tmp_path, run, metrics_json):
    config = project(tmp_path, {"feedback.csv": FEEDBACK}, "feedback", 'where = "channel = \\"Phone\\""')
    result = run("validate", "--config", config)
    assert result.exit_code == 4 and "feedback   FAILED         0 rows,      0 rejected, 2 filtered out" in result.stdout
    reason = metrics_json(config)["metrics"]["closure_time"]["data_quality"]["reason"]
    assert reason == "every row of feedback.csv was left out by its where filter (2 rows), so there is nothing to count"


def test_a_trailer_pattern_matches_the_start_of_the_line(tmp_path, run):
    text = FEEDBACK + "Report generated 2026-11-01 by Acme\n"
    config = project(tmp_path, {"feedback.csv": text}, "feedback", 'trailers = ["Report generated"]')
    result = run("validate", "--config", config)
    assert result.exit_code == 0 and "2 rows,      0 rejected, 1 lines set aside" in result.stdout


def test_combined_subscriptions_are_not_called_rows_left_out(tmp_path, metrics_json):
    rows = ("Customer ID,Start Date (UTC),Ended At (UTC),Plan Amount,Quantity,Plan Interval,Status\n"
            "c1,2025-01-01 00:00:00,,10,1,month,active\nc1,2025-06-01 00:00:00,,5,1,month,active\n"
            "c2,2025-01-01 00:00:00,2026-10-10 00:00:00,20,1,month,canceled\n")
    doc = metrics_json(project(tmp_path, {"subs.csv": rows}, "accounts", 'path = "subs.csv"\npreset = "stripe"'))
    churn = doc["metrics"]["logo_churn"]
    assert (churn["churned"], churn["base"]) == (1, 2)
    assert churn["data_quality"]["sources"]["accounts"] == {"rows": 3, "used": 2, "rejected": 0}
    assert json.dumps(doc).count("from 2 of 3") == 0


def test_a_sheet_on_a_csv_is_an_error_not_ignored(tmp_path, run):
    config = project(tmp_path, {"feedback.csv": FEEDBACK}, "feedback", 'sheet = "Tickets"')
    assert "sources.feedback.sheet: feedback.csv is not a workbook" in one_line(
        run("metrics", "--month", "2026-10", "--config", config), 4)


def test_json_lines_with_a_byte_order_mark(tmp_path, metrics_json):
    lines = '\ufeff{"event": "reports", "company": "A1", "time": 1790812800}\n'
    config = project(tmp_path, {"events.jsonl": lines.encode("utf-8")}, "adoption",
                     'path = "events.jsonl"\ndate_format = "epoch"\n[sources.adoption.columns]\n'
                     'feature = "event"\naccount_id = "company"\nused_at = "time"')
    assert metrics_json(config)["metrics"]["feature_adoption"]["active_accounts"] == 1


def test_init_says_why_a_second_export_of_a_source_is_left_out(tmp_path, run, monkeypatch):
    from conftest import DATA

    folder = tmp_path / "exports"
    folder.mkdir()
    for tool in ("salesforce-report", "stripe"):
        (folder / f"{tool}.csv").write_bytes((DATA / "presets" / tool / "export.csv").read_bytes())
    monkeypatch.chdir(tmp_path)
    assert run("init", "exports").exit_code == 0
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert "#   stripe.csv: also looks like accounts, which another file feeds (one file a source)" in text
