"""Each preset reads a fixture written to its tool's published export layout, through the CLI.

The layouts, with the public documentation and public code they come from, are in
tests/data/presets/<tool>/SOURCE.md; the values below are worked out by hand in
tests/data/presets/<tool>/expected.md (October 2026, months counted in UTC).
"""

import json
import shutil
import statistics

import pytest

from conftest import DATA

PRESETS = DATA / "presets"

# tool -> (export file, extra [sources.<name>] lines: what the preset cannot know)
CASES = {
    "qualtrics": ("export.csv", 'timezone = "UTC"\n[sources.nps.columns]\nscore = "Q1"\ncomment = "Q2"\n'
                                'account_id = "account_id"\nsegment = "segment"'),
    "surveymonkey": ("export.csv", 'timezone = "UTC"\n[sources.nps.columns]\n'
                                   'score = "How likely is it that you would recommend Acme to a friend or colleague?"'),
    "typeform": ("export.csv", '[sources.nps.columns]\n'
                               'score = "How likely are you to recommend Acme to a friend or colleague?"'),
    "delighted": ("export.csv", ""),
    "zendesk": ("export.csv", 'timezone = "America/New_York"'),
    "jira-service-management": ("export.csv", 'timezone = "Europe/London"'),
    "freshdesk": ("export.csv", 'timezone = "Asia/Kolkata"'),
    "intercom": ("export.csv", ""),
    "salesforce-report": ("export.csv", '[sources.accounts.columns]\nstart_date = "Customer Since"\n'
                                        'churn_date = "Churn Date"\nmrr = "MRR"\nsegment = "Customer Segment"'),
    "hubspot": ("export.csv", 'timezone = "America/Chicago"\n[sources.accounts.columns]\nchurn_date = "Churn Date"\n'
                              'mrr = "MRR"'),
    "stripe": ("export.csv", '[sources.accounts.columns]\nsegment = "segment (metadata)"'),
    "mixpanel": ("export.jsonl", '[sources.adoption.columns]\naccount_id = "properties.company_id"'),
    "amplitude": ("export.zip", '[sources.adoption.columns]\naccount_id = "user_properties.account_id"'),
    "posthog": ("export.csv", '[sources.adoption.columns]\naccount_id = "properties.company_id"'),
}
SOURCE = {"qualtrics": "nps", "surveymonkey": "nps", "typeform": "nps", "delighted": "nps", "zendesk": "feedback",
          "jira-service-management": "feedback", "freshdesk": "feedback", "intercom": "feedback",
          "salesforce-report": "accounts", "hubspot": "accounts", "stripe": "accounts", "mixpanel": "adoption",
          "amplitude": "adoption", "posthog": "adoption"}


def project(tmp_path, tool):
    export, extra = CASES[tool]
    source = SOURCE[tool]
    shutil.copy(PRESETS / tool / export, tmp_path / export)
    (tmp_path / "config.toml").write_text(
        '[report]\ntimezone = "UTC"\nmax_staleness_days = 400\n[data]\ndir = "."\n'
        f'[sources.{source}]\npath = "{export}"\npreset = "{tool}"\n{extra}\n', encoding="utf-8")
    return tmp_path / "config.toml"


def metrics(run, config):
    checked = run("validate", "--config", config)
    assert checked.exit_code == 0, checked.output
    result = run("metrics", "--month", "2026-10", "--config", config, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), checked.stdout


@pytest.mark.parametrize("tool, n, promoters, detractors", [
    ("qualtrics", 10, 5, 3),  # the Survey Preview and the unfinished response are filtered out
    ("surveymonkey", 9, 5, 3),
    ("typeform", 9, 5, 2),  # the partial response (no submit date) is filtered out
    ("delighted", 9, 5, 3),
])
def test_survey_presets(tmp_path, run, tool, n, promoters, detractors):
    doc, checked = metrics(run, project(tmp_path, tool))
    nps = doc["metrics"]["nps"]
    assert (nps["n"], nps["promoters"], nps["detractors"]) == (n, promoters, detractors)
    assert nps["value"] == pytest.approx(100 * (promoters - detractors) / n)
    assert nps["data_quality"]["sources"]["nps"]["rejected"] == 0
    if tool == "qualtrics":
        assert "2 filtered out" in checked and "2 lines set aside" in checked


