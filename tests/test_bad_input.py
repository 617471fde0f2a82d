"""The bad-input catalogue (README "Troubleshooting"), each case through the real CLI.

A case ends one of two ways:
- a clear error: one line naming the file (and line and column where there is
  one) and what was expected, a non-zero exit, no traceback, nothing written
  and the previous report untouched (`fails`);
- the run goes on and the row is named in the data-quality section, as a row
  left out (`issues`) or a row kept with a warning (`warnings`).
"""

import json
from pathlib import Path

import pytest

from conftest import pdf_text_pages

NPS_HEADER = "response_id,account_id,responded_at,score,comment\n"
PREVIOUS = b"%PDF-1.7 the report from last month\n"


def project(tmp_path: Path, files: dict[str, bytes | str], config: str = "") -> Path:
    """A folder of exports plus config.toml; str contents are written as UTF-8."""
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (tmp_path / name).write_bytes(data)
    path = tmp_path / "config.toml"
    path.write_text(f'[report]\ntimezone = "UTC"\noutput_dir = "out"\n{config}\n[data]\ndir = "."\n',
                    encoding="utf-8")
    return path


def fails(run, config: Path, code: int, *fragments: str) -> str:
    """Render must stop with ``code`` and one clear line; returns that line."""
    out = config.parent / "out"
    out.mkdir(exist_ok=True)
    previous = out / "cxtruth-2026-10.pdf"
    previous.write_bytes(PREVIOUS)
    result = run("render", "--month", "2026-10", "--config", config)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith("Error: ")
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert previous.read_bytes() == PREVIOUS  # the earlier report is intact
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [previous.name]
    return first


