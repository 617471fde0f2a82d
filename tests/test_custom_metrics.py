"""Your own KPIs in config.toml (issue 20, item 3): each kind by hand, mistakes named by key
and position, everywhere a built-in metric is, and never eval-ed."""

import json
from pathlib import Path

import pytest

from conftest import one_line, pdf_text_pages

# October 2026 (UTC), received_at -> days to closed:
#   F1 2.5 email · F2 1 email · F3 open chat · F4 10 chat · F5 0.25 email (received 23:00 on the 31st)
#   F8 1 (blank channel). F6 is November's (received at midnight on the 1st), F7 September's.
FEEDBACK = """feedback_id,account_id,received_at,closed_at,channel
F1,A1,2026-10-01 00:00,2026-10-03 12:00,email
F2,A2,2026-10-05 00:00,2026-10-06 00:00,email
F3,A3,2026-10-10 00:00,,chat
F4,A4,2026-10-20 00:00,2026-10-30 00:00,chat
F5,A5,2026-10-31 23:00,2026-11-01 05:00,email
F6,A6,2026-11-01 00:00,2026-11-02 00:00,email
F7,A7,2026-09-30 23:59,2026-10-01 00:00,
F8,A8,2026-10-15 00:00,2026-10-16 00:00,
"""

OWNERS = 'owner = "Support"\nconsulted = ["Product"]\n'


def metric(key: str, kind: str, body: str, *, label: str | None = None, target: float = 50, warn: float = 40,
           direction: str = "higher", extra: str = "") -> str:
    return (f'[metrics.{key}]\nlabel = "{label or key}"\nsource = "feedback"\ndate = "received_at"\n'
            f'kind = "{kind}"\n{body}\ndefinition = "The {key} of the fixture."\n{OWNERS}'
            f"target = {target}\nwarn = {warn}\ndirection = \"{direction}\"\n{extra}\n")


KINDS = "".join([
    metric("within_week", "rate", 'filter = "closed_at is not null"\nwhere = "days(closed_at - received_at) <= 7"',
           label="Closed within a week", target=85, warn=75),
    metric("mean_days", "mean", 'value = "days(closed_at - received_at)"', target=3, warn=5, direction="lower"),
    metric("mean_hours", "mean", 'value = "days(closed_at - received_at) * 24"', target=72, warn=96,
           direction="lower"),
    metric("median_days", "median", 'value = "days(closed_at - received_at)"', target=2, warn=5, direction="lower"),
    metric("p90_days", "p90", 'value = "days(closed_at - received_at)"', target=7, warn=10, direction="lower"),
    metric("email_items", "count", "filter = \"channel = 'email'\"", target=1, warn=0, extra="min_sample = 2"),
    metric("not_email_items", "count", "filter = \"channel != 'email'\"", target=1, warn=0),
    metric("open_share", "ratio", 'numerator = "closed_at is null"\ndenominator = "channel in [\'email\', \'chat\']"',
           target=0.1, warn=0.3, direction="lower"),
    metric("open_pct", "ratio", 'numerator = "closed_at is null"\ndenominator = "channel in [\'email\', \'chat\']"\n'
           'unit = "percent"', target=10, warn=30, direction="lower"),
])


def write(folder: Path, metrics: str = KINDS, actions: str | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "feedback.csv").write_text(FEEDBACK)
    if actions is not None:
        (folder / "actions.csv").write_text(actions)
    config = folder / "config.toml"
    config.write_text(f'[report]\ntimezone = "UTC"\n\n[data]\ndir = "."\n\n{metrics}')
    return config


