"""A benchmark beyond memory: `cxtruth metrics` against tables in a local Spark warehouse.

Two steps, each a plain command (no make), run from the repository root with a
Python that has pyspark (Java 17 on the PATH or in JAVA_HOME):

    python3 -m venv .venv && .venv/bin/pip install -e '.[test]' 'ibis-framework[pyspark]==12.0.0'

    # 1. Generate: 100M usage events (scale 10; 1-2 min and 1.9 GB on 2 cores), or 10M for a quick check
    .venv/bin/python bench/warehouse.py generate [--dir /tmp/cxtruth-warehouse] [--scale 10] [--events N]
    .venv/bin/python bench/warehouse.py generate --dir /tmp/cxtruth-warehouse-10m --scale 1

    # 2. Time `cxtruth metrics --month 2026-10 --config DIR/config.toml --json`, N fresh processes
    .venv/bin/python bench/warehouse.py run [--dir /tmp/cxtruth-warehouse] [--repeat 3] [--no-check]
        [--config OTHER.toml] [--timeline samples.csv] [--cxtruth PATH]

`generate` builds, with Spark itself (`spark.range` and xxhash64-based
pseudo-random columns: no row passes through Python, and the same seed and
scale always give the same values, whatever the partitioning), the tables
accounts, usage_events, nps_responses, feedback and handoffs with the shapes
and distributions of bench/generate.py (at scale 1: 100k accounts, 10M usage
events, 1M NPS responses, 200k feedback items, 20k handoffs, over the 14 months
ending October 2026). Columns are typed as a warehouse types them: TIMESTAMP
(instants, Spark's default INT96 in Parquet) for times, DATE for days, INT,
BOOLEAN, DECIMAL(12,2) for mrr, and NULL (not "") for what is missing. Each
table is saved with `saveAsTable` into a Hive catalog (embedded Derby
metastore at DIR/metastore_db, files under DIR/warehouse), so a later, separate
SparkSession, cxtruth's own, finds them by name. The Spark session's time zone
is Asia/Kolkata, as a real cluster's often is not UTC; the report's is UTC
(Ibis's pyspark backend sets the session zone to UTC when it connects).
It writes DIR/config.toml, which points cxtruth at those tables
([warehouse] backend = "pyspark", [sources.<name>] table = ...), and
DIR/generate.json with the generation figures (seconds per table, rows, bytes,
the JVM's peak RSS).

`run` starts `cxtruth metrics` (the `cxtruth` next to this Python, or
--cxtruth; PYTHONPATH is passed through, so PYTHONPATH=/work/main tries an
uninstalled tree) `--repeat` times as a fresh process, with DIR as its working
directory, and polls /proc every 50 ms for its process tree: the Java process
among its descendants (argv[0] `java`, the SparkSession's gateway JVM) and
whatever runs under it is "engine"; the rest (cxtruth's Python) is
"cxtruth". Peak RSS is each side's largest sampled sum of VmRSS, and at least
the largest VmHWM (the kernel's own high-water mark, so a peak between two
polls is not missed) of any one of its processes. Then, unless --no-check, it
computes the six headline metrics with bench/duckdb_reference.py straight from
the tables' Parquet files (DuckDB, also timed) and checks that cxtruth's
13-month trends agree to 1e-9 (exit 1 if not). --timeline writes the last run's
samples; --config runs a variant config (say, one more Spark setting) on the
same tables. Figures: docs/performance.md,
"Warehouse (Spark local) at 10M and 100M".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# The same sizes, features and lists as bench/generate.py (imported, so the two cannot drift).
from generate import CHECKLIST, COMMENTS, FEATURES, SEGMENTS, SIZES, TRACKED  # noqa: E402

DEFAULT_DIR = Path(tempfile.gettempdir()) / "cxtruth-warehouse"
SESSION_TIME_ZONE = "Asia/Kolkata"
DRIVER_MEMORY = "4g"
MASTER = "local[2]"
ROWS_PER_FILE = 5_000_000  # rows per Parquet file (~80 MB of usage events): 20 files at 100M

# canonical source name -> table name in the warehouse
TABLES = {"accounts": "accounts", "adoption": "usage_events", "nps": "nps_responses",
          "feedback": "feedback", "handoffs": "handoffs"}
# canonical columns of each source as bench/generate.py's CSV headers (and the tables) have them
COLUMNS = {
    "accounts": ["account_id", "segment", "start_date", "churn_date", "mrr"],
    "adoption": ["account_id", "feature", "used_at"],
    "nps": ["response_id", "account_id", "responded_at", "score", "comment", "segment"],
    "feedback": ["feedback_id", "account_id", "received_at", "closed_at", "channel"],
    "handoffs": ["handoff_id", "account_id", "closed_won_at", "handoff_at", "csm_rating", *CHECKLIST],
}

# Epoch seconds of bench/generate.py's FIRST and END (naive there, read as UTC by its config).
FIRST = int(datetime(2025, 9, 1, tzinfo=timezone.utc).timestamp())
END = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp())  # exclusive
NPS_P = [.03, .02, .03, .04, .05, .06, .07, .15, .2, .18, .17]


def spark_options(folder: Path) -> dict[str, str]:
    """The SparkSession settings of the generator and of cxtruth's config.toml alike."""
    return {
        "master": MASTER,
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true",
        "spark.sql.session.timeZone": SESSION_TIME_ZONE,
        "spark.driver.memory": DRIVER_MEMORY,
        # Derby's log in the warehouse, not in whatever directory the process started in.
        "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={folder / 'derby.log'}",
        "spark.ui.enabled": "false",
    }


