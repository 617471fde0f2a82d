"""Themes in NPS comments (docs/metrics.md, "Themes"): hand-counted, through the real CLI."""

import csv
from pathlib import Path

import pytest
from conftest import one_line, pdf_text_pages

from cxtruth.agenda.themes import normalise, parse_keyword

THEMES = """
[themes]
Billing = ["invoice", "rechnung", "facturacion", "請求", "prix"]
Support = ["support", "soporte"]
"<b>App</b>" = ["=app", "アプリ"]
"""

# (response_id, responded_at, score, comment). Hand count, by month and group:
ROWS = [
    # September: detractors s1 (Billing), s2 (Support); promoter s3 (Support); s4 is a passive.
    ("s1", "2026-09-05", 2, "The invoice was wrong"),
    ("s2", "2026-09-10", 3, "Slow support"),
    ("s3", "2026-09-12", 10, "Great support team"),
    ("s4", "2026-09-15", 8, "invoice ok"),
    # October detractors: 7 comments (o6 is blank: no comment).
    ("o1", "2026-10-02", 1, "Die RECHNUNG war falsch"),                  # Billing (case)
    ("o2", "2026-10-03", 4, "Facturación incorrecta y SOPORTE lento"),   # Billing and Support (accent)
    ("o3", "2026-10-04", 0, "請求書が間違っています"),                      # Billing (no spaces)
    ("o4", "2026-10-05", 6, "Le prix a encore augmenté"),                # Billing
    ("o5", "2026-10-06", 5, "Nothing else to say"),                      # untagged
    ("o6", "2026-10-07", 2, "   "),                                      # blank: not a comment
    ("o7", "2026-10-08", 3, "We reinvoiced <script>alert(1)</script>"),  # untagged: "invoice" not at a word start
    ("o8", "2026-10-09", 6, "Apply button broken"),                      # untagged: "=app" is the whole word
    # October promoters: 2 comments.
    ("p1", "2026-10-10", 9, "アプリが使いやすい"),                          # App
    ("p2", "2026-10-11", 10, "Support rocks"),                           # Support
    ("p3", "2026-10-12", 10, ""),                                        # no comment
]