def test_each_kind_by_hand(tmp_path, metrics_json):
    got = metrics_json(write(tmp_path / "kinds"))["metrics"]
    # rate: closed items 1, 2, 4, 5, 8; within 7 days all but F4
    assert {k: got["within_week"][k] for k in ("value", "kind", "n", "matching")} == {
        "value": 80.0, "kind": "rate", "n": 5, "matching": 4}
    # mean/median/p90 of 2.5, 1, 10, 0.25, 1 (F3 has no value); days exact from microseconds
    assert got["mean_days"]["value"] == pytest.approx(14.75 / 5) and got["mean_days"]["n"] == 5
    assert got["mean_hours"]["value"] == pytest.approx(14.75 / 5 * 24)
    assert got["median_days"]["value"] == 1.0 and got["median_days"]["n"] == 5
    assert got["p90_days"]["value"] == pytest.approx(7.0)  # 2.5 + 0.6 * (10 - 2.5)
    # count: a NULL comparison keeps nothing, so F8 (blank channel) is neither email nor not email
    assert (got["email_items"]["value"], got["email_items"]["n"]) == (3, 3)
    assert (got["not_email_items"]["value"], got["not_email_items"]["n"]) == (2, 2)
    # ratio: F3 open / five items with a channel; a number unless the unit is percent
    assert {k: got["open_share"][k] for k in ("value", "numerator", "denominator")} == {
        "value": 0.2, "numerator": 1, "denominator": 5}
    assert got["open_pct"]["value"] == 20.0
    # everything every metric has
    rate = got["within_week"]
    assert rate["status"] == "at_risk" and rate["owner"] == "Support" and rate["consulted"] == ["Product"]
    assert rate["low_sample"] is True and got["email_items"]["low_sample"] is False  # min_sample 30 vs 2
    assert rate["data_quality"]["sources"]["feedback"]["rows"] == 8 and rate["data_quality"]["reason"] is None
    assert [p["month"] for p in rate["trend"]][-2:] == ["2026-09", "2026-10"]
    # September holds only F7 (received 23:59 on the 30th, closed at midnight: within a week)
    assert rate["previous"] == 100.0 and rate["change"] == -20.0


def test_a_month_without_rows_is_no_data_never_zero(tmp_path, metrics_json):
    got = metrics_json(write(tmp_path / "empty"), month="2026-08")["metrics"]
    for key in ("within_week", "mean_days", "median_days", "p90_days", "email_items", "open_share"):
        assert got[key]["value"] is None and got[key]["status"] == "no_data", key
    assert got["email_items"]["n"] == 0 and got["open_share"]["denominator"] == 0


def test_a_mean_beyond_the_largest_float_is_no_data_not_a_crash(tmp_path, metrics_json, run):
    """Two accepted cells of 1.7e308 days: their sum overflows to infinity, which is no value
    (JSON has no infinity, a chart no axis for it)."""
    folder = tmp_path / "huge"
    config = write(folder, metric("mean_hours", "mean", 'value = "days(closed_at - received_at) * 1.7e308"',
                                  target=72, warn=96, direction="lower"))
    got = metrics_json(config)["metrics"]["mean_hours"]
    assert (got["value"], got["status"]) == (None, "no_data")
    assert run("render", "--month", "2026-10", "--config", config, "--out", folder / "r.pdf").exit_code == 0


def test_a_custom_metrics_action_is_accepted(tmp_path, metrics_json):
    actions = ("action_id,title,owner,metric,opened,due,status,closed\n"
               "A-1,Close chat items within a week,Support,within_week,2026-10-01,2026-12-31,open,\n")
    doc = metrics_json(write(tmp_path / "actions", actions=actions))
    assert doc["metrics"]["within_week"]["open_actions"] == ["A-1"]
    assert doc["metrics"]["within_week"]["no_owner_action"] is False
    assert doc["data_quality"]["rejected_rows"] == 0