def _toml(value) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string or list of strings is valid TOML


def config_text(folder: Path) -> str:
    lines = [
        "# Benchmark warehouse (bench/warehouse.py generate): cxtruth reads these tables through Spark.",
        "[report]", 'company = "Benchmark"', 'timezone = "UTC"', 'output_dir = "reports"',
        "max_staleness_days = 3", "",
        "[warehouse]", 'backend = "pyspark"', "",
        "# Given to SparkSession.builder.config(key, value) as written; master to .master().",
        "[warehouse.options]",
        *(f"{_toml(k) if '.' in k else k} = {_toml(v)}" for k, v in spark_options(folder).items()), "",
    ]
    for source, table in TABLES.items():
        lines += [f"[sources.{source}]", f"table = {_toml(table)}", "",
                  f"[sources.{source}.columns]",
                  *(f"{c} = {_toml(c)}" for c in COLUMNS[source]), ""]
    lines += ["[metrics.feature_adoption]", f"features = {_toml(TRACKED)}", ""]
    return "\n".join(lines)


# --- generation, in Spark SQL expressions over spark.range ----------------------------------------

class Draw:
    """Deterministic pseudo-random columns of row `id`: xxhash64 of (id, seed, salt), a new salt a draw."""

    def __init__(self, seed: int, table: int):
        self.seed, self.salt = seed, table * 1000

    def hash(self) -> str:
        self.salt += 1
        return f"xxhash64(id, {self.seed}L, {self.salt}L)"

    def integer(self, low: int, high: int) -> str:
        """Uniform integer in [low, high)."""
        return f"({low}L + pmod({self.hash()}, {high - low}L))"

    def uniform(self) -> str:
        """Uniform double in [0, 1), 53 bits."""
        return f"(pmod({self.hash()}, 9007199254740992L) / 9007199254740992D)"

    def choice(self, values: list[str]) -> str:
        array = ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
                          for v in values)
        return f"element_at(array({array}), cast({self.integer(1, len(values) + 1)} AS INT))"


def _id(prefix: str, number: str, n: int) -> str:
    """'A' + zero-padded 1-based number, as bench/generate.py's _ids (width of str(n))."""
    return f"concat('{prefix}', lpad(cast({number} AS STRING), {len(str(n))}, '0'))"


def _date(day: str, offset: str) -> str:
    return f"date_add(DATE'{day}', cast({offset} AS INT))"


def _bucket(u: str, p: list[float]) -> str:
    """0..len(p)-1 with probabilities p from the uniform column u (numpy's rng.choice(len(p), p=p))."""
    cases, total = [], 0.0
    for value, weight in enumerate(p[:-1]):
        total += weight
        cases.append(f"WHEN {u} < {total!r} THEN {value}")
    return f"CASE {' '.join(cases)} ELSE {len(p) - 1} END"


