"""Issue 18: under faults, no traceback from config or data.

A few hundred generated config.toml files and CSV exports, each run through the
real CLI in this process (click's CliRunner on the `cli` group; `main()` would
end the process with os._exit). Every one must end cleanly: a documented exit
code, nothing on stderr on success, else one ``Error:`` line (and at most a
``Hint:``), never a traceback or an "Exception ignored" from a callback.

The generator is seeded (random.Random), so a failure names a case that can be
run again; each family stays a few seconds. On the code before issue 18 they
found 14 unclean configs, 14 unclean CSV exports and 37 unclean Parquet files.
"""

from __future__ import annotations

import math
import random
import sys

import pytest
from click.testing import CliRunner

from cxtruth.cli import cli

SEED = 18
CONFIG_CASES = 300
CSV_CASES = 300

NPS_HEADER = "response_id,account_id,responded_at,score,comment\n"
GOOD_NPS = NPS_HEADER + "".join(f"r{i},A{i % 7},2026-10-{1 + i % 28:02d},{i % 11},\"fine, {i}\"\n" for i in range(60))
# Past the 64 KiB the header check decodes: damage there is met by Arrow, not by Python.
BIG_NPS = GOOD_NPS + "".join(f"b{i},A{i % 7},2026-10-{1 + i % 28:02d},{i % 11},ok\n" for i in range(3000))
GOOD_ACCOUNTS = "account_id,segment,start_date,mrr\n" + "".join(f"A{i},SMB,2025-01-0{1 + i},{100 + i}\n"
                                                                for i in range(7))


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly ``text`` (control characters as \\u escapes)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\t" or (ch.isprintable() and ch not in "\x85\u2028\u2029"):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


NUMBERS = [0, -1, 1, 15, 2**63 - 1, -(2**63), 0.0, -0.0, 1e-308, 5e-324, 1e308, -1e308, math.inf, -math.inf,
           math.nan, 3.5, 86400.0, 1e6, -1e6, 1e6 + 1]
STRINGS = ["", " ", "\0", "a\u2028b", "a\x85b", "a\rb", "a\nBcc: x@y.z", "\x1c", "\v", "\f", "\u2029", "x" * 100_000,
           "{company}", "{company.__class__.__mro__}", "{company.name}", "{0}", "{}", "{", "}", "{{}}", "{title[0]}",
           "{company!r}", "{company:2000000000}", "{month_label:>{title}}", "%Q", "%", "%d/%m/%Y", "%Y-%m-%d %H",
           "../../etc/passwd", "/dev/zero", "/etc/passwd", "/", ".", "~", "é", "\t", "\\t", ";", ",", ".", '"',
           "rot13", "base64", "hex", "zlib", "utf-16", "utf-8-sig", "cp1252", "latin-1", "utf-32", "idna",
           "punycode", "unicode_escape", "UTC", "Europe/Berlin", "a" * 5000, "Europe/Berlin\0", "Mars/Olympus",
           "higher", "lower", "CX Leadership", "Finance", "a@b.c", "CX <cx@acme.example>", "@", "x@", "😡" * 20,
           "\ud7ff\ue000\uffff", "localhost",
           "epoch", "epoch_ms", "excel", "%m/%d/%Y %I:%M:%S %p", "%s", "%Y-%m-%d %H:%M:%S %p %H", "es", "xx", "header",
           'Status != "Survey Preview"', "a = ", "`x` in [1, 2]", "__import__('os')", "qualtrics", "stripe", "(",
           "monthly(a * b, c)"]
OTHERS = [True, False, [], [1, 2], ["Sales", "Sales"], ["a@b.c", "x\u2028@y.z"], {}, {"a": 1},
          {"score": "Score"}, {"rating": "x"}, [[[[[]]]]], ["CX Leadership", ""]]

