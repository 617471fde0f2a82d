"""Custom sources: [sources.<name>] with declared columns and types, read like a built-in one.

Real files through the real CLI (docs/sources.md, "Custom sources").
"""

import datetime as dt
import json
import re
import shutil

import pandas as pd
import pytest

from conftest import ROOT, one_line


def source_table(name: str, types: dict, columns: dict | None = None, **keys) -> str:
    """A [sources.<name>] table as config.toml writes it (keys as TOML values, e.g. '"csat.csv"')."""
    lines = [f"[sources.{name}]", *(f"{key} = {value}" for key, value in keys.items())]
    for part, table in (("columns", columns), ("types", types)):
        lines += [f"[sources.{name}.{part}]", *(f'{k} = "{v}"' for k, v in (table or {}).items())]
    return "\n".join(lines) + "\n"


CSAT_CONFIG = '[data]\ndir = "."\n' + source_table(
    "csat", {"response_id": "text", "answered_at": "datetime", "rating": "integer", "comment": "text"},
    {"response_id": "Response ID", "answered_at": "Submitted", "rating": "Rating (1-5)"},
    path='"csat.csv"', key='"response_id"')

CSAT = '''Response ID,Submitted,Rating (1-5),comment,Agent
CS-1,2026-10-01 09:00,5,"Fast, friendly
and right",Priya
CS-2,2026-10-02 10:30,4,,Kofi
CS-3,2026-10-20 08:00,,skipped the rating,Kofi
CS-4,2026-10-30 17:45,2,slow,Yuki
'''


def project(tmp_path, csv: str = CSAT, config: str = CSAT_CONFIG, extra: str = ""):
    (tmp_path / "csat.csv").write_text(csv, encoding="utf-8")
    (tmp_path / "config.toml").write_text(config + extra, encoding="utf-8")
    return tmp_path / "config.toml"


def frame(config):
    from cxtruth.config import Config
    from cxtruth.sources import load_sources

    sources = load_sources(Config.from_file(config))
    return sources.frame("csat"), sources.results["csat"]


def test_a_custom_source_is_read_typed_and_validated(tmp_path, run):
    config = project(tmp_path)
    checked = run("validate", "--config", config)
    assert checked.exit_code == 0, checked.output
    assert re.search(r"^csat\s+ok\s+4 rows,\s+0 rejected, 2026-10-01 \.\. 2026-10-30$", checked.stdout, re.M)

    csat, result = frame(config)
    assert list(csat.columns) == ["response_id", "answered_at", "rating", "comment"]  # declared order; Agent unread
    assert str(csat["answered_at"].dtype) == "datetime64[ns]"  # naive, in the report zone (UTC here)
    assert str(csat["rating"].dtype) == "Int64"
    assert csat["rating"].tolist()[:2] == [5, 4] and pd.isna(csat["rating"][2])  # a blank cell is null
    assert csat["answered_at"][2] == pd.Timestamp("2026-10-20 08:00")
    assert csat["comment"][0] == "Fast, friendly\nand right" and pd.isna(csat["comment"][1])
    assert result.time_column == "answered_at" and result.rows_read == 4

    doc = json.loads(run("metrics", "--month", "2026-10", "--config", config, "--json").stdout)
    assert doc["data_quality"]["sources"]["csat"] == {
        "file": "csat.csv", "status": "read", "rows_read": 4, "accepted": 4, "rejected": 0, "filtered": 0,
        "set_aside": 0, "first": "2026-10-01", "last": "2026-10-30"}
    assert doc["draft"] is False


def test_a_bad_integer_names_file_line_column_and_what_was_expected(tmp_path, run, metrics_json):
    config = project(tmp_path, CSAT.replace("CS-2,2026-10-02 10:30,4,", "CS-2,2026-10-02 10:30,four,"))
    checked = run("validate", "--config", config)
    # line 3: the header is line 1, and CS-1's quoted comment spans two text lines but is one row
    assert "csat.csv:3 rating: rating must be a whole number (got 'four')" in checked.stdout
    doc = metrics_json(config)
    assert doc["data_quality"]["issues"] == [{"file": "csat.csv", "line": 3, "column": "rating", "value": "four",
                                              "reason": "rating must be a whole number"}]


