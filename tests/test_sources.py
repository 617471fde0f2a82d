"""Adapters: real CSV files as tools export them, read through the real CLI."""

import shutil

import pytest

from conftest import DATA


def test_tool_shaped_export(tmp_path, metrics_json):
    """';' delimiter, comma decimals, day-first dates, BOM, CRLF, mapped headers, mixed offsets."""
    shutil.copytree(DATA / "toolshaped", tmp_path / "t")
    doc = metrics_json(tmp_path / "t" / "config.toml")
    nps = doc["metrics"]["nps"]
    # October in New York: x1 10, x2 9 ("9,0"), x3 9 (03:30Z Nov 1), x5 8, x6 6, x7 3
    assert (nps["n"], nps["promoters"], nps["passives"], nps["detractors"]) == (6, 3, 1, 2)
    assert nps["value"] == pytest.approx(100 * (3 - 2) / 6)
    assert nps["previous"] == -100.0  # x4: 03:00Z Oct 1 is Sep 30 local
    issues = [(i["line"], i["column"], i["value"]) for i in doc["data_quality"]["issues"]]
    assert issues == [(9, "score", "9,5"), (10, "responded_at", "2026-13-45")]
    # sources without files at their default paths say so instead of pretending zero
    assert doc["metrics"]["logo_churn"]["value"] is None
    assert doc["data_quality"]["sources"]["accounts"]["status"] == "absent"


def write_project(tmp_path, nps_text: str, extra_config: str = "", encoding="utf-8"):
    (tmp_path / "nps.csv").write_bytes(nps_text.encode(encoding))
    (tmp_path / "config.toml").write_text(f'[data]\ndir = "."\n{extra_config}', encoding="utf-8")
    return tmp_path / "config.toml"


def test_comment_text_survives_exactly(tmp_path, metrics_json):
    comment = 'Line one, "quoted"\r\nline two <script>alert(1)</script> {{ 7*7 }} =HYPERLINK("x") é 🎉 שלום'
    quoted = '"' + comment.replace('"', '""') + '"'
    config = write_project(tmp_path, f"response_id,responded_at,score,comment\nr1,2026-10-01,9,{quoted}\n")
    from cxtruth.config import Config
    from cxtruth.sources import read_source

    result = read_source("nps", Config.from_file(config))
    assert result.frame["comment"].tolist() == [comment]


def test_header_matching_ignores_case_and_spacing(tmp_path, metrics_json):
    config = write_project(tmp_path, "Response_ID ,RESPONDED_AT,\xa0score\nr1,2026-10-01,9\n")
    assert metrics_json(config)["metrics"]["nps"]["n"] == 1


def test_missing_required_column_names_file_and_columns(tmp_path, run):
    config = write_project(tmp_path, "response_id,when,score\nr1,2026-10-01,9\n")
    result = run("metrics", "--month", "2026-10", "--config", config, "--json")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "Error: nps.csv: line 1: required column missing: responded_at; found: response_id, when, score" \
        in result.stderr
    assert "Traceback" not in result.output


def test_cp1252_read_as_utf8_suggests_encoding(tmp_path, run):
    config = write_project(tmp_path, "response_id,responded_at,score,comment\nr1,2026-10-01,9,café\n",
                           encoding="cp1252")
    result = run("metrics", "--month", "2026-10", "--config", config)
    assert result.exit_code == 4
    assert "Error: nps.csv: line 2: not valid utf-8 text" in result.stderr
    assert 'encoding = "cp1252"' in result.stderr


def test_cp1252_when_configured(tmp_path, metrics_json):
    config = write_project(tmp_path, "response_id,responded_at,score,comment\nr1,2026-10-01,9,café\n",
                           '[sources.nps]\nencoding = "cp1252"\n', encoding="cp1252")
    assert metrics_json(config)["metrics"]["nps"]["n"] == 1


def test_ragged_row_is_rejected_and_later_lines_stay_right(tmp_path, metrics_json):
    config = write_project(tmp_path, 'response_id,responded_at,score,comment\n'
                                     'r1,2026-10-01,9,"two\nlines"\n'
                                     'r2,2026-10-01,9,a,EXTRA\n'
                                     'r3,2026-10-01,eleven,\n',
                           # two of three rows broken on purpose: the gate is not what this tests
                           extra_config="[report]\nmax_rejected_share = 1.0\n")
    doc = metrics_json(config)
    issues = [(i["line"], i["reason"]) for i in doc["data_quality"]["issues"]]
    assert issues == [(3, "row has 5 fields, expected 4"), (4, "score must be a whole number 0..10")]
    assert doc["metrics"]["nps"]["n"] == 1


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bad", ["eleven", "9"])  # two bad cells, or one
def test_blank_lines_between_records_count_as_spreadsheet_rows(tmp_path, metrics_json, newline, bad):
    rows = ["response_id,responded_at,score", "r1,2026-10-01,9", "", "r2,2026-10-02,8", "", "",
            f"r3,2026-10-03,{bad}", "r4,2026-10-04,zero"]
    config = write_project(tmp_path, newline.join(rows) + newline + newline + newline,
                           extra_config="[report]\nmax_rejected_share = 1.0\n")
    doc = metrics_json(config)
    issues = [(i["line"], i["column"]) for i in doc["data_quality"]["issues"]]
    assert issues == ([(7, "score")] if bad == "eleven" else []) + [(8, "score")]


