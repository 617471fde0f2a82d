"""`cxtruth init`: a folder of exports in, a commented config.toml draft out (issue 19)."""

import shutil

import pytest

from conftest import DATA, ROOT
from cxtruth.sources.sniff import sniff_date_format


def test_init_on_the_sample_folder_drafts_a_config_that_validates(tmp_path, run, monkeypatch):
    shutil.copytree(ROOT / "sample_metrics", tmp_path / "exports")
    monkeypatch.chdir(tmp_path)
    result = run("init", "exports")
    assert result.exit_code == 0, result.output
    assert "nps        nps.csv: 6 columns mapped" in result.stdout
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert 'response_id = "Response ID"' in text and 'segment = "Plan"' in text
    assert 'company = "Your company"        # DECIDE' in text
    checked = run("validate", "--config", tmp_path / "config.toml")
    assert checked.exit_code == 0, checked.output
    assert "nps        ok         3,213 rows,      4 rejected" in checked.stdout  # as with the sample config

    again = run("init", "exports")  # never overwrites
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert (tmp_path / "config.toml").read_text(encoding="utf-8") == text


def test_an_unknown_file_is_listed_not_guessed(tmp_path, run, monkeypatch):
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "notes.csv").write_text("what,ever\n1,2\n", encoding="utf-8")
    (tmp_path / "exports" / "tickets.csv").write_text(
        "Ticket ID,Created At,Solved At,Via\nT1,31/10/2026 10:00,,Mail\nT2,30/10/2026 09:00,31/10/2026 11:00,Web\n",
        encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run("init", "exports", "--config", "draft.toml")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "draft.toml").read_text(encoding="utf-8")
    assert "#   notes.csv" in text
    assert '[sources.feedback]\npath = "exports/tickets.csv"\ndate_format = "%d/%m/%Y %H:%M"' in text
    assert 'feedback_id = "Ticket ID"' in text and 'closed_at = "Solved At"' in text and 'channel = "Via"' in text
    checked = run("validate", "--config", tmp_path / "draft.toml")
    assert checked.exit_code == 0, checked.output
    assert "feedback   ok             2 rows,      0 rejected" in checked.stdout


def test_dates_are_never_guessed():
    assert sniff_date_format(["2026-10-31", "2026-10-01T09:00:00Z"]) == (None, None)
    assert sniff_date_format(["1790000000", "1790000001"]) == ("epoch", None)
    assert sniff_date_format(["31/10/2026", "01/10/2026"]) == ("%d/%m/%Y", None)
    fmt, note = sniff_date_format(["01/10/2026", "02/10/2026"])  # day or month first: both read
    assert fmt is None and "never guesses" in note
    assert sniff_date_format(["10/31/2026 02:14:33 PM"]) == ("%m/%d/%Y %I:%M:%S %p", None)
    assert sniff_date_format(["10/05/2026 02:14:33 PM"])[0] is None  # May 10 or October 5: never guessed


GROUPS = [  # one export per source, as a user's folder would hold them
    ["qualtrics", "zendesk", "salesforce-report", "mixpanel"],
    ["surveymonkey", "jira-service-management", "hubspot", "posthog"],
    ["typeform", "freshdesk", "stripe", "amplitude"],
    ["delighted", "intercom"],
]


@pytest.mark.parametrize("tools", GROUPS, ids=lambda tools: "+".join(tools))
def test_init_recognises_tool_exports_by_their_presets_and_validate_accepts_the_draft(tmp_path, run, monkeypatch, tools):
    folder = tmp_path / "exports"
    folder.mkdir()
    for tool in tools:
        export = next(p for p in sorted((DATA / "presets" / tool).iterdir()) if p.name.startswith("export."))
        shutil.copy(export, folder / f"{tool}{''.join(export.suffixes)}")
    monkeypatch.chdir(tmp_path)
    result = run("init", "exports")
    assert result.exit_code == 0, result.output
    for tool in tools:
        assert f"(preset {tool})" in result.stdout, result.stdout
    assert "not recognised" not in result.stdout
    checked = run("validate", "--config", tmp_path / "config.toml")
    assert checked.exit_code == 0, checked.output + (tmp_path / "config.toml").read_text(encoding="utf-8")


def test_a_file_name_cannot_write_toml_into_the_draft(tmp_path, run):
    """A name with line breaks, written raw into a comment, would add an [email] table of its own."""
    import tomllib

    from conftest import ROOT

    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / 'junk\n[email]\nhost = "mail.evil.example"\nto = ["boss@evil.example"]\n#.csv').write_text("x,y\n")
    (exports / "nps.csv").write_bytes((ROOT / "sample_metrics" / "nps.csv").read_bytes())
    draft = tmp_path / "config.toml"
    result = run("init", str(exports), "--config", str(draft))
    assert result.exit_code == 0, result.output
    assert "junk\\n[email]" in result.stdout  # printed as one line
    assert "email" not in tomllib.loads(draft.read_text(encoding="utf-8"))
