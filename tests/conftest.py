import json
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from cxtruth.cli import cli

# The warehouse servers' fixtures (spark, postgres) and loaders: tests/warehouse.py.
pytest_plugins = ["warehouse"]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def run():
    """Invoke the real CLI; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def handcalc(tmp_path) -> Path:
    """A copy of the hand-computed fixture exports; returns its config.toml."""
    target = tmp_path / "handcalc"
    shutil.copytree(DATA / "handcalc", target)
    return target / "config.toml"


@pytest.fixture
def metrics_json(run):
    def compute(config: Path, month: str = "2026-10") -> dict:
        result = run("metrics", "--month", month, "--config", config, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return compute


def pdf_text_pages(path) -> list[str]:
    """Each page's text as a PDF viewer would copy it (pdfium, the engine of Chrome's viewer).

    pypdf misreads WeasyPrint's custom-encoded subset fonts once a page holds
    many distinct glyphs (Arabic, symbols), so text is read with pdfium.
    """
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return [pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf))]
    finally:
        pdf.close()


def one_line(result, code: int) -> str:
    """Exit ``code``, one ``Error:`` line (and at most a ``Hint:``), no traceback; returns the line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "Exception ignored" not in result.output
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("Error: ") and len(lines) <= 2, result.stderr
    assert len(lines) == 1 or lines[1].startswith("Hint: "), result.stderr
    return lines[0]


@contextmanager
def held_lock(lock: Path):
    """Another process holding the month's lock (as a concurrent cron run would); yields it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from cxtruth.runs import run_lock\n"
         "with run_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)", str(lock)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()