KEYS = [
    "report.title", "report.company", "report.timezone", "report.meeting_minutes", "report.functions",
    "report.max_staleness_days", "report.template_dir", "report.render_timeout_seconds", "report.output_dir",
    "data.dir",
    "sources.nps.path", "sources.nps.encoding", "sources.nps.delimiter", "sources.nps.decimal",
    "sources.nps.date_format", "sources.nps.columns", "sources.nps.max_staleness_days",
    "sources.handoffs.checklist", "sources.accounts.encoding",
    "metrics.nps.owner", "metrics.nps.consulted", "metrics.nps.target", "metrics.nps.warn",
    "metrics.nps.direction", "metrics.nps.min_sample", "metrics.closure_time.sla_days",
    "metrics.handoff_quality.sla_days", "metrics.feature_adoption.features",
    "metrics.onboarding_engagement.min_active_days", "metrics.time_to_value.value_features",
    "email.host", "email.port", "email.sender", "email.to", "email.cc", "email.subject", "email.username",
    "email.timeout_seconds", "email.retry_for_seconds", "email.ca_file", "email.starttls",
    "report.unknown_key", "metrics.nps.nonsense",
    # issue 19's reading keys
    "sources.nps.timezone", "sources.nps.locale", "sources.nps.header_row", "sources.nps.header_rows",
    "sources.nps.skip_rows", "sources.nps.trailers", "sources.nps.detect_trailers", "sources.nps.where",
    "sources.nps.sheet", "sources.nps.preset", "sources.nps.thousands", "sources.nps.skip_blank",
    "sources.nps.compute", "sources.accounts.combine_repeated", "report.max_rejected_share",
    "sources.nps.max_rejected_share",
]

EMAIL = {"host": "localhost", "sender": "cx@acme.example", "to": ["ceo@acme.example"]}


def config_text(tables: dict) -> str:
    lines = []
    for table, keys in tables.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


# The values of the fault campaign, always run (then random ones).
KNOWN = [("email.subject", "{company.name}"), ("email.subject", "{company.__class__.__mro__}"),
         ("email.subject", "a\u2028b"), ("email.subject", "a\x85b"), ("email.subject", "{company:2000000000}"),
         ("sources.nps.encoding", "rot13"), ("sources.nps.encoding", "base64"),
         ("email.timeout_seconds", math.inf), ("email.timeout_seconds", 1e308),
         ("report.render_timeout_seconds", math.inf), ("report.max_staleness_days", 1e308),
         ("metrics.nps.target", math.nan), ("metrics.nps.target", 1e308), ("metrics.nps.warn", -1e308),
         ("report.timezone", "a" * 5000), ("sources.nps.delimiter", "é"), ("report.template_dir", "a\nb")]


def generated_configs(rng: random.Random):
    """(label, config.toml text): one to three keys set to hostile values, or a damaged file."""
    pool = NUMBERS + STRINGS + OTHERS
    for i in range(-len(KNOWN), CONFIG_CASES):
        tables: dict[str, dict] = {"report": {"timezone": "UTC", "output_dir": "out"}, "data": {"dir": "."},
                                   "email": dict(EMAIL)}
        changed = []
        for _ in range(rng.randint(1, 3)) if i >= 0 else [0]:
            key, value = KNOWN[i] if i < 0 else (rng.choice(KEYS), rng.choice(pool))
            table, name = key.rsplit(".", 1)
            tables.setdefault(table, {})[name] = value
            changed.append(f"{key}={value!r:.60}")
        text = config_text(tables)
        if i >= 0 and i % 10 == 9:  # damaged TOML: a few bytes flipped, cut or nested
            data = bytearray(text.encode("utf-8"))
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            text = data.decode("utf-8", "replace")
            changed.append("bytes flipped")
        if i % 50 == 48:
            text += "deep = " + "[" * 3000 + "]" * 3000 + "\n"
            changed.append("deep nesting")
        yield f"config case {i}: " + ", ".join(changed), text


