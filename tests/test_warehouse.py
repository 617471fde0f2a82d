"""Warehouse table sources (docs/warehouse.md), on an embedded engine: a DuckDB database
file plays the warehouse. The Spark and PostgreSQL tiers (test_warehouse_spark.py,
test_warehouse_postgres.py) run the same checks on real servers.

Exports are loaded as an analyst loads them: timestamps become TIMESTAMPTZ instants
(wall time in the export's zone, or as their offset says), dates DATE, headers kept.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import ROOT, pdf_text_pages

ZONE = "America/New_York"
# Each source's table, and the columns a warehouse names otherwise (mapped in config.toml).
TABLES = {"adoption": "usage_events", "nps": "nps_responses", "accounts": "crm_accounts", "feedback": "feedback",
          "handoffs": "handoffs"}
RENAMED = {"adoption": {"account_id": "org_id", "used_at": "event_time"}, "accounts": {"mrr": "mrr_usd"}}
STAMPS = {"adoption": ["used_at"], "nps": ["responded_at"], "feedback": ["received_at", "closed_at"]}


# The typed columns of each export, as a warehouse holds them (the rest are text).
DATES = {"accounts": ["start_date", "churn_date"], "handoffs": ["closed_won_at", "handoff_at"]}
TYPES = {"accounts": {"mrr": "double"}, "nps": {"score": "integer"},
         "handoffs": {"csm_rating": "integer", **{c: "boolean" for c in ("goals_documented", "stakeholders_identified",
                                                                          "success_criteria_defined",
                                                                          "technical_requirements_captured",
                                                                          "kickoff_scheduled")}}}


def typed_columns(name: str) -> tuple[list[str], list[str], dict[str, str]]:
    """(timestamp columns, date columns, other typed columns) of export ``name``, by header."""
    return STAMPS.get(name, []), DATES.get(name, []), TYPES.get(name, {})


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    """Small deterministic exports (bench/generate.py's layout: 20k events, 14 months), in New York."""
    folder = tmp_path_factory.mktemp("exports")
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), str(folder), "--scale", "0.002"],
                   check=True, capture_output=True)
    config = folder / "config.toml"
    config.write_text(config.read_text().replace('timezone = "UTC"', f'timezone = "{ZONE}"')
                      .replace('output_dir = "reports"', 'output_dir = "reports"\nmax_rejected_share = 0.5'))
    return folder


def load_duckdb(database: Path, exports: Path, zone: str = ZONE) -> None:
    """Each export as a table: instants from wall time in ``zone`` (or the stamp's own offset)."""
    con = duckdb.connect(str(database))
    for name, table in TABLES.items():
        csv = exports / f"{name}.csv"
        described = con.execute(f"DESCRIBE SELECT * FROM read_csv('{csv}', header=true)").fetchall()
        columns = []
        for column, kind, *_ in described:
            shown = RENAMED.get(name, {}).get(column, column)
            if column in STAMPS.get(name, []) and "TIME ZONE" not in kind:
                columns.append(f"timezone('{zone}', \"{column}\"::TIMESTAMP) AS \"{shown}\"")
            else:
                columns.append(f'"{column}" AS "{shown}"')
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(columns)} FROM read_csv('{csv}', header=true)")
    con.close()


def table_config(exports: Path, warehouse: str, extra: str = "") -> str:
    """The exports' config.toml with every source a table of ``warehouse`` ([warehouse] TOML)."""
    text = (exports / "config.toml").read_text().replace('[data]\ndir = "."', f'[data]\ndir = "{exports}"')
    text += "\n" + warehouse + "\n"
    for name, table in TABLES.items():
        text += f'\n[sources.{name}]\ntable = "{table}"\n'
        if RENAMED.get(name):
            text += f"[sources.{name}.columns]\n" + "".join(f'{k} = "{v}"\n' for k, v in RENAMED[name].items())
    return text + extra


