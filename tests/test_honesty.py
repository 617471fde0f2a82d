"""No number without its data (issue 17): mass rejection and missing columns are said,
never shown as green. Real files through the real CLI; PDFs read back."""

import csv
import io
import json
import re
import shutil
from pathlib import Path

from conftest import ROOT, pdf_text_pages

CHURN_METRICS = ("logo_churn", "revenue_churn", "feature_adoption", "onboarding_engagement", "time_to_value")


def sample(tmp_path: Path, extra_config: str = "") -> Path:
    """A copy of the sample month's exports and config; returns config.toml."""
    shutil.copytree(ROOT / "sample_metrics", tmp_path / "data")
    text = (ROOT / "config.toml").read_text(encoding="utf-8").replace("sample_metrics", "data")
    (tmp_path / "config.toml").write_text(text + "\n" + extra_config, encoding="utf-8")
    return tmp_path / "config.toml"


def rewrite(path: Path, change) -> None:
    """Apply ``change(header, rows) -> (header, rows)`` to a CSV export."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    header, body = change(rows[0], rows[1:])
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    path.write_text(out.getvalue(), encoding="utf-8")


def drop_columns(*names):
    def change(header, rows):
        keep = [i for i, h in enumerate(header) if h not in names]
        return [header[i] for i in keep], [[r[i] for i in keep] for r in rows]
    return change


def render(run, config: Path, *extra):
    result = run("render", "--month", "2026-10", "--config", config, *extra)
    out = config.parent / "reports" / "cxtruth-2026-10.pdf"
    return result, out


def test_wrong_decimal_mark_rejects_most_rows_and_nothing_is_scored_from_the_rest(tmp_path, run):
    """A CRM export with decimal commas read with the default decimal point: 549 of 569 rows rejected."""
    config = sample(tmp_path)

    def decimal_commas(header, rows):
        mrr = header.index("mrr")
        for row in rows[20:]:
            row[mrr] = row[mrr].replace(".", ",")
        return header, rows

    rewrite(tmp_path / "data" / "accounts.csv", decimal_commas)

    checked = run("validate", "--config", config)
    assert checked.exit_code == 4, checked.output
    assert re.search(r"^accounts\s+FAILED\s+569 rows,\s+549 rejected", checked.stdout, re.M), checked.stdout
    assert "549 of 569 rows rejected (96.5 %), over max_rejected_share (5 %)" in checked.stdout
    assert re.search(r'549 rows: mrr must be a plain number .*set decimal = "," under \[sources.accounts\]',
                     checked.stdout)
    assert re.search(r"^nps\s+ok\s", checked.stdout, re.M)  # the others still pass

    strict, out = render(run, config, "--strict")
    assert strict.exit_code == 4 and not out.exists()
    assert strict.stderr.startswith("Error: too many rows rejected (--strict): accounts.csv: 549 of 569 rows "
                                    "rejected (96.5 %, over the 5 % limit)")
    assert "Traceback" not in strict.output

    result, out = render(run, config)
    assert result.exit_code == 0, result.output
    assert "Warning: DRAFT: accounts.csv: 549 of 569 rows rejected (96.5 %, over the 5 % limit)" in result.stderr
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["draft"] is True
    [weak] = doc["weakened_sources"]
    assert (weak["source"], weak["rows"], weak["used"], weak["rejected"]) == ("accounts", 569, 20, 549)
    assert weak["max_rejected_share"] == 0.05 and weak["top_reasons"][0]["rows"] == 549
    for key in CHURN_METRICS:
        m = doc["metrics"][key]
        assert (m["value"], m["status"], m["previous"], m["change"]) == (None, "no_data", None, None), key
        assert all(p["value"] is None and p["status"] == "no_data" for p in m["trend"]), key
        assert m["data_quality"]["sources"]["accounts"] == {"rows": 569, "used": 20, "rejected": 549}
        assert m["data_quality"]["reason"] == ("accounts.csv had 549 of 569 rows rejected (96.5 %, over the "
                                               "5 % limit), so the number would rest on 20 rows")
    assert doc["metrics"]["logo_churn"]["churned"] is None and doc["metrics"]["logo_churn"]["base"] is None
    nps = doc["metrics"]["nps"]  # the survey export is fine: scored as before
    assert nps["status"] != "no_data" and nps["data_quality"]["reason"] is None
    assert nps["data_quality"]["sources"] == {"nps": {"rows": 3213, "used": 3209, "rejected": 4}}

    pages = pdf_text_pages(out)
    assert all("DRAFT · " in page for page in pages)  # rows rejected (and stale: its newest kept row is old)
    first = " ".join(pages[0].split())
    assert first.index("Not scored: Logo churn, Revenue (MRR) churn, Feature adoption, Onboarding engagement, "
                       "Time to first value.") < first.index("What is going wrong")
    assert 'set decimal = "," under [sources.accounts]' in first
    scorecard = " ".join(pages[1].split())
    assert "not scored: only 20 of 569 accounts.csv rows usable" in scorecard
    assert "from 3,209 of 3,213 nps.csv rows" in scorecard
    text = " ".join(" ".join(pages).split())
    assert "Not scored: accounts.csv had 549 of 569 rows rejected" in text  # on the metric's card
    assert "Too many rows rejected: this report is a DRAFT" in text  # Appendix B
    assert "549 rows: mrr must be a plain number" in text


def test_a_per_source_gate_lets_a_known_noisy_export_through_but_the_card_says_so(tmp_path, metrics_json):
    config = sample(tmp_path, "[sources.nps]\nmax_rejected_share = 0.5\n")

    def half_broken(header, rows):
        score = header.index("Score")
        for row in rows[::3]:
            row[score] = "n/a"
        return header, rows

    rewrite(tmp_path / "data" / "nps.csv", half_broken)
    doc = metrics_json(config)
    nps = doc["metrics"]["nps"]
    assert nps["status"] != "no_data" and nps["data_quality"]["reason"] is None
    assert nps["data_quality"]["sources"]["nps"]["used"] < 2200
    assert doc["weakened_sources"] == []


def test_no_churn_date_column_is_unknown_not_zero(tmp_path, run):
    """A billing export without churn dates: churn is unknown, not 0 %, on track."""
    config = sample(tmp_path, "[sources.accounts]\nmax_staleness_days = 60\n")  # freshness is not the point here
    rewrite(tmp_path / "data" / "accounts.csv", drop_columns("churn_date"))

    checked = run("validate", "--config", config)
    assert checked.exit_code == 0, checked.output
    assert re.search(r"^accounts\s+ok\s+569 rows,\s+0 rejected", checked.stdout, re.M)
    assert ("note: no churn_date column: Logo churn, Revenue (MRR) churn, Feature adoption will show no data"
            in checked.stdout)

    result, out = render(run, config, "--strict")  # not a draft: the export is read whole
    assert result.exit_code == 0, result.output
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["draft"] is False
    for key in ("logo_churn", "revenue_churn", "feature_adoption"):
        m = doc["metrics"][key]
        assert (m["value"], m["status"]) == (None, "no_data"), key
        assert m["data_quality"]["reason"] == "accounts.csv has no churn_date column, so the value is unknown"
        assert m["data_quality"]["sources"]["accounts"] == {"rows": 569, "used": 569, "rejected": 0}
    assert doc["metrics"]["logo_churn"]["churned"] is None  # not "0 churned"
    for key in ("onboarding_engagement", "time_to_value"):  # need no churn date
        assert doc["metrics"][key]["value"] is not None and doc["metrics"][key]["data_quality"]["reason"] is None

    pages = pdf_text_pages(out)
    assert not any("DRAFT" in page for page in pages)
    first = " ".join(pages[0].split())
    assert "Read this first: some metrics cannot be scored." in first
    assert first.index("Not scored: Logo churn, Revenue (MRR) churn, Feature adoption. accounts.csv has no "
                       "churn_date column, so the value is unknown.") < first.index("What is going wrong")
    assert "not scored: accounts.csv has no churn_date column" in " ".join(pages[1].split())


def test_no_mrr_column_leaves_logo_churn_scored_and_revenue_churn_unknown(tmp_path, run, metrics_json):
    config = sample(tmp_path)
    rewrite(tmp_path / "data" / "accounts.csv", drop_columns("mrr"))
    checked = run("validate", "--config", config)
    assert checked.exit_code == 0
    assert "note: no mrr column: Revenue (MRR) churn will show no data" in checked.stdout
    doc = metrics_json(config)
    revenue, logo = doc["metrics"]["revenue_churn"], doc["metrics"]["logo_churn"]
    assert (revenue["value"], revenue["status"], revenue["base_mrr"]) == (None, "no_data", None)
    assert revenue["data_quality"]["reason"] == "accounts.csv has no mrr column, so the value is unknown"
    assert logo["value"] is not None and logo["status"] != "no_data" and logo["data_quality"]["reason"] is None
    text = run("metrics", "--month", "2026-10", "--config", config).stdout
    assert "Not scored: Revenue (MRR) churn: accounts.csv has no mrr column, so the value is unknown" in text


def test_every_row_rejected_fails_validate_whatever_the_limit(tmp_path, run):
    """Usage events with epoch-second timestamps: every row rejected, even with the gate wide open."""
    config = sample(tmp_path, "[sources.adoption]\nmax_rejected_share = 1.0\n")

    def epoch_seconds(header, rows):
        used = header.index("used_at")
        from datetime import datetime, timezone
        for row in rows:
            row[used] = str(int(datetime.fromisoformat(row[used]).replace(tzinfo=timezone.utc).timestamp()))
        return header, rows

    rewrite(tmp_path / "data" / "adoption.csv", epoch_seconds)
    checked = run("validate", "--config", config)
    assert checked.exit_code == 4
    assert re.search(r"^adoption\s+FAILED\s+47,872 rows,\s+47,872 rejected", checked.stdout, re.M)
    assert "47,872 rows: used_at must be an ISO 8601 date or datetime" in checked.stdout

    result, out = render(run, config)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["draft"] is True
    for key in ("feature_adoption", "onboarding_engagement", "time_to_value"):
        m = doc["metrics"][key]
        assert (m["value"], m["status"]) == (None, "no_data")
        assert m["data_quality"]["reason"] == ("adoption.csv had 47,872 of 47,872 rows rejected (100 %, over "
                                               "the 100 % limit), so the number would rest on 0 rows")
    assert doc["metrics"]["logo_churn"]["status"] != "no_data"  # accounts.csv is fine
    first = " ".join(pdf_text_pages(out)[0].split())
    assert "DRAFT: a source had too many rows rejected" in first
    assert "Not scored: Feature adoption, Onboarding engagement, Time to first value." in first


def test_header_only_accounts_with_usage_events_is_no_data_not_a_crash(tmp_path, run, metrics_json):
    """Issue 18: a header-only accounts.csv beside usage data crashed `metrics` and `render`."""
    config = sample(tmp_path)
    accounts = tmp_path / "data" / "accounts.csv"
    accounts.write_text(accounts.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    doc = metrics_json(config)
    for key in ("logo_churn", "feature_adoption", "onboarding_engagement", "time_to_value"):
        assert (doc["metrics"][key]["value"], doc["metrics"][key]["status"]) == (None, "no_data"), key
    result, out = render(run, config)
    assert result.exit_code == 0 and "Traceback" not in result.output and out.exists()


def test_all_accounts_rows_rejected_with_usage_events_is_no_data_not_a_crash(tmp_path, run):
    config = sample(tmp_path)

    def bad_starts(header, rows):
        start = header.index("start_date")
        for row in rows:
            row[start] = "soon"
        return header, rows

    rewrite(tmp_path / "data" / "accounts.csv", bad_starts)
    result = run("metrics", "--month", "2026-10", "--config", config, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["metrics"]["feature_adoption"]["status"] == "no_data"
    assert "569 of 569 rows rejected (100 %" in doc["metrics"]["feature_adoption"]["data_quality"]["reason"]


def test_the_email_summary_says_what_is_not_scored_and_why(tmp_path):
    from cxtruth.agenda import build_report
    from cxtruth.config import load_config
    from cxtruth.output.email import summary_text
    from cxtruth.months import Month
    from cxtruth.sources import load_sources

    config_path = sample(tmp_path, "[sources.accounts]\nmax_staleness_days = 60\n")
    rewrite(tmp_path / "data" / "accounts.csv", drop_columns("mrr"))
    config = load_config(config_path)
    body = summary_text(build_report(config, load_sources(config), Month.parse("2026-10")), "report.pdf")
    assert ("Not scored this month (the data cannot carry a number):\n"
            "- Revenue (MRR) churn: accounts.csv has no mrr column, so the value is unknown\n") in body
    assert "- Revenue (MRR) churn | no data | No data |" in body


def test_adoption_without_accounts_says_what_its_base_is(tmp_path, run):
    config = sample(tmp_path)
    (tmp_path / "data" / "accounts.csv").unlink()
    result, out = render(run, config, "--format", "html")
    html = (tmp_path / "reports" / "cxtruth-2026-10.html").read_text(encoding="utf-8")
    assert "active accounts are those with a usage event this month: no accounts.csv was read" in html