def test_a_repeated_key_keeps_the_last_row(tmp_path, run):
    config = project(tmp_path, CSAT + "CS-1,2026-10-31 08:00,3,changed my mind,Priya\nCS-2,2026-10-02 10:30,4,,Kofi\n")
    csat, result = frame(config)
    assert csat.set_index("response_id")["rating"].to_dict() == {"CS-1": 3, "CS-2": 4, "CS-3": None, "CS-4": 2}
    assert result.rejected == 2 and result.superseded == 2 and result.broken == 0
    reasons = dict(zip(result.issues["line"], result.issues["reason"]))
    assert reasons == {2: "same response_id as line 6 with different values: the row at line 6 wins",
                       3: "exact copy of the row at line 7: counted once"}
    assert run("validate", "--config", config).exit_code == 0  # repeats are not broken rows


def test_a_blank_key_is_rejected_other_blanks_are_not(tmp_path):
    csat, result = frame(project(tmp_path, CSAT + ",2026-10-05 10:00,5,,Yuki\n"))
    assert len(csat) == 4 and result.issues["reason"].tolist() == ["response_id is required but blank"]


def test_a_custom_source_over_the_rejection_gate_makes_the_report_a_draft(tmp_path, run, metrics_json):
    config = project(tmp_path, CSAT.replace("2026-10-02 10:30", "02/10/2026 10:30"))  # 1 of 4 rows: 25 %
    checked = run("validate", "--config", config)
    assert checked.exit_code == 4
    assert re.search(r"^csat\s+FAILED\s+4 rows,\s+1 rejected", checked.stdout, re.M), checked.stdout
    doc = metrics_json(config)
    assert doc["draft"] is True
    assert [(s["source"], s["rows"], s["rejected"]) for s in doc["weakened_sources"]] == [("csat", 4, 1)]
    assert doc["weakened_sources"][0]["top_reasons"][0]["column"] == "answered_at"
    # the source's own limit, as for a built-in one
    relaxed = project(tmp_path, CSAT.replace("2026-10-02 10:30", "02/10/2026 10:30"),
                      config=CSAT_CONFIG.replace('key = "response_id"\n', 'key = "response_id"\nmax_rejected_share = 0.5\n'))
    assert run("validate", "--config", relaxed).exit_code == 0


def test_a_stale_custom_source_makes_the_report_a_draft(tmp_path, metrics_json):
    config = project(tmp_path, CSAT.replace("2026-10-30 17:45", "2026-10-03 17:45"))
    doc = metrics_json(config)
    assert doc["draft"] is True
    assert doc["stale_sources"] == [{"source": "csat", "file": "csat.csv", "newest": "2026-10-20",
                                     "days_before_month_end": pytest.approx(11.67, abs=0.01), "limit_days": 3}]


def test_only_the_time_column_may_not_lie_in_the_future(tmp_path):
    config = project(tmp_path, "id,at,renews\nx,2026-10-01,2099-01-01\ny,2099-10-01,2026-01-01\n",
                     config=source_table("renewals", {"id": "text", "at": "date", "renews": "date"},
                                         path='"csat.csv"', key='"id"'))
    from cxtruth.config import Config
    from cxtruth.sources import load_sources

    result = load_sources(Config.from_file(config)).results["renewals"]
    assert result.frame["id"].tolist() == ["x"] and result.time_column == "at"
    assert result.issues["reason"][0].startswith("at is in the future")


def test_every_reading_option_works_for_a_custom_source(tmp_path, metrics_json):
    """Semicolons, decimal commas, day-first dates in another zone, a title line, a trailer, a filter."""
    text = ("CSAT export (all teams)\nRef;When;Score;Weight;Happy;Team\n"
            "a;31/10/2026 23:30;5;1,5;yes;Support\nb;01/10/2026 00:30;3;0,5;no;Sales\n"
            "c;02/10/2026 12:00;4;2,0;Y;Support\nGrand Totals (3 records)\n")
    config = project(tmp_path, text, config='[report]\ntimezone = "Europe/Berlin"\n' + source_table(
        "csat", {"ref": "text", "answered_at": "datetime", "rating": "integer", "weight": "number", "happy": "boolean"},
        {"ref": "Ref", "answered_at": "When", "rating": "Score", "weight": "Weight", "happy": "Happy"},
        path='"csat.csv"', delimiter='";"', decimal='","', date_format='"%d/%m/%Y"', timezone='"America/New_York"',
        header_row=2, where="""'Team = "Support"'"""))
    csat, result = frame(config)
    assert csat.to_dict("list") == {
        "ref": ["a", "c"], "answered_at": [pd.Timestamp("2026-11-01 04:30"), pd.Timestamp("2026-10-02 18:00")],
        "rating": [5, 4], "weight": [1.5, 2.0], "happy": [True, True]}
    assert str(csat["weight"].dtype) == "float64"
    assert (result.filtered, result.set_aside) == (1, 2)
    assert result.lines.tolist() == [3, 5]