def test_the_pdf_shows_it_like_a_built_in(tmp_path, run):
    config = write(tmp_path / "pdf", KINDS.split("[metrics.mean_days]")[0])
    result = run("render", "--month", "2026-10", "--config", config)
    assert result.exit_code == 0, result.output
    pages = pdf_text_pages(tmp_path / "pdf" / "reports" / "cxtruth-2026-10.pdf")
    text = "\n".join(pages)
    assert text.count("Closed within a week") >= 4  # scorecard, running order, Support's page, Appendix A
    support = next(p for p in pages if "Support" in p and "For discussion" in p.replace("FOR DISCUSSION", "For discussion"))
    assert "80.0 %" in support and "5 feedback rows counted; 4 matching" in support
    assert "The within_week of the fixture." in support
    appendix = next(p for p in pages if "Appendix A — How each metric" in p)
    flat = " ".join(appendix.split())
    assert "Where: days(closed_at - received_at) <= 7" in flat and "Filter: closed_at is not null" in flat


def test_the_email_summary_lists_it(tmp_path):
    from cxtruth.agenda import build_report
    from cxtruth.config import load_config
    from cxtruth.output.email import summary_text
    from cxtruth.months import Month
    from cxtruth.sources import load_sources

    config = load_config(write(tmp_path / "mail"))
    body = summary_text(build_report(config, load_sources(config), Month(2026, 10)), "cxtruth-2026-10.pdf")
    assert "Closed within a week" in body and "80.0 %" in body


RATE = 'label = "X"\nsource = "feedback"\ndate = "received_at"\nkind = "rate"\n' \
       'definition = "d"\nowner = "Support"\ntarget = 80\nwarn = 70\ndirection = "higher"\n'


@pytest.mark.parametrize("table, says", [
    (RATE + 'where = "closed_at >> 4"', "metrics.x.where: at column 12: unexpected '>'; expected"),
    (RATE + 'where = "ratin >= 4"', "metrics.x.where: at column 1: unknown column 'ratin'; expected one of: "
                                    "feedback_id, account_id, received_at, closed_at, channel"),
    (RATE + 'where = "channel >= 4"', "metrics.x.where: at column 9: cannot compare text with a number"),
    (RATE + 'where = "closed_at - received_at <= 7"', "metrics.x.where: at column 25: cannot compare a duration with a number"),
    (RATE + 'where = "channel"', "metrics.x.where: at column 1: this is text; expected a condition"),
    (RATE + 'where = """channel = "x" and\n  closed_at >= "soon\""""',
     "metrics.x.where: at line 2, column 16: 'soon' is not a date"),
    (RATE, "metrics.x.where: a rate metric needs where"),
    (RATE + 'where = "closed_at is null"\nvalue = "days(closed_at - received_at)"',
     "metrics.x.value: a rate metric has no value; it takes where"),
    (RATE.replace('"rate"', '"ratio"') + 'numerator = "closed_at is null"',
     "metrics.x.denominator: a ratio metric needs numerator and denominator"),
    (RATE.replace('"rate"', '"count"') + 'where = "closed_at is null"',
     "metrics.x.where: a count metric has no where; it counts the rows filter keeps"),
    (RATE.replace('"rate"', '"median"') + 'value = "closed_at"',
     "metrics.x.value: at column 1: this is a date; expected a number per row (a difference of dates is written"),
    (RATE.replace('"rate"', '"mean"') + 'value = "monthly(closed_at, channel)"', "monthly() computes a source's"),
    (RATE + 'where = "closed_at is null"\nunit = "days"', "metrics.x.unit: a rate is a percentage"),
    (RATE.replace('"feedback"', '"csat"') + 'where = "rating >= 4"',
     "metrics.x.source: 'csat' is not a source (expected one of: nps, accounts"),
    (RATE.replace('"received_at"', '"channel"') + 'where = "closed_at is null"',
     "metrics.x.date: 'channel' is a text column, not a date of feedback (expected one of: received_at, closed_at)"),
    (RATE.replace('"Support"', '"Billing"') + 'where = "closed_at is null"',
     "metrics.x.owner: 'Billing' is not one of [report] functions"),
    (RATE + 'where = "closed_at is null"\nlabel2 = "y"', "metrics.x.label2: unknown key"),
    (RATE.replace('definition = "d"\n', "") + 'where = "closed_at is null"',
     "metrics.x.definition: required key is missing"),
    # keys are plain names of their own
    ("[metrics.nps]\n" + RATE + 'where = "closed_at is null"',
     "metrics.nps: nps is a built-in metric; a custom metric needs a key of its own"),
    ('[metrics."2x"]\n' + RATE + 'where = "closed_at is null"', "metrics.2x: a custom metric's key is letters"),
    ("[metrics.custom]\n" + RATE + 'where = "closed_at is null"', "metrics.custom: 'custom' is a reserved name"),
])
def test_a_mistake_is_one_config_error_naming_key_and_position(tmp_path, run, table, says):
    config = write(tmp_path / "bad", (table if table.startswith("[") else "[metrics.x]\n" + table) + "\n")
    line = one_line(run("metrics", "--month", "2026-10", "--config", config), 3)
    assert says in line, line