def data_quality(run, config: Path) -> dict:
    result = run("metrics", "--month", "2026-10", "--config", config, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def named(rows: list[dict]) -> list[tuple]:
    return [(r["file"], r["line"], r["column"], r["value"]) for r in rows]


# -- files that cannot be read as a table: clear error, nothing written ---------

def test_missing_file_that_config_names(tmp_path, run):
    config = project(tmp_path, {}, '[sources.nps]\npath = "exports/survey.csv"\n')
    fails(run, config, 4, "sources.nps.path: file not found", "exports/survey.csv")


def test_empty_file(tmp_path, run):
    config = project(tmp_path, {"nps.csv": ""})
    fails(run, config, 4, "nps.csv: the file is empty (expected a header row")


def test_required_column_missing_lists_expected_and_found(tmp_path, run):
    config = project(tmp_path, {"nps.csv": "id,when,score\nr1,2026-10-01,9\n"})
    fails(run, config, 4, "nps.csv: line 1: required columns missing: response_id, responded_at; "
                          "found: id, when, score")


def test_duplicate_header_names(tmp_path, run):
    config = project(tmp_path, {"nps.csv": "response_id,responded_at,score,score\nr1,2026-10-01,9,8\n"})
    fails(run, config, 4, "nps.csv: line 1: column 'score' appears more than once")


def test_headers_differing_only_by_case_or_spacing(tmp_path, run, metrics_json):
    config = project(tmp_path, {"nps.csv": "response_id,responded_at,score,\xa0SCORE \nr1,2026-10-01,9,8\n"})
    fails(run, config, 4, r"nps.csv: line 1: columns 'score', '\xa0SCORE ' differ only by case or spacing",
          "[sources.nps.columns]")
    # one such header alone is simply matched; a mapped header is taken exactly
    config = project(tmp_path, {"nps.csv": " Response_ID,RESPONDED_AT,\xa0Score\nr1,2026-10-01,9\n"})
    assert metrics_json(config)["metrics"]["nps"]["n"] == 1
    config = project(tmp_path, {"nps.csv": "response_id,responded_at,score,Score\nr1,2026-10-01,9,8\n"},
                     '[sources.nps.columns]\nscore = "Score"\n')
    assert metrics_json(config)["metrics"]["nps"]["promoters"] == 0


def test_cp1252_read_as_utf8_names_line_and_encoding_key(tmp_path, run, metrics_json):
    text = NPS_HEADER + "r1,A1,2026-10-01,9,ok\nr2,A1,2026-10-02,3,Très déçu\n"
    config = project(tmp_path, {"nps.csv": text.encode("cp1252")})
    fails(run, config, 4, "nps.csv: line 3: not valid utf-8 text", 'encoding = "cp1252"')
    config = project(tmp_path, {"nps.csv": text.encode("cp1252")}, '[sources.nps]\nencoding = "cp1252"\n')
    assert metrics_json(config)["metrics"]["nps"]["n"] == 2


def test_utf16_spreadsheet_export(tmp_path, run, metrics_json):
    text = NPS_HEADER.replace(",", "\t") + "r1\tA1\t2026-10-01\t9\tGut\n"
    config = project(tmp_path, {"nps.csv": text.encode("utf-16")})  # with BOM, as Excel writes it
    fails(run, config, 4, "nps.csv: the file is UTF-16 text", 'encoding = "utf-16"')
    config = project(tmp_path, {"nps.csv": text.encode("utf-16")},
                     '[sources.nps]\nencoding = "utf-16"\ndelimiter = "\\t"\n')
    assert metrics_json(config)["metrics"]["nps"]["n"] == 1


def test_utf16_without_byte_order_mark(tmp_path, run):
    config = project(tmp_path, {"nps.csv": (NPS_HEADER + "r1,A1,2026-10-01,9,x\n").encode("utf-16-le")})
    fails(run, config, 4, "nps.csv: line 1: the header holds NUL bytes", "utf-16-le")


def test_semicolons_and_decimal_commas_when_not_configured(tmp_path, run, metrics_json):
    text = "response_id;responded_at;score\nr1;2026-10-01;9,0\nr2;2026-10-02;3\n"
    config = project(tmp_path, {"nps.csv": text})
    fails(run, config, 4, "found: response_id;responded_at;score",
          'the header is separated by semicolons, not \',\': set delimiter = ";"', 'decimal = ","')
    # delimiter set but not the decimal comma: the row is named with the key to set
    config = project(tmp_path, {"nps.csv": text}, '[sources.nps]\ndelimiter = ";"\n')
    doc = data_quality(run, config)
    assert [(i["line"], i["value"]) for i in doc["data_quality"]["issues"]] == [(2, "9,0")]
    assert 'looks like a decimal comma: set decimal = "," under [sources.nps]' in doc["data_quality"]["issues"][0]["reason"]
    config = project(tmp_path, {"nps.csv": text}, '[sources.nps]\ndelimiter = ";"\ndecimal = ","\n')
    assert metrics_json(config)["metrics"]["nps"]["n"] == 2


@pytest.mark.parametrize("rows, where", [
    ('r1,A1,2026-10-01,9,"never closed\nr2,A1,2026-10-02,9,lost\nr3,A1,2026-10-03,3,lost too\n',
     "nps.csv: line 2, column 'comment': a quoted value is never closed"),
    # in a middle column the row comes up short of fields instead
    ('r1,A1,"2026-10-01,9,x\nr2,A1,2026-10-02,9,lost\n', "nps.csv: line 2: a quoted value is never closed"),
])
def test_unterminated_quote(tmp_path, run, rows, where):
    config = project(tmp_path, {"nps.csv": NPS_HEADER + rows})
    fails(run, config, 4, where, 'written as two: ""')


def test_quoted_line_break_in_the_last_row_is_not_an_unclosed_quote(tmp_path, metrics_json):
    config = project(tmp_path, {"nps.csv": NPS_HEADER + 'r1,A1,2026-10-01,9,"two\nlines"\n'})
    assert metrics_json(config)["metrics"]["nps"]["n"] == 1


def test_invalid_utf8_sequence_such_as_an_encoded_lone_surrogate(tmp_path, run):
    config = project(tmp_path, {"nps.csv": NPS_HEADER.encode() + b"r1,A1,2026-10-01,9,a\xed\xa0\x80b\n"})
    fails(run, config, 4, "nps.csv: line 2: not valid utf-8 text")


# -- config mistakes: exit 3, the key named ----------------------------------

@pytest.mark.parametrize("text, message", [
    ('[report]\ncolour = "red"\n', "report.colour: unknown key"),
    ('[report]\nmeeting_minutes = "an hour"\n', "report.meeting_minutes: Input should be a valid integer"),
    ('[metrics.nps]\nowner = "Finance"\n', "metrics.nps.owner: 'Finance' is not one of [report] functions"),
    ('[metrics.nps]\ntarget = 40\nwarn = 50\n', "metrics.nps: warn (50) must be <= target (40)"),
    ('[report]\ntimezone = "Europe/Berlim"\n', "report.timezone: unknown IANA time zone 'Europe/Berlim'"),
    ('[report]\ntemplate_dir = "nowhere"\n', "report.template_dir: folder not found"),
])
def test_invalid_config(tmp_path, run, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    result = run("validate", "--config", path)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"Error: {path}: {message}" or message in result.stderr.splitlines()[0]
    assert "Traceback" not in result.output


# -- user templates: sandboxed, escaped, fetching nothing -----------------------

GOOD_ROWS = NPS_HEADER + "r1,A1,2026-10-01,9,fine\n"


@pytest.mark.parametrize("template, message", [
    ("{% if %}", "report.html.j2, line 1: Expected an expression"),
    ("<p>\n{{ no_such_thing }}</p>", "report.html.j2, line 2: 'no_such_thing' is undefined"),
    ('{{ "".__class__.__mro__[1].__subclasses__() }}', "refused by the sandbox"),
    ("{{ report.metrics.append(1) }}", "refused by the sandbox"),
    ('<img src="file:///etc/passwd">', "tried to load an outside resource"),
    ('<link rel="stylesheet" href="https://example.com/x.css">', "tried to load an outside resource"),
    ('<style>@import url("file:///etc/hostname");</style>', "tried to load an outside resource"),
])
def test_broken_or_hostile_user_template(tmp_path, run, template, message):
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "report.html.j2").write_text(template, encoding="utf-8")
    config = project(tmp_path, {"nps.csv": GOOD_ROWS}, 'template_dir = "tpl"\n')
    fails(run, config, 5, message)


def test_user_template_extends_the_packaged_report(tmp_path, run):
    """The example in docs/templates.md, rendered."""
    example = (Path(__file__).parent.parent / "docs" / "templates.md").read_text(encoding="utf-8")
    template = example.split("```jinja\n", 1)[1].split("```", 1)[0]
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "report.html.j2").write_text(template, encoding="utf-8")
    config = project(tmp_path, {"nps.csv": GOOD_ROWS}, 'template_dir = "tpl"\ncompany = "Hostile <b>Co</b>"\n')
    result = run("render", "--month", "2026-10", "--config", config, "--format", "html")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "cxtruth-2026-10.html").read_text(encoding="utf-8")
    assert "<h1>Hostile &lt;b&gt;Co&lt;/b&gt;: October 2026</h1>" in html  # autoescaped in a user template
    assert "Appendix B" in html  # the blocks it did not replace are the packaged ones


