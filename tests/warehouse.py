"""Warehouses for the tests: a local Spark with a catalog that outlives its session, and a
real PostgreSQL server, each loaded from a CSV export as a company would load it.

Registered as a pytest plugin by conftest.py. The servers are started once per xdist
worker (session scope) and only by the tests that ask for them. Both need programs from
the OS (a Java 17 runtime; PostgreSQL's server), which `make test` installs
(scripts/ensure-warehouse-deps.sh). Where they are missing the tests that need them are
skipped, except under CI, where that is a failure.

Spark's tests share one JVM: mark them ``@pytest.mark.xdist_group("spark")`` (pytest runs
with ``--dist loadgroup``), so every one of them lands on the worker that started it.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

# Spark's own session zone in the tests: neither UTC (what Ibis sets on the sessions it
# connects to) nor a report zone the tests use (America/New_York, Europe/Berlin), so code
# that leans on the session zone by accident gets a wrong answer instead of a lucky one.
SPARK_SESSION_ZONE = "Asia/Kolkata"
# The PostgreSQL server's default zone, for the same reason.
POSTGRES_SERVER_ZONE = "Asia/Kolkata"


# ``types`` of the loaders: a column's type in each engine's words (the rest stay text).
SPARK_TYPES = {"integer": "INT", "double": "DOUBLE", "boolean": "BOOLEAN"}
POSTGRES_TYPES = {"integer": "integer", "double": "double precision", "boolean": "boolean"}


def _unavailable(why: str) -> None:
    """Skip the test that needs a missing program; under CI (where `make test` installs it) fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{why} (scripts/ensure-warehouse-deps.sh should have installed it)")
    pytest.skip(f"{why}: run `make test`, or scripts/ensure-warehouse-deps.sh")


# --- Spark -----------------------------------------------------------------------------