MAGIC = [b"PK\x03\x04", b"%PDF-1.7\n", b"\x1f\x8b\x08", b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\0\0"]
INSERTS = [b"\0", b"\r", b"\n", b"\r\n", b'"', b",", b";", b"\t", b"\xff", b"\xe9", b"\xed\xa0\x80", b"\xc3",
           b"\x85", "\u2028".encode(), b"\x1a", b",,,,,,", b'""', b"\\"]


def mutated_csv(rng: random.Random) -> tuple[str, bytes]:
    data = bytearray(rng.choice([GOOD_NPS, GOOD_NPS, BIG_NPS]).encode("utf-8"))
    how = rng.choice(["flip", "insert", "cut", "cr", "magic", "binary", "cell", "lines", "utf16", "cp1252",
                      "empty", "header"])
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.5:  # and one row cut short, near the end
            end = data.rfind(b"\n", 0, len(data) - 1)
            data[end - 8:end] = b""
    elif how == "insert":
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            data[at:at] = rng.choice(INSERTS)
    elif how == "cut":
        data = data[: rng.randrange(len(data))]
    elif how == "cr":
        data = data.replace(b"\n", rng.choice([b"\r", b"\r\n", b"\n\r", b"\x85"]))
    elif how == "magic":
        data = bytearray(rng.choice(MAGIC)) + data
    elif how == "binary":
        data = bytearray(rng.randbytes(rng.randint(1, 4000)))
    elif how == "cell":  # a long cell, quoted or not, somewhere
        at = rng.randrange(len(data))
        data[at:at] = rng.choice([b'"', b""]) + b"x" * rng.choice([70_000, 300_000, 1_100_000])
    elif how == "lines":
        lines = bytes(data).splitlines(keepends=True)
        rng.shuffle(lines)
        data = bytearray(b"".join(lines[: rng.randint(0, len(lines))]))
    elif how == "utf16":
        data = bytearray(GOOD_NPS.encode(rng.choice(["utf-16", "utf-16-le", "utf-32"])))
    elif how == "cp1252":
        data = bytearray((GOOD_NPS + "r99,A1,2026-10-03,2,Très déçu\n").encode("cp1252"))
    elif how == "empty":
        data = bytearray(rng.choice([b"", b"\n\n", b" ", b"\r", b"\0", b"\xef\xbb\xbf"]))
    else:
        data = bytearray(rng.choice([b"response_id\n", b",,,\n", b'"\n', b"a,a,a\n", b"\xff\xfe\n"]) + data)
    return how, bytes(data)


OPTIONS = {"encoding": ["cp1252", "utf-16", "latin-1", "utf-8-sig"], "delimiter": [";", "\\t", "|"],
           "decimal": [","], "date_format": ["%d/%m/%Y", "%Y-%m-%d", "epoch", "%m/%d/%Y %I:%M %p"],
           # issue 19: the line-by-line reader's layouts and filters on damaged files
           "header_row": [2, 3, 9999], "header_rows": [2, 3], "skip_rows": [1, 5], "where": ["score >= 5",
           'comment != "x" and response_id is not null', "`no such` = 1"], "timezone": ["America/New_York"],
           "locale": ["de"], "thousands": [","]}


def generated_csv_cases(rng: random.Random):
    """(label, nps.csv bytes, [sources.nps] options): a good export damaged one way, read one way."""
    for i in range(CSV_CASES):
        how, data = mutated_csv(rng)
        options = {}
        if rng.random() < 0.3:
            key = rng.choice(list(OPTIONS))
            options[key] = rng.choice(OPTIONS[key])
        yield f"csv case {i}: {how} {options}", data, options


@pytest.fixture
def unraisable(monkeypatch):
    """Exceptions Python would print as "Exception ignored in ...": recorded, then asserted absent."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(f"{u.exc_type.__name__}: {u.err_msg}"))
    return seen


def outcome_problem(result, allowed: set[int], unraisable: list) -> str | None:
    """Why ``result`` is not a clean answer, or None."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback
        return "raised " + "".join(traceback.format_exception(*result.exc_info))[-1500:]
    if result.exit_code not in allowed:
        return f"exit {result.exit_code}: {result.output[-500:]}"
    if "Traceback" in result.output or "Exception ignored" in result.output or unraisable:
        return f"traceback: {result.output[-500:]} {unraisable}"
    internals = [w for w in ("straddl", "pyarrow", "Arrow", "CSV parse error", "<class", "object at 0x")
                 if w in result.stderr]
    if internals:
        return f"internals {internals} in: {result.stderr[:300]!r}"
    lines = result.stderr.splitlines()
    if result.exit_code == 0:
        return f"stderr on success: {result.stderr[:300]!r}" if result.stderr else None
    if not lines or not lines[0].startswith("Error: ") or len(lines) > 2 or (
            len(lines) == 2 and not lines[1].startswith("Hint: ")):
        return f"stderr is not one Error: line: {result.stderr[:500]!r}"
    if len(lines[0]) > 600:
        return f"error line of {len(lines[0])} characters"
    if not all(line.isprintable() for line in lines):
        return f"control characters in: {result.stderr[:300]!r}"
    return None


def test_generated_configs_end_cleanly(tmp_path, unraisable):
    rng = random.Random(SEED)
    runner = CliRunner()
    path = tmp_path / "config.toml"
    problems, codes = [], set()
    for label, text in generated_configs(rng):
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(cli, ["metrics", "--month", "2026-10", "--json", "--config", str(path)])
        codes.add(result.exit_code)
        # 0 (no exports here: every metric "no data"), 3 for the config, 4 for a path it names
        problem = outcome_problem(result, {0, 3, 4}, unraisable)
        if problem:
            problems.append(f"{label}: {problem}")
        unraisable.clear()
    assert not problems, f"{len(problems)} unclean:\n" + "\n".join(problems[:10])
    assert {0, 3} <= codes  # the generator makes both kinds


def test_generated_exports_end_cleanly(tmp_path, unraisable):
    rng = random.Random(SEED)
    runner = CliRunner()
    (tmp_path / "accounts.csv").write_text(GOOD_ACCOUNTS, encoding="utf-8")
    def prepare(case):
        label, data, options = case
        (tmp_path / "nps.csv").write_bytes(data)
        extra = "".join(f"{k} = {toml_value(v)}\n" for k, v in options.items())
        (tmp_path / "config.toml").write_text(
            f'[report]\ntimezone = "UTC"\n[data]\ndir = "."\n[sources.nps]\n{extra}', encoding="utf-8")
        return label

    problems, codes = run_cases(runner, generated_csv_cases(rng), prepare, tmp_path / "config.toml", unraisable)
    assert not problems, f"{len(problems)} unclean:\n" + "\n".join(problems[:10])
    assert codes == {0, 4}


def run_cases(runner, cases, prepare, config, unraisable) -> tuple[list[str], set[int]]:
    """Each case written by ``prepare`` (which returns its label) and run through `metrics --json`:
    the unclean outcomes and the exit codes seen."""
    problems, codes = [], set()
    for case in cases:
        label = prepare(case)
        result = runner.invoke(cli, ["metrics", "--month", "2026-10", "--json", "--config", str(config)])
        codes.add(result.exit_code)
        problem = outcome_problem(result, {0, 4}, unraisable)
        if problem:
            problems.append(f"{label}: {problem}")
        unraisable.clear()
    return problems, codes


PARQUET_CASES = 80


def parquet_cases(rng: random.Random):
    """(label, bytes of nps.parquet): odd column types, then a good file damaged."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    def written(table) -> bytes:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.getvalue()

    n = 50
    good = written(pa.table({"response_id": [f"r{i}" for i in range(n)], "responded_at": ["2026-10-01"] * n,
                             "score": [i % 11 for i in range(n)]}))
    odd = [
        {"response_id": [1, 2], "responded_at": [3, 4], "score": ["x", "y"]},
        {"response_id": [[1], [2]], "responded_at": ["2026-10-01"] * 2, "score": [9, 9]},
        {"response_id": ["a", "b"], "responded_at": [{"a": 1}, {"a": 2}], "score": [9, 9]},
        {"response_id": ["a", "b"], "responded_at": pa.array([1, 2], pa.date32()), "score": pa.array([1.5, None])},
        {"response_id": pa.array(["a", "b"]).dictionary_encode(),
         "responded_at": pa.array([10**18, 2], pa.timestamp("ns", "Europe/Berlin")),
         "score": pa.array([1, 2], pa.decimal128(5, 2))},
        {"response_id": ["a"], "responded_at": pa.array([None], pa.null()), "score": pa.array([None], pa.null())},
        {"response_id": ["a"], "responded_at": pa.array([1], pa.time32("s")), "score": pa.array([True])},
        {"response_id": ["a"], "responded_at": pa.array([1], pa.duration("s")), "score": pa.array([b"9"], pa.binary())},
    ]
    for i, columns in enumerate(odd):
        yield f"parquet odd {i}", written(pa.table(columns))
    for i in range(PARQUET_CASES):
        data = bytearray(good)
        if i % 8 == 7:
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 10)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        yield f"parquet case {i}", bytes(data)


def test_generated_parquet_files_end_cleanly(tmp_path, unraisable):
    rng = random.Random(SEED)
    runner = CliRunner()
    config = tmp_path / "config.toml"
    config.write_text('[report]\ntimezone = "UTC"\n[data]\ndir = "."\n[sources.nps]\npath = "nps.parquet"\n',
                      encoding="utf-8")
    def prepare(case):
        (tmp_path / "nps.parquet").write_bytes(case[1])
        return case[0]

    problems, codes = run_cases(runner, parquet_cases(rng), prepare, config, unraisable)
    assert not problems, f"{len(problems)} unclean:\n" + "\n".join(problems[:10])
    assert codes == {0, 4}