def table_columns(name: str, n: dict[str, int], seed: int) -> tuple[list[str], list[str]]:
    """Two SELECT lists building table `name` (a source's canonical name): the draws over
    spark.range(rows), then the table's columns from them (names starting "_" are draws only)."""
    draw = Draw(seed, list(TABLES).index(name) + 1)

    def some_account() -> str:
        return _id("A", f"({draw.integer(0, n['accounts'])} + 1)", n["accounts"])

    def some_time() -> str:  # epoch seconds in [FIRST, END)
        return f"({FIRST}L + {draw.integer(0, END - FIRST)})"

    if name == "accounts":
        # starts over three years; a quarter churn within two years of starting; mrr ~ gamma(2, 400)
        return [
            f"{_id('A', 'id + 1', n['accounts'])} AS account_id",
            f"{draw.choice(SEGMENTS)} AS segment",
            f"{_date('2023-10-01', draw.integer(0, 1126))} AS start_date",
            f"{draw.integer(30, 730)} AS _churn_after",
            f"{draw.uniform()} < 0.25 AS _churned",
            f"-400D * (ln(1D - {draw.uniform()}) + ln(1D - {draw.uniform()})) AS _mrr",  # two exponentials
        ], [
            "account_id", "segment", "start_date",
            "CASE WHEN _churned THEN date_add(start_date, cast(_churn_after AS INT)) END AS churn_date",
            "cast(round(_mrr, 2) AS DECIMAL(12, 2)) AS mrr",
        ]
    if name == "adoption":  # the busiest table by far
        return [f"{some_account()} AS account_id", f"{draw.choice(FEATURES)} AS feature",
                f"timestamp_seconds({some_time()}) AS used_at"], []
    if name == "nps":
        return [
            f"{_id('R', 'id + 1', n['nps'])} AS response_id",
            f"{some_account()} AS account_id",
            f"timestamp_seconds({some_time()}) AS responded_at",
            f"{draw.uniform()} AS _score",
            f"nullif({draw.choice(COMMENTS)}, '') AS comment",
            f"{draw.choice(SEGMENTS)} AS segment",
        ], ["response_id", "account_id", "responded_at", f"cast({_bucket('_score', NPS_P)} AS INT) AS score",
            "comment", "segment"]
    if name == "feedback":
        return [
            f"{_id('F', 'id + 1', n['feedback'])} AS feedback_id",
            f"{some_account()} AS account_id",
            f"{some_time()} AS _received",
            f"cast(floor(-518400D * ln(1D - {draw.uniform()})) AS BIGINT) AS _open_for",  # exponential, 6 days
            f"{draw.uniform()} < 0.8 AS _closes",
            f"{draw.choice(['email', 'chat', 'call'])} AS channel",
        ], [
            "feedback_id", "account_id", "timestamp_seconds(_received) AS received_at",
            f"CASE WHEN _closes AND _received + _open_for < {END}L "
            "THEN timestamp_seconds(_received + _open_for) END AS closed_at", "channel",
        ]
    if name == "handoffs":
        return [
            f"{_id('H', 'id + 1', n['handoffs'])} AS handoff_id",
            f"{some_account()} AS account_id",
            f"{_date('2025-08-15', draw.integer(0, 440))} AS closed_won_at",
            f"{draw.integer(0, 15)} AS _lag",
            f"CASE WHEN {draw.uniform()} < 0.7 THEN cast({draw.integer(1, 6)} AS INT) END AS csm_rating",
            *(f"{draw.uniform()} < 0.75 AS {item}" for item in CHECKLIST),
        ], [
            "handoff_id", "account_id", "closed_won_at",
            "least(date_add(closed_won_at, cast(_lag AS INT)), DATE'2026-10-31') AS handoff_at",
            "csm_rating", *CHECKLIST,
        ]
    raise ValueError(name)