def test_a_custom_source_from_a_workbook(tmp_path, run):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Summary"
    sheet = book.create_sheet("Answers")
    sheet.append(["Response ID", "Submitted", "Rating (1-5)"])
    sheet.append(["CS-1", dt.datetime(2026, 10, 1, 9, 30), 5])
    sheet.append(["CS-2", dt.datetime(2026, 10, 29, 14, 0), "4.5"])
    sheet.append(["CS-3", dt.datetime(2026, 10, 30, 8, 0), 3])
    book.save(tmp_path / "csat.xlsx")
    config = project(tmp_path, config=CSAT_CONFIG.replace('"csat.csv"', '"csat.xlsx"\nsheet = "Answers"')
                     .replace('comment = "text"\n', ""))
    csat, result = frame(config)
    assert csat["rating"].tolist() == [5, 3] and result.lines.tolist() == [2, 4]
    checked = run("validate", "--config", config)
    assert "csat.xlsx:3 rating: rating must be a whole number (got '4.5')" in checked.stdout


def test_a_custom_source_from_parquet_and_json_lines(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"Response ID": ["CS-1", "CS-2"], "Submitted": pa.array(
        [dt.datetime(2026, 10, 1, 9), dt.datetime(2026, 10, 2, 9)], pa.timestamp("us")),
        "Rating (1-5)": pa.array([5, 2], pa.int32())}), tmp_path / "csat.parquet")
    base = CSAT_CONFIG.replace('comment = "text"\n', "")
    csat, _ = frame(project(tmp_path, config=base.replace('"csat.csv"', '"csat.parquet"')))
    assert csat["rating"].tolist() == [5, 2] and str(csat["answered_at"].dtype) == "datetime64[ns]"

    (tmp_path / "csat.jsonl").write_text(
        '{"Response ID": "CS-1", "Submitted": "2026-10-01T09:00:00Z", "Rating (1-5)": 4}\n'
        '{"Response ID": "CS-2", "Submitted": "2026-10-02T09:00:00Z", "Rating (1-5)": 11}\n', encoding="utf-8")
    csat, _ = frame(project(tmp_path, config=base.replace('"csat.csv"', '"csat.jsonl"')))
    assert csat["rating"].tolist() == [4, 11]  # no range: a custom integer is any whole number


@pytest.mark.parametrize("table, message", [
    ('[sources.csat]\npath = "csat.csv"\n[sources.csat.types]\nrating = "integr"\n',
     "sources.csat.types.rating: Input should be 'text', 'integer', 'number', 'boolean', 'date' or 'datetime'"),
    ('[sources.csat.types]\nrating = "integer"\n', "sources.csat.path: required key is missing"),
    ('[sources.csat]\npath = "csat.csv"\n', "sources.csat: not a built-in source (nps, accounts, adoption, "
     "handoffs, feedback, actions, awareness); a custom source declares its columns under [sources.csat.types]"),
    ('[sources.csat]\npath = "csat.csv"\ntypes = {}\n', "sources.csat.types: Dictionary should have at least 1 item"),
    ('[sources.csat]\npath = "csat.csv"\nkey = "id"\n[sources.csat.types]\nrating = "integer"\n',
     "sources.csat.key: 'id' is not declared under [sources.csat.types] (declared: rating)"),
    ('[sources.csat]\npath = "csat.csv"\n[sources.csat.columns]\nscore = "Score"\n[sources.csat.types]\n'
     'rating = "integer"\n', "sources.csat.columns.score: not declared under [sources.csat.types] (declared: rating)"),
    ('[sources.csat]\npath = "csat.csv"\n[sources.csat.types]\n"Rating (1-5)" = "integer"\n',
     "sources.csat.types.Rating (1-5): a column name is letters, digits and _"),
    ('[sources.nps]\nkey = "response_id"\n', "sources.nps.key: nps is a built-in source with the contract's columns"),
    ('[sources."customer sat"]\npath = "csat.csv"\n[sources."customer sat".types]\nrating = "integer"\n',
     "sources.customer sat: a custom source's name is letters, digits and _"),
    ('[sources.copy]\npath = "csat.csv"\n[sources.copy.types]\nrating = "integer"\n',
     "sources.copy: 'copy' is a reserved name"),
    ('[sources.csat]\npath = "csat.csv"\nchecklist = ["a"]\n[sources.csat.types]\nrating = "integer"\n',
     "sources.csat.checklist: unknown key"),
    ('[sources.csat]\npath = "csat.csv"\npreset = "zendesk"\n[sources.csat.types]\nrating = "integer"\n',
     "sources.csat.preset: zendesk exports feed [sources.feedback], not [sources.csat]"),
])
def test_config_mistakes_are_one_error_line_naming_the_key(tmp_path, run, table, message):
    config = project(tmp_path, config=table)
    line = one_line(run("validate", "--config", config), 3)
    assert line.startswith(f"Error: {config}: {message}"), line