def without_file_names(document: dict) -> dict:
    """The JSON with each source's `file` left out: a table is named "table <name>"."""
    for source in [*document["data_quality"]["sources"].values(), *document["stale_sources"]]:
        source.pop("file")
    return document


def assert_tables_read_as_files(config: Path, exports: Path, metrics_json, run, out: Path, source: str, table: str):
    """The warehouse's `metrics --json` is the files' (bar the names), and the PDF names ``table``."""
    from_files = without_file_names(metrics_json(exports / "config.toml"))
    from_tables = metrics_json(config)
    assert from_tables["data_quality"]["sources"][source]["file"] == f"table {table}"
    assert without_file_names(from_tables) == from_files
    result = run("render", "--month", "2026-10", "--config", config, "--out", out)
    assert result.exit_code == 0, result.output
    text = "\n".join(pdf_text_pages(out))
    assert f"table {table}" in text and "Feature adoption" in text


@pytest.fixture(scope="module")
def duck(exports, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("duckwarehouse")
    load_duckdb(folder / "warehouse.duckdb", exports)
    config = folder / "config.toml"
    config.write_text(table_config(exports, f'[warehouse]\nbackend = "duckdb"\n[warehouse.options]\n'
                                            f'database = "{folder / "warehouse.duckdb"}"'))
    return config


def test_tables_give_exactly_the_metrics_the_files_give(exports, duck, metrics_json):
    """The same exports, read from files and from warehouse tables (instants, renamed columns,
    dates as DATE), give the same `metrics --json`, every month of the trend included."""
    for month in ("2026-10", "2026-03"):  # October, and a month after a DST change
        from_files = without_file_names(metrics_json(exports / "config.toml", month))
        from_tables = metrics_json(duck, month)
        names = {s: d["file"] for s, d in from_tables["data_quality"]["sources"].items() if d["status"] == "read"}
        assert names["adoption"] == "table usage_events"
        assert without_file_names(from_tables) == from_files


def test_a_report_renders_from_tables(duck, run, tmp_path):
    out = tmp_path / "report.pdf"
    result = run("render", "--month", "2026-10", "--config", duck, "--out", out)
    assert result.exit_code == 0, result.output
    text = "\n".join(pdf_text_pages(out))
    assert "table usage_events" in text and "Feature adoption" in text


def test_status_describes_a_run_from_tables(duck, run):
    """A table has no path, size or hash in the run record: status named them and stopped."""
    assert run("render", "--month", "2026-10", "--config", duck).exit_code == 0
    status = run("status", "--month", "2026-10", "--config", duck)
    assert status.exit_code == 0 and "Traceback" not in status.output, status.output
    assert "table usage_events" in status.stdout


BROKEN_ACCOUNTS = """account_id,segment,start_date,churn_date,mrr
a1,SMB,2025-01-10,,100
a2,SMB,2025-03-01,2026-10-15,200
a3,ENT,2025-05-01,2025-04-01,300
a4,ENT,2099-01-01,,-5
,MID,2025-02-01,,50
a5,MID,2025-02-01,,
"""
BROKEN_NPS = """response_id,account_id,responded_at,score,comment,segment
r1,a1,2026-10-05T10:00:00,10,great,SMB
r2,a2,2026-10-06T10:00:00,11,too high,SMB
r3,a3,2099-10-06T10:00:00,3,from the future,ENT
r4,a5,2026-10-07T10:00:00,,no score,MID
r5,a5,2026-10-08T10:00:00,6,,MID
r6,zz,2026-10-09T10:00:00,9,who is this,MID
"""


def _file_project(tmp_path: Path, **exports: str) -> tuple[Path, str]:
    """A folder of CSV exports (name = text) with its config.toml; (the folder, the config's
    [report] table, for the matching table config)."""
    files = tmp_path / "files"
    files.mkdir()
    for name, text in exports.items():
        (files / f"{name}.csv").write_text(text)
    head = f'[report]\ntimezone = "{ZONE}"\nmax_rejected_share = 0.9\n'
    (files / "config.toml").write_text(head + '[data]\ndir = "."\n')
    return files, head


def _broken(tmp_path: Path) -> tuple[Path, Path]:
    """The same rule-breaking rows as CSV exports and as a DuckDB warehouse; (file config, table config)."""
    files, head = _file_project(tmp_path, accounts=BROKEN_ACCOUNTS, nps=BROKEN_NPS)
    database = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(database))
    con.execute(f"CREATE TABLE accounts AS SELECT * FROM read_csv('{files / 'accounts.csv'}', header=true, "
                "types={'start_date': 'DATE', 'churn_date': 'DATE', 'mrr': 'DOUBLE'})")
    con.execute(f"CREATE TABLE nps AS SELECT response_id, account_id, timezone('{ZONE}', responded_at) AS responded_at, "
                f"score, comment, segment FROM read_csv('{files / 'nps.csv'}', header=true, "
                "types={'responded_at': 'TIMESTAMP', 'score': 'INTEGER'})")
    con.close()
    tables = tmp_path / "tables.toml"
    tables.write_text(head + f'[data]\ndir = "{tmp_path / "none"}"\n[warehouse]\nbackend = "duckdb"\n'
                      f'[warehouse.options]\ndatabase = "{database}"\n'
                      '[sources.accounts]\ntable = "accounts"\n[sources.nps]\ntable = "nps"\n')
    return files / "config.toml", tables