def build(spark, name: str, n: dict[str, int], seed: int):
    """The DataFrame of table `name`, in files of ROWS_PER_FILE rows at most."""
    draws, columns = table_columns(name, n, seed)
    frame = spark.range(0, n[name], 1, max(1, -(-n[name] // ROWS_PER_FILE))).selectExpr(*draws)
    return frame.selectExpr(*columns) if columns else frame


def _status(pid: int, field: str) -> int:
    """A VmRSS/VmHWM line of /proc/PID/status in bytes (0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def generate(folder: Path, scale: float, events: int | None, seed: int) -> dict:
    from pyspark.sql import SparkSession

    n = {k: max(10, int(v * scale)) for k, v in SIZES.items()}
    if events:
        n["adoption"] = events
    folder.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    builder = SparkSession.builder.appName("cxtruth-bench-warehouse")
    for key, value in {**spark_options(folder), "spark.ui.showConsoleProgress": "false",
                       "spark.log.level": "ERROR"}.items():
        builder = builder.master(value) if key == "master" else builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    figures = {"rows": {}, "seconds": {}, "bytes": {},
               "session_start_seconds": round(time.perf_counter() - started, 2)}
    # the smaller tables first: the events dominate, and a mistake shows early
    for name in ["accounts", "handoffs", "feedback", "nps", "adoption"]:
        table = TABLES[name]
        t0 = time.perf_counter()
        build(spark, name, n, seed).write.mode("overwrite").format("parquet").saveAsTable(table)
        figures["seconds"][table] = round(time.perf_counter() - t0, 2)
        figures["rows"][table] = n[name]
        figures["bytes"][table] = _size(folder / "warehouse" / table)
        print(f"  {table:14} {n[name]:>13,} rows {figures['bytes'][table] / 1e6:9,.0f} MB "
              f"{figures['seconds'][table]:8.1f} s", flush=True)
    jvm = [int(p) for p in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
           if _is_java(int(p))]
    figures["jvm_peak_rss_bytes"] = max((_status(p, "VmHWM") for p in jvm), default=0)
    spark.stop()
    figures["total_seconds"] = round(time.perf_counter() - started, 2)
    # other work on the machine shows in every figure: say how busy it was (1-minute load average)
    figures["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    figures.update(scale=scale, seed=seed, master=MASTER, driver_memory=DRIVER_MEMORY,
                   session_time_zone=SESSION_TIME_ZONE, when=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform(terse=True)}")
    (folder / "config.toml").write_text(config_text(folder), encoding="utf-8")
    (folder / "generate.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return figures


# --- the timed run ----------------------------------------------------------------------------------

def _is_java(pid: int) -> bool:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return os.path.basename(argv0) == b"java"


def _tree(root: int) -> dict[int, int]:
    """pid -> parent pid of every process under `root` (root included), from /proc."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
    tree, frontier = {root: 0}, [root]
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    while frontier:
        pid = frontier.pop()
        for child in children.get(pid, []):
            tree[child] = pid
            frontier.append(child)
    return tree


def measure(argv: list[str], cwd: Path, interval: float = 0.05, timeline: list | None = None) -> dict:
    """Wall seconds, stdout and peak RSS (bytes) of cxtruth's side and of the engine's (the JVM and below).
    `timeline` gets (seconds, cxtruth RSS, engine RSS) of every sample."""
    peak = {"cxtruth": 0, "engine": 0}
    jvm_seen = None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd)
        while True:
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            tree = _tree(process.pid)
            engine = {p for p in tree if _is_java(p)}
            if engine and jvm_seen is None:
                jvm_seen = time.perf_counter() - started
            # everything under a JVM is the engine's (Spark's Python workers included)
            for p in sorted(tree):
                q = tree[p]
                while q and q not in engine and q in tree:
                    q = tree[q]
                if q in engine:
                    engine.add(p)
            now = {}
            for side, pids in (("engine", engine), ("cxtruth", set(tree) - engine)):
                now[side] = sum(_status(p, "VmRSS") for p in pids)
                hwm = max((_status(p, "VmHWM") for p in pids), default=0)
                peak[side] = max(peak[side], now[side], hwm)
            if timeline is not None:
                timeline.append((round(time.perf_counter() - started, 2), now["cxtruth"], now["engine"]))
            time.sleep(interval)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall": wall, "code": code, "stdout": out.read(), "stderr": err.read(),
                "cxtruth_rss": peak["cxtruth"], "engine_rss": peak["engine"], "jvm_up": jvm_seen}


def reference(folder: Path, month: str) -> tuple[dict, float, float]:
    """bench/duckdb_reference.py's six metrics from the tables' Parquet files: (values, seconds, peak RSS MiB)."""
    code = (
        "import sys, json; from pathlib import Path; sys.path.insert(0, sys.argv[3]);"
        "import duckdb_reference as r; print(json.dumps(r.reference(Path(sys.argv[1]), sys.argv[2],"
        " tables=json.loads(sys.argv[4]))))"
    )
    tables = {name: str(folder / "warehouse" / table / "*.parquet") for name, table in TABLES.items()}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen([sys.executable, "-c", code, str(folder), month, str(HERE), json.dumps(tables)],
                                   stdout=out)
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status):
            sys.exit("the DuckDB reference failed")
        out.seek(0)
        return json.loads(out.read()), time.perf_counter() - started, usage.ru_maxrss / 1024


