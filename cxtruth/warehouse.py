"""The connection to [warehouse]: the engine where table sources live (docs/warehouse.md).

One Ibis backend per run. Table sources are validated there and every metric runs
there; file sources of the same run are sent to it as temporary tables (they are
small: accounts, actions). Only aggregates and the few rows a report lists come back.

Secrets come from the environment, never from config.toml: the password (or token) is
$CXTRUTH_WAREHOUSE_PASSWORD, and no message or log line prints the options given.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, CxtruthError, DataError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

    from .config import WarehouseConfig

PASSWORD_ENV = "CXTRUTH_WAREHOUSE_PASSWORD"
# The pip extra that brings each backend's driver (pyproject.toml).
EXTRAS = {"duckdb": "", "pyspark": "pyspark", "postgres": "postgres", "snowflake": "snowflake",
          "bigquery": "bigquery", "trino": "trino", "databricks": "databricks"}
# Where each backend takes the secret.
PASSWORD_OPTION = {"postgres": "password", "snowflake": "password", "trino": "password",
                   "databricks": "access_token"}


def connect(warehouse: "WarehouseConfig") -> "BaseBackend":
    """A read-only connection to the warehouse; ConfigError when the driver is missing,
    DataError when the engine cannot be reached (the message names the backend, not secrets)."""
    import ibis

    backend = warehouse.backend
    options: dict[str, Any] = dict(warehouse.options)
    secret = os.environ.get(PASSWORD_ENV)
    if secret and backend in PASSWORD_OPTION:
        options[PASSWORD_OPTION[backend]] = secret
    try:
        if backend == "pyspark":
            return ibis.pyspark.connect(_spark_session(options))
        if backend == "duckdb":
            # A DuckDB file another process may be writing: opened read-only.
            return ibis.duckdb.connect(options.pop("database", ":memory:"), read_only=True, **options)
        return getattr(ibis, backend).connect(**options)
    except ImportError as exc:
        extra = EXTRAS[backend]
        raise ConfigError(f"warehouse.backend: {backend} needs its driver, which is not installed ({exc.name})",
                          hint=f"pip install 'cxtruth[{extra}]'") from None
    except Exception as exc:  # a driver's own error type: unreachable host, refused login, no such database
        raise DataError(f"warehouse: cannot connect to {backend}: {_first_line(exc)}",
                        hint=f"check [warehouse.options] and ${PASSWORD_ENV}") from None


def run(expr: Any, con: "BaseBackend | None" = None) -> Any:
    """``expr`` executed on ``con`` (default: the engine of its tables); an engine's own error (a permission refused, a table
    gone, a lost Spark executor) becomes a DataError with its first line, not a traceback."""
    try:
        return expr.execute() if con is None else con.execute(expr)
    except CxtruthError:
        raise
    except Exception as exc:
        raise DataError(f"the engine refused a query: {_first_line(exc)}",
                        hint="run with --verbose to see which step; check that cxtruth's user may read "
                             "every table it names") from None


def _spark_session(options: dict[str, Any]):
    """A Spark session built from the options as written: `master` and `app_name` for the
    builder, every other key a Spark setting (a Hive metastore, a warehouse dir, memory)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(str(options.pop("app_name", "cxtruth")))
    if "master" in options:  # `config("master", ...)` would be ignored; "spark.master" works as a setting
        builder = builder.master(str(options.pop("master")))
    # A cron job needs no web UI and no progress bars on stderr; options may turn them on.
    builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    # File sources reach Spark as Ibis memtables: without Arrow, createDataFrame turns every value
    # of an integer column that has a blank (a float in pandas) into NULL.
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true").config("spark.log.level", "ERROR")
    for key, value in options.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    if options.get("spark.sql.catalogImplementation") == "hive":
        builder = builder.enableHiveSupport()
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")  # Spark's own warnings are not the report's
    return session


def table(con: "BaseBackend", name: str, source: str) -> "ir.Table":
    """Table or view ``name`` ("schema.table" where the engine has schemas); DataError naming
    the source when the engine has no such table."""
    parts = name.split(".")
    try:
        if len(parts) == 1:
            return con.table(name)
        return con.table(parts[-1], database=tuple(parts[:-1]) if len(parts) > 2 else parts[0])
    except Exception as exc:
        raise DataError(f"sources.{source}.table: {name} not found in the warehouse: {_first_line(exc)}",
                        hint="check the name, and that cxtruth's user may read it") from None


def _first_line(exc: BaseException, limit: int = 200) -> str:
    """An engine's message, first line, with the secret blanked wherever a driver echoes it
    (a connection string, a URL)."""
    from urllib.parse import quote

    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    secret = os.environ.get(PASSWORD_ENV)
    if secret:
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            line = line.replace(form, "***")
    return line if len(line) <= limit else line[:limit] + "…"
