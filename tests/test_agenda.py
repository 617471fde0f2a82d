"""Issue #3 end to end: an export set built here (not the sample), rendered and read back.

It holds segments that differ beyond noise, hostile comments and an action
ledger with overdue, due, done and dropped items, as a new user's would.
"""

import csv
import json
import re
from datetime import date

import pandas as pd
import pytest
from pypdf import PdfReader

from conftest import pdf_text_pages
from cxtruth.agenda.ledger import build_ledger, ledger_as_of
from cxtruth.months import Month
from cxtruth.agenda.segments import wilson_interval, worst_segment

EPOCH_2026_11_03 = "1793692800"  # 2026-11-03 08:00 UTC: the cron run after October

HOSTILE = [
    '<img src="file:///etc/passwd">',
    '<link rel="attachment" href="file:///etc/hostname">',
    "{{ 7*7 }} and {% raw %}",
    '=HYPERLINK("http://attacker.invalid/x","click")',
    "<script>alert('x')</script>",
    "Line one\nline two, \"quoted\"",
    "مرحبا — works in Arabic too 🙂",
]


def write_csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_exports(tmp_path):
    """A survey export and an action list in a folder of their own, plus config."""
    nps = []
    # October: ENT 30 responses (5 promoters, 5 passives, 20 detractors), SMB 30 (20 / 8 / 2).
    for i in range(30):
        score = 10 if i < 5 else 7 if i < 10 else 2
        comment = HOSTILE[i - 21] if 21 <= i < 21 + len(HOSTILE) else ("Slow support" if 10 <= i < 15 else "")
        nps.append((f"e{i}", f"E{i}", f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00Z", score, comment, "ENT"))
    for i in range(30):
        score = 9 if i < 20 else 8 if i < 28 else 0
        nps.append((f"s{i}", f"S{i}", f"2026-10-{1 + i % 28:02d}T12:{i:02d}:00Z", score,
                    "Love the dashboards" if i < 4 else "", "SMB"))
    nps.append(("long", "E99", "2026-10-29T09:00:00Z", 1, "x" * 2000, "ENT"))
    for i in range(40):  # September: NPS 50 (25 promoters, 5 detractors)
        nps.append((f"p{i}", f"S{i}", "2026-09-15", 10 if i < 25 else 8 if i < 35 else 5, "", "SMB"))
    write_csv(tmp_path / "nps.csv", ["response_id", "account_id", "responded_at", "score", "comment", "segment"], nps)
    write_csv(tmp_path / "actions.csv", ["action_id", "title", "owner", "metric", "opened", "due", "status", "closed"], [
        ("A-1", "Call back every detractor <b>within</b> 48h", "Support", "closure_time", "2026-09-01", "2026-10-20", "open", ""),
        ("A-2", "Fix the export bug", "Product", "feature_adoption", "2026-09-01", "2026-11-20", "open", ""),
        ("A-3", "SMB playbook", "Customer Success", "logo_churn", "2026-08-01", "2026-10-10", "done", "2026-10-15"),
        ("A-4", "Closed after the meeting", "Product", "", "2026-09-01", "2026-10-25", "done", "2026-11-10"),
        ("A-5", "Dropped idea", "Sales", "", "2026-09-01", "2026-10-25", "dropped", "2026-10-26"),
        ("A-6", "Old and done", "Sales", "", "2026-01-01", "2026-02-01", "done", "2026-02-01"),
        ("A-7", "Opened after the meeting", "Sales", "", "2026-11-10", "2026-12-01", "open", ""),
    ])
    config = tmp_path / "config.toml"
    config.write_text('[report]\ncompany = "Hostile Co"\ntimezone = "UTC"\n\n[data]\ndir = "."\n', encoding="utf-8")
    return config


@pytest.fixture
def exports(tmp_path):
    return write_exports(tmp_path)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from click.testing import CliRunner

    from cxtruth.cli import cli

    exports = write_exports(tmp_path_factory.mktemp("exports"))
    out = exports.parent / "out" / "agenda.pdf"
    result = CliRunner().invoke(cli, ["render", "--month", "2026-10", "--config", str(exports), "--out", str(out)],
                                env={"SOURCE_DATE_EPOCH": EPOCH_2026_11_03})
    assert result.exit_code == 0, result.output
    pages = [re.sub(r"\s+", " ", p) for p in pdf_text_pages(out)]
    assert not PdfReader(out).attachments  # a <link rel="attachment"> in a comment attaches nothing
    return json.loads(out.with_suffix(".json").read_text(encoding="utf-8")), pages


def test_json_carries_segments_worst_segment_and_significance(rendered):
    doc, _ = rendered
    nps = doc["metrics"]["nps"]
    # 25 promoters, 23 detractors of 61 (the long comment is a detractor): 100 * 2 / 61
    assert nps["n"] == 61 and nps["value"] == pytest.approx(200 / 61)
    assert nps["previous"] == pytest.approx(50.0)
    assert nps["change_significant"] is True
    assert nps["segments"]["ENT"]["n"] == 31
    worst = nps["worst_segment"]
    # ENT: 5 P, 21 D of 31 -> -51.6; its ±26.6 interval excludes the overall 3.3
    assert worst["segment"] == "ENT" and worst["beyond_noise"] is True
    assert worst["value"] == pytest.approx(100 * (5 - 21) / 31)
    assert nps["no_owner_action"] is True and nps["open_actions"] == []


def test_json_action_ledger(rendered):
    doc, _ = rendered
    ledger = doc["actions"]
    assert ledger["as_of"] == "2026-11-03" and ledger["next_session"] == "2026-12-03"
    ids = {k: [a["action_id"] for a in v] for k, v in ledger.items() if isinstance(v, list)}
    assert ids["overdue"] == ["A-1", "A-4"]  # A-4 was closed only after the ledger's day
    assert ids["due_before_next_session"] == ["A-2"]
    assert ids["done_since_last_session"] == ["A-3"]
    assert ids["dropped_since_last_session"] == ["A-5"]
    assert "A-6" not in str(ids) and "A-7" not in str(ids)  # long done; not yet opened
    assert doc["metrics"]["closure_time"]["open_actions"] == ["A-1"]


def test_first_page_answers_what_is_wrong_and_who_owns_it(rendered):
    _, pages = rendered
    cover = pages[0]
    assert "What is going wrong, and who owns it" in cover
    assert "Net Promoter Score" in cover and "Owner: CX Leadership" in cover
    assert "No owner action" in cover
    assert "Overdue actions (2)" in cover
    assert "A-1 Call back every detractor <b>within</b> 48h" in cover
    assert "14 days overdue" in cover  # due Oct 20, ledger read Nov 3


def test_pdf_shows_margin_significance_worst_segment_and_owners_ledger(rendered):
    _, pages = rendered
    text = " ".join(pages)
    assert "margin of error ±" in text
    assert "statistically significant" in text
    assert "Worst segment: ENT" in text and "beyond noise" in text
    support = next(p for p in pages if re.search(r"Support Owns \d+ metric", p))
    assert "Overdue (1)" in support and "A-1" in support


def test_comments_are_literal_newest_first_and_capped(rendered):
    _, pages = rendered
    text = " ".join(pages)
    for comment in HOSTILE[:5]:
        assert comment in text, comment
    assert "attacker.invalid" in text
    assert "shortened; 2,000 characters in full" in text
    # 22 detractors with comments (incl. the long one); 8 shown, newest first, the rest counted
    assert "WHAT DETRACTORS WROTE (13 COMMENTS, NEWEST FIRST)" in text  # headings print in capitals
    assert "… and 5 more detractor comments" in text
    shown = re.findall(r"score (\d+) · (2026-10-\d\d)", text)
    detractor_dates = [d for s, d in shown if int(s) <= 6]
    assert detractor_dates == sorted(detractor_dates, reverse=True)
    assert "WHAT PROMOTERS WROTE (4; 3 NEWEST SHOWN)" in text


def test_actions_command_lists_the_ledger_by_owner(exports, run):
    result = run("actions", "--month", "2026-10", "--config", exports, env={"SOURCE_DATE_EPOCH": EPOCH_2026_11_03})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "as of 2026-11-03" in out
    support = out[out.index("\nSupport"):]
    assert re.search(r"OVERDUE\s+A-1\s+due 2026-10-20, 14 days late", support)
    assert "No owner action: Net Promoter Score is off track" in out


def test_actions_command_without_actions_csv(exports, run):
    (exports.parent / "actions.csv").unlink()
    result = run("actions", "--month", "2026-10", "--config", exports)
    assert result.exit_code == 0
    assert "No actions.csv found" in result.stdout


# -- pure pieces, hand-computed ------------------------------------------------

def test_ledger_day_is_kept_within_the_month_after():
    october = Month(2026, 10)
    assert ledger_as_of(october, date(2026, 10, 20)) == date(2026, 11, 1)  # rendered early
    assert ledger_as_of(october, date(2026, 11, 3)) == date(2026, 11, 3)
    assert ledger_as_of(october, date(2027, 5, 1)) == date(2026, 11, 30)  # an old month re-rendered


def test_ledger_edges():
    frame = pd.DataFrame({
        "action_id": ["due-today", "due-yesterday", "closed-on-last-session", "closed-day-before"],
        "title": ["a", "b", "c", "d"], "owner": ["Sales"] * 4, "metric": [None] * 4,
        "opened": pd.to_datetime(["2026-10-01"] * 4),
        "due": pd.to_datetime(["2026-11-03", "2026-11-02", "2026-10-20", "2026-10-20"]),
        "status": ["open", "open", "done", "done"],
        "closed": pd.to_datetime([None, None, "2026-10-03", "2026-10-02"]),
    })
    ledger = build_ledger(frame, date(2026, 11, 3))
    assert [a.action_id for a in ledger.overdue] == ["due-yesterday"]
    assert [a.action_id for a in ledger.due_soon] == ["due-today"]
    assert [a.action_id for a in ledger.done] == ["closed-on-last-session"]  # last session: 2026-10-03


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), example: 81 of 263 -> 0.2553 .. 0.3662
    low, high = wilson_interval(81 / 263, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_worst_segment_within_noise_is_not_a_finding():
    segments = {"A": {"value": 2.0, "base": 100}, "B": {"value": 1.0, "base": 100}, "tiny": {"value": 50.0, "base": 4}}
    worst = worst_segment("logo_churn", 1.5, "lower", segments)
    assert worst["segment"] == "A"  # "tiny" is below the size floor
    assert worst["beyond_noise"] is False  # 1.5 lies inside A's interval (0.55 .. 7.0)
    assert worst_segment("logo_churn", 1.5, "lower", {"A": segments["A"]}) is None