def run(folder: Path, repeat: int, month: str, cxtruth: str, check: bool, timeline: Path | None = None,
        config: Path | None = None) -> None:
    from run import agreement

    config = config or folder / "config.toml"
    if not config.exists():
        sys.exit(f"no {config}: run `python bench/warehouse.py generate --dir {folder}` first")
    argv = [cxtruth, "metrics", "--month", month, "--config", str(config), "--json"]
    figures = json.loads((folder / "generate.json").read_text()) if (folder / "generate.json").exists() else {}
    rows = figures.get("rows", {})
    print(f"warehouse: {folder} ({', '.join(f'{t} {r:,}' for t, r in rows.items())} rows, "
          f"{sum(figures.get('bytes', {}).values()) / 1e9:.2f} GB of Parquet), month {month}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform(terse=True)}; Spark {MASTER}, driver memory {DRIVER_MEMORY}")
    print(f"command: {' '.join(argv)}" + (f"  (PYTHONPATH={os.environ['PYTHONPATH']})"
                                          if os.environ.get("PYTHONPATH") else ""))
    results = []
    print(f"{'run':>4} {'wall s':>8} {'JVM up s':>9} {'cxtruth peak RSS MiB':>21} {'JVM peak RSS MiB':>17} "
          f"{'load before/after':>18}")
    for i in range(repeat):
        load = os.getloadavg()[0]
        samples: list = []
        result = measure(argv, folder, timeline=samples)
        if timeline:  # the last run's, one line a sample
            timeline.write_text("seconds,cxtruth_rss_mib,engine_rss_mib\n" + "".join(
                f"{t},{c / 2**20:.0f},{e / 2**20:.0f}\n" for t, c, e in samples), encoding="utf-8")
        if result["code"]:
            sys.exit(f"{' '.join(argv)} failed ({result['code']}):\n"
                     f"{result['stderr'].decode(errors='replace')[-6000:]}")
        results.append(result)
        up = f"{result['jvm_up']:9.2f}" if result["jvm_up"] is not None else f"{'-':>9}"
        print(f"{i + 1:>4} {result['wall']:8.2f} {up} {result['cxtruth_rss'] / 2**20:21.0f} "
              f"{result['engine_rss'] / 2**20:17.0f} {load:9.2f}/{os.getloadavg()[0]:<8.2f}", flush=True)
    print(f"{'med':>4} {statistics.median(r['wall'] for r in results):8.2f} {'':9} "
          f"{statistics.median(r['cxtruth_rss'] for r in results) / 2**20:21.0f} "
          f"{statistics.median(r['engine_rss'] for r in results) / 2**20:17.0f}")
    if not check:
        return
    values, seconds, rss = reference(folder, month)
    print(f"DuckDB reference on the same Parquet files: {seconds:.2f} s, peak RSS {rss:.0f} MiB")
    problems = agreement(json.loads(results[-1]["stdout"]), values)
    if problems:
        print("DISAGREE:\n  " + "\n  ".join(problems[:20]))
        sys.exit(1)
    print("agree: 6 metrics x 13 months equal to 1e-9")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    gen = steps.add_parser("generate", help="build the tables and DIR/config.toml")
    gen.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    gen.add_argument("--scale", type=float, default=10.0, help="bench/generate.py's scale (10: 100M events)")
    gen.add_argument("--events", type=int, help="usage events, whatever the scale of the other tables")
    gen.add_argument("--seed", type=int, default=7)
    timed = steps.add_parser("run", help="time `cxtruth metrics --json` against DIR's tables")
    timed.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    timed.add_argument("--repeat", type=int, default=3)
    timed.add_argument("--month", default="2026-10")
    timed.add_argument("--cxtruth", default=str(Path(sys.executable).parent / "cxtruth"))
    timed.add_argument("--no-check", dest="check", action="store_false",
                       help="skip the DuckDB reference on the same Parquet files")
    timed.add_argument("--timeline", type=Path, help="write the last run's RSS samples (CSV) here")
    timed.add_argument("--config", type=Path, help="another config.toml for the same tables (default DIR/config.toml)")
    args = parser.parse_args()
    folder = args.dir.resolve()
    if args.step == "generate":
        figures = generate(folder, args.scale, args.events, args.seed)
        print(f"generated in {figures['total_seconds']:.1f} s (session start {figures['session_start_seconds']:.1f} s),"
              f" {sum(figures['bytes'].values()) / 1e9:.2f} GB, JVM peak RSS "
              f"{figures['jvm_peak_rss_bytes'] / 2**20:,.0f} MiB, load average {figures['load_average'][0]:.2f} "
              f"before, {figures['load_average'][1]:.2f} after; config: {folder / 'config.toml'}")
    else:
        run(folder, args.repeat, args.month, args.cxtruth, args.check, args.timeline,
            args.config and args.config.resolve())


if __name__ == "__main__":
    main()
