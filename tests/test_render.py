"""The rendered PDF, read back: pages, every metric's printed value, every owner, nothing fetched."""

import json
import re

import pytest
from pypdf import PdfReader

from conftest import ROOT
from cxtruth.formatting import fmt_value


@pytest.fixture(scope="module")
def sample_render(tmp_path_factory):
    from click.testing import CliRunner

    from cxtruth.cli import cli

    out = tmp_path_factory.mktemp("reports") / "agenda.pdf"
    result = CliRunner().invoke(cli, ["render", "--month", "2026-10", "--config", str(ROOT / "config.toml"),
                                      "--out", str(out)], env={"SOURCE_DATE_EPOCH": "1795000000"})
    assert result.exit_code == 0, result.output
    doc = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    reader = PdfReader(out)
    pages = [page.extract_text() for page in reader.pages]
    return out, doc, reader, pages


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_pdf_pages_and_running_header(sample_render):
    _, _, reader, pages = sample_render
    assert 8 <= len(pages) <= 18  # twelve metrics in the sample: nine built in, three of its own
    for number, text in enumerate(pages[1:], start=2):
        assert "October 2026" in text
        assert f"Page {number} of {len(pages)}" in text


def sample_metrics():
    """Every metric of the sample config, its own KPIs included, by key."""
    from cxtruth.config import Config
    from cxtruth.metrics import declared

    return declared(Config.from_file(ROOT / "config.toml"))


def test_pdf_prints_every_metric_value_and_owner(sample_render):
    _, doc, _, pages = sample_render
    scorecard = squash(pages[1])
    metrics = sample_metrics()
    assert any(m.custom for m in metrics.values())
    for key, entry in doc["metrics"].items():
        printed = fmt_value(entry["value"], metrics[key].unit)
        assert printed in scorecard, (key, printed)
        assert entry["owner"] in scorecard
    everything = squash(" ".join(pages))
    for owner in {e["owner"] for e in doc["metrics"].values()}:
        assert owner in everything


def test_pdf_shows_every_status_word(sample_render):
    _, doc, _, pages = sample_render
    statuses = {e["status"] for e in doc["metrics"].values()}
    assert {"on_track", "at_risk", "off_track"} <= statuses  # the sample tells a story
    scorecard = pages[1]
    for word in ("On track", "At risk", "Off track"):
        assert word in scorecard


def test_pdf_cover_answers_what_is_wrong(sample_render):
    _, doc, _, pages = sample_render
    cover = squash(pages[0])
    assert "What is going wrong, and who owns it" in cover
    worst = [k for k, e in doc["metrics"].items() if e["status"] == "off_track"]
    METRICS = sample_metrics()

    for key in worst[:3]:
        assert METRICS[key].label in cover


def test_data_quality_appendix_lists_rejected_rows(sample_render):
    _, doc, _, pages = sample_render
    appendix = squash(pages[-1])
    assert "Appendix B" in appendix
    for issue in doc["data_quality"]["issues"]:
        assert issue["reason"] in appendix


def test_pdf_has_no_attachments_and_no_links(sample_render):
    _, _, reader, _ = sample_render
    assert reader.attachments == {}
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            assert annot.get_object().get("/Subtype") != "/FileAttachment"


def test_agenda_minutes_add_up(sample_render):
    _, _, _, pages = sample_render
    running = squash(pages[1]).split("Running order — 60 minutes")[1]
    assert "0:55 5 Decisions" in running


def test_same_input_same_pdf(sample_render, tmp_path, run):
    out, *_ = sample_render
    again = tmp_path / "again.pdf"
    result = run("render", "--month", "2026-10", "--config", ROOT / "config.toml", "--out", again,
                 env={"SOURCE_DATE_EPOCH": "1795000000"})
    assert result.exit_code == 0, result.output
    assert again.read_bytes() == out.read_bytes()


def test_html_format(handcalc, run, tmp_path):
    out = tmp_path / "agenda.html"
    result = run("render", "--month", "2026-10", "--config", handcalc, "--out", out, "--format", "html")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html and "Fixture Co" in html


def test_failed_run_keeps_the_previous_report(handcalc, run):
    first = run("render", "--month", "2026-10", "--config", handcalc)
    assert first.exit_code == 0, first.output
    pdf = handcalc.parent / "reports" / "cxtruth-2026-10.pdf"
    before = pdf.read_bytes()
    (handcalc.parent / "nps.csv").write_text("nothing,useful\n1,2\n", encoding="utf-8")
    second = run("render", "--month", "2026-10", "--config", handcalc)
    assert second.exit_code == 4
    assert pdf.read_bytes() == before
    assert sorted(p.name for p in pdf.parent.iterdir()) == [
        ".cxtruth-2026-10.pdf.lock", "cxtruth-2026-10.json", "cxtruth-2026-10.pdf", "cxtruth-2026-10.run.json"]


def test_renderer_refuses_to_fetch(tmp_path):
    from cxtruth.errors import RenderError
    from cxtruth.output.render import render_pdf

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    html = f'<html><body><p>hi</p><img src="file://{secret}"></body></html>'
    with pytest.raises(RenderError, match="outside resource"):
        render_pdf(html)


def test_every_change_carries_its_arrow(sample_render):
    """Each non-zero change on the scorecard shows ▲ or ▼ (a numpy bool once hid them)."""
    _, doc, _, pages = sample_render
    METRICS = sample_metrics()
    from cxtruth.formatting import fmt_change

    scorecard = squash(pages[1])
    for key, entry in doc["metrics"].items():
        if entry["change"] and round(entry["change"], 1):
            better = (entry["change"] > 0) == (entry["direction"] == "higher")
            assert fmt_change(entry["change"], METRICS[key].unit) + (" ▲" if better else " ▼") in scorecard, key
