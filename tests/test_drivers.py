"""Why it moved (issue 22): the rate/mix decomposition and the accounts behind the numbers,
against numbers worked out by hand."""

from __future__ import annotations

import json

import pytest

from cxtruth.agenda.drivers import NO_SEGMENT, decompose


def _churn(value, base, segments):
    return {"value": value, "base": base, "segments": {k: {"value": v, "base": n} for k, (v, n) in segments.items()}}


def test_rate_and_mix_parts_sum_to_the_change_by_hand():
    # September: SMB 2 of 100 (2 %), ENT 1 of 100 (1 %): 3 of 200 = 1.5 %.
    # October:   SMB 2 of 100 (2 %), ENT 4 of 100 (4 %): 6 of 200 = 3.0 %. Change +1.5 pp.
    # ENT: w0 = w1 = 0.5; rate = (4 - 1) * 0.5 = 1.5; mix = 0. SMB: rate 0, mix 0.
    before = _churn(1.5, 200, {"SMB": (2.0, 100), "ENT": (1.0, 100)})
    now = _churn(3.0, 200, {"SMB": (2.0, 100), "ENT": (4.0, 100)})
    d = decompose(now, before, "base", "proportion")
    assert d.change == pytest.approx(1.5)
    parts = {p.segment: p for p in d.parts}
    assert (parts["ENT"].rate, parts["ENT"].mix) == (pytest.approx(1.5), pytest.approx(0.0))
    assert (parts["SMB"].rate, parts["SMB"].mix) == (pytest.approx(0.0), pytest.approx(0.0))
    assert d.rate + d.mix == pytest.approx(d.change)
    # 1 % -> 4 % of 100 each: z = 0.03 / sqrt(.0099/100 + .0384/100) = 1.37 < 1.96: within noise,
    # so nothing is named although ENT carries all of it.
    assert d.beyond_noise is False and d.named == ()


def test_mix_shift_and_a_named_segment_beyond_noise():
    # September: SMB 10 % of 900, ENT 1 % of 100 -> (90 + 1) / 1000 = 9.1 %.
    # October:   SMB 10 % of 500, ENT 1 % of 500 -> (50 + 5) / 1000 = 5.5 %. Change -3.6 pp, all mix:
    # SMB mix = (0.5 - 0.9) * (10 + 10) / 2 = -4.0; ENT mix = (0.5 - 0.1) * (1 + 1) / 2 = +0.4.
    before = _churn(9.1, 1000, {"SMB": (10.0, 900), "ENT": (1.0, 100)})
    now = _churn(5.5, 1000, {"SMB": (10.0, 500), "ENT": (1.0, 500)})
    d = decompose(now, before, "base", "proportion")
    parts = {p.segment: p for p in d.parts}
    assert parts["SMB"].mix == pytest.approx(-4.0) and parts["SMB"].rate == pytest.approx(0.0)
    assert parts["ENT"].mix == pytest.approx(0.4)
    assert d.mix == pytest.approx(-3.6) and d.rate == pytest.approx(0.0)
    # 9.1 % of 1000 -> 5.5 % of 1000: z = 0.036 / sqrt(.0827/1000 + .0520/1000) = 3.1: beyond noise
    assert d.beyond_noise is True
    assert [p.segment for p in d.named] == ["SMB"]  # -4.0 of -3.6; ENT moved the other way


def test_rows_without_a_segment_are_a_segment_of_their_own():
    # 50 of the 200 accounts have no segment: what remains of the whole is theirs.
    # Before: whole 2 % of 200 (4), SMB 2 % of 150 (3) -> the rest 1 of 50 = 2 %.
    # Now: whole 5 % of 200 (10), SMB 2 % of 150 (3) -> the rest 7 of 50 = 14 %.
    before = _churn(2.0, 200, {"SMB": (2.0, 150)})
    now = _churn(5.0, 200, {"SMB": (2.0, 150)})
    d = decompose(now, before, "base", "proportion")
    parts = {p.segment: p for p in d.parts}
    assert parts[NO_SEGMENT].value_now == pytest.approx(14.0)
    assert parts[NO_SEGMENT].rate == pytest.approx(12.0 * 0.25)
    assert d.rate + d.mix == pytest.approx(3.0)