def test_render_time_limit(tmp_path, run):
    config = project(tmp_path, {"nps.csv": GOOD_ROWS}, "render_timeout_seconds = 0.05\n")
    fails(run, config, 5, "rendering the report took longer than 0.05 s; nothing was written",
          "render_timeout_seconds")


# -- rows: the run goes on, each bad row named ------------------------------------

def test_header_only_file_is_a_warning_not_zero(tmp_path, run):
    doc = data_quality(run, project(tmp_path, {"nps.csv": NPS_HEADER}))
    assert doc["metrics"]["nps"]["value"] is None and doc["metrics"]["nps"]["status"] == "no_data"
    assert doc["data_quality"]["warnings"][0]["line"] == 1
    assert "header but no data rows" in doc["data_quality"]["warnings"][0]["reason"]


def test_dates_invalid_ambiguous_future_and_mixed_offsets(tmp_path, run):
    rows = ("r1,A1,2026-10-01T09:00:00Z,9,\n"
            "r2,A1,2026-02-30,9,\n"          # no such day
            "r3,A1,03/10/2026,9,\n"          # March 10 or October 3: never guessed
            "r4,A1,2099-10-01,9,\n"          # after the run
            "r5,A1,2026-10-02 10:00,9,\n")   # naive among offsets: kept, warned
    # most rows broken on purpose: the rejection gate is tested on its own (test_honesty.py)
    doc = data_quality(run, project(tmp_path, {"nps.csv": NPS_HEADER + rows}, "max_rejected_share = 1.0"))
    issues = doc["data_quality"]["issues"]
    assert named(issues) == [("nps.csv", 3, "responded_at", "2026-02-30"),
                             ("nps.csv", 4, "responded_at", "03/10/2026"),
                             ("nps.csv", 5, "responded_at", "2099-10-01")]
    assert "set date_format" in issues[1]["reason"]
    assert "is in the future" in issues[2]["reason"]
    [warning] = doc["data_quality"]["warnings"]
    assert (warning["line"], warning["column"]) == (6, "responded_at")
    assert "1 of 2 responded_at values have no UTC offset" in warning["reason"] and "read as UTC" in warning["reason"]
    assert doc["metrics"]["nps"]["n"] == 2


