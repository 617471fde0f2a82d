"""Dates in a custom pattern against ISO 8601: the same 10M usage events, read both ways.

    python bench/dates.py [--rows 10000000] [--repeat 3] [--data /tmp/cxtruth-dates]

Writes adoption.csv twice (ISO 8601 timestamps, and the same instants as a survey
tool writes them, "10/05/2026 02:14:33 PM"), then times `read_source("adoption")`
on each, alternating, and prints the medians and their ratio (issue 19's goal:
the pattern within 2x the ISO read). Also times the line-by-line path of the
column parse alone (`parse_timestamps`), which epoch, locale and zone settings use.
Figures: docs/performance.md, "Dates in a pattern".
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

PATTERN = "%m/%d/%Y %I:%M:%S %p"


def write(folder: Path, rows: int) -> None:
    rng = np.random.default_rng(19)
    seconds = rng.integers(1_756_684_800, 1_793_491_200, rows)  # 2025-09-01 .. 2026-11-01
    stamps = pa.array(seconds, type=pa.timestamp("s"))  # whole seconds: strftime writes no fraction
    accounts = pa.array(np.char.add("A", rng.integers(0, 100_000, rows).astype(str)))
    features = pa.array(np.array(["reports", "alerts", "api", "exports"])[rng.integers(0, 4, rows)])
    for name, text in (("iso", pc.strftime(stamps, "%Y-%m-%dT%H:%M:%S")), ("pattern", pc.strftime(stamps, PATTERN))):
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(pa.table({"account_id": accounts, "feature": features, "used_at": text}),
                        target / "adoption.csv")
        extra = f'[sources.adoption]\ndate_format = "{PATTERN}"\n' if name == "pattern" else ""
        (target / "config.toml").write_text(f'[report]\ntimezone = "UTC"\n[data]\ndir = "."\n{extra}',
                                            encoding="utf-8")


def time_read(folder: Path) -> float:
    from cxtruth.config import load_config
    from cxtruth.sources import read_source

    config = load_config(folder / "config.toml")
    start = time.perf_counter()
    result = read_source("adoption", config)
    took = time.perf_counter() - start
    assert result.rejected == 0, result.issues.head()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "cxtruth-dates")
    args = parser.parse_args()
    marker = args.data / f".rows-{args.rows}"
    if not marker.exists():
        write(args.data, args.rows)
        marker.touch()
    times: dict[str, list[float]] = {"iso": [], "pattern": []}
    for _ in range(args.repeat):
        for name in times:
            times[name].append(time_read(args.data / name))
    iso, pattern = (statistics.median(times[k]) for k in ("iso", "pattern"))
    print(f"read_source('adoption'), {args.rows:,} events, median of {args.repeat}:")
    print(f"  ISO 8601 {iso:.2f} s, pattern {PATTERN!r} {pattern:.2f} s: {pattern / iso:.2f}x")

    import pandas as pd

    from cxtruth.sources.dates import DateRule, parse_timestamps

    column = pacsv.read_csv(args.data / "pattern" / "adoption.csv",
                            convert_options=pacsv.ConvertOptions(include_columns=["used_at"],
                                                                 column_types={"used_at": pa.large_string()}))
    cells = pd.Series(column.column("used_at").to_pandas(types_mapper=pd.ArrowDtype))
    start = time.perf_counter()
    parse_timestamps(cells, "UTC", DateRule.of(PATTERN, timezone="America/New_York"))
    print(f"  the text path's column parse alone (pattern, a source zone): {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
