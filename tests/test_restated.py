"""Restated months (issue 22, item 4): an earlier month whose value, computed again from
today's exports, is not what its report printed, beyond noise (docs/metrics.md, "Restated months")."""

import json
import math

import pytest

from conftest import pdf_text_pages
from cxtruth.agenda.restated import restatement
from cxtruth.config import load_config
from cxtruth.metrics import declared
from cxtruth.months import Month
from cxtruth.records import Printed

SEPT = Month(2026, 9)


def _nps_rows(start: int, scores: list[int], day: str = "2026-09-10") -> str:
    return "".join(f"s{start + i},,{day},{score},,SMB\n" for i, score in enumerate(scores))


@pytest.fixture
def sept(handcalc):
    """The hand-calculated exports with 100 September responses: 50 promoters, 40 passives,
    10 detractors (NPS 40.0); September's report rendered (HTML: the run record is the same)."""
    nps = handcalc.parent / "nps.csv"
    nps.write_text("response_id,account_id,responded_at,score,comment,segment\n"
                   + _nps_rows(0, [10] * 50 + [8] * 40 + [3] * 10), encoding="utf-8")
    return handcalc


def _render(run, config, month, fmt="html"):
    result = run("render", "--month", month, "--config", config, "--format", fmt, "-q")
    assert result.exit_code == 0, result.output
    return config.parent / "reports" / f"cxtruth-{month}.{fmt}"


def _add_nps(config, scores, start=1000):
    with (config.parent / "nps.csv").open("a", encoding="utf-8") as handle:
        handle.write(_nps_rows(start, scores))


# -- the noise rule, by hand ---------------------------------------------------------------

@pytest.fixture(scope="module")
def declarations():
    from pathlib import Path
    return declared(load_config(Path(__file__).parent / "data" / "handcalc" / "config.toml"))


def test_nps_late_responses_beyond_noise_by_hand(declarations):
    # Printed: 100 responses, 50 P, 10 D -> 40.0. Now 20 late detractors: 120, 50 P, 30 D -> 16.67.
    # sd = 100 * sqrt(p + d - (p - d)^2) with p = 50/120, d = 30/120: 100 * sqrt(0.6667 - 0.02778) = 79.93
    # SE of the difference (nested samples) = 79.93 * sqrt(1/100 - 1/120) = 79.93 * 0.040825 = 3.263
    # 1.96 * SE = 6.396 < |16.67 - 40.0| = 23.33: restated.
    now = {"value": 100 * 20 / 120, "n": 120, "promoters": 50, "detractors": 30}
    r = restatement(declarations["nps"], SEPT, Printed(40.0, 100), now)
    assert r is not None
    assert r.beyond == pytest.approx(23.3333 / 6.396, rel=1e-3)
    assert r.sentence == ("September 2026 Net Promoter Score was presented as 40.0; it is now 16.7 — "
                          "20 responses arrived late")


def test_nps_late_responses_within_noise_by_hand(declarations):
    # 5 late responses (2 P, 1 D, 2 passives): 105, 52 P, 11 D -> 39.05 (prints 39.0, not 40.0).
    # p = .4952, d = .1048: sd = 100 * sqrt(.6 - .1524) = 66.90; SE = 66.90 * sqrt(1/100 - 1/105) = 1.460
    # 1.96 * SE = 2.86 > 0.95: within noise, not listed.
    now = {"value": 100 * 41 / 105, "n": 105, "promoters": 52, "detractors": 11}
    assert restatement(declarations["nps"], SEPT, Printed(40.0, 100), now) is None
    se = 100 * math.sqrt(52 / 105 + 11 / 105 - (41 / 105) ** 2) * math.sqrt(1 / 100 - 1 / 105)
    assert 1.96 * se == pytest.approx(2.862, abs=0.002)


def test_same_sample_any_printed_change_is_a_restatement(declarations):
    # A corrected export: the same 100 responses, one score changed: 40.0 -> 39.0.
    now = {"value": 39.0, "n": 100, "promoters": 49, "detractors": 10}
    r = restatement(declarations["nps"], SEPT, Printed(40.0, 100), now)
    assert r is not None and r.reason == "the same 100 responses: an export was corrected"
    # ... but not when the printed figure (0.1) is the same.
    assert restatement(declarations["nps"], SEPT, Printed(40.0, 100), {**now, "value": 40.04}) is None


def test_number_to_no_data_and_back_is_always_restated(declarations):
    gone = restatement(declarations["nps"], SEPT, Printed(40.0, 100), {"value": None, "n": 0})
    assert gone.sentence == "September 2026 Net Promoter Score was presented as 40.0; it has no data now"
    back = restatement(declarations["nps"], SEPT, Printed(None, 0), {"value": 40.0, "n": 3, "promoters": 2,
                                                                     "detractors": 1})
    assert back.sentence == "September 2026 Net Promoter Score was presented as no data; it is now 40.0"
    assert restatement(declarations["nps"], SEPT, Printed(None, 0), {"value": None, "n": 0}) is None


def test_binomial_rate_by_hand(declarations):
    # Logo churn printed 2.0 % of 500; now 2.2 % of 505 (5 accounts added to the base late).
    # sd = sqrt(2.2 * 97.8) = 14.668; SE = 14.668 * sqrt(1/500 - 1/505) = 0.06527; 1.96 SE = 0.128 < 0.2.
    r = restatement(declarations["logo_churn"], SEPT, Printed(2.0, 500), {"value": 2.2, "base": 505})
    assert r is not None and r.beyond == pytest.approx(0.2 / 0.12793, rel=1e-3)
    assert r.reason == "5 accounts in the base arrived late"
    # 2.0 -> 2.1 on the same growth is within noise (0.1 < 0.128).
    assert restatement(declarations["logo_churn"], SEPT, Printed(2.0, 500), {"value": 2.1, "base": 505}) is None