def test_currency_formatted_mrr(tmp_path, run):
    accounts = ("account_id,start_date,mrr\nA1,2025-01-01,\"$1,200.00\"\nA2,2025-01-01,1.200,00 €\n"
                "A3,2025-01-01,1200\n").replace("1.200,00 €", '"1.200,00 €"')
    doc = data_quality(run, project(tmp_path, {"accounts.csv": accounts}))
    issues = doc["data_quality"]["issues"]
    assert named(issues) == [("accounts.csv", 2, "mrr", "$1,200.00"), ("accounts.csv", 3, "mrr", "1.200,00 €")]
    assert "no currency or thousands marks" in issues[0]["reason"]


def test_exact_copies_told_apart_from_conflicting_rows(tmp_path, run):
    rows = ("r1,A1,2026-10-01,9,same\nr1,A1,2026-10-01,9,same\n"
            "r2,A1,2026-10-01,9,first\nr2,A1,2026-10-01,3,changed\n")
    # most rows broken on purpose: the rejection gate is tested on its own (test_honesty.py)
    doc = data_quality(run, project(tmp_path, {"nps.csv": NPS_HEADER + rows}, "max_rejected_share = 1.0"))
    reasons = [(i["line"], i["reason"]) for i in doc["data_quality"]["issues"]]
    assert reasons == [(2, "exact copy of the row at line 3: counted once"),
                       (4, "same response_id as line 5 with different values: the row at line 5 wins")]
    nps = doc["metrics"]["nps"]
    assert (nps["n"], nps["promoters"], nps["detractors"]) == (2, 1, 1)


def test_accounts_referenced_but_unknown(tmp_path, run):
    files = {
        # with a churn_date column: adoption's active accounts need one (test_honesty.py)
        "accounts.csv": "account_id,start_date,churn_date,mrr\nA1,2025-01-01,,10\nA2,2025-01-01,,$10\n",
        "nps.csv": NPS_HEADER + "r1,A1,2026-10-01,9,\nr2,ZZ9,2026-10-02,3,\nr3,ZZ9,2026-10-03,3,\nr4,A2,2026-10-03,3,\n",
        "adoption.csv": "account_id,feature,used_at\nA1,reports,2026-10-01\nGHOST,reports,2026-10-02\n",
    }
    doc = data_quality(run, project(tmp_path, files, "max_rejected_share = 1.0"))  # gate: test_honesty.py
    warnings = doc["data_quality"]["warnings"]
    assert named(warnings) == [("nps.csv", 3, "account_id", "ZZ9"), ("nps.csv", 5, "account_id", "A2"),
                               ("adoption.csv", 3, "account_id", "GHOST")]
    assert warnings[0]["reason"] == ("account_id is not in accounts.csv (2 rows here): kept; "
                                     "check that both exports use the same ids")
    assert warnings[1]["reason"].startswith("this account's row in accounts.csv was left out (see its issues)")
    assert "left out of adoption" in warnings[2]["reason"]
    assert doc["metrics"]["nps"]["n"] == 4  # kept
    assert doc["metrics"]["feature_adoption"]["active_accounts"] == 1


