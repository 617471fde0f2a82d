"""The Spark tier (issue 21): the whole `cxtruth metrics` and `render` against tables in a
local PySpark session, saved with `saveAsTable` in a Hive catalog as a Databricks or Hive
user has them. The session's own zone is Asia/Kolkata: neither UTC (which Ibis sets) nor
the report zone (New York), so nothing may lean on it. Results must equal the files'.
"""

from __future__ import annotations

import pytest

from conftest import pdf_text_pages
from test_warehouse import (RENAMED, TABLES, ZONE, exports, table_config,  # noqa: F401 (fixture)
                            typed_columns, without_file_names)
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
    from_files = without_file_names(metrics_json(exports / "config.toml"))
    from_tables = metrics_json(spark_config)
    assert from_tables["data_quality"]["sources"]["adoption"]["file"] == "table usage_events"
    assert without_file_names(from_tables) == from_files
    out = tmp_path / "report.pdf"
    result = run("render", "--month", "2026-10", "--config", spark_config, "--out", out)
    assert result.exit_code == 0, result.output
    text = "\n".join(pdf_text_pages(out))
    assert "table usage_events" in text and "Feature adoption" in text
