"""Header rows, skipped rows, trailers (issue 19) and spreadsheet workbooks."""

import datetime as dt

import pytest

from cxtruth.errors import DataError
from cxtruth.sources.layout import TableLayout, join_names, lay_out
from cxtruth.sources.rows import RowOptions, read_rows
from cxtruth.sources.workbook import cell_text, check_kind, read_lines


def numbered(rows):
    return list(enumerate(rows, start=1))


def test_one_header_line_and_a_crm_reports_trailer_lines():
    rows = [["Account", "Start"], ["A1", "2026-10-01"], [], ["A2", "2026-10-02"],
            ["Grand Totals (2 records)", ""], ["", ""],
            ["Confidential Information - Do Not Distribute", ""],
            ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.", ""]]
    laid = lay_out(numbered(rows), TableLayout())
    assert laid.names == ["Account", "Start"]
    assert laid.rows == [["A1", "2026-10-01"], ["A2", "2026-10-02"]]
    assert laid.lines == [2, 4]  # the physical lines, blank line 3 included
    assert laid.trailer_lines == [5, 7, 8]


def test_a_data_row_that_looks_like_a_trailer_is_data_unless_it_ends_the_file():
    rows = [["Name", "Score"], ["Total records: a company", "9"], ["B", "10"]]
    laid = lay_out(numbered(rows), TableLayout())
    assert laid.lines == [2, 3] and laid.trailer_lines == []


def test_own_trailer_pattern_and_detection_off():
    rows = [["Id", "Score"], ["1", "9"], ["END OF EXPORT"], ["Grand Totals (1 records)"]]
    laid = lay_out(numbered(rows), TableLayout(trailers=("end of export",), detect_trailers=False))
    assert laid.lines == [2, 3, 4] and laid.trailer_lines == []  # only a run at the end is a trailer
    laid = lay_out(numbered(rows), TableLayout(trailers=("end of export",)))
    assert laid.lines == [2] and laid.trailer_lines == [3, 4]


def test_qualtrics_three_header_lines_map_by_the_first_and_skip_two():
    rows = [["StartDate", "ResponseId", "Q1_NPS_GROUP", "Q1"],
            ["Start Date", "Response ID", "How likely ... - Group", "How likely are you to recommend us?"],
            ['{"ImportId":"startDate","timeZone":"America/Denver"}', '{"ImportId":"_recordId"}',
             '{"ImportId":"QID1_NPS_GROUP"}', '{"ImportId":"QID1"}'],
            ["2026-10-01 09:00:00", "R_1", "Promoter", "9"]]
    laid = lay_out(numbered(rows), TableLayout(skip_rows=2))
    assert laid.names == ["StartDate", "ResponseId", "Q1_NPS_GROUP", "Q1"]
    assert laid.lines == [4] and laid.skipped == 2


def test_surveymonkey_two_header_lines_are_joined():
    line1 = ["Respondent ID", "Start Date", "How likely are you to recommend us?", "What could we do better?", ""]
    line2 = ["", "", "Response", "Response", "Other (please specify)"]
    names, aliases = join_names([line1, line2])
    assert names == ["Respondent ID", "Start Date", "How likely are you to recommend us? / Response",
                     "What could we do better? / Response", "What could we do better? / Other (please specify)"]
    # a first-line name alone maps where it is unique and names one column
    assert aliases == {"How likely are you to recommend us?": "How likely are you to recommend us? / Response"}


def test_header_row_further_down_counts_lines_before_it_as_skipped():
    rows = [["Tickets report"], ["Exported 2026-11-01"], [], ["Id", "Created"], ["1", "2026-10-01"]]
    laid = lay_out(numbered(rows), TableLayout(header_row=4))
    assert laid.names == ["Id", "Created"] and laid.lines == [5] and laid.skipped == 2
    assert lay_out(numbered(rows), TableLayout(header_row=9)) is None


def test_cell_text():
    assert [cell_text(v) for v in (None, "", 3.0, 2.5, True, dt.datetime(2026, 10, 1, 9, 30), dt.date(2026, 10, 2))] == [
        "", "", "3", "2.5", "true", "2026-10-01T09:30:00", "2026-10-02"]


@pytest.fixture
def workbook(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Summary"
    book.create_sheet("Tickets")
    tickets = book["Tickets"]
    tickets.append(["Tickets export"])
    tickets.append([])
    tickets.append(["Id", "Created at", "Score"])
    tickets.append([1, dt.datetime(2026, 10, 1, 9, 30), 9])
    tickets.append([2, dt.datetime(2026, 10, 2, 14, 0), 10])
    tickets.append(["Grand Totals (2 records)"])
    path = tmp_path / "tickets.xlsx"
    book.save(path)
    return path


def test_a_workbook_sheet_by_name_with_its_row_numbers(workbook):
    read = read_rows(workbook, "workbook", RowOptions(TableLayout(header_row=3), sheet="Tickets"),
                     wanted={"feedback_id": ("Id", True), "received_at": ("Created at", True)}, source="feedback")
    assert read.raw.frame.to_dict("list") == {"feedback_id": ["1", "2"],
                                              "received_at": ["2026-10-01T09:30:00", "2026-10-02T14:00:00"]}
    assert read.raw.lines.tolist() == [4, 5] and read.set_aside == 2  # the title line and the trailer


def test_a_missing_column_names_the_header_line(workbook):
    with pytest.raises(DataError, match=r"tickets.xlsx: line 3: required column missing: Closed"):
        read_rows(workbook, "workbook", RowOptions(TableLayout(header_row=3), sheet=2),
                  wanted={"closed_at": ("Closed", True)}, source="feedback")


def test_sheet_errors_name_the_sheets(workbook):
    with pytest.raises(DataError, match=r"has no sheet 'Data' \(it has: 'Summary', 'Tickets'\)"):
        read_lines(workbook, "Data", "feedback")
    with pytest.raises(DataError, match=r"sheet = 3 is not one of 1..2"):
        read_lines(workbook, 3, "feedback")


def test_a_file_is_taken_for_what_it_is_not_what_it_is_named(workbook, tmp_path):
    disguised = tmp_path / "tickets.csv"
    disguised.write_bytes(workbook.read_bytes())
    with pytest.raises(DataError, match="tickets.csv: this is a spreadsheet workbook"):
        check_kind(disguised, "feedback")
    text = tmp_path / "export.xlsx"
    text.write_text("Id,Created\n1,2026-10-01\n")
    with pytest.raises(DataError, match="export.xlsx: named .xlsx but it holds text"):
        check_kind(text, "feedback")
    assert check_kind(workbook, "feedback") == "workbook"


ODS_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Responses">
<table:table-row><table:table-cell office:value-type="string"><text:p>Response ID</text:p></table:table-cell>
<table:table-cell office:value-type="string"><text:p>Submitted</text:p></table:table-cell>
<table:table-cell office:value-type="string"><text:p>Score</text:p></table:table-cell></table:table-row>
<table:table-row><table:table-cell office:value-type="string"><text:p>r1</text:p></table:table-cell>
<table:table-cell office:value-type="date" office:date-value="2026-10-05T14:30:00"><text:p>05/10/2026</text:p></table:table-cell>
<table:table-cell office:value-type="float" office:value="9"><text:p>9</text:p></table:table-cell></table:table-row>
<table:table-row><table:table-cell office:value-type="string"><text:p>r2</text:p></table:table-cell>
<table:table-cell office:value-type="date" office:date-value="2026-10-06"><text:p>06/10/2026</text:p></table:table-cell>
<table:table-cell office:value-type="float" office:value="3"><text:p>3</text:p></table:table-cell></table:table-row>
</table:table></office:spreadsheet></office:body></office:document-content>"""


def write_ods(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        book.writestr("content.xml", ODS_CONTENT.replace("\n", ""))  # as office suites write it: no line breaks
        book.writestr("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?>'
                      '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                      '<manifest:file-entry manifest:full-path="/" '
                      'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                      '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                      '</manifest:manifest>')


def test_workbooks_through_the_cli_xlsx_and_ods(tmp_path, workbook, metrics_json, run):
    write_ods(tmp_path / "survey.ods")
    config = tmp_path / "config.toml"
    config.write_text('[report]\ntimezone = "UTC"\n[data]\ndir = "."\n[sources.nps]\npath = "survey.ods"\n'
                      '[sources.nps.columns]\nresponse_id = "Response ID"\nresponded_at = "Submitted"\nscore = "Score"\n'
                      '[sources.feedback]\npath = "tickets.xlsx"\nsheet = "Tickets"\nheader_row = 3\n'
                      '[sources.feedback.columns]\nfeedback_id = "Id"\nreceived_at = "Created at"\n', encoding="utf-8")
    assert workbook == tmp_path / "tickets.xlsx"  # the fixture writes it there
    doc = metrics_json(config)
    nps = doc["metrics"]["nps"]
    assert (nps["n"], nps["promoters"], nps["detractors"]) == (2, 1, 1)  # date cells read as dates, not numbers
    assert doc["data_quality"]["sources"]["feedback"]["set_aside"] == 2  # the title line, the trailer
    assert doc["data_quality"]["sources"]["feedback"]["rows_read"] == 2

    (tmp_path / "tickets.xlsx").rename(tmp_path / "tickets.csv")  # a workbook saved under a CSV name
    config.write_text(config.read_text(encoding="utf-8").replace("tickets.xlsx", "tickets.csv"), encoding="utf-8")
    result = run("validate", "--config", config)
    assert result.exit_code == 4
    assert "feedback   ERROR  tickets.csv: this is a spreadsheet workbook (XLSX/XLS/ODS), not .csv text" in result.stdout
    assert "Traceback" not in result.output


def test_a_parquet_source_is_filtered_as_its_csv_is(tmp_path, metrics_json):
    """where and skip_blank apply to a Parquet export too (they were skipped: every row counted)."""
    import shutil

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from conftest import ROOT

    shutil.copytree(ROOT / "sample_metrics", tmp_path / "sample_metrics")
    pq.write_table(pacsv.read_csv(tmp_path / "sample_metrics" / "nps.csv"), tmp_path / "sample_metrics" / "nps.parquet")
    docs = {}
    for name in ("nps.csv", "nps.parquet"):
        text = (ROOT / "config.toml").read_text(encoding="utf-8").replace(
            "[sources.nps.columns]", f'[sources.nps]\npath = "sample_metrics/{name}"\nwhere = \'Plan = "Enterprise"\'\n'
            'skip_blank = ["comment"]\n[sources.nps.columns]')
        (tmp_path / "config.toml").write_text(text, encoding="utf-8")
        docs[name] = metrics_json(tmp_path / "config.toml")
    csv, parquet = (docs[n] for n in ("nps.csv", "nps.parquet"))
    assert parquet["data_quality"]["sources"]["nps"]["filtered"] == csv["data_quality"]["sources"]["nps"]["filtered"] > 0
    assert parquet["metrics"]["nps"]["n"] == csv["metrics"]["nps"]["n"]
    assert parquet["metrics"]["nps"]["value"] == csv["metrics"]["nps"]["value"]


def _sample_with(tmp_path, replace_from: str, replace_to: str):
    import shutil

    from conftest import ROOT

    if not (tmp_path / "sample_metrics").exists():
        shutil.copytree(ROOT / "sample_metrics", tmp_path / "sample_metrics")
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    assert replace_from in text
    (tmp_path / "config.toml").write_text(text.replace(replace_from, replace_to, 1), encoding="utf-8")
    return tmp_path / "config.toml"


@pytest.mark.parametrize("where, says", [
    ("Score + 1 > 5", "a row filter compares columns with values; arithmetic and days() belong"),
    ("true", "a row filter must be a condition"),
    ('"Score"', "a row filter must be a condition"),
])
def test_a_where_that_cannot_run_on_cells_is_one_config_error(tmp_path, run, where, says):
    import json

    config = _sample_with(tmp_path, "[sources.nps.columns]", f"[sources.nps]\nwhere = {json.dumps(where)}\n"
                          "[sources.nps.columns]")
    result = run("metrics", "--month", "2026-10", "--config", config, "--json")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert f"Error: sources.nps.where: cannot be computed on nps.csv's cells: {says}" in result.stderr


@pytest.mark.parametrize("where, kept", [("1 = 1", 3213), ("1 = 2", 0), ('Score in [9, "10"]', 1497)])
def test_where_of_literals_holds_for_every_row_and_mixed_lists_work(tmp_path, metrics_json, where, kept):
    import json

    config = _sample_with(tmp_path, "[sources.nps.columns]", f"[sources.nps]\nwhere = {json.dumps(where)}\n"
                          "[sources.nps.columns]")
    nps = metrics_json(config)["data_quality"]["sources"]["nps"]
    assert nps["rows_read"] == kept and nps["filtered"] == 3213 - kept


def test_one_column_mapped_twice_is_named(tmp_path, run):
    config = _sample_with(tmp_path, 'comment = "Comment"', 'comment = "Score"')
    result = run("metrics", "--month", "2026-10", "--config", config, "--json")
    assert result.exit_code == 4 and "Traceback" not in result.output
    assert "Error: nps.csv: line 1: column 'Score' is mapped to both score and comment" in result.stderr


def test_a_chain_too_long_for_the_engine_is_refused_when_parsed():
    from cxtruth.expressions import ExpressionError, parse

    parse("rating >= " + "/".join(["1"] * 90))  # deep, and fine
    with pytest.raises(ExpressionError, match="more than 100 operations deep"):
        parse("rating >= " + "/".join(["1"] * 600))  # 1,209 characters: within the length limit
