"""The PostgreSQL tier (issue 21): `cxtruth metrics` and `render` against a real server the
tests start from the OS's packages, connecting as a read-only role whose password comes
from the environment. The server's own zone is Asia/Kolkata; Ibis sets the session's to
UTC; the report's is New York. Results must equal the files'.
"""

from __future__ import annotations

from test_warehouse import (RENAMED, TABLES, ZONE, assert_tables_read_as_files, exports,  # noqa: F401 (fixture)
                            table_config, typed_columns)
from warehouse import save_csv_to_postgres


def _config(postgres, exports, tmp_path):
    for name, table in TABLES.items():
        stamps, dates, types = typed_columns(name)
        save_csv_to_postgres(postgres, exports / f"{name}.csv", table, timestamp_columns=stamps, date_columns=dates,
                             types=types, zone=ZONE, renames=RENAMED.get(name))
    config = tmp_path / "config.toml"
    config.write_text(table_config(exports, f'[warehouse]\nbackend = "postgres"\n[warehouse.options]\n'
                                            f'host = "{postgres.host}"\nport = {postgres.port}\n'
                                            f'database = "{postgres.database}"\nuser = "{postgres.readonly_user}"'))
    return config


def test_postgres_tables_give_the_files_metrics_and_render(postgres, exports, metrics_json, run, tmp_path,
                                                             monkeypatch):
    config = _config(postgres, exports, tmp_path)
    monkeypatch.setenv("CXTRUTH_WAREHOUSE_PASSWORD", postgres.readonly_password)
    assert_tables_read_as_files(config, exports, metrics_json, run, tmp_path / "report.pdf", "nps", "nps_responses")


def test_a_wrong_password_is_one_line_without_it(postgres, exports, run, tmp_path, monkeypatch):
    config = _config(postgres, exports, tmp_path)
    monkeypatch.setenv("CXTRUTH_WAREHOUSE_PASSWORD", "not-the-password")
    result = run("metrics", "--month", "2026-10", "--config", config)
    assert result.exit_code == 4
    assert result.output.startswith("Error: warehouse: cannot connect to postgres"), result.output
    assert "not-the-password" not in result.output and "Traceback" not in result.output