def test_rules_run_on_the_engine_counted_per_rule_with_sample_keys(tmp_path, metrics_json):
    """Each rule is a predicate in the engine: the rows that break it are counted under the same
    reasons as a file's, named by their key (no line: a table has none), and the metrics
    rest on the same accepted rows."""
    files, tables = _broken(tmp_path)
    from_files, from_tables = metrics_json(files), metrics_json(tables)
    quality = from_tables["data_quality"]
    assert quality["rejected_rows"] == from_files["data_quality"]["rejected_rows"] == 6
    named = {(i["column"], i["value"], i["reason"].split(" (")[0]) for i in quality["issues"]}
    assert named == {
        ("churn_date", "a3", "churn_date is before start_date"),
        ("mrr", "a4", "mrr must be 0..1e15"),
        ("account_id", "(blank)", "account_id is required but blank"),
        ("score", "r2", "score must be 0..10"),
        ("score", "r4", "score is required but blank"),
        ("responded_at", "r3", "responded_at is in the future"),
    }
    assert all(i["line"] is None for i in quality["issues"])
    # an account the CRM does not know: warned (row kept), named by its id, as from a file
    for document in (from_files, from_tables):
        unknown = [w for w in document["data_quality"]["warnings"] if w["column"] == "account_id"]
        assert [w["value"] for w in unknown] == ["zz"], document["data_quality"]["warnings"]
    for key in ("nps", "logo_churn", "revenue_churn"):
        assert from_tables["metrics"][key]["value"] == from_files["metrics"][key]["value"], key


def test_repeated_ids_need_an_ordering_column(tmp_path, metrics_json):
    """A table has no row order: without order_by every row of a repeated id is rejected and
    named; with it, the row with the latest value wins (as a file's last row does)."""
    database = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(database))
    con.execute("CREATE TABLE accounts (account_id TEXT, start_date DATE, churn_date DATE, updated TIMESTAMP)")
    con.execute("INSERT INTO accounts VALUES ('a1', '2025-01-01', NULL, '2026-01-01'), "
                "('a1', '2025-01-01', '2026-10-10', '2026-10-11'), ('a2', '2025-01-01', NULL, '2026-01-01')")
    con.close()
    base = (f'[report]\ntimezone = "{ZONE}"\nmax_rejected_share = 0.9\n[data]\ndir = "{tmp_path}"\n'
            f'[warehouse]\nbackend = "duckdb"\n[warehouse.options]\ndatabase = "{database}"\n'
            '[sources.accounts]\ntable = "accounts"\n')
    config = tmp_path / "config.toml"
    config.write_text(base)
    unordered = metrics_json(config)
    assert unordered["data_quality"]["rejected_rows"] == 2
    assert "no order_by column" in unordered["data_quality"]["issues"][0]["reason"]
    assert unordered["metrics"]["logo_churn"]["base"] == 1
    config.write_text(base + 'order_by = "updated"\n')
    ordered = metrics_json(config)
    assert ordered["data_quality"]["sources"]["accounts"]["rejected"] == 1  # the earlier row, superseded
    assert (ordered["metrics"]["logo_churn"]["churned"], ordered["metrics"]["logo_churn"]["base"]) == (1, 2)