@pytest.mark.parametrize("hostile", [
    "__import__('os').system('touch pwned')",
    "__import__('os')",
    "closed_at.__class__ is null",
    "eval('1') = 1",
])
def test_expressions_never_reach_eval(tmp_path, run, hostile):
    config = write(tmp_path / "hostile", "[metrics.x]\n" + RATE + f"where = {json.dumps(hostile)}\n")
    line = one_line(run("metrics", "--month", "2026-10", "--config", config), 3)
    assert "metrics.x.where: at column" in line
    assert not (tmp_path / "hostile" / "pwned").exists() and not Path("pwned").exists()


def test_no_eval_anywhere_in_cxtruth():
    """Expressions are parsed by a grammar and compiled node by node; nothing calls eval or exec."""
    import ast

    import cxtruth

    for path in Path(cxtruth.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec", "compile"), f"{path}:{node.lineno}"


DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "trino", "pyspark")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_kind_compiles_for_each_warehouse(tmp_path, monkeypatch, dialect):
    """Each kind's parts are plain Ibis expressions: they compile to SQL for every engine
    the built-in metrics target, with the source as an unbound warehouse table."""
    import ibis
    from ibis.config import Config as IbisOptions

    if dialect == "pyspark" and ibis.options.pyspark is None:
        class PySparkOptions(IbisOptions):  # what importing the PySpark backend (not installed) registers
            treat_nan_as_null: bool = False

        monkeypatch.setattr(ibis.options, "pyspark", PySparkOptions())

    from cxtruth.config import Config
    from cxtruth.metrics import declared
    from cxtruth.metrics.engine import Engine, Window
    from cxtruth.months import Month

    config = Config.from_file(write(tmp_path / "sql"))
    engine = Engine({})
    engine.tables["feedback"] = ibis.table({"feedback_id": "string", "account_id": "string",
                                            "received_at": "timestamp", "closed_at": "timestamp",
                                            "channel": "string"}, name="feedback")
    months = tuple(Month(2026, 10).trailing(13))
    window = Window(engine, months, "UTC", config)
    customs = [m for m in declared(config).values() if m.custom]
    assert {m.kind for m in customs} == {"rate", "mean", "median", "p90", "count", "ratio"}
    for metric in customs:
        for name, expr in metric.parts(window, config.metrics.get(metric.key)).items():
            sql = ibis.to_sql(expr, dialect=dialect)
            assert "feedback" in sql, (metric.key, name)


def test_noun_names_what_a_row_is_on_the_card():
    """`noun` words the facts and the low-sample line ("27 answers counted"), default "<source> rows"."""
    from pathlib import Path

    from cxtruth.config import Config
    from cxtruth.metrics import declared

    metrics = declared(Config.from_file(Path(__file__).parent.parent / "config.toml"))
    assert metrics["csat"].facts({"n": 27, "matching": 25, "value": 92.6}) == ["27 answers counted; 25 matching"]
    assert metrics["csat"].sample_noun == "answers counted"
    assert metrics["feedback_within_week"].sample_noun == "feedback rows counted"
