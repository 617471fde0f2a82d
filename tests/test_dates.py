"""Dates and times as exports write them (issue 19): patterns, lists, epoch, Excel serials,
12-hour clocks, offsets, a source's own zone and month names in other languages."""

import json

import pandas as pd
import pytest

from cxtruth.sources.dates import DateRule, check_date_format, parse_timestamps


def parsed(cells, report_zone="UTC", **rule):
    out, _ = parse_timestamps(pd.Series(cells, dtype=object), report_zone, DateRule.of(**rule))
    return [None if pd.isna(v) else v.isoformat() for v in out]


def test_iso_8601_as_before():
    assert parsed(["2026-10-01T09:00:00Z", "2026-10-02", "", "  ", "x"]) == [
        "2026-10-01T09:00:00", "2026-10-02T00:00:00", None, None, None]
    # naive values are report-zone wall clock; offsets are converted to it
    assert parsed(["2026-10-31T23:30:00", "2026-10-31T23:30:00Z"], "Europe/Berlin") == [
        "2026-10-31T23:30:00", "2026-11-01T00:30:00"]


@pytest.mark.parametrize("date_format, cells, expected", [
    # a survey tool's US timestamps with a 12-hour clock
    ("%m/%d/%Y %I:%M:%S %p", ["10/05/2026 02:14:33 PM", "10/05/2026 12:00:00 AM", "13/05/2026 02:14:33 PM"],
     ["2026-10-05T14:14:33", "2026-10-05T00:00:00", None]),
    # an issue tracker's, two-digit year and month names
    ("%d/%b/%y %I:%M %p", ["05/Nov/26 3:44 PM", "5/dec/26 11:01 AM"], ["2026-11-05T15:44:00", "2026-12-05T11:01:00"]),
    # fractional seconds (read by pandas where Arrow's strptime has no %f)
    ("%Y-%m-%d %H:%M:%S.%f", ["2026-10-01 12:34:56.789000"], ["2026-10-01T12:34:56.789000"]),
    # an offset in the pattern
    ("%Y-%m-%dT%H:%M:%S%z", ["2026-10-01T12:00:00+0200", "2026-10-01T12:00:00-05:00"],
     ["2026-10-01T10:00:00", "2026-10-01T17:00:00"]),
    # a date-only pattern reads a 24-hour time after the date, and ISO 8601 still
    ("%d/%m/%Y", ["31/10/2026", "31/10/2026 14:05", "2026-10-30", "10/31/2026"],
     ["2026-10-31T00:00:00", "2026-10-31T14:05:00", "2026-10-30T00:00:00", None]),
    # a list is tried in order
    (["%d.%m.%Y", "%Y/%m/%d"], ["31.10.2026", "2026/10/30", "30-10-2026"],
     ["2026-10-31T00:00:00", "2026-10-30T00:00:00", None]),
    # seconds and milliseconds since 1970 (UTC); a value centuries away is a wrong unit
    ("epoch", ["1790000000", "1790000000.5", "ten", "1790000000000"],
     ["2026-09-21T14:13:20", "2026-09-21T14:13:20.500000", None, None]),
    ("epoch_ms", ["1790000000000"], ["2026-09-21T14:13:20"]),
    # Excel serial days
    ("excel", ["46000", "46000.75", "-3"], ["2025-12-09T00:00:00", "2025-12-09T18:00:00", None]),
])
def test_date_formats(date_format, cells, expected):
    assert parsed(cells, date_format=date_format) == expected


def test_a_pattern_is_read_before_iso_so_it_means_what_the_user_said():
    # with "%Y-%d-%m" named, 2026-03-10 is the 3rd of October, not the 10th of March
    assert parsed(["2026-03-10", "2026-31-10"], date_format="%Y-%d-%m") == ["2026-10-03T00:00:00",
                                                                          "2026-10-31T00:00:00"]