def test_hostile_text_renders_literally_and_leaks_nothing(tmp_path, run):
    """NUL, a 50 kB comment, right-to-left and emoji text, markup: kept exactly, shown as text."""
    hostile = [
        "before\x00after",
        "x" * 50_000,
        "שלום، الخدمة سيئة 😡🔥",
        '<img src="file:///etc/passwd"> <link rel="attachment" href="file:///etc/passwd"> {{ 7*7 }} '
        '=HYPERLINK("http://evil.example","x") <script>alert(1)</script>',
    ]
    rows = "".join(f'r{i},A1,2026-10-0{i + 1},{i},"{text.replace(chr(34), 2 * chr(34))}"\n'
                   for i, text in enumerate(hostile))
    accounts = "account_id,segment,start_date,mrr\nA1,SMB,2025-01-01,100\n"
    config = project(tmp_path, {"nps.csv": NPS_HEADER + rows, "accounts.csv": accounts})
    from cxtruth.config import Config
    from cxtruth.sources import read_source
    assert read_source("nps", Config.from_file(config)).frame["comment"].tolist() == hostile

    result = run("render", "--month", "2026-10", "--config", config)
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "out" / "cxtruth-2026-10.pdf"
    from pypdf import PdfReader
    assert not PdfReader(pdf).attachments
    text = " ".join(pdf_text_pages(pdf))
    assert "root:x:0" not in text  # no file content
    assert "{{ 7*7 }}" in text and "<script>alert(1)</script>" in text and '<img src="file:///etc/passwd">' in text
    assert "=HYPERLINK(" in text and "beforeafter" in text.replace("\x00", "")
    assert "50,000 characters in full" in text  # cut in the PDF, counted
    assert "x" * 601 not in text.replace("\r", "").replace("\n", "")
    assert "שלום" in text


def test_many_bad_rows_and_comments_make_a_bounded_report(tmp_path, run):
    """15,000 rejected rows, 5,000 detractor comments, 5,000 unknown accounts: a short PDF, everything counted."""
    bad = "".join(f"b{i},A1,2026-10-02,ten,\n" for i in range(15_000))
    said = "".join(f'c{i},X{i},2026-10-{1 + i % 28:02d},2,"Comment number {i}, unhappy"\n' for i in range(5_000))
    config = project(tmp_path, {"nps.csv": NPS_HEADER + bad + said,
                                "accounts.csv": "account_id,start_date\nA1,2025-01-01\n"})
    result = run("render", "--month", "2026-10", "--config", config)
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "out" / "cxtruth-2026-10.pdf"
    pages = pdf_text_pages(pdf)
    assert len(pages) <= 20
    text = " ".join(pages)
    assert "Rows left out (15,000 problems, first 60 shown)" in " ".join(text.split())
    assert "… and 4,992 more detractor comments" in text
    doc = json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))
    assert doc["data_quality"]["issues_total"] == 15_000 and doc["data_quality"]["rejected_rows"] == 15_000
    # one warning per unknown id up to 20, then one line that sums up the rest
    warnings = doc["data_quality"]["warnings"]
    assert len(warnings) == 21 and "… and 4,980 more account ids" in warnings[-1]["reason"]


def test_bad_byte_far_into_the_file_still_names_its_line(tmp_path, run):
    rows = "".join(f"r{i},A1,2026-10-01,9,fine\n" for i in range(5_000))  # well past the 64 KiB header sample
    data = (NPS_HEADER + rows).encode() + "r-late,A1,2026-10-02,3,déçu\n".encode("cp1252")
    config = project(tmp_path, {"nps.csv": data})
    fails(run, config, 4, "nps.csv: line 5002: not valid utf-8 text", 'encoding = "cp1252"')


# -- issue 18: every reader error is one line naming the file, never its contents -------

from conftest import one_line  # noqa: E402 (the helper the config tests share)


MANY_ROWS = "".join(f"r{i},A1,2026-10-01,9,fine\n" for i in range(5_000))  # past the 64 KiB header sample


@pytest.mark.parametrize("bad_row", [b"rX,A1,2026-10-01,\xff\n", b"rX,A1,\xe9\nr9,A1,2026-10-01,9,x\n"])
def test_short_row_with_invalid_utf8_blames_the_encoding(tmp_path, run, bad_row):
    config = project(tmp_path, {"nps.csv": (NPS_HEADER + MANY_ROWS).encode() + bad_row})
    line = fails(run, config, 4, 'encoding = "cp1252"')
    assert line == "Error: nps.csv: line 5002: not valid utf-8 text"
    assert one_line(run("metrics", "--month", "2026-10", "--config", config), 4) == line


