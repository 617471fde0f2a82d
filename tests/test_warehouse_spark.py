"""The Spark tier (issue 21): the whole `cxtruth metrics` and `render` against tables in a
local PySpark session, saved with `saveAsTable` in a Hive catalog as a Databricks or Hive
user has them. The session's own zone is Asia/Kolkata: neither UTC (which Ibis sets) nor
the report zone (New York), so nothing may lean on it. Results must equal the files'.
"""

from __future__ import annotations

import pytest

from test_warehouse import (RENAMED, TABLES, ZONE, assert_tables_read_as_files, exports,  # noqa: F401 (fixture)
                            table_config, typed_columns)
from warehouse import save_csv_to_spark, spark_options

pytestmark = pytest.mark.xdist_group("spark")


@pytest.fixture
def spark_config(spark, spark_dir, exports, tmp_path):
    """The exports saved as Spark tables (instants, DATEs, typed numbers, renamed columns)
    and a config.toml pointing cxtruth's own session at that catalog."""
    for name, table in TABLES.items():
        stamps, dates, types = typed_columns(name)
        save_csv_to_spark(spark, exports / f"{name}.csv", table, timestamp_columns=stamps, date_columns=dates,
                          types=types, zone=ZONE, renames=RENAMED.get(name))
    options = "".join(f'"{k}" = "{v}"\n' for k, v in spark_options(spark_dir).items())
    config = tmp_path / "config.toml"
    config.write_text(table_config(exports, f'[warehouse]\nbackend = "pyspark"\n[warehouse.options]\n{options}'))
    return config


def test_spark_tables_give_the_files_metrics_and_render(spark_config, exports, metrics_json, run, tmp_path, spark):
    assert_tables_read_as_files(spark_config, exports, metrics_json, run, tmp_path / "report.pdf",
                                "adoption", "usage_events")