@pytest.mark.parametrize("change, expected", [
    ('[sources.accounts.columns]\nmrr = "revenue"\n',
     "sources.accounts.table: accounts has no column 'revenue' (for mrr)"),
    ('[sources.accounts.columns]\nmrr = "segment"\n',
     "sources.accounts.table: accounts.segment is string; accounts.mrr must be a number"),
])
def test_a_table_that_does_not_fit_is_one_line_naming_the_column(tmp_path, run, change, expected):
    files, tables = _broken(tmp_path)
    tables.write_text(tables.read_text() + change)
    result = run("metrics", "--config", tables, "--month", "2026-10")
    assert result.exit_code == 4
    lines = result.output.strip().splitlines()
    assert lines[0] == f"Error: {expected}", result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("toml, expected", [
    ('[sources.nps]\ntable = "nps"\n', "sources.nps.table: a table source needs a [warehouse] table"),
    ('[warehouse]\nbackend = "duckdb"\n[sources.nps]\ntable = "nps"\npath = "nps.csv"\n',
     "a source is a file (path) or a warehouse table (table), not both"),
    ('[warehouse]\nbackend = "duckdb"\n[sources.nps]\ntable = "nps"\nencoding = "cp1252"\n',
     "encoding: a table source has typed columns and no file layout"),
    ('[warehouse]\nbackend = "postgres"\n[warehouse.options]\npassword = "hunter2"\n',
     "warehouse.options: password: secrets are not written in config.toml"),
    ('[warehouse]\nbackend = "oracle"\n', "warehouse.backend: Input should be"),
])
def test_warehouse_mistakes_in_config_are_config_errors(tmp_path, run, toml, expected):
    config = tmp_path / "config.toml"
    config.write_text(toml)
    result = run("validate", "--config", config)
    assert result.exit_code == 3
    assert expected in result.output, result.output
    assert "hunter2" not in result.output


def test_an_unreachable_warehouse_is_one_line_without_the_secret(tmp_path, run):
    """A refused connection names the backend, never the password from the environment."""
    config = tmp_path / "config.toml"
    config.write_text('[warehouse]\nbackend = "postgres"\n[warehouse.options]\nhost = "127.0.0.1"\nport = 9\n'
                      'user = "cx"\ndatabase = "cx"\n[sources.nps]\ntable = "nps"\n')
    result = run("metrics", "--config", config, "--month", "2026-10",
                 env={"CXTRUTH_WAREHOUSE_PASSWORD": "s3cret-pass"})
    assert result.exit_code in (3, 4), result.output
    assert result.output.startswith("Error: ") and "s3cret-pass" not in result.output
    assert "Traceback" not in result.output


