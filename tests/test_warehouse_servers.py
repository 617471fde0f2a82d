"""The warehouses the warehouse tests run on (tests/warehouse.py) work as a company's would:
tables saved in Spark's catalog outlive the session that saved them, wall times of the
export's zone become instants, and PostgreSQL serves them to Ibis."""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from warehouse import (SPARK_SESSION_ZONE, save_csv_to_postgres, save_csv_to_spark, spark_options,
                       spark_session, toml_options)

ZONE = "America/New_York"
# 2026-10-01 00:30 in New York (EDT, UTC-4) is 04:30 UTC; 2026-10-31 23:59 is still EDT
# (DST ends on 2026-11-01), so 03:59 UTC the next day; r3 has no timestamp and no date;
# r4 carries its own offset, which wins over the zone.
EXPORT = """\
Response ID,Submitted At,Score,Start Date
r1,2026-10-01 00:30,9,2026-09-30
r2,2026-10-31 23:59:00,3,2026-10-31
r3,,7,
r4,2026-10-15T12:00:00Z,10,2026-10-15
"""
INSTANTS = {"r1": pd.Timestamp("2026-10-01 04:30", tz="UTC"), "r2": pd.Timestamp("2026-11-01 03:59", tz="UTC"),
            "r4": pd.Timestamp("2026-10-15 12:00", tz="UTC")}
DATES = {"r1": dt.date(2026, 9, 30), "r2": dt.date(2026, 10, 31), "r4": dt.date(2026, 10, 15)}


@pytest.fixture
def export(tmp_path) -> Path:
    path = tmp_path / "nps.csv"
    path.write_text(EXPORT, encoding="utf-8")
    return path


def save_export(spark, export, table="nps_export"):
    return save_csv_to_spark(spark, export, table, timestamp_columns=["Submitted At"],
                             date_columns=["Start Date"], zone=ZONE)


def by_id(frame: pd.DataFrame, column: str) -> dict:
    return {row["Response ID"]: row[column] for _, row in frame.iterrows() if pd.notna(row[column])}


@pytest.mark.xdist_group("spark")
def test_spark_saves_wall_times_of_the_exports_zone_as_instants(spark, export, request):
    if request.config.getvalue("loadgroup"):  # the group is what keeps Spark's tests on one worker
        assert request.node.nodeid.endswith("@spark"), "xdist_group ignored: see the pytest pin in pyproject.toml"
    saved = save_export(spark, export)
    assert [f.dataType.typeName() for f in saved.schema.fields] == ["string", "timestamp", "string", "date"]
    assert spark.conf.get("spark.sql.session.timeZone") == SPARK_SESSION_ZONE
    # Seconds since the epoch do not depend on any session zone.
    epochs = {r["Response ID"]: r["e"] for r in saved.selectExpr("`Response ID`", "unix_timestamp(`Submitted At`) AS e")
              .collect() if r["e"] is not None}
    assert epochs == {k: int(v.timestamp()) for k, v in INSTANTS.items()}


@pytest.mark.xdist_group("spark")
def test_spark_table_is_found_by_a_new_session_and_read_through_ibis(spark, spark_dir, export):
    import ibis

    save_export(spark, export)
    # What a run of cxtruth that ends does. The next session gets a new Hive client that reads
    # the metastore from disk: an in-memory catalog would have lost the table here.
    spark.stop()
    session = spark_session(spark_options(spark_dir))
    assert session is not spark
    assert session.catalog.tableExists("nps_export")

    con = ibis.pyspark.connect(session)
    # Ibis 12 sets the session zone to UTC (ibis/backends/pyspark/__init__.py, do_connect) and
    # types Spark's TIMESTAMP as a timestamp without zone: its values are UTC wall times.
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    t = con.table("nps_export")
    assert str(t.schema()["Submitted At"]) == "timestamp" and str(t.schema()["Start Date"]) == "date"
    frame = con.execute(t)
    assert by_id(frame, "Submitted At") == {k: v.tz_localize(None) for k, v in INSTANTS.items()}
    assert {k: v.date() for k, v in by_id(frame, "Start Date").items()} == DATES
    # a zone-aware literal is the instant it names: 00:30 New York is r1's 04:30 UTC, counted by >=
    stamp = ibis.literal(dt.datetime(2026, 10, 1, 0, 30, tzinfo=ZoneInfo(ZONE)))
    assert con.execute(t.filter(t["Submitted At"] >= stamp).count()) == 3


def test_postgres_serves_timestamptz_to_ibis(postgres, export):
    import ibis

    save_csv_to_postgres(postgres, export, "nps_export", timestamp_columns=["Submitted At"],
                         date_columns=["Start Date"], zone=ZONE)
    con = ibis.postgres.connect(host=postgres.host, port=postgres.port, user=postgres.user,
                                password=postgres.password, database=postgres.database)
    try:
        t = con.table("nps_export")
        assert str(t.schema()["Submitted At"]) == "timestamp('UTC', 6)"
        assert str(t.schema()["Start Date"]) == "date"
        frame = con.execute(t)
        assert by_id(frame, "Submitted At") == INSTANTS
        assert {k: pd.Timestamp(v).date() for k, v in by_id(frame, "Start Date").items()} == DATES
        assert by_id(frame, "Score") == {"r1": "9", "r2": "3", "r3": "7", "r4": "10"}
    finally:
        con.disconnect()


def test_postgres_readonly_role_reads_but_cannot_write(postgres, export):
    import psycopg

    save_csv_to_postgres(postgres, export, "nps_readonly", timestamp_columns=["Submitted At"],
                         date_columns=["Start Date"], zone=ZONE)
    with postgres.connect(readonly=True) as con:
        assert con.execute('SELECT count(*) FROM nps_readonly').fetchone() == (4,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("INSERT INTO nps_readonly (\"Response ID\") VALUES ('r4')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("CREATE TABLE elsewhere (x int)")


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery", "trino", "databricks", "pyspark", "postgres"])
def test_definitions_compile_for_warehouses_without_their_drivers(dialect):
    """sqlglot (with Ibis) writes each warehouse's SQL; its driver is only needed to run it."""
    import ibis

    t = ibis.table({"account_id": "string", "used_at": "timestamp('UTC')", "mrr": "string"}, name="adoption")
    expr = t.group_by("account_id").agg(n=t.used_at.count(), first=t.used_at.min(),
                                        mrr=t.mrr.cast("decimal(38, 6)").sum(),
                                        days=t.used_at.date().nunique())
    sql = ibis.to_sql(expr, dialect=dialect)
    assert "adoption" in sql and "COUNT(DISTINCT" in sql.upper()


def test_spark_options_written_to_toml_read_back_as_written(tmp_path):
    import tomllib

    options = spark_options(tmp_path / 'a "quoted" folder, été 😀')
    config = tomllib.loads("[warehouse.options]\n" + toml_options(options))
    assert config["warehouse"]["options"] == options