@pytest.mark.parametrize("size, extra_row, options", [
    (10 << 20, "r2,A1,2026-10-01,ten,x\n", ""),  # a bad cell: read again as text
    (10 << 20, "", '[sources.nps]\ndate_format = "%Y-%m-%d"\n'),  # a date format: the text path from the start
    (17 << 20, "r2,A1,2026-10-01,ten,x\n", ""),  # longer than a 16 MiB block: read again with larger ones
])
def test_a_cell_of_megabytes_is_read(tmp_path, metrics_json, size, extra_row, options):
    rows = 'r1,A1,2026-10-01,9,"' + "x" * size + '"\n' + extra_row
    # one row of two rejected on purpose (with the extra row): the gate is tested in test_honesty.py
    config = project(tmp_path, {"nps.csv": NPS_HEADER + rows}, options + "\nmax_rejected_share = 1.0")
    assert metrics_json(config)["metrics"]["nps"]["n"] == 1


def test_a_quote_never_closed_before_megabytes_of_rows(tmp_path, run):
    rows = 'r1,A1,2026-10-01,ten,"never closed\n' + "r2,A1,2026-10-02,9,lost\n" * 800_000  # 19 MB in one cell
    config = project(tmp_path, {"nps.csv": NPS_HEADER + rows})
    fails(run, config, 4, "nps.csv: line 2, column 'comment': a quoted value is never closed")


def test_cr_only_line_endings_are_read(tmp_path, metrics_json, run):
    text = (NPS_HEADER + "r1,A1,2026-10-01,9,x\nr2,A1,2026-10-02,3,\"two\nlines\"\n").replace("\n", "\r")
    assert metrics_json(project(tmp_path, {"nps.csv": text}))["metrics"]["nps"]["n"] == 2
    bad = (NPS_HEADER + "r1,A1,2026-10-01,9,x\n").replace("\n", "\r").encode() + "r2,A1,2026-10-02,3,déçu\r".encode("cp1252")
    fails(run, project(tmp_path, {"nps.csv": bad}), 4, "nps.csv: line 3: not valid utf-8 text")


@pytest.mark.parametrize("kind, make", [
    ("a directory", lambda p: p.mkdir()),
    ("a named pipe (FIFO)", lambda p: __import__("os").mkfifo(p)),
    ("a character device", lambda p: p.symlink_to("/dev/zero")),
])
@pytest.mark.parametrize("user_set", [False, True])
def test_a_path_that_is_not_a_file_is_named_for_what_it_is(tmp_path, run, kind, make, user_set):
    make(tmp_path / "nps.csv")
    config = project(tmp_path, {}, '[sources.nps]\npath = "nps.csv"\n' if user_set else "")
    line = fails(run, config, 4)
    where = "sources.nps.path: " if user_set else ""
    assert line == f"Error: {where}{tmp_path / 'nps.csv'} is {kind}, not a file"
    assert "not found" not in line


@pytest.mark.parametrize("content, message", [
    (Path("/etc/passwd").read_bytes() if Path("/etc/passwd").exists() else b"root:x:0:0:root:/root:/bin/bash\n",
     "nps.csv: line 1: required columns missing: response_id, responded_at, score; "
     "line 1 is not a row of column names (not shown)"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "nps.csv: the file is a PDF document, not a CSV export"),
    (b"PK\x03\x04\x14\x00\x06\x00secret", "nps.csv: the file is a ZIP archive (an Excel .xlsx workbook?), not a CSV export"),
    (bytes(range(256)) * 40, "nps.csv: the file is binary data, not a CSV export"),
    (b"\x01\x02secret-token\x03,x\n", "nps.csv: the file is binary data, not a CSV export"),
])
def test_a_file_that_is_not_csv_is_named_and_never_echoed(tmp_path, run, content, message):
    config = project(tmp_path, {"nps.csv": content})
    line = fails(run, config, 4)
    assert line == f"Error: {message}"
    assert "root:" not in line and "secret" not in line and "obj" not in line


def test_found_headers_are_listed_shortened(tmp_path, run):
    header = ",".join(f"column_{i}" for i in range(100)) + "\n"
    line = fails(run, project(tmp_path, {"nps.csv": header}), 4)
    assert "found: column_0, column_1" in line and "column_29 … (100 columns)" in line and "column_30" not in line
    line = fails(run, project(tmp_path, {"nps.csv": "id,\"" + "y" * 500 + "\"\n"}), 4)
    assert line.endswith("line 1 is not a row of column names (not shown)") and "yyy" not in line