def test_the_validated_tables_compile_for_every_warehouse_engine(duck):
    """Rules, mapping, the zone's wall time and every metric compile to each engine's SQL
    (this catches functions an engine lacks); DuckDB runs them in the tests above."""
    import ibis

    from cxtruth.config import Config
    from cxtruth.metrics import MetricInputs, declared
    from cxtruth.metrics.engine import Engine, Window
    from cxtruth.months import Month
    from cxtruth.sources import load_sources

    config = Config.from_file(duck)
    sources = load_sources(config)
    inputs = MetricInputs.from_sources(config, sources)
    window = Window(Engine(inputs.frames, None, inputs.tables, inputs.backend),
                    tuple(Month(2026, 10).trailing(3)), ZONE, config,
                    {key: config.metrics.get(key) for key in declared(config)})
    compiled = 0
    for key, metric in declared(config).items():
        for name, expr in (metric.parts(window, window.settings[key]) or {}).items():
            if isinstance(expr, ibis.expr.types.Table):
                for dialect in ("postgres", "snowflake", "bigquery", "trino", "databricks"):
                    assert ibis.to_sql(expr, dialect=dialect), (key, name, dialect)
                    compiled += 1
    for result in sources.results.values():
        if result.table is not None:
            for dialect in ("postgres", "snowflake", "bigquery", "trino", "databricks"):
                assert "CASE" in ibis.to_sql(result.table, dialect=dialect) or result.name not in STAMPS
    assert compiled > 40


def test_validate_reads_tables_where_they_live(tmp_path, run):
    """`cxtruth validate` reads a table source from the warehouse (not a file of the same
    name) and lists its rejected rows by key, without line numbers."""
    files, tables = _broken(tmp_path)
    result = run("validate", "--config", tables)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    accounts = next(line for line in lines if line.startswith("accounts"))
    assert "6 rows," in accounts and "3 rejected" in accounts and accounts.endswith("(table accounts)")
    assert "           table accounts, row a3: churn_date: churn_date is before start_date" in lines, result.output


def test_where_filters_a_table_on_the_engine(tmp_path, metrics_json):
    """`where` on a table source is the same grammar as a file's, compiled to a predicate on
    the table's own columns; the rows it leaves out are counted as filtered, not rejected."""
    files, tables = _broken(tmp_path)
    tables.write_text(tables.read_text().replace('[sources.accounts]\ntable = "accounts"\n',
                                                 '[sources.accounts]\ntable = "accounts"\nwhere = \'segment != "ENT"\'\n'))
    quality = metrics_json(tables)["data_quality"]["sources"]["accounts"]
    assert (quality["rows_read"], quality["filtered"], quality["rejected"], quality["accepted"]) == (6, 2, 1, 3)


@pytest.mark.parametrize("as_tables", [("adoption", "nps"), ("accounts", "feedback", "handoffs")])
def test_files_and_tables_mix(exports, duck, metrics_json, tmp_path, as_tables):
    """Some sources tables, the rest files (sent to the engine as temporary tables for the
    joins): the same JSON as all files, usage events in the warehouse or not."""
    text = duck.read_text()
    for name in set(TABLES) - set(as_tables):  # these go back to being files (and their own headers)
        start = text.index(f"\n[sources.{name}]\n")
        end = start + 1
        while (end := text.find("\n[sources.", end + 1)) != -1 and text.startswith(f"\n[sources.{name}.", end):
            pass
        text = text[:start] + (text[end:] if end != -1 else "\n")
    config = tmp_path / "config.toml"
    config.write_text(text)
    from_files = without_file_names(metrics_json(exports / "config.toml"))
    mixed = metrics_json(config)
    assert {n for n, s in mixed["data_quality"]["sources"].items() if s["file"].startswith("table ")} == set(as_tables)
    assert without_file_names(mixed) == from_files