def spark_options(tmp_dir: str | os.PathLike[str]) -> dict[str, str]:
    """The options of a local Spark whose tables outlive the session that saved them.

    Exactly what a user puts under ``[warehouse.options]`` (each passed as
    ``SparkSession.builder.config(key, value)``): a later session with the same options, in
    this process or after it ended, finds every table saved with ``saveAsTable``. The
    catalog is Hive's metastore in an embedded Derby database (both ship inside the pyspark
    wheel); tables are Parquet files under ``warehouse/``. Everything lives in ``tmp_dir``.

    Embedded Derby admits one JVM at a time: a second process opening the same folder while
    the first runs fails ("Failed to start database .../metastore_db").
    """
    d = Path(tmp_dir).resolve()
    return {
        # `spark.master`, not `master`: config("master", ...) is ignored with a warning.
        "spark.master": "local[1]",
        "spark.app.name": "cxtruth-tests",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(d / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={d / 'metastore_db'};create=true",
        # Derby writes derby.log into its home: without this, into the current directory.
        # C1 only and the serial collector: a JVM that lives a minute on two cores starts in
        # about half the time (the C2 compiler's threads no longer compete for the cores).
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={d} -XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        "spark.sql.session.timeZone": SPARK_SESSION_ZONE,
        # Arrow between Python and the JVM (Databricks' default): without it, Ibis's memtables
        # lose every value of an integer column that has a null (pandas makes it float, and
        # createDataFrame(verifySchema=False) turns 1.0 into NULL for an INT field).
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Small and quiet: one core, no web UI, no progress bars, two shuffle partitions.
        "spark.driver.memory": "1g",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "ERROR",
        # Loopback only: the driver never looks up or binds the machine's own address.
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }


def toml_options(options: dict[str, str]) -> str:
    """``options`` as the lines of a TOML table (``[warehouse.options]``). Every key is quoted:
    unquoted, ``spark.master = "local[1]"`` is a table ``spark`` holding ``master``."""
    # A JSON string is a TOML basic string, given no \u escapes of surrogates (ensure_ascii off).
    def quote(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    return "".join(f"{quote(key)} = {quote(value)}\n" for key, value in options.items())


def spark_session(options: dict[str, str]):
    """The process's SparkSession built from ``options`` (``getOrCreate``: an active one is reused)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in options.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


@dataclass
class SparkHandle:
    options: dict[str, str]
    session: Any = None
    started_in: float = 0.0  # seconds to start the first session (JVM and catalog)


@pytest.fixture(scope="session")
def spark_dir(tmp_path_factory) -> Path:
    """This worker's Spark folder (warehouse, metastore): pass it to `spark_options`."""
    return tmp_path_factory.mktemp("spark")


@pytest.fixture(scope="session")
def _spark_handle(spark_dir) -> Iterator[SparkHandle]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _unavailable("no Java runtime for Spark")
    pytest.importorskip("pyspark")
    # Python workers (UDFs) run this interpreter, not whatever `python3` is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Loopback, without Spark first asking which address the machine's name resolves to.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    handle = SparkHandle(spark_options(spark_dir))
    start = time.perf_counter()
    handle.session = spark_session(handle.options)
    handle.session.catalog.listTables()  # the metastore opens here: count it in the start-up
    handle.started_in = time.perf_counter() - start
    yield handle
    handle.session.stop()


@pytest.fixture
def spark(_spark_handle):
    """This worker's SparkSession (one JVM per worker), its zone reset to SPARK_SESSION_ZONE.

    Session state is shared by the tests on the worker: ``ibis.pyspark.connect`` sets the
    session's zone to UTC, so it is set back before each test; a session stopped by the
    code under test is started again (same options, same catalog)."""
    handle = _spark_handle
    if handle.session.sparkContext._jsc is None:  # stopped
        handle.session = spark_session(handle.options)
    handle.session.conf.set("spark.sql.session.timeZone", SPARK_SESSION_ZONE)
    return handle.session


def _csv_header(csv_path: Path) -> list[str]:
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        return next(csv.reader(f))


def save_csv_to_spark(spark, csv_path: str | os.PathLike[str], table: str, *,
                      timestamp_columns: tuple[str, ...] | list[str] = (),
                      date_columns: tuple[str, ...] | list[str] = (),
                      zone: str, renames: dict[str, str] | None = None, types: dict[str, str] | None = None):
    """Load a CSV export into the catalog as ``table`` (replacing it), as one loads it into
    Databricks or Hive: Spark's CSV reader with a schema, then ``saveAsTable``.

    ``timestamp_columns`` hold wall time in ``zone`` (or carry their own offset) and become
    TIMESTAMP, i.e. instants; ``date_columns`` become DATE; ``types`` (header -> "integer", "double", "boolean") type the numbers; every other column is STRING
    under its header name as in the export (``renames``: header -> column name, for the
    names a table cannot have). Returns the saved table as a Spark DataFrame."""
    csv_path = Path(csv_path)
    header = _csv_header(csv_path)
    for name in (*timestamp_columns, *date_columns):
        if name not in header:
            raise ValueError(f"{csv_path.name}: no column {name!r} in {header}")

    def kind(name: str) -> str:
        if name in (types or {}):
            return SPARK_TYPES[types[name]]
        return "TIMESTAMP" if name in timestamp_columns else "DATE" if name in date_columns else "STRING"

    schema = ", ".join(f"`{name.replace('`', '``')}` {kind(name)}" for name in header)
    frame = (spark.read.option("header", "true").option("encoding", "UTF-8")
             .option("timeZone", zone).option("mode", "FAILFAST")
             .option("multiLine", "true").option("escape", "\"")  # RFC 4180: "" inside quotes, newlines in values
             .schema(schema).csv(str(csv_path)))
    for old, new in (renames or {}).items():
        frame = frame.withColumnRenamed(old, new)
    frame.write.mode("overwrite").saveAsTable(table)
    return spark.table(table)


# --- PostgreSQL ------------------------------------------------------------------------

@dataclass
class PostgresServer:
    """A running PostgreSQL server on loopback: connect as ``user`` (owner of ``database``)
    or as ``readonly_user`` (may read every table of its public schema, write none)."""

    host: str
    port: int
    database: str
    user: str
    password: str
    readonly_user: str
    readonly_password: str
    admin_user: str = field(repr=False, default="admin")
    admin_password: str = field(repr=False, default="")
    started_in: float = 0.0  # seconds: initdb, start, roles and database

    @property
    def url(self) -> str:
        return f"postgres://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def connect(self, *, readonly: bool = False, admin: bool = False, **kwargs):
        """A psycopg connection (autocommit) as the owner, the read-only role or the admin."""
        import psycopg

        user, password = ((self.admin_user, self.admin_password) if admin else
                          (self.readonly_user, self.readonly_password) if readonly else (self.user, self.password))
        return psycopg.connect(host=self.host, port=self.port, dbname="postgres" if admin else self.database,
                               user=user, password=password, autocommit=True, **kwargs)


def postgres_bindir() -> Path | None:
    """The newest PostgreSQL's programs (Debian keeps initdb off PATH, under /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Postgres:
    """initdb + pg_ctl in a folder of its own. The server refuses to run as root: as root,
    every program runs as the `postgres` OS user (Debian's package makes it) or `nobody`."""

    def __init__(self, bindir: Path):
        import pwd

        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="cxtruth-pg-"))  # not pytest's tmp: root-only
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pw = pwd.getpwnam(name)
                except KeyError:
                    continue
                self.as_user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
                os.chown(self.base, pw.pw_uid, pw.pw_gid)
                break
            else:
                raise RuntimeError("running as root and no `postgres` or `nobody` user to run PostgreSQL as")

    def run(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([str(self.bindir / args[0]), *args[1:]], cwd=self.base, capture_output=True,
                                text=True, timeout=60, **self.as_user)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr or result.stdout}\n{log}")
        return result

    def start(self, admin_password: str) -> int:
        pwfile = self.base / "pwfile"
        pwfile.write_text(admin_password + "\n")
        if self.as_user:
            os.chown(pwfile, self.as_user["user"], self.as_user["group"])
        # -N: no fsync of the new cluster; scram for every connection, no trust.
        self.run("initdb", "-D", str(self.data), "-U", "admin", f"--pwfile={pwfile}", "-A", "scram-sha-256",
                 "-E", "UTF8", "--locale=C", "-N")
        pwfile.unlink()
        for attempt in range(5):
            port = _free_port()
            settings = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                        f"-c timezone={POSTGRES_SERVER_ZONE} -c fsync=off -c synchronous_commit=off "
                        "-c full_page_writes=off -c max_connections=20 -c shared_buffers=16MB")
            try:
                self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "-o", settings, "start")
                return port
            except RuntimeError:
                if attempt == 4:  # the port was taken between looking and binding: try another
                    raise

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this worker, from the OS's packages, on a free loopback port;
    stopped and deleted at the end. Its ``database`` starts empty."""
    bindir = postgres_bindir()
    if bindir is None:
        _unavailable("no PostgreSQL server programs (initdb)")
    pytest.importorskip("psycopg")
    start = time.perf_counter()
    server = _Postgres(bindir)
    try:
        admin_password = "admin-" + os.urandom(6).hex()
        port = server.start(admin_password)
        info = PostgresServer(host="127.0.0.1", port=port, database="cx", user="cx",
                              password="cx-" + os.urandom(6).hex(), readonly_user="cx_reader",
                              readonly_password="reader-" + os.urandom(6).hex(),
                              admin_password=admin_password)
        with info.connect(admin=True) as con:
            con.execute(f"CREATE ROLE {info.user} LOGIN PASSWORD '{info.password}'")
            con.execute(f"CREATE ROLE {info.readonly_user} LOGIN PASSWORD '{info.readonly_password}'")
            con.execute(f"CREATE DATABASE {info.database} OWNER {info.user}")
        with info.connect() as con:
            # The reader sees the owner's tables, now and later; it may still make TEMP tables
            # (PostgreSQL grants that on every database), which is how Ibis sends a memtable.
            con.execute(f"GRANT USAGE ON SCHEMA public TO {info.readonly_user}")
            con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {info.readonly_user}")
            con.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {info.readonly_user}")
        info.started_in = time.perf_counter() - start
        yield info
    finally:
        server.stop()


def save_csv_to_postgres(server: PostgresServer, csv_path: str | os.PathLike[str], table: str, *,
                         timestamp_columns: tuple[str, ...] | list[str] = (),
                         date_columns: tuple[str, ...] | list[str] = (),
                         zone: str, renames: dict[str, str] | None = None,
                         types: dict[str, str] | None = None) -> None:
    """Load a CSV export into ``server`` as ``table`` (replacing it), with COPY as psql's \\copy would.

    ``timestamp_columns`` hold wall time in ``zone`` (or carry their own offset) and become
    ``timestamptz``; ``date_columns`` become ``date``; ``types`` type the numbers; every other column is ``text`` under its
    header name as in the export (``renames``: header -> column name). Empty cells are NULL."""
    from psycopg import sql

    csv_path = Path(csv_path)
    header = _csv_header(csv_path)
    for name in (*timestamp_columns, *date_columns):
        if name not in header:
            raise ValueError(f"{csv_path.name}: no column {name!r} in {header}")
    renames = renames or {}

    def kind(name: str) -> sql.SQL:
        if name in (types or {}):
            return sql.SQL(POSTGRES_TYPES[types[name]])
        return sql.SQL("timestamptz" if name in timestamp_columns else "date" if name in date_columns else "text")

    columns = [sql.SQL("{} {}").format(sql.Identifier(renames.get(name, name)), kind(name)) for name in header]
    with server.connect() as con, con.transaction():
        # The session zone is what a wall time without an offset is read in.
        con.execute("SELECT set_config('TimeZone', %s, true)", (zone,))
        con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        con.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), sql.SQL(", ").join(columns)))
        copy = sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv, HEADER true)").format(sql.Identifier(table))
        with con.cursor().copy(copy) as out, open(csv_path, "rb") as f:
            while chunk := f.read(1 << 20):
                out.write(chunk)