@pytest.mark.parametrize("tool, closed, days", [
    ("zendesk", 6, [1.0, 1.0, 2.5, 4.0, 7.0, 12.0]),
    ("jira-service-management", 6, [0.25, 1.5, 2.0, 7.0, 7.0417, 11.0]),
    ("freshdesk", 6, [0.5, 1.5, 3.0, 4.0, 4.8333, 10.0]),
    ("intercom", 7, [0.0833, 0.5, 1.5, 2.0, 3.0, 6.0, 15.0]),  # the zone is read from the headers
])
def test_help_desk_presets(tmp_path, run, tool, closed, days):
    doc, _ = metrics(run, project(tmp_path, tool))
    closure = doc["metrics"]["closure_time"]
    assert closure["n"] == closed
    assert closure["value"] == pytest.approx(statistics.median(days), abs=1e-3)
    assert closure["data_quality"]["sources"]["feedback"]["rejected"] == 0


@pytest.mark.parametrize("tool, churned, base, churned_mrr", [
    ("salesforce-report", 2, 8, 6300.0),  # "4,000.00" read with the thousands mark; the trailer lines set aside
    ("hubspot", 2, 6, 3400.0),  # companies that never became customers are filtered out
    ("stripe", 2, 7, 500.0),  # a row per subscription, combined per customer; yearly prices per month
])
def test_crm_presets(tmp_path, run, tool, churned, base, churned_mrr):
    doc, checked = metrics(run, project(tmp_path, tool))
    churn, revenue = doc["metrics"]["logo_churn"], doc["metrics"]["revenue_churn"]
    assert (churn["churned"], churn["base"]) == (churned, base)
    assert revenue["churned_mrr"] == pytest.approx(churned_mrr)
    assert churn["data_quality"]["sources"]["accounts"]["rejected"] == 0
    if tool == "salesforce-report":
        assert "3 lines set aside" in checked
    if tool == "stripe":
        assert "12 rows,      0 rejected, 1 filtered out" in checked  # incomplete_expired
        assert "12 rows are 11 accounts: 1 row repeats an account id and was combined" in checked


@pytest.mark.parametrize("tool, per_feature_accounts, active", [
    ("mixpanel", {"Dashboard Viewed": 3}, 4),
    ("amplitude", {}, 4),
    ("posthog", {}, 4),
])
def test_product_analytics_presets(tmp_path, run, tool, per_feature_accounts, active):
    doc, _ = metrics(run, project(tmp_path, tool))
    adoption = doc["metrics"]["feature_adoption"]
    assert adoption["active_accounts"] == active
    for feature, accounts in per_feature_accounts.items():
        assert adoption["per_feature"][feature] == pytest.approx(100 * accounts / active)
    assert not any(f.startswith("$") for f in adoption["per_feature"])  # system events filtered out


def test_a_preset_on_the_wrong_source_or_without_its_question_is_a_config_error(tmp_path, run):
    config = project(tmp_path, "qualtrics")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('score = "Q1"\n', ""), encoding="utf-8")
    result = run("validate", "--config", config)
    assert result.exit_code == 3
    assert ("sources.nps.columns.score: the qualtrics preset cannot know it; map the NPS question's column "
            "on line 1 (e.g. Q1)") in result.stderr
    config.write_text(text.replace("[sources.nps]", "[sources.feedback]"), encoding="utf-8")
    result = run("validate", "--config", config)
    assert result.exit_code == 3 and "qualtrics exports feed [sources.nps], not [sources.feedback]" in result.stderr