def test_median_beyond_printed_precision(declarations):
    # A median has no sampling model here: any change of the printed figure is listed.
    r = restatement(declarations["closure_time"], SEPT, Printed(6.43, 113), {"value": 6.61, "n": 120})
    assert r.sentence == ("September 2026 Feedback loop closure time was presented as 6.4 d; it is now 6.6 d — "
                          "7 items closed arrived late")
    assert restatement(declarations["closure_time"], SEPT, Printed(6.43, 113), {"value": 6.44, "n": 120}) is None


# -- through the real CLI ------------------------------------------------------------------

def test_late_responses_restate_september(run, sept, metrics_json):
    _render(run, sept, "2026-09")
    record = json.loads((sept.parent / "reports" / "cxtruth-2026-09.run.json").read_text())
    assert record["printed"]["nps"] == {"value": 40.0, "sample": 100}
    _add_nps(sept, [3] * 20)  # 20 detractors for September arrive after its report
    html = _render(run, sept, "2026-10").read_text(encoding="utf-8")
    doc = json.loads((sept.parent / "reports" / "cxtruth-2026-10.json").read_text())
    [r] = doc["metrics"]["nps"]["restated"]
    assert r["month"] == "2026-09" and r["printed"] == 40.0
    assert r["now"] == pytest.approx(100 * 20 / 120)
    assert (r["sample"], r["sample_printed"], r["sample_now"]) == ("n", 100, 120)
    assert r["reason"] == "20 responses arrived late"
    sentence = "September 2026 Net Promoter Score was presented as 40.0; it is now 16.7 — 20 responses arrived late"
    assert r["text"] == sentence
    assert sentence in html
    assert 'id="nps-restated-' in html  # the ring on September's point
    assert "ringed, marked r = restated" in html
    assert all(doc["metrics"][k]["restated"] == [] for k in doc["metrics"] if k != "nps")
    # `metrics --json` reads the same records.
    assert metrics_json(sept)["metrics"]["nps"]["restated"] == doc["metrics"]["nps"]["restated"]


def test_nothing_changed_nothing_restated(run, sept, metrics_json):
    _render(run, sept, "2026-09")
    html = _render(run, sept, "2026-10").read_text(encoding="utf-8")
    doc = metrics_json(sept)
    assert all(entry["restated"] == [] for entry in doc["metrics"].values())
    assert 'id="nps-restated-' not in html and "Restated:" not in html and "Restated since" not in html


def test_late_responses_within_noise_not_listed(run, sept, metrics_json):
    _render(run, sept, "2026-09")
    _add_nps(sept, [10, 10, 3, 8, 8])  # 39.05: prints differently, but well within noise
    assert metrics_json(sept)["metrics"]["nps"]["restated"] == []


def test_corrected_crm_row_restates_logo_churn(run, sept, metrics_json):
    _render(run, sept, "2026-09")
    accounts = sept.parent / "accounts.csv"
    # September's base: a1, a2, a3, a5 (4); churned a3: 25.0 %. a5's churn date was wrong: September.
    accounts.write_text(accounts.read_text().replace("a5,ENT,2025-02-01,2026-10-31", "a5,ENT,2025-02-01,2026-09-15"))
    [r] = metrics_json(sept)["metrics"]["logo_churn"]["restated"]
    assert (r["month"], r["printed"], r["now"], r["sample_printed"], r["sample_now"]) == ("2026-09", 25.0, 50.0, 4, 4)
    assert r["text"] == ("September 2026 Logo churn was presented as 25.0 %; it is now 50.0 % — "
                         "the same 4 accounts in the base: an export was corrected")


@pytest.mark.parametrize("damage", ["missing", "corrupt", "not_a_record", "bad_entries", "old_record"])
def test_missing_or_damaged_record_claims_nothing(run, sept, metrics_json, damage):
    _render(run, sept, "2026-09")
    record = sept.parent / "reports" / "cxtruth-2026-09.run.json"
    if damage == "missing":
        record.unlink()
        (sept.parent / "reports" / "cxtruth-2026-09.json").unlink()
    elif damage == "corrupt":
        record.write_text('{"cxtruth": "0.', encoding="utf-8")
    elif damage == "not_a_record":
        record.write_text("[1, 2, 3]", encoding="utf-8")
    else:
        raw = json.loads(record.read_text())
        if damage == "bad_entries":
            raw["printed"] = {"nps": {"value": "40.0", "sample": 100}, "logo_churn": [25.0],
                              "closure_time": {"value": float("nan")}, "csat": None}
            record.write_text(json.dumps(raw), encoding="utf-8")
        else:
            del raw["printed"]  # written by a version that did not keep it
            record.write_text(json.dumps(raw), encoding="utf-8")
    _add_nps(sept, [3] * 20)
    _render(run, sept, "2026-10")
    doc = metrics_json(sept)
    assert all(entry["restated"] == [] for entry in doc["metrics"].values())


def test_pdf_card_and_first_page_name_the_restated_month(run, sept):
    _render(run, sept, "2026-09")
    _add_nps(sept, [3] * 20)
    pages = pdf_text_pages(_render(run, sept, "2026-10", fmt="pdf"))
    assert "Restated since printed: Net Promoter Score (September 2026)" in pages[0]
    card = next(p for p in pages if "was presented as 40.0" in p)
    assert "Net Promoter Score" in card and "20 responses arrived" in card
