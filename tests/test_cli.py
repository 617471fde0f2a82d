"""The CLI as a user runs it: exit codes, messages, help, default month."""

import json
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cxtruth import __version__
from cxtruth.months import Month


def test_help_on_every_command(run):
    for args in ([], ["render"], ["metrics"], ["validate"]):
        result = run(*args, "--help")
        assert result.exit_code == 0, result.output
        assert "Usage: " in result.output
    assert run("--version").output.strip() == f"cxtruth, version {__version__}"


def test_bad_month_is_a_usage_error(run, handcalc):
    result = run("metrics", "--month", "2026-13", "--config", handcalc)
    assert result.exit_code == 2
    assert "expected a month as YYYY-MM" in result.stderr


def test_default_month_is_last_calendar_month_in_report_zone(run, handcalc):
    result = run("metrics", "--json", "--config", handcalc)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["month"] == str(Month.last_complete("America/New_York"))


def test_last_complete_month_uses_the_zone():
    # 2026-11-01 02:00 UTC is still October 31 in New York: last month there is September.
    now = datetime(2026, 11, 1, 2, 0, tzinfo=ZoneInfo("UTC"))
    assert str(Month.last_complete("America/New_York", now)) == "2026-09"
    assert str(Month.last_complete("UTC", now)) == "2026-10"
    assert str(Month.last_complete("UTC", datetime(2027, 1, 15, tzinfo=ZoneInfo("UTC")))) == "2026-12"


def test_metrics_table(run, handcalc):
    result = run("metrics", "--month", "2026-10", "--config", handcalc)
    assert result.exit_code == 0, result.output
    assert "Net Promoter Score" in result.stdout and "11.1" in result.stdout
    assert "7 rows rejected" in result.stdout


def test_validate_reports_each_source(run, handcalc):
    result = run("validate", "--config", handcalc)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line and not line.startswith(" ")}
    assert "13 rows,      2 rejected, 2026-09-30 .. 2026-11-01" in lines["nps"]
    assert "absent" in lines["actions"] and "(optional)" in lines["actions"]
    assert "nps.csv:10 score: score must be a whole number 0..10 (got '9.5')" in result.stdout


def test_validate_exits_nonzero_when_a_source_cannot_be_read(run, handcalc):
    (handcalc.parent / "feedback.csv").write_text("", encoding="utf-8")
    result = run("validate", "--config", handcalc)
    assert result.exit_code == 4
    assert "feedback   ERROR  feedback.csv: the file is empty" in result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a Linux process setting")
def test_the_command_asks_for_small_pages():
    # Decision 35: set by the console entry point for the whole process, so it is read back
    # from inside one, with prctl(PR_GET_THP_DISABLE) as the command exits.
    script = ("import atexit, ctypes, sys; from cxtruth.cli import main\n"
              "atexit.register(lambda: print('THP disabled:', ctypes.CDLL(None).prctl(42, 0, 0, 0, 0), flush=True))\n"
              "sys.argv = ['cxtruth', '--version']; main()")
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "cxtruth, version" in output
    assert "THP disabled: 1" in output


def test_the_command_flushes_its_output_and_keeps_its_exit_status(handcalc, tmp_path):
    # What was printed arrives whole through a pipe, and each exit code stays the command's.
    command = [sys.executable, "-c", "from cxtruth.cli import main; main()"]
    done = subprocess.run([*command, "metrics", "--json", "--month", "2026-10", "--config", str(handcalc)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["month"] == "2026-10"
    bad_month = subprocess.run([*command, "metrics", "--month", "2026-13", "--config", str(handcalc)],
                               capture_output=True, text=True, cwd=tmp_path)
    assert bad_month.returncode == 2
    assert "Error: Invalid value for '--month'" in bad_month.stderr
    (handcalc.parent / "feedback.csv").write_text("", encoding="utf-8")
    unreadable = subprocess.run([*command, "validate", "--config", str(handcalc)],
                                capture_output=True, text=True, cwd=tmp_path)
    assert unreadable.returncode == 4
    assert "feedback.csv: the file is empty" in unreadable.stdout