@pytest.mark.parametrize("rows", ["", MANY_ROWS])  # in the header sample, or met by Arrow
def test_bytes_the_configured_encoding_lacks(tmp_path, run, rows):
    data = (NPS_HEADER + rows).encode() + b"rX,A1,2026-10-02,3,undefined \x81 in cp1252\n"
    config = project(tmp_path, {"nps.csv": data}, '[sources.nps]\nencoding = "cp1252"\n')
    line = fails(run, config, 4, "Hint: the file is not cp1252 text: set encoding under [sources.nps]")
    assert line.startswith(f"Error: nps.csv: line {2 + rows.count(chr(10))}: not valid cp1252 text")


def test_in_a_real_process_no_exception_ignored_is_printed(tmp_path):
    """pyarrow prints "Exception ignored" to the process's stderr (pytest's own hook hides it
    in-process): the short row with bad bytes and deep TOML, through `cxtruth` as cron runs it."""
    import subprocess
    import sys

    command = [sys.executable, "-c", "from cxtruth.cli import main; main()"]
    config = project(tmp_path, {"nps.csv": (NPS_HEADER + MANY_ROWS).encode() + b"rX,A1,2026-10-01,\xff\n"})
    done = subprocess.run([*command, "metrics", "--month", "2026-10", "--config", str(config)],
                          capture_output=True, text=True)
    assert done.returncode == 4
    assert done.stderr.splitlines()[0] == "Error: nps.csv: line 5002: not valid utf-8 text", done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
    config.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    done = subprocess.run([*command, "validate", "--config", str(config)], capture_output=True, text=True)
    assert done.returncode == 3 and done.stderr == f"Error: {config}: config.toml nests too deeply (arrays or inline tables inside each other)\n"


def test_bad_bytes_after_a_crlf_cut_by_the_read_block_name_their_line(tmp_path, run):
    start = (NPS_HEADER.replace("\n", "\r\n") + "r1,A1,2026-10-01,9,").encode()
    first = start + b"x" * ((1 << 20) - 1 - len(start)) + b"\r\n"  # its \r is the last byte of the first MiB
    assert first[(1 << 20) - 1:(1 << 20) + 1] == b"\r\n"
    data = first + "r2,A1,2026-10-02,ten,déçu\r\n".encode("cp1252")  # a bad cell too: the text path
    fails(run, project(tmp_path, {"nps.csv": data}), 4, "nps.csv: line 3: not valid utf-8 text")


def test_parquet_with_a_list_column_or_damaged_bytes(tmp_path, run):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    def parquet(table) -> bytes:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()

    options = '[sources.nps]\npath = "nps.parquet"\n'
    nested = parquet(pa.table({"response_id": [["r1"]], "responded_at": ["2026-10-01"], "score": [9]}))
    line = fails(run, project(tmp_path, {"nps.parquet": nested}, options), 4, "Hint: write the column as text")
    assert line == "Error: nps.parquet: column 'response_id' holds list<element: string>, not plain values"
    good = parquet(pa.table({"response_id": ["r1"], "responded_at": ["2026-10-01"], "score": [9]}))
    line = fails(run, project(tmp_path, {"nps.parquet": good[:-20] + b"\x0e" * 12 + good[-8:]}, options), 4)
    assert line.startswith("Error: nps.parquet: cannot be read as a Parquet file: ") and line.isprintable()


def test_an_mrr_beyond_any_account_is_a_rejected_row_not_a_stopped_run(tmp_path, run):
    """10^32 a month: accepted, it would overflow the exact sum of MRR and stop every metric;
    rejected, it is named and the rest of the report stands (decision 78)."""
    accounts = ("account_id,segment,start_date,churn_date,mrr\n" + "".join(
        f"A{i},SMB,2025-01-01,,{100 + i}\n" for i in range(40)) + "A99,SMB,2025-01-01,2026-10-15,1e32\n")
    doc = data_quality(run, project(tmp_path, {"accounts.csv": accounts}, "max_rejected_share = 0.05"))
    assert named(doc["data_quality"]["issues"]) == [("accounts.csv", 42, "mrr", "1e32")]
    assert "mrr must be a plain number >= 0 and at most 1e15" in doc["data_quality"]["issues"][0]["reason"]
    assert doc["metrics"]["revenue_churn"]["value"] == 0.0 and doc["metrics"]["logo_churn"]["value"] == 0.0
