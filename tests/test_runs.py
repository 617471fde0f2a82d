"""Cron safety (issue #4): the lock, a killed run, the run record and the freshness gate.

Real processes: the CLI runs as a subprocess where a second process or a
kill signal is part of the story.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import held_lock, pdf_text_pages

CXTRUTH = [sys.executable, "-c", "from cxtruth.cli import main; main()"]


def spawn(config, *args, epoch="1793602800"):
    env = {**os.environ, "SOURCE_DATE_EPOCH": epoch}
    return subprocess.Popen([*CXTRUTH, "render", "--month", "2026-10", "--config", str(config), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.endswith(".lock")}


def test_two_concurrent_runs_one_renders_the_other_exits_with_the_lock_code(handcalc):
    first, second = spawn(handcalc), spawn(handcalc)
    results = sorted([(p.wait(timeout=120), p.communicate()) for p in (first, second)], key=lambda r: r[0])
    (ok_code, (ok_out, _)), (lock_code, (_, lock_err)) = results
    assert ok_code == 0 and "Wrote" in ok_out
    assert lock_code == 6, lock_err
    assert "another cxtruth run" in lock_err and "Traceback" not in lock_err


def test_a_held_lock_means_nothing_is_written(handcalc, run):
    assert run("render", "--month", "2026-10", "--config", handcalc).exit_code == 0
    folder = handcalc.parent / "reports"
    before = snapshot(folder)
    with held_lock(folder / ".cxtruth-2026-10.pdf.lock") as holder:
        result = run("render", "--month", "2026-10", "--config", handcalc, env={"SOURCE_DATE_EPOCH": "1793700000"})
        assert result.exit_code == 6
        assert f"pid {holder.pid}" in result.stderr
    assert snapshot(folder) == before


def test_a_run_killed_mid_render_leaves_the_previous_report_byte_identical(handcalc, run):
    assert run("render", "--month", "2026-10", "--config", handcalc).exit_code == 0
    folder = handcalc.parent / "reports"
    before = snapshot(folder)
    victim = spawn(handcalc, epoch="1793700000")  # would render different bytes if it finished
    lock = folder / ".cxtruth-2026-10.pdf.lock"
    deadline = time.monotonic() + 30
    while lock.read_text().strip() != str(victim.pid):  # it holds the lock: it is inside the run
        assert time.monotonic() < deadline and victim.poll() is None
        time.sleep(0.02)
    time.sleep(0.5)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    assert {k: v for k, v in snapshot(folder).items() if not k.endswith(".tmp")} == before
    # The next run clears what the killed one left and renders normally.
    assert run("render", "--month", "2026-10", "--config", handcalc).exit_code == 0
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_move_that_fails_puts_back_the_files_already_moved(handcalc, run):
    """The JSON's name is taken by a folder: the new PDF was moved in first and stayed, so the
    set no longer held together; now the previous PDF is put back and nothing else is left."""
    assert run("render", "--month", "2026-10", "--config", handcalc, env={"SOURCE_DATE_EPOCH": "1793602800"}).exit_code == 0
    folder = handcalc.parent / "reports"
    (folder / "cxtruth-2026-10.json").unlink()
    (folder / "cxtruth-2026-10.json").mkdir()
    def files():
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.endswith(".lock")}

    before = files()
    failed = run("render", "--month", "2026-10", "--config", handcalc, env={"SOURCE_DATE_EPOCH": "1793700000"})
    assert failed.exit_code == 5 and "cannot write" in failed.stderr
    assert files() == before  # the previous PDF and run record, byte for byte; no .tmp left


def test_run_record_traces_inputs_config_and_timings(handcalc, run):
    import hashlib

    assert run("render", "--month", "2026-10", "--config", handcalc).exit_code == 0
    record = json.loads((handcalc.parent / "reports" / "cxtruth-2026-10.run.json").read_text())
    nps = next(i for i in record["inputs"] if i["source"] == "nps")
    raw = (handcalc.parent / "nps.csv").read_bytes()
    assert nps["sha256"] == hashlib.sha256(raw).hexdigest() and nps["size"] == len(raw)
    assert (nps["rows_read"], nps["accepted"], nps["rejected"]) == (13, 11, 2)
    assert record["config"]["sha256"] == hashlib.sha256(handcalc.read_bytes()).hexdigest()
    pdf = (handcalc.parent / "reports" / "cxtruth-2026-10.pdf").read_bytes()
    assert record["outputs"]["report"]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert {"read_sources", "compute", "render_pdf", "hash_inputs_wait"} <= set(record["timings_seconds"])
    assert record["email"]["status"] == "not_requested" and record["cxtruth"]


def test_stale_sources_mark_every_page_draft_and_strict_fails(handcalc, run):
    out = handcalc.parent / "reports" / "cxtruth-2026-10.pdf"
    result = run("render", "--month", "2026-10", "--config", handcalc)
    assert result.exit_code == 0
    assert "DRAFT: awareness.csv: newest row 2026-10-03" in result.stderr
    pages = pdf_text_pages(out)
    assert all("DRAFT · stale data" in page for page in pages)
    assert "awareness.csv: newest row 2026-10-03, 29.0 days before the end of October 2026 (limit 3)" in pages[0]
    assert "Stale sources: this report is a DRAFT" in pages[-1]
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["draft"] is True and {s["source"] for s in doc["stale_sources"]} == {"adoption", "handoffs", "awareness"}

    before = out.read_bytes()
    strict = run("render", "--month", "2026-10", "--config", handcalc, "--strict")
    assert strict.exit_code == 4 and "stale data (--strict)" in strict.stderr
    assert out.read_bytes() == before

    # Limits per source: raise them and the report is final.
    handcalc.write_text(handcalc.read_text().replace('timezone = "America/New_York"',
                                                     'timezone = "America/New_York"\nmax_staleness_days = 30'))
    final = run("render", "--month", "2026-10", "--config", handcalc, "--strict")
    assert final.exit_code == 0, final.output
    assert not any("DRAFT" in page for page in pdf_text_pages(out))


@pytest.mark.parametrize("edit", [{"outputs": ["x"]}, {"email": "sent"}, {"draft": "no"}, {"inputs": ["x"]},
                                  {"inputs": [{"source": "nps", "status": "read", "path": "nps.csv", "size": "12"}]}])
def test_status_on_a_run_record_edited_by_hand_is_one_line_not_a_traceback(handcalc, run, edit):
    assert run("render", "--month", "2026-10", "--config", handcalc).exit_code == 0
    record = handcalc.parent / "reports" / "cxtruth-2026-10.run.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), **edit}))
    status = run("status", "--month", "2026-10", "--config", handcalc)
    assert status.exit_code == 1 and "Traceback" not in status.output, status.output
    assert "no run recorded" in status.stdout and "not readable" in status.stdout
