"""Every formula of DATA_CONTRACT.md §3 against numbers worked out by hand.

The fixture (tests/data/handcalc) is in America/New_York; the comments give
the arithmetic so each expected value can be checked without running code.
"""

import math

import pytest

from cxtruth.metrics import MetricInputs, compute_month, compute_months
from cxtruth.config import Config
from cxtruth.months import Month

CONTRACT_KEYS = {"nps", "logo_churn", "revenue_churn", "feature_adoption", "handoff_quality",
                 "closure_time", "onboarding_engagement", "time_to_value", "feature_awareness"}


@pytest.fixture
def doc(handcalc, metrics_json):
    return metrics_json(handcalc)


def test_document_shape(doc):
    assert doc["month"] == "2026-10"
    assert doc["timezone"] == "America/New_York"
    assert set(doc["metrics"]) == CONTRACT_KEYS
    for entry in doc["metrics"].values():
        for key in ("value", "status", "owner", "consulted", "target", "warn", "direction", "previous", "change"):
            assert key in entry


def test_nps(doc):
    nps = doc["metrics"]["nps"]
    # October (New York): r1 10, r2 10 (last row wins), r3 9 (03:30Z Nov 1 = 23:30 Oct 31 local),
    # r5 8, r6 6, r7 3, r8 9 ("9.0"), r10 7, r11 2 (23:59 naive). r4 is Sep 30 local; r9 (9.5) rejected;
    # r12 (naive Nov 1 00:00) is November.
    assert (nps["n"], nps["promoters"], nps["passives"], nps["detractors"]) == (9, 4, 2, 3)
    assert nps["value"] == pytest.approx(100 * (4 - 3) / 9)
    p, d = 4 / 9, 3 / 9
    assert nps["margin_of_error"] == pytest.approx(196 * math.sqrt((p + d - (p - d) ** 2) / 9))
    assert nps["margin_of_error"] == pytest.approx(57.1595, abs=1e-4)
    assert nps["previous"] == -100.0  # September: r4 alone, a 0
    assert nps["change"] == pytest.approx(111.111, abs=1e-3)
    assert nps["low_sample"] is True  # 9 < min_sample 30
    # se now = 100*sqrt(0.765432/9) = 29.16; se prev = 0 (one detractor); 111.1 > 1.96*29.16
    assert nps["change_significant"] is True
    assert nps["segments"]["SMB"] == pytest.approx({"value": 100 * (3 - 2) / 6, "n": 6,
                                                    "margin_of_error": nps["segments"]["SMB"]["margin_of_error"]})
    assert nps["segments"]["ENT"]["value"] == 0.0 and nps["segments"]["ENT"]["n"] == 3
    assert nps["status"] == "off_track"  # 11.1 < warn 25


def test_churn(doc):
    logo, revenue = doc["metrics"]["logo_churn"], doc["metrics"]["revenue_churn"]
    # Base: started before Oct 1, not churned before it: a1, a2, a5, a6, a7 (a3 churned Sep 30,
    # a4 started Oct 1). Churned in October: a2 (Oct 15), a5 (Oct 31).
    assert (logo["churned"], logo["base"]) == (2, 5)
    assert logo["value"] == pytest.approx(40.0)
    assert logo["segments"] == {"ENT": {"value": 100.0, "base": 1}, "SMB": {"value": 25.0, "base": 4}}
    assert logo["previous"] == pytest.approx(25.0)  # Sep base a1 a2 a3 a5; a3 churned
    # MRR: base 100+200+300+50+0 (blank) = 650; churned 200+300 = 500
    assert (revenue["churned_mrr"], revenue["base_mrr"]) == (500.0, 650.0)
    assert revenue["value"] == pytest.approx(100 * 500 / 650)
    assert revenue["previous"] == pytest.approx(100 * 1000 / 1600)


def test_feature_adoption(doc):
    fa = doc["metrics"]["feature_adoption"]
    # Active in Oct: a1 a2 a4 a5 a6 a7 (6). reports: a1 a2 a7 -> 50 %; alerts: a4 -> 16.7 %.
    # a3's event does not count (churned Sep 30); a9 is unknown; dashboards is not tracked.
    assert fa["active_accounts"] == 6
    assert fa["per_feature"] == pytest.approx({"reports": 50.0, "alerts": 100 / 6})
    assert fa["value"] == pytest.approx((50.0 + 100 / 6) / 2)
    # SMB a1 a2 a6 a7: reports 3/4, alerts 0 -> 37.5; ENT a4 a5: reports 0, alerts 1/2 -> 25
    assert fa["segments"] == {"ENT": {"value": 25.0, "n": 2}, "SMB": {"value": 37.5, "n": 4}}