def test_a_table_reads_like_its_file_in_the_corners(tmp_path, metrics_json):
    """What a file's reader does to cells, a table source does too: text trimmed and blank
    text missing, a row loaded twice counted once, NaN and infinity rejected as not numbers."""
    accounts = ("account_id,segment,start_date,churn_date,mrr\n"
                "a1, SMB ,2025-01-10,,100\na2,SMB,2025-03-01,2026-10-15,200\na2,SMB,2025-03-01,2026-10-15,200\n"
                "a3,,2025-05-01,,inf\na4,ENT,2025-05-01,,50\n")
    files, head = _file_project(tmp_path, accounts=accounts)
    database = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(database))
    con.execute(f"CREATE TABLE accounts AS SELECT * FROM read_csv('{files / 'accounts.csv'}', header=true, "
                "all_varchar=true)")
    con.execute("CREATE TABLE typed AS SELECT account_id, segment, start_date::DATE AS start_date, "
                "churn_date::DATE AS churn_date, mrr::DOUBLE AS mrr FROM accounts")
    con.close()
    tables = tmp_path / "tables.toml"
    tables.write_text(head + f'[data]\ndir = "{tmp_path / "none"}"\n[warehouse]\nbackend = "duckdb"\n'
                      f'[warehouse.options]\ndatabase = "{database}"\n[sources.accounts]\ntable = "typed"\n')
    from_files, from_tables = metrics_json(files / "config.toml"), metrics_json(tables)
    assert from_tables["metrics"]["logo_churn"] == from_files["metrics"]["logo_churn"]
    assert set(from_tables["metrics"]["logo_churn"]["segments"]) == {"SMB", "ENT"}
    table_quality = from_tables["data_quality"]["sources"]["accounts"]
    assert (table_quality["accepted"], table_quality["rejected"]) == (3, 2)  # a3's inf; a2's copy
    assert [i["value"] for i in from_tables["data_quality"]["issues"]] == ["a3"]


def test_an_empty_table_and_a_sentinel_date_are_handled(tmp_path, metrics_json):
    """A table whose rows are all filtered out is "no data", not a crash; one sentinel time
    (9999-12-31) is rejected as in the future and does not make the zone conversion huge."""
    import ibis

    from cxtruth.config import Config
    from cxtruth.sources import load_sources

    database = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(database))
    con.execute("CREATE TABLE events (account_id TEXT, feature TEXT, used_at TIMESTAMPTZ)")
    con.execute("INSERT INTO events VALUES ('a1', 'api', '2026-10-02 10:00:00+00'), ('a1', 'api', '9999-12-31 00:00:00+00')")
    con.execute("CREATE TABLE accounts (account_id TEXT, start_date DATE)")
    con.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[report]\ntimezone = "{ZONE}"\n[data]\ndir = "{tmp_path}"\n[warehouse]\nbackend = "duckdb"\n'
                      f'[warehouse.options]\ndatabase = "{database}"\n[sources.adoption]\ntable = "events"\n'
                      '[sources.accounts]\ntable = "accounts"\n')
    document = metrics_json(config)
    assert document["metrics"]["logo_churn"]["value"] is None
    assert [i["reason"].split(" (")[0] for i in document["data_quality"]["issues"]] == ["used_at is in the future"]
    sources = load_sources(Config.from_file(config))
    assert ibis.to_sql(sources.results["adoption"].table, dialect="duckdb").count("WHEN") <= 3
    config.write_text(config.read_text().replace('table = "events"\n', 'table = "events"\norder_by = "used_at"\n'))
    with pytest.raises(Exception, match="sources.adoption.order_by: adoption has no id"):
        Config.from_file(config)


def test_an_engine_message_never_shows_the_secret(monkeypatch):
    """Whatever a driver echoes (its connection string, a URL with the password encoded), the
    one line cxtruth prints has the secret blanked."""
    from cxtruth.errors import DataError
    from cxtruth.warehouse import run

    monkeypatch.setenv("CXTRUTH_WAREHOUSE_PASSWORD", "p@ss word/1")

    class Refusing:
        def execute(self):
            raise RuntimeError("FATAL: login failed for postgresql://cx:p%40ss%20word%2F1@db/cx (p@ss word/1)")

    with pytest.raises(DataError) as raised:
        run(Refusing())
    assert "p@ss" not in str(raised.value) and "p%40ss" not in str(raised.value)
    assert str(raised.value).startswith("the engine refused a query: FATAL: login failed for postgresql://cx:***@db/cx")