def test_a_segment_named_like_the_blank_rows_takes_them_in():
    # An export's own segment "(no segment)" of 40 accounts, and 10 with none: one part of 50.
    # Before: whole 4 % of 200 (8), SMB 2 % of 150 (3), "(no segment)" 5 % of 40 (2) -> blank 3 of 10.
    # Now: whole 5 % of 200 (10), SMB 2 % of 150 (3), "(no segment)" 10 % of 40 (4) -> blank 3 of 10.
    before = _churn(4.0, 200, {"SMB": (2.0, 150), NO_SEGMENT: (5.0, 40)})
    now = _churn(5.0, 200, {"SMB": (2.0, 150), NO_SEGMENT: (10.0, 40)})
    d = decompose(now, before, "base", "proportion")
    parts = {p.segment: p for p in d.parts}
    assert (parts[NO_SEGMENT].value_before, parts[NO_SEGMENT].value_now) == (pytest.approx(10.0), pytest.approx(14.0))
    assert sum(p.rate + p.mix for p in d.parts) == pytest.approx(1.0)  # exactly the change


def test_a_segment_new_this_month_moves_the_mix_only():
    before = _churn(2.0, 100, {"SMB": (2.0, 100)})
    now = _churn(3.0, 200, {"SMB": (2.0, 100), "ENT": (4.0, 100)})
    d = decompose(now, before, "base", "proportion")
    ent = {p.segment: p for p in d.parts}["ENT"]
    assert ent.rate == 0.0 and ent.mix == pytest.approx(0.5 * 4.0)
    assert d.rate + d.mix == pytest.approx(1.0)


def test_no_decomposition_without_segments_or_a_previous_value():
    now = _churn(3.0, 200, {"SMB": (2.0, 100)})
    assert decompose(now, None, "base", "proportion") is None
    assert decompose(now, {"value": None, "base": 0, "segments": {}}, "base", "proportion") is None
    assert decompose({"value": 5.0, "n": 3}, {"value": 4.0, "n": 3}, "n", None) is None


def test_the_report_lists_churned_accounts_and_decomposes_in_the_json(handcalc, metrics_json):
    """tests/data/handcalc. Churned in October: a5 (ENT, MRR 300, started 2025-02-01, churned Oct 31:
    637 days = 20.9 months; its last NPS r5 = 8) and a2 (SMB, 200, 2025-03-01 to Oct 15: 593 days =
    19.5 months; r2's last row says 10). No feedback names either."""
    doc = metrics_json(handcalc)
    logo = doc["metrics"]["logo_churn"]
    assert logo["accounts"] == [{"title": "Churned accounts, largest MRR first", "total": 2, "rows": [
        {"account_id": "a5", "segment": "ENT", "mrr": 300.0, "tenure_months": 20.9, "last_nps": 8, "open_feedback": 0},
        {"account_id": "a2", "segment": "SMB", "mrr": 200.0, "tenure_months": 19.5, "last_nps": 10,
         "open_feedback": 0}]}]
    # September: SMB 0 of 2 (a1, a2), ENT 1 of 2 (a3, a5): 25 %. October: SMB 1 of 4 (a1 a2 a6 a7),
    # ENT 1 of 1 (a5): 40 %. SMB: rate 25 * (0.5 + 0.8) / 2 = 16.25, mix (0.8 - 0.5) * 25 / 2 = 3.75;
    # ENT: rate 50 * (0.5 + 0.2) / 2 = 17.5, mix (0.2 - 0.5) * 150 / 2 = -22.5. Sum 15 = the change.
    drivers = logo["drivers"]
    parts = {s["segment"]: (s["rate_effect"], s["mix_effect"]) for s in drivers["segments"]}
    assert parts["SMB"] == (pytest.approx(16.25), pytest.approx(3.75))
    assert parts["ENT"] == (pytest.approx(17.5), pytest.approx(-22.5))
    assert drivers["change"] == pytest.approx(15.0) == pytest.approx(logo["change"])
    assert drivers["beyond_noise"] is False and drivers["named"] == []  # 1 of 4 vs 2 of 5: noise
    assert doc["metrics"]["handoff_quality"]["accounts"][0]["title"] == "Checklist items most often missing"
    oldest = doc["metrics"]["closure_time"]["accounts"][0]
    assert oldest["total"] == doc["metrics"]["closure_time"]["open_backlog"]  # the backlog's own items
    json.dumps(doc, allow_nan=False)  # every value plain JSON