def test_handoff_quality(doc):
    hq = doc["metrics"]["handoff_quality"]
    # h1 5/5, h2 2/5 (Y, TRUE), h4 3/5; h3 rejected (handoff before closed-won); h5 is September.
    assert hq["n"] == 3
    assert hq["value"] == pytest.approx((100 + 40 + 60) / 3)
    assert hq["mean_csm_rating"] == pytest.approx(4.0)  # (5 + 3) / 2, h4 blank
    assert hq["within_sla_pct"] == pytest.approx(200 / 3)  # lags 4, 8, 5 days vs SLA 5


def test_closure_time(doc):
    ct = doc["metrics"]["closure_time"]
    # Closed in Oct: f1 2.5 d, f2 20 d, f3 1 d. f6 rejected (closed before received).
    assert ct["n"] == 3
    assert ct["value"] == 2.5
    assert ct["p90_days"] == pytest.approx(2.5 + 0.8 * 17.5)  # linear interpolation at rank 1.8
    assert ct["within_sla_pct"] == pytest.approx(200 / 3)
    # Open at Nov 1: f4, f5 (closed Nov 5), f7 (22:00-04:00 = Oct 31 22:00 local)
    assert ct["open_backlog"] == 3
    assert ct["oldest_open_days"] == 92.0  # f5 received Aug 1
    assert ct["previous"] is None and ct["change"] is None  # nothing closed in September


def test_onboarding_engagement(doc):
    oe = doc["metrics"]["onboarding_engagement"]
    # Cohort: started in September: a6 (5 distinct days in its first 30), a7 (2 days; Oct 25 is outside)
    assert (oe["cohort"], oe["engaged"]) == (2, 1)
    assert oe["value"] == 50.0
    assert oe["status"] == "at_risk"  # exactly at warn 50 counts as at risk


def test_time_to_value(doc):
    ttv = doc["metrics"]["time_to_value"]
    # First value in Oct: a4 Oct 2 10:00 from Oct 1 (1.4167 d), a3 Oct 2 10:00 from 2025-06-01
    # (488.4167 d), a2 Oct 5 10:00 from 2025-03-01 (583.4167 d).
    assert ttv["n"] == 3
    assert ttv["value"] == pytest.approx(488 + 10 / 24)
    assert ttv["p90_days"] == pytest.approx(488 + 10 / 24 + 0.8 * 95)
    assert ttv["previous"] == pytest.approx(1 + 9 / 24)  # Sep: a6 0.375, a7 1.375, a1 628.4


def test_feature_awareness(doc):
    aw = doc["metrics"]["feature_awareness"]
    # w1 alerts yes, w1 api no, w2 alerts yes (repeat: last row wins); w3 "maybe" and w4 blank rejected
    assert aw["n"] == 3
    assert aw["per_feature"] == {"alerts": 100.0, "api": 0.0}
    assert aw["value"] == 50.0


def test_data_quality_names_each_row(doc):
    dq = doc["data_quality"]
    assert dq["rejected_rows"] == 7
    found = {(i["file"], i["line"], i["column"], i["value"]) for i in dq["issues"]}
    assert found == {
        # r1's comment spans two text lines but is one spreadsheet row, so r2 is line 3
        ("nps.csv", 3, "response_id", "r2"),
        ("nps.csv", 10, "score", "9.5"),
        ("handoffs.csv", 4, "handoff_at", "2026-10-08"),
        ("feedback.csv", 7, "closed_at", "2026-10-09 00:00"),
        ("awareness.csv", 4, "response_id", "w2"),
        ("awareness.csv", 6, "aware", "maybe"),
        ("awareness.csv", 7, "aware", ""),
    }


def test_empty_month_is_null_not_zero(handcalc, metrics_json):
    doc = metrics_json(handcalc, "2024-01")
    for key, entry in doc["metrics"].items():
        assert entry["value"] is None, key
        assert entry["status"] == "no_data", key
    assert doc["metrics"]["nps"]["n"] == 0


def test_missing_source_is_no_data(handcalc, metrics_json):
    (handcalc.parent / "feedback.csv").unlink()
    doc = metrics_json(handcalc)
    assert doc["metrics"]["closure_time"]["value"] is None
    assert doc["metrics"]["closure_time"]["status"] == "no_data"
    assert doc["data_quality"]["sources"]["feedback"]["status"] == "absent"