def test_a_custom_source_file_that_is_missing_is_an_error(tmp_path, run):
    config = project(tmp_path, config=CSAT_CONFIG.replace('"csat.csv"', '"gone.csv"'))
    line = one_line(run("metrics", "--month", "2026-10", "--config", config, "--json"), 4)
    assert line == f"Error: sources.csat.path: file not found: {tmp_path / 'gone.csv'}"


def test_the_sample_config_reads_its_custom_sources(tmp_path, run):
    checked = run("validate", "--config", ROOT / "config.toml")
    assert checked.exit_code == 0, checked.output
    assert re.search(r"^csat\s+ok\s+\d{3} rows,\s+0 rejected, 2025-10-\d\d \.\. 2026-10-3\d$", checked.stdout, re.M)
    assert re.search(r"^tickets\s+ok\s+\d{3} rows,\s+0 rejected, 2025-10-01 \.\. 2026-10-3\d$", checked.stdout, re.M)
    shutil.copytree(ROOT / "sample_metrics", tmp_path / "sample_metrics")
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    from cxtruth.config import Config
    from cxtruth.sources import load_sources

    sources = load_sources(Config.from_file(tmp_path / "config.toml"))
    tickets = sources.frame("tickets")
    assert str(tickets["first_reply_minutes"].dtype) == "Int64"
    assert tickets["solved_at"].notna().mean() > 0.8
    assert set(sources.frame("csat")["rating"].dropna()) == {1, 2, 3, 4, 5}


def test_a_time_column_blank_in_every_row(tmp_path, run):
    """No row has a date: no range ("no dates"), the report is a draft, nothing crashes."""
    config = project(tmp_path, "Response ID,Submitted,Rating (1-5),comment\nC1,,4,\nC2,,5,\n")
    checked = run("validate", "--config", config)
    assert re.search(r"^csat\s+ok\s+2 rows,\s+0 rejected, no dates$", checked.stdout, re.M), checked.output
    done = run("metrics", "--month", "2026-10", "--config", config, "--json")
    assert done.exit_code == 0 and "Traceback" not in done.output, done.output
    doc = json.loads(done.stdout)
    assert (doc["data_quality"]["sources"]["csat"]["first"], doc["data_quality"]["sources"]["csat"]["last"]) == (None, None)
    assert doc["draft"] is True
    rendered = run("render", "--month", "2026-10", "--config", config, "--out", tmp_path / "r.pdf")
    assert rendered.exit_code == 0, rendered.output


def test_blank_lines_are_no_rows_in_a_source_without_a_key(tmp_path):
    """Nothing is required in a key-less custom source: a blank line must still be no row."""
    config = project(tmp_path, "Response ID,Submitted,Rating (1-5),comment\nC1,2026-10-01 09:00,4,\n\n"
                               "C2,2026-10-02 09:00,5,\n\n", CSAT_CONFIG.replace('key = "response_id"\n', ""))
    csat, result = frame(config)
    assert len(csat) == 2 and result.rows_read == 2 and result.set_aside == 0