def test_accounts_that_stopped_using_a_feature_by_hand():
    """a2 used reports and api in September, only reports in October: it stopped api. a1 used
    reports both months; a3 used api in September but churned before October (not active)."""
    import pandas as pd

    from cxtruth.agenda.behind import stopped_pairs, stopped_using
    from cxtruth.months import Month

    accounts = pd.DataFrame({"account_id": ["a1", "a2", "a3"], "segment": ["SMB", "ENT", "SMB"],
                             "start_date": pd.to_datetime(["2025-01-01"] * 3),
                             "churn_date": pd.to_datetime([None, None, "2026-09-20"]),
                             "mrr": [100.0, 500.0, 900.0]})
    events = pd.DataFrame({"account_id": ["a1", "a1", "a2", "a2", "a2", "a3"],
                           "feature": ["reports", "reports", "reports", "api", "reports", "api"],
                           "used_at": pd.to_datetime(["2026-09-03", "2026-10-03", "2026-09-05", "2026-09-06",
                                                      "2026-10-07", "2026-09-01"])})
    table = stopped_using(accounts, stopped_pairs(events, ["reports", "api"], Month(2026, 10)), Month(2026, 10))
    assert table.total == 1
    assert table.document()["rows"] == [{"account_id": "a2", "segment": "ENT", "mrr": 500.0, "stopped": ["api"]}]


def test_detractors_by_segment_with_blank_segments_through_the_cli(tmp_path, metrics_json):
    """Blank segments are common in survey exports (read as a category on the typed path): they
    are a row of their own, "(no segment)", not a crash."""
    (tmp_path / "nps.csv").write_text("response_id,account_id,responded_at,score,segment\n"
                                      "r1,A1,2026-10-01,3,SMB\nr2,A2,2026-10-02,9,\nr3,A3,2026-10-03,5,\n"
                                      "r4,A3,2026-10-04,6,\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text('[data]\ndir = "."\n', encoding="utf-8")
    by_segment, repeat = metrics_json(tmp_path / "config.toml")["metrics"]["nps"]["accounts"]
    assert by_segment["rows"] == [
        {"segment": "SMB", "detractors": 1, "responses": 1, "share_pct": 100.0},
        {"segment": "(no segment)", "detractors": 2, "responses": 3, "share_pct": 66.7}]
    assert repeat["rows"] == [{"account_id": "A3", "detractor_responses": 2}]


def test_no_list_behind_a_metric_without_a_number(tmp_path, metrics_json):
    """Usage events end in September: October's adoption has no number (decision 77), so no
    account is listed as having stopped using anything."""
    (tmp_path / "accounts.csv").write_text("account_id,segment,start_date,churn_date,mrr\n"
                                           "a1,SMB,2025-01-01,,10\na2,ENT,2025-01-01,,20\n", encoding="utf-8")
    (tmp_path / "adoption.csv").write_text("account_id,feature,used_at\na1,reports,2026-09-03T10:00:00\n"
                                           "a2,api,2026-09-04T10:00:00\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text('[data]\ndir = "."\n', encoding="utf-8")
    adoption = metrics_json(tmp_path / "config.toml")["metrics"]["feature_adoption"]
    assert (adoption["value"], adoption["accounts"]) == (None, None)
    september = metrics_json(tmp_path / "config.toml", "2026-09")["metrics"]["feature_adoption"]
    assert september["value"] == 50.0 and september["accounts"][0]["total"] == 0