def test_library_api_matches_cli(handcalc, doc):
    """The pure core gives the same numbers without the CLI."""
    from cxtruth.sources import load_sources

    config = Config.from_file(handcalc)
    sources = load_sources(config)
    inputs = MetricInputs.from_frames(config, {k: sources.frame(k) for k in sources.results})
    month = compute_month(inputs, Month(2026, 10))
    for key in CONTRACT_KEYS:
        assert month[key]["value"] == pytest.approx(doc["metrics"][key]["value"]), key


def test_usage_months_outside_the_window(handcalc):
    """A month beyond every usage event is one the export does not cover: no data, not 0 %
    (decision 77), though accounts without a churn date are still active then. The months
    with events keep their numbers."""
    from cxtruth.sources import load_sources

    config = Config.from_file(handcalc)
    sources = load_sources(config)
    inputs = MetricInputs.from_frames(config, {k: sources.frame(k) for k in sources.results})
    for month in (Month(2031, 1), Month(2026, 8)):  # after every event, before the first
        adoption = compute_month(inputs, month)["feature_adoption"]
        assert (adoption["value"], adoption["active_accounts"], adoption["per_feature"]) == (None, None, {})
        assert compute_month(inputs, month)["onboarding_engagement"]["value"] is None
    assert compute_month(inputs, Month(2026, 10))["feature_adoption"]["value"] is not None