@pytest.mark.parametrize("locale, date_format, cells, expected", [
    ("es", "%d/%b/%y %I:%M %p", ["05/ago/26 3:44 PM", "5/dic/26 11:01 AM", "3/mar/26 1:00 PM", "1/SEPT/26 9:00 AM"],
     ["2026-08-05T15:44:00", "2026-12-05T11:01:00", "2026-03-03T13:00:00", "2026-09-01T09:00:00"]),
    ("de", "%d. %B %Y", ["5. Januar 2026", "5. März 2026", "1. Mai 2026", "24. Dez. 2026"],
     ["2026-01-05T00:00:00", "2026-03-05T00:00:00", "2026-05-01T00:00:00", "2026-12-24T00:00:00"]),
    ("fr", "%a %d %b %Y", ["lun. 5 oct. 2026", "mar. 6 oct. 2026", "dim. 1 févr. 2026"],
     ["2026-10-05T00:00:00", "2026-10-06T00:00:00", "2026-02-01T00:00:00"]),
])
def test_month_and_day_names_in_the_exports_language(locale, date_format, cells, expected):
    assert parsed(cells, date_format=date_format, locale=locale) == expected


def test_a_sources_own_zone_for_offset_less_values():
    # a column the tool labels "(UTC)", reported in Berlin: 23:30 UTC on Oct 31 is November there
    assert parsed(["2026-10-31 23:30:00", "2026-10-31T23:30:00+01:00"], "Europe/Berlin", timezone="UTC") == [
        "2026-11-01T00:30:00", "2026-10-31T23:30:00"]
    assert parsed(["10/31/2026 11:30:00 PM"], "UTC", date_format="%m/%d/%Y %I:%M:%S %p",
                  timezone="America/New_York") == ["2026-11-01T03:30:00"]
    # a time the clocks skip moves forward; one they repeat is the first (summer) instant
    assert parsed(["2026-03-29 02:30", "2026-10-25 02:30"], "UTC", timezone="Europe/Berlin") == [
        "2026-03-29T01:00:00", "2026-10-25T00:30:00"]


def test_mixed_naive_and_offset_values_are_reported():
    _, mixed = parse_timestamps(pd.Series(["2026-10-01T09:00:00Z", "2026-10-02 10:00", "2026-10-31", ""]),
                                "UTC", DateRule())
    assert mixed.tolist() == [True, False, False, False]


@pytest.mark.parametrize("bad, says", [
    ("%s", "write date_format = 'epoch'"),
    ("%Y-%m-%d %H:%M:%S %p %H", "is not a valid pattern"),  # was re.error: redefinition of group name
    ("%Q/%m/%Y", "'Q' is a bad directive"),
    ("%H:%M", "names no year"),
    ("%d/%Y", "names no month"),
    ("%m/%d/%Y %I:%M", "a 12-hour clock (%I) needs %p"),
    ("31/10/2026", "is not a strptime pattern"),
    ([], "give a pattern"),
    (["epoch", "%Y-%m-%d"], "cannot be combined"),
])
def test_bad_patterns_are_refused_when_config_loads(bad, says):
    with pytest.raises(ValueError) as refused:
        check_date_format(bad)
    assert says in str(refused.value)


def test_an_unknown_locale_is_refused():
    with pytest.raises(ValueError, match="unknown locale 'xx'"):
        DateRule.of("%d %b %Y", locale="xx")


def test_the_reason_names_the_patterns():
    rule = DateRule.of(["%d.%m.%Y", "%Y/%m/%d"])
    assert rule.expectation("used_at", True) == "used_at must be a date as '%d.%m.%Y' or '%Y/%m/%d' (date_format) or ISO 8601"
    assert "seconds since 1970-01-01 UTC" in DateRule.of("epoch").expectation("used_at", True)


def test_a_date_pattern_keeps_arrows_typed_read_and_reads_like_the_text_path(tmp_path):
    from cxtruth.config import load_config
    from cxtruth.sources import read_source
    from cxtruth.sources.csvplan import plan
    from cxtruth.sources.reader import read_csv

    rows = "account_id,feature,used_at\nA1,reports,10/05/2026 02:14:33 PM\nA2,alerts,10/31/2026 11:59:59 PM\n"
    (tmp_path / "adoption.csv").write_text(rows, encoding="utf-8")
    config_path = tmp_path / "config.toml"
    config_path.write_text('[data]\ndir = "."\n[sources.adoption]\ndate_format = "%m/%d/%Y %I:%M:%S %p"\n',
                           encoding="utf-8")
    config = load_config(config_path)
    source = plan("adoption", config)
    assert source.typed_first and source.date_patterns == ("%m/%d/%Y %I:%M:%S %p",)
    raw = read_csv(source.path, **source.csv_options(), types=source.type_chooser())
    assert raw.typed is not None  # parsed while reading, as an ISO export is
    typed = read_source("adoption", config).frame["used_at"].astype(str).tolist()
    assert typed == ["2026-10-05 14:14:33", "2026-10-31 23:59:59"]

    (tmp_path / "adoption.csv").write_text(rows + "A3,api,31/10/2026 10:00:00 AM\n", encoding="utf-8")
    result = read_source("adoption", config)  # a cell the pattern does not read: the text path names it
    assert result.frame["used_at"].astype(str).tolist() == typed
    assert result.issues.to_dict("records") == [{
        "file": "adoption.csv", "line": 4, "column": "used_at", "value": "31/10/2026 10:00:00 AM",
        "reason": "used_at must be a date as '%m/%d/%Y %I:%M:%S %p' (date_format) or ISO 8601"}]