@pytest.mark.parametrize("tail", ["\n\n", "\r\n\r\n\r\n"])
def test_blank_lines_at_the_end_shift_nothing(tmp_path, metrics_json, tail):
    text = "response_id,responded_at,score\nr1,2026-10-01,9\nr2,2026-10-02,x" + tail
    config = write_project(tmp_path, text, extra_config="[report]\nmax_rejected_share = 1.0\n")
    doc = metrics_json(config)
    assert [(i["line"], i["column"]) for i in doc["data_quality"]["issues"]] == [(3, "score")]
    assert doc["metrics"]["nps"]["n"] == 1


def test_a_clean_file_ending_in_blank_lines_sets_nothing_aside(tmp_path, metrics_json):
    config = write_project(tmp_path, "response_id,responded_at,score\nr1,2026-10-01,9\nr2,2026-10-02,7\n\n\n")
    nps = metrics_json(config)["data_quality"]["sources"]["nps"]
    assert (nps["rows_read"], nps["accepted"], nps["set_aside"]) == (2, 2, 0)


@pytest.mark.parametrize("score, accepted", [("9.0", True), (" 9 ", True), ("9.5", False), ("ten", False),
                                              ("11", False), ("-1", False), ("", False)])
def test_score_rules(tmp_path, metrics_json, score, accepted):
    config = write_project(tmp_path, f'response_id,responded_at,score\nr1,2026-10-01,"{score}"\n')
    doc = metrics_json(config)
    nps = doc["metrics"]["nps"]
    assert doc["data_quality"]["rejected_rows"] == (0 if accepted else 1)
    assert nps["data_quality"]["sources"] == {"nps": {"rows": 1, "used": 1 if accepted else 0,
                                                      "rejected": 0 if accepted else 1}}
    if accepted:
        assert nps["n"] == 1 and nps["data_quality"]["reason"] is None
    else:  # the only row rejected: unknown, never "0 responses"
        assert nps["n"] is None and nps["status"] == "no_data"
        assert nps["data_quality"]["reason"].startswith("nps.csv had 1 of 1 rows rejected (100 %")


def test_ambiguous_date_is_never_guessed(tmp_path, metrics_json):
    config = write_project(tmp_path, "response_id,responded_at,score\nr1,10/11/2026,9\n")
    doc = metrics_json(config, "2026-10")
    assert doc["metrics"]["nps"]["value"] is None
    assert "set date_format" in doc["data_quality"]["issues"][0]["reason"]


def test_a_tab_delimiter_and_another_encoding_are_read_as_configured(tmp_path):
    from cxtruth.config import load_config
    from cxtruth.sources import load_sources

    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "nps.csv").write_text("Response\tWhen\tScore\nr1\t2026-10-01\t9\nr2\t2026-10-02\t3\n", encoding="utf-8")
    (tmp_path / "usage.csv").write_text("account_id,feature,used_at\nA1,Ápi,2026-10-02 10:00\n", encoding="cp1252")
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        '[data]\ndir = "exports"\n'
        '[sources.nps]\ndelimiter = "\\\\t"\n'
        '[sources.nps.columns]\nresponse_id = "Response"\nresponded_at = "When"\nscore = "Score"\n'
        '[sources.adoption]\npath = "usage.csv"\nencoding = "cp1252"\n', encoding="utf-8")
    sources = load_sources(load_config(config_file))
    assert sources.frame("nps")["score"].tolist() == [9, 3]
    assert sources.frame("adoption")["feature"].tolist() == ["Ápi"]


def test_date_range_skips_missing_times():
    from pathlib import Path

    import pandas as pd

    from cxtruth.sources.adapters import SourceResult

    def span(values):
        frame = pd.DataFrame({"responded_at": pd.to_datetime(pd.Series(values, dtype=object))})
        return SourceResult("nps", Path("nps.csv"), "read", frame=frame).date_range()

    assert span(["2026-01-01 10:00", None, "2025-01-01 00:00"]) == (pd.Timestamp("2025-01-01"), pd.Timestamp("2026-01-01 10:00"))
    assert span([None, None]) is None  # no dated row: no range, as for no row
    assert span([]) is None
