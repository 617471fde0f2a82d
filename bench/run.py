"""Time `cxtruth metrics --json` against the DuckDB reference on the same files.

    python bench/run.py [--data DIR] [--scale 1.0] [--repeat 5] [--month 2026-10]

Generates the exports into DIR first if they are not there (bench/generate.py).
Then, alternating (in an order rotated every round) so none gets a warmer cache,
a quieter machine or always the same predecessor, it runs
each of these as a fresh process `--repeat` times:

- cxtruth:  cxtruth metrics --month M --config DIR/config.toml --json
- duckdb:   python bench/duckdb_reference.py DIR M
- read:     pyarrow.csv reading every file (the practical floor; not a goal)

after one uncounted warm-up round (so every file is in the page cache), and
prints the median wall time and peak RSS of each, checks that cxtruth's
13-month trend of the six metrics equals DuckDB's, and prints the ratio.
Exit 1 if they disagree. --render also times `cxtruth render` (PDF) once.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
METRICS = ["nps", "logo_churn", "revenue_churn", "feature_adoption", "handoff_quality", "closure_time"]

READ_ONLY = """
import sys, pyarrow.csv as c
from pathlib import Path
for f in sorted(Path(sys.argv[1]).glob("*.csv")):
    c.read_csv(f, parse_options=c.ParseOptions(newlines_in_values=f.name == "nps.csv"))
"""


def measure(argv: list[str]) -> tuple[float, float, bytes]:
    """(wall seconds, peak RSS MiB, stdout) of one fresh process; RSS from wait4, per process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            err.seek(0)
            sys.exit(f"{' '.join(argv)} failed ({process.returncode}):\n{err.read().decode(errors='replace')}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def agreement(cxtruth_doc: dict, reference: dict) -> list[str]:
    problems = []
    for key in METRICS:
        trend = {p["month"]: p["value"] for p in cxtruth_doc["metrics"][key]["trend"]}
        for month, expected in reference[key].items():
            got = trend.get(month)
            if (expected is None) != (got is None) or (
                    expected is not None and abs(got - expected) > 1e-9 * max(1.0, abs(expected))):
                problems.append(f"{key} {month}: cxtruth {got} vs duckdb {expected}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "cxtruth-bench")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--render", action="store_true", help="also time one `cxtruth render` (PDF)")
    args = parser.parse_args()

    data = args.data
    if not (data / "config.toml").exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(data), "--scale", str(args.scale)],
                       check=True)
    cxtruth = str(Path(sys.executable).parent / "cxtruth")
    commands = {
        "cxtruth": [cxtruth, "metrics", "--month", args.month, "--config", str(data / "config.toml"), "--json"],
        "duckdb": [sys.executable, str(HERE / "duckdb_reference.py"), str(data), args.month],
        "read": [sys.executable, "-c", READ_ONLY, str(data)],
    }
    # Python normally caches compiled modules on first import; where PYTHONDONTWRITEBYTECODE
    # is set (as on the machine of docs/performance.md) cxtruth's own modules would be
    # compiled again on every run (~0.1 s). Compile them once, as an install does.
    from importlib.util import find_spec
    package = find_spec("cxtruth").submodule_search_locations[0]
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=False)  # read-only install: fine
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    outputs: dict[str, bytes] = {}
    for name, argv in commands.items():  # one uncounted round: every file in the page cache
        measure(argv)
    names = list(commands)
    for round_ in range(args.repeat):
        # One of each per round, the order rotated every round: on a VM, what ran just
        # before (how much memory it freed) shows in the next run's time.
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            wall, rss, stdout = measure(commands[name])
            runs[name].append((wall, rss))
            outputs[name] = stdout

    problems = agreement(json.loads(outputs["cxtruth"]), json.loads(outputs["duckdb"]))
    sizes = {f.name: f.stat().st_size for f in sorted(data.glob("*.csv"))}
    print(f"data: {data} ({sum(sizes.values()) / 1e6:,.0f} MB of CSV), month {args.month}, "
          f"{args.repeat} runs each, alternating")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform(terse=True)}")
    print(f"{'':10} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MiB':>13}")
    medians = {}
    for name, values in runs.items():
        walls = [w for w, _ in values]
        medians[name] = statistics.median(walls)
        print(f"{name:10} {medians[name]:9.2f} {min(walls):7.2f} {max(walls):7.2f} "
              f"{statistics.median(r for _, r in values):13.0f}")
    if args.render:
        out = data / "reports" / f"bench-{args.month}.pdf"
        wall, rss, _ = measure([cxtruth, "render", "--month", args.month, "--config", str(data / "config.toml"),
                                "--out", str(out)])
        print(f"{'render':10} {wall:9.2f} {'':7} {'':7} {rss:13.0f}   (one run; PDF {out.stat().st_size:,} bytes)")
    print(f"cxtruth / duckdb = {medians['cxtruth'] / medians['duckdb']:.2f}x   "
          f"cxtruth / read = {medians['cxtruth'] / medians['read']:.2f}x")
    if problems:
        print("DISAGREE:\n  " + "\n  ".join(problems[:20]))
        sys.exit(1)
    print(f"agree: {len(METRICS)} metrics x 13 months equal to 1e-9")


if __name__ == "__main__":
    main()