def _exports(tmp_path: Path, themes: str = THEMES) -> Path:
    with open(tmp_path / "nps.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["response_id", "responded_at", "score", "comment"])
        out.writerows(ROWS)
    config = tmp_path / "config.toml"
    config.write_text('[report]\ntimezone = "UTC"\n[data]\ndir = "."\n' + themes, encoding="utf-8")
    return config


def _by_theme(rows):
    return {r["theme"]: (r["count"], r["previous"], r["change"]) for r in rows}


def test_counts_by_hand(tmp_path, metrics_json):
    themes = metrics_json(_exports(tmp_path))["metrics"]["nps"]["themes"]
    assert themes["comments"] == {"detractors": {"count": 7, "previous": 2},
                                  "promoters": {"count": 2, "previous": 1}}
    assert _by_theme(themes["detractors"]) == {"Billing": (4, 1, 3), "Support": (1, 1, 0), "<b>App</b>": (0, 0, 0)}
    assert [r["theme"] for r in themes["detractors"]] == ["Billing", "Support", "<b>App</b>"]  # grew most first
    assert _by_theme(themes["promoters"]) == {"<b>App</b>": (1, 0, 1), "Support": (1, 1, 0), "Billing": (0, 0, 0)}
    assert themes["untagged"] == {"detractors": {"count": 3, "previous": 0, "change": 3},
                                  "promoters": {"count": 0, "previous": 0, "change": 0}}
    assert themes["quoted_from"] == {"detractors": ["Billing"], "promoters": ["<b>App</b>"]}


def test_a_month_without_comments_is_no_data_not_zero(tmp_path, metrics_json):
    config = _exports(tmp_path)
    november = metrics_json(config, "2026-11")["metrics"]["nps"]["themes"]
    assert november["comments"]["detractors"] == {"count": None, "previous": 7}
    assert _by_theme(november["detractors"])["Billing"] == (None, 4, None)
    assert november["untagged"]["detractors"] == {"count": None, "previous": 3, "change": None}
    assert november["quoted_from"] == {"detractors": [], "promoters": []}
    september = metrics_json(config, "2026-09")["metrics"]["nps"]["themes"]  # August wrote nothing
    assert _by_theme(september["detractors"])["Billing"] == (1, None, None)


def test_without_themes_the_key_is_null_and_verbatims_unchanged(tmp_path, metrics_json):
    assert metrics_json(_exports(tmp_path, themes=""))["metrics"]["nps"]["themes"] is None


def test_card_and_verbatims_name_the_theme(tmp_path, run):
    config = _exports(tmp_path)
    out = tmp_path / "r.pdf"
    result = run("render", "--month", "2026-10", "--config", config, "--out", out)
    assert result.exit_code == 0, result.output
    text = " ".join(" ".join(p.split()) for p in pdf_text_pages(out))
    assert "Billing: 4 detractor comments, up from 1 (+3)" in text
    assert "Untagged (no theme): 3 of 7 detractor comments (0 last month)" in text
    assert "Picked from the theme that grew most: Billing" in text
    assert "Picked from the theme that grew most: <b>App</b>" in text  # escaped, printed as written
    assert "Le prix a encore augmenté" in text and "請求書が間違っています" in text
    assert "Nothing else to say" not in text  # untagged: not among the quotes


def test_not_counted_when_the_nps_metric_is_not_scored(tmp_path, run, metrics_json):
    """Half of October's rows rejected (scores out of range): NPS is not scored, and neither
    are the themes of the rows that were left; the quotes are the newest comments, as without
    themes, and the PDF says why there are no counts."""
    config = _exports(tmp_path)
    with open(tmp_path / "nps.csv", "a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows((f"x{i}", "2026-10-20", 11, "invoice again") for i in range(20))
    doc = metrics_json(config)
    nps, themes = doc["metrics"]["nps"], doc["metrics"]["nps"]["themes"]
    assert nps["value"] is None and nps["data_quality"]["reason"].startswith("nps.csv had 20 of 35 rows rejected")
    assert themes["withheld"] == nps["data_quality"]["reason"]
    assert themes["comments"]["detractors"] == {"count": None, "previous": None}
    assert _by_theme(themes["detractors"])["Billing"] == (None, None, None)
    assert themes["quoted_from"] == {"detractors": [], "promoters": []}
    out = tmp_path / "r.pdf"
    assert run("render", "--month", "2026-10", "--config", config, "--out", out).exit_code == 0
    text = " ".join(" ".join(p.split()) for p in pdf_text_pages(out))
    assert "Themes not counted: nps.csv had 20 of 35 rows rejected" in text
    assert "Billing: 4 detractor comments" not in text and "Picked from the theme" not in text
    assert "Nothing else to say" in text  # the newest comments are quoted instead


def test_comments_in_other_scripts_are_drawn_not_boxes(tmp_path, run):
    """Japanese, Korean, Hindi and Thai comments: the PDF embeds a font that has their letters
    (each a fallback beside DejaVu, which has none of them), so they print as text, not boxes.
    scripts/ensure-system-deps.sh installs the fonts."""
    from pypdf import PdfReader

    config = _exports(tmp_path)
    with open(tmp_path / "nps.csv", "a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("h1", "2026-10-21", 2, "invoice: बिल गलत था"), ("t1", "2026-10-22", 3, "invoice: ใบแจ้งหนี้ผิด"),
                                  ("k1", "2026-10-23", 1, "invoice: 한국어 고객 서비스가 느립니다")])
    out = tmp_path / "r.pdf"
    assert run("render", "--month", "2026-10", "--config", config, "--out", out).exit_code == 0
    fonts = set()
    for page in PdfReader(out).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    others = {f for f in fonts if "DejaVu" not in f}
    assert len(others) >= 4, f"only these fonts were embedded: {sorted(fonts)}"


def test_html_escapes_comments_and_theme_names(tmp_path, run):
    config = _exports(tmp_path)
    out = tmp_path / "r.html"
    assert run("render", "--month", "2026-10", "--config", config, "--format", "html", "--out", out).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "<b>App</b>" not in html and "&lt;b&gt;App&lt;/b&gt;" in html
    assert "<script>alert" not in html


@pytest.mark.parametrize("text, keyword, found", [
    ("Die Überweisung", "uberweisung", True),
    ("ÉNORME facture", "facture", True),
    ("Straße", "strasse", True),
    ("Facturas pendientes", "factura", True),     # a word prefix finds the plural
    ("refactura", "factura", False),               # not inside a word
    ("the app crashed", "=app", True),
    ("apps", "=app", False),
    ("API-docs are thin", "api docs", False),      # a phrase's words are separated by spaces
    ("the API  docs are thin", "api docs", True),
    ("毎月の請求書", "請求", True),                  # no spaces: found anywhere
    ("ガード", "カード", False),                     # voicing marks are letters, not accents
    ("कीमत", "मत", False),                          # Hindi vowel signs belong to the word
])
def test_matching_rules(text, keyword, found):
    assert parse_keyword(keyword).found_in(normalise(text)) is found


@pytest.mark.parametrize("themes, message", [
    ('Billing = ["!!!"]', "themes.Billing: keyword 1: '!!!' has no letter or digit to look for"),
    ('Billing = []', "themes.Billing: list at least one keyword"),
    ('Billing = ["' + "x" * 101 + '"]', "themes.Billing: keyword 1: a keyword is at most 100 characters"),
    ('Billing = "invoice"', "themes.Billing: Input should be a valid list"),
])
def test_a_bad_keyword_is_one_error_naming_the_key(tmp_path, run, themes, message):
    config = _exports(tmp_path, "[themes]\n" + themes + "\n")
    line = one_line(run("metrics", "--month", "2026-10", "--config", config, "--json"), 3)  # a config error
    assert message in line