def test_a_usage_export_without_rows_is_no_data_not_zero(tmp_path, metrics_json):
    """adoption.csv with its header only, beside accounts that are active: adoption and
    onboarding have no number (they would read 0 % off track, resting on nothing)."""
    (tmp_path / "accounts.csv").write_text("account_id,segment,start_date,churn_date,mrr\n"
                                           "a1,SMB,2025-01-01,,10\na2,SMB,2026-09-10,,10\n", encoding="utf-8")
    (tmp_path / "adoption.csv").write_text("account_id,feature,used_at\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text('[data]\ndir = "."\n', encoding="utf-8")
    doc = metrics_json(tmp_path / "config.toml")
    for key in ("feature_adoption", "onboarding_engagement", "time_to_value"):
        assert (doc["metrics"][key]["value"], doc["metrics"][key]["status"]) == (None, "no_data"), key


def test_cohort_and_first_value_edges(tmp_path, metrics_json):
    """Cohort month edges, the 30-day window's open end, first value on the start day."""
    (tmp_path / "accounts.csv").write_text(
        "account_id,segment,start_date,churn_date,mrr\n"
        "b1,,2026-09-01,,\n"  # first day of the cohort month
        "b2,,2026-09-30,,\n"  # last day of it
        "b3,,2026-08-31,,\n"  # a day early: not in the cohort
        "b4,,2026-10-01,,\n"  # a day late: not in the cohort; reaches value on its start day
        "b5,,2026-09-15,,\n"
        "b6,,2026-10-05,,\n", encoding="utf-8")
    (tmp_path / "adoption.csv").write_text(
        "account_id,feature,used_at\n"
        # b1: 5 distinct days in [Sep 1, Oct 1): engaged
        "b1,reports,2026-09-01T00:00:00\nb1,reports,2026-09-02T10:00:00\nb1,reports,2026-09-03T10:00:00\n"
        "b1,reports,2026-09-04T10:00:00\nb1,reports,2026-09-30T23:59:00\n"
        # b2: Oct 30 00:00 is start + 30 days exactly, outside the window: 4 days, not engaged
        "b2,reports,2026-09-30T08:00:00\nb2,reports,2026-10-01T08:00:00\nb2,reports,2026-10-02T08:00:00\n"
        "b2,reports,2026-10-03T08:00:00\nb2,reports,2026-10-30T00:00:00\n"
        # b5: the day before its start does not count; two events on one day count once: 4 days
        "b5,reports,2026-09-14T08:00:00\nb5,reports,2026-09-15T08:00:00\nb5,reports,2026-09-15T18:00:00\n"
        "b5,reports,2026-09-16T08:00:00\nb5,reports,2026-09-17T08:00:00\nb5,reports,2026-09-18T08:00:00\n"
        # first value in October: b4 0.25 d (its start day), b6 5.5 d (an event before its start is ignored)
        "b4,reports,2026-10-01T06:00:00\nb6,reports,2026-10-04T12:00:00\nb6,reports,2026-10-10T12:00:00\n",
        encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[report]\ntimezone = "UTC"\n[data]\ndir = "."\n', encoding="utf-8")
    doc = metrics_json(config)
    oe = doc["metrics"]["onboarding_engagement"]
    assert (oe["cohort"], oe["engaged"]) == (3, 1)
    assert oe["value"] == pytest.approx(100 / 3)
    assert oe["low_sample"] is True  # 3 < the default minimum of 10
    ttv = doc["metrics"]["time_to_value"]
    assert ttv["n"] == 2 and ttv["value"] == pytest.approx((0.25 + 5.5) / 2)


def test_feature_adoption_without_accounts(handcalc, metrics_json):
    """Without accounts.csv the active accounts of M are those with any event in M (any feature)."""
    (handcalc.parent / "accounts.csv").unlink()
    fa = metrics_json(handcalc)["metrics"]["feature_adoption"]
    # October (New York) events: a1 reports x2, a2 reports, a4 alerts, a3 reports, a7 reports,
    # a9 dashboards (not tracked, but it makes a9 active): 6 active accounts. a1's alerts event
    # is Sep 30. reports: a1 a2 a3 a7 -> 4/6; alerts: a4 -> 1/6.
    assert fa["active_accounts"] == 6
    assert fa["per_feature"] == pytest.approx({"reports": 400 / 6, "alerts": 100 / 6})
    assert fa["segments"] == {}  # segments come from accounts.csv
    # September: a1 alerts (Sep 30 10:00 New York), a6 x5, a7 x2 -> 3 active; reports a6 a7, alerts a1 a6
    assert fa["previous"] == pytest.approx((200 / 3 + 200 / 3) / 2)


def test_thousands_of_tracked_features(tmp_path, metrics_json):
    """Every feature seen is tracked by default, and product analytics name thousands of
    events: 2,000 features, each used by one of 10 active accounts in October, are 10 % each."""
    (tmp_path / "accounts.csv").write_text("account_id,segment,start_date,churn_date,mrr\n" + "".join(
        f"a{i},SMB,2025-01-01,,10\n" for i in range(10)), encoding="utf-8")
    (tmp_path / "adoption.csv").write_text("account_id,feature,used_at\n" + "".join(
        f"a{i % 10},event_{i},2026-10-{1 + i % 28:02d}T10:00:00\n" for i in range(2000)), encoding="utf-8")
    (tmp_path / "config.toml").write_text('[data]\ndir = "."\n', encoding="utf-8")
    doc = metrics_json(tmp_path / "config.toml")
    adoption = doc["metrics"]["feature_adoption"]
    assert adoption["value"] == pytest.approx(10.0) and adoption["active_accounts"] == 10
    assert len(adoption["per_feature"]) == 2000
    assert doc["metrics"]["time_to_value"]["n"] == 10  # the value features default to the same 2,000


def test_onboarding_asks_for_events_in_the_month_before_whichever_months_are_computed(tmp_path):
    """Usage events start in October, so September's cohort has only half of its 30 days
    covered: October has no engagement number, whether it is computed alone, after September,
    or as the oldest point of a 13-month trend (the month before the window is counted too)."""
    (tmp_path / "accounts.csv").write_text("account_id,segment,start_date,churn_date,mrr\n"
                                           "a1,SMB,2026-09-20,,10\na2,SMB,2026-09-25,,10\n", encoding="utf-8")
    (tmp_path / "adoption.csv").write_text("account_id,feature,used_at\n" + "".join(
        f"a1,reports,2026-10-{d:02d}T10:00:00\n" for d in range(1, 8)) + "a1,reports,2027-10-01T10:00:00\n",
        encoding="utf-8")
    (tmp_path / "config.toml").write_text('[data]\ndir = "."\n', encoding="utf-8")
    from cxtruth.sources import load_sources

    config = Config.from_file(tmp_path / "config.toml")
    sources = load_sources(config)
    inputs = MetricInputs.from_frames(config, {k: sources.frame(k) for k in sources.results})
    october = Month(2026, 10)
    alone = compute_month(inputs, october)["onboarding_engagement"]["value"]
    after_september = compute_months(inputs, [Month(2026, 9), october])[october]["onboarding_engagement"]["value"]
    oldest = compute_months(inputs, [october.shift(i) for i in range(13)])[october]["onboarding_engagement"]["value"]
    assert alone is None and after_september is None and oldest is None