def cli_project(tmp_path, nps_rows: str, source_config: str):
    (tmp_path / "nps.csv").write_text("response_id,responded_at,score\n" + nps_rows, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[report]\ntimezone = "UTC"\nmax_staleness_days = 400\n[data]\ndir = "."\n'
                      f"[sources.nps]\n{source_config}\n", encoding="utf-8")
    return config


@pytest.mark.parametrize("setting, message", [
    ('date_format = "%s"', "sources.nps.date_format: '%s': for seconds since 1970 write date_format = 'epoch'"),
    ('date_format = "%d/%m/%Y %H:%M %H"', "sources.nps.date_format: '%d/%m/%Y %H:%M %H' is not a valid pattern"),
    ('date_format = "%d/%b/%y"\nlocale = "xx"', "sources.nps.locale: unknown locale 'xx'"),
    ('timezone = "Mars/Olympus"', "sources.nps.timezone: unknown IANA time zone 'Mars/Olympus'"),
])
def test_a_bad_date_setting_is_a_config_error_through_the_cli(tmp_path, run, setting, message):
    result = run("validate", "--config", cli_project(tmp_path, "r1,2026-10-01,9\n", setting))
    assert result.exit_code == 3 and message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.splitlines()) <= 2


@pytest.mark.parametrize("rows, setting, n", [
    # an issue tracker in Spanish: 05/ago/26 3:44 PM, in Madrid
    ("r1,05/oct/26 3:44 PM,9\nr2,31/oct/26 11:30 PM,3\nr3,30/sept/26 11:30 PM,10\n",
     'date_format = "%d/%b/%y %I:%M %p"\nlocale = "es"\ntimezone = "Europe/Madrid"', 2),  # Sept 30 23:30 there is September in UTC
    ("r1,1790812800,9\nr2,1793491199,3\nr3,1793491200,10\n", 'date_format = "epoch"', 2),  # up to Nov 1 00:00 UTC
    ("r1,46300,9\nr2,46326.99,3\nr3,46327,10\n", 'date_format = "excel"', 2),  # Excel serials: Oct 5, Oct 31, Nov 1
])
def test_dates_through_the_cli(tmp_path, metrics_json, rows, setting, n):
    doc = metrics_json(cli_project(tmp_path, rows, setting))
    assert doc["metrics"]["nps"]["n"] == n and doc["data_quality"]["rejected_rows"] == 0


@pytest.mark.parametrize("bad", ["31/09/2026 10:00", "29/02/2026 10:00", "31/04/2026 09:00"])
def test_an_impossible_date_is_rejected_not_rolled_into_the_next_month(tmp_path, run, bad):
    """Arrow's strptime reads 31/09 as October 1; both CSV paths must refuse it (review of issue 19)."""
    config = cli_project(tmp_path, f"r1,01/10/2026 10:00,9\nr2,{bad},3\n" + "".join(
        f"r{i},{i - 2:02d}/10/2026 10:00,9\n" for i in range(3, 30)), 'date_format = "%d/%m/%Y %H:%M"')
    for extra in ("", '\nwhere = "response_id != \\"zz\\""'):  # the typed read, then the line-by-line one
        config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
        result = run("metrics", "--month", "2026-10", "--config", config, "--json")
        doc = json.loads(result.stdout)
        assert doc["data_quality"]["issues"][0]["value"] == bad and doc["data_quality"]["issues"][0]["line"] == 3
        assert doc["metrics"]["nps"]["n"] == 28
