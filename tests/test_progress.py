"""Issue 18: named stages on a terminal, quiet under cron; --quiet and --verbose."""

import os
import pty
import subprocess
import sys

from conftest import DATA


def test_verbose_names_each_stage_and_quiet_prints_nothing_on_success(handcalc, run):
    shown = run("render", "--month", "2026-10", "--config", handcalc, "--format", "html", "--verbose")
    assert shown.exit_code == 0, shown.output
    stages = [line for line in shown.stderr.splitlines() if line.startswith("· ")]
    assert stages[:1] and any(s.startswith("· read nps.csv: 13 rows, 2 rejected (") for s in stages)
    assert any(s.startswith("· computed 9 metrics over 13 months (") for s in stages)
    assert any(s.startswith("· laid out the report (") for s in stages)
    assert stages[-1].startswith("· wrote the outputs (")
    assert shown.stdout.startswith("Wrote ")

    quiet = run("render", "--month", "2026-10", "--config", handcalc, "--format", "html", "-q")
    assert quiet.exit_code == 0 and quiet.stdout == ""
    assert all(line.startswith("Warning: DRAFT") for line in quiet.stderr.splitlines())  # warnings still said

    cron = run("render", "--month", "2026-10", "--config", handcalc, "--format", "html")  # stderr not a terminal
    assert not any(line.startswith("· ") for line in cron.stderr.splitlines())


def test_a_terminal_sees_the_stages_without_asking(tmp_path):
    """A real process whose stderr is a terminal (a pseudo-terminal here)."""
    import shutil

    shutil.copytree(DATA / "handcalc", tmp_path / "handcalc")
    leader, follower = pty.openpty()
    process = subprocess.run(
        [sys.executable, "-c", "from cxtruth.cli import main; main()", "validate", "--config",
         str(tmp_path / "handcalc" / "config.toml")],
        stdout=subprocess.PIPE, stderr=follower, timeout=60)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.returncode == 0
    assert b"\xc2\xb7 read nps.csv: 13 rows, 2 rejected" in seen
