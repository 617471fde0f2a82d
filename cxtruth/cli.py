"""The command line: a thin layer over cxtruth's library.

Every user mistake ends as ``Error: ...`` on stderr and a documented exit
code (README, "Exit codes"), never a traceback.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import CxtruthError
from .months import Month


class MonthType(click.ParamType):
    name = "YYYY-MM"

    def convert(self, value, param, ctx):
        if isinstance(value, Month):
            return value
        try:
            return Month.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


MONTH = MonthType()
config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    help="config.toml to use (default: $CXTRUTH_CONFIG, then ./config.toml).",
)


def _output(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """--quiet / --verbose: where the named stages go (cxtruth's logger, on stderr)."""
    ctx.meta[param.name] = value
    show_progress(quiet=ctx.meta.get("quiet", False), verbose=ctx.meta.get("verbose", False))
    return value


def output_options(command):
    """-q/--quiet and -v/--verbose, as every command takes them."""
    command = click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_output,
                           help="Show each stage (sources read, metrics computed, PDF drawn) on stderr, "
                                "also when it is not a terminal.")(command)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_output,
                        help="Print only warnings and errors (no stages, no summary line).")(command)


def show_progress(quiet: bool = False, verbose: bool = False) -> None:
    """Stages go to stderr on a terminal or with --verbose; never with --quiet, nor under cron."""
    import logging

    log = logging.getLogger("cxtruth")
    for handler in list(log.handlers):
        log.removeHandler(handler)
    log.propagate = False
    if quiet or not (verbose or sys.stderr.isatty()):
        log.setLevel(logging.WARNING)
        log.addHandler(logging.NullHandler())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("· %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


month_option = click.option(
    "--month", type=MONTH, default=None,
    help="Month to report, YYYY-MM (default: the previous calendar month in the report time zone).",
)


def _load(config_path):
    from .config import load_config
    from .sources import load_sources

    config = load_config(config_path)

    return config, load_sources(config)


def _report(config_path, month):
    config, sources = _load(config_path)
    from .agenda import TREND_MONTHS, build_report
    from .records import read_printed

    month = month or Month.last_complete(config.report.timezone)
    printed = read_printed(config.output_dir, month.trailing(TREND_MONTHS)[:-1])
    return config, build_report(config, sources, month, printed)


class UserError(click.ClickException):
    """A CxtruthError as click shows it: ``Error: ...`` (and a hint), no traceback."""

    def __init__(self, error: CxtruthError):
        super().__init__(str(error))
        self.exit_code = error.exit_code
        self.hint = error.hint

    def show(self, file=None) -> None:
        click.echo(f"Error: {printable(self.message)}", err=True)
        if self.hint:
            click.echo(f"Hint: {printable(self.hint)}", err=True)


def printable(text: str) -> str:
    """One printable line: a character a terminal would not show as itself (a line break, a
    control or private-use character from a path or a cell) is written as its escape."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except CxtruthError as exc:
            raise UserError(exc) from None


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cxtruth")
def cli():
    """Turn CX exports into the monthly CX truth-session agenda (PDF and JSON)."""


@cli.command()
@output_options
@month_option
@config_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here (default: <output_dir>/cxtruth-YYYY-MM.<format>).")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True,
              help="PDF for people, HTML to inspect or restyle.")
@click.option("--email", is_flag=True, help="Email the PDF to [email] recipients (once per month).")
@click.option("--force", is_flag=True, help="With --email: send again although the month was sent (render anew and "
              "send), or its outcome is unknown (send the stored PDF, same Message-ID).")
@click.option("--dry-run", is_flag=True, help="With --email: write the message as a .eml file instead of sending.")
@click.option("--strict", is_flag=True, help="Fail (exit 4) instead of marking the report DRAFT (stale data, or a source "
              "with too many rows rejected).")
def render(month, config_path, out, fmt, email, force, dry_run, strict):
    """Render the month's agenda; the metrics JSON and a run record are written beside it."""
    from .runs import RunOptions, run_render

    if (force or dry_run) and not email:
        raise click.UsageError("--force and --dry-run go with --email")
    if email and fmt != "pdf":
        raise click.UsageError("--email sends the PDF; drop --format html")
    if out is not None and out.suffix.lower() != f".{fmt}":
        # the JSON and run record are written beside it under its stem: --out config.toml or
        # --out nps.csv would replace the config or an export, --out x.json the PDF's own JSON
        raise click.UsageError(f"--out must name a .{fmt} file (got {str(out)!r}); the metrics JSON and run "
                               "record are written beside it")
    options = RunOptions(month=month, out=out, fmt=fmt, email=email, force=force, dry_run=dry_run, strict=strict)
    quiet = click.get_current_context().meta.get("quiet", False)
    result = run_render(config_path, options, echo=(lambda text: None) if quiet else click.echo)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if not quiet:
        click.echo(result.summary)


@cli.command()
@output_options
@month_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the DATA_CONTRACT §5 JSON document.")
def metrics(month, config_path, as_json):
    """Compute the month's metrics and print them (a table, or JSON with --json)."""
    _, report = _report(config_path, month)
    from .output.document import metrics_json  # not from render: the metrics command needs no Jinja
    from .formatting import fmt_change, fmt_value

    if as_json:
        click.echo(metrics_json(report), nl=False)
        return
    click.echo(f"{report.company} — {report.month} ({report.timezone})")
    for m in report.metrics:
        click.echo(f"  {m.label:<30} {fmt_value(m.value, m.unit):>12}  {m.status_word:<10} "
                   f"{fmt_change(m.change, m.unit):>10}  {m.owner}")
    for reason, withheld in report.withheld:
        click.echo(f"  Not scored: {', '.join(m.label for m in withheld)}: {reason.text}")
    for reason in report.draft_reasons:
        click.echo(f"  DRAFT: {reason}")
    if report.rejected_rows:
        click.echo(f"  {report.rejected_rows} rows rejected; see `cxtruth validate` or the report appendix.")


@cli.command()
@output_options
@month_option
@config_option
def actions(month, config_path):
    """List the action ledger by owner: overdue, due before the next session, done since the last."""
    _, report = _report(config_path, month)
    ledger = report.ledger
    if not ledger.available:
        click.echo("No actions.csv found, so there is no action ledger. Record the actions the meeting "
                   "agrees in actions.csv (columns: docs/sources.md).")
    else:
        click.echo(f"Action ledger for the {report.month} session, as of {ledger.as_of} "
                   f"(next session about {ledger.next_session})")
        for section in report.sections:
            own = section.ledger
            if own is None or own.is_empty:
                continue
            click.echo(f"\n{section.name}")
            for key, label, group in own.groups():
                heading = label.upper() if key == "overdue" else label.lower()
                for a in group:
                    late = f", {_days(own.days_overdue(a))} late" if key == "overdue" else ""
                    click.echo(f"  {heading:<27} {a.action_id:<10} due {a.due}{late}  {a.title}  [{a.metric_label}]")
        if ledger.is_empty:
            click.echo("Nothing open, due or closed recently.")
    for key in report.no_owner_action:
        m = next(m for m in report.metrics if m.key == key)
        click.echo(f"\nNo owner action: {m.label} is off track ({m.owner}) and no open action is linked to it.")


@cli.command()
@output_options
@month_option
@config_option
def status(month, config_path):
    """Show the last run's outcome for a month: rendered when, from which inputs, emailed or not.

    Exits 0 when the files match the run record and the email was sent or not asked for;
    1 no run recorded, 5 the files are not the set the run record describes, 7 not
    delivered (failed, or a run ended before sending), 8 outcome unknown.
    """
    from .config import load_config
    from .records import UNCONFIRMED, DeliveryRecord, OutputPaths, RunRecord

    config = load_config(config_path)
    month = month or Month.last_complete(config.report.timezone)
    paths = OutputPaths.for_month(config.output_dir, month)
    record, delivery = RunRecord.read(paths.run), DeliveryRecord.read(paths)
    if record is None:
        click.echo(f"{month}: no run recorded ({paths.run} not found or not readable)")
        if delivery is not None:
            click.echo(f"  email: {delivery.describe()}")
        raise click.exceptions.Exit(1)
    report = paths.run.parent / record.outputs.get("report", {}).get("path", paths.report.name)
    click.echo(f"{month}: rendered {record.finished_at} by cxtruth {record.cxtruth} -> {report}")
    code = 0
    mismatched = record.mismatched_outputs(paths.run.parent)
    if mismatched:
        # A run killed between moving its files into place: the record no longer describes them.
        click.echo(f"  FILES DO NOT MATCH the run record: {', '.join(mismatched)} missing or written by "
                   "another run (an interrupted render?); rerun `cxtruth render` for this month")
        code = 5
    if record.draft:
        click.echo("  DRAFT: " + "; ".join(record.weakened_sources + record.stale_sources))
    for entry in record.inputs:
        if entry["status"] == "read" and "table" in entry:  # a warehouse table: no file, no hash
            click.echo(f"  {entry['source']:<10} table {entry['table']} ({entry['accepted']:,} rows used, "
                       f"{entry['rejected']:,} left out)")
        elif entry["status"] == "read":
            click.echo(f"  {entry['source']:<10} {entry['path']} ({entry['size']:,} bytes, sha256 "
                       f"{entry['sha256'][:12]}…, {entry['accepted']:,} rows used, {entry['rejected']:,} left out)")
    # The delivery record is the month's email state; the run record only says what its own run asked.
    email = record.email.get("status", "not_requested")
    if delivery is not None:
        click.echo(f"  email: {delivery.describe()}")
        code = code or {"failed": 7, **{s: 8 for s in UNCONFIRMED}}.get(delivery.status, 0)
    elif email in ("pending", "failed"):
        click.echo("  email: NOT SENT (the run that asked for it ended before sending, or is still running); "
                   "rerun `cxtruth render --email`")
        code = code or 7
    else:
        click.echo(f"  email: {email.replace('_', ' ')}")
    if code:
        raise click.exceptions.Exit(code)


@cli.command()
@output_options
@config_option
def validate(config_path):
    """Read every source and report rows read, rejected and the date range.

    Exits 4 when a source cannot be read, or has more rows rejected than
    max_rejected_share allows (or every row rejected): FAILED.
    """
    from .config import load_config
    from .metrics import declared
    from .agenda.quality import fmt_share, source_quality
    from .sources import check_account_references, read_source

    config = load_config(config_path)
    results, errors, backend, unreachable = {}, {}, None, None
    for name in config.source_names:
        try:
            if config.is_table(name):  # read where it lives (docs/warehouse.md)
                from .sources.tables import read_table_source
                from .warehouse import connect

                if unreachable is not None:  # tried once: a slow timeout is not waited out per table
                    raise unreachable
                try:
                    backend = backend or connect(config.warehouse)
                except CxtruthError as exc:
                    unreachable = exc
                    raise
                results[name] = read_table_source(name, config, backend)
            else:
                results[name] = read_source(name, config)
        except CxtruthError as exc:
            errors[name] = exc
    check_account_references(results)
    quality = source_quality(config, results)
    failed = bool(errors)
    for name in config.source_names:
        if name in errors:
            click.echo(f"{name:<10} ERROR  {errors[name]}")
            continue
        result = results[name]
        if result.status == "absent":
            click.echo(f"{name:<10} absent {result.path}" + ("" if result.note else " (optional)"))
            continue
        span = result.date_range()
        dates = f"{span[0]:%Y-%m-%d} .. {span[1]:%Y-%m-%d}" if span else "no dates"
        gate = quality[name]
        word = "FAILED" if gate.weakened or gate.emptied else "ok"
        failed = failed or gate.emptied
        aside = (f", {result.filtered:,} filtered out" if result.filtered else "") + (
            f", {result.set_aside:,} lines set aside" if result.set_aside else "")
        where = f" ({result.shown})" if result.table is not None else ""
        click.echo(f"{name:<10} {word:<6} {result.rows_read:>9,} rows, {result.rejected:>6,} rejected{aside}, "
                   f"{dates}{where}")
        if gate.weakened:
            failed = True
            click.echo(f"           {gate.broken:,} of {gate.rows:,} rows rejected ({fmt_share(gate.share)}), over "
                       f"max_rejected_share ({fmt_share(gate.limit)}): its metrics will show no data and the "
                       "report is a DRAFT. Most frequent reasons:")
            for line in gate.reason_lines():
                click.echo(f"             {line}")
        if gate.unmatched_over_gate:
            click.echo(f"           note: {gate.unmatched:,} of {gate.used:,} events name an account that accounts.csv "
                       f"does not have ({fmt_share(gate.unmatched / gate.used)}): Feature adoption, Onboarding "
                       "engagement and Time to first value will show no data")
        for column in gate.absent_columns:
            needing = [info.label for info in declared(config).values() if (name, column) in info.needs_columns]
            if needing:
                click.echo(f"           note: no {column} column: {', '.join(needing)} will show no data "
                           f"(map it under [sources.{name}.columns] if the export names it otherwise)")
        _echo_rows(result.issues, "")
        _echo_rows(result.warnings, "warning: ")
    if failed:
        raise click.exceptions.Exit(4)


@cli.command()
@output_options
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the draft (default: config.toml in the current folder). Never overwritten.")
def init(folder, config_path):
    """Recognise the exports in FOLDER and write a commented config.toml draft that reads them."""
    from .sources.sniff import draft_config, printable

    target = config_path or Path("config.toml")
    if target.exists():
        raise click.ClickException(f"{target} already exists; cxtruth init never overwrites a config "
                                   "(use --config to write the draft elsewhere)")
    text, recognised, unknown = draft_config(folder, target.resolve().parent)
    try:
        with target.open("x", encoding="utf-8") as out:  # "x": fails rather than overwrite a file made meanwhile
            out.write(text)
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror or exc}")
    for found in recognised:
        preset = f" (preset {found.preset.name})" if found.preset else ""
        click.echo(f"{found.source:<10} {printable(found.path.name)}{preset}: {len(found.columns)} columns mapped"
                   + (f"; {len(found.notes)} to decide" if found.notes else ""))
    for path in unknown:
        click.echo(f"{'?':<10} {printable(path.name)}: not recognised")
    click.echo(f"Wrote {target}. Decide what it marks DECIDE, then run: cxtruth validate --config {target}")


def _echo_rows(rows, prefix: str, shown: int = 5) -> None:
    import pandas as pd

    for row in rows.head(shown).itertuples():
        column = f"{row.column}: " if row.column else ""
        if pd.isna(row.line):  # a table's row, named by its key
            where = f"{row.file}, row {row.value}" if row.value != "" else row.file
            click.echo(f"           {prefix}{where}: {column}{row.reason}")
            continue
        got = f" (got {row.value!r})" if row.value != "" else ""
        click.echo(f"           {prefix}{row.file}:{row.line} {column}{row.reason}{got}")
    if len(rows) > shown:
        click.echo(f"           ... and {len(rows) - shown:,} more")


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``cxtruth``); exits with the command's code."""
    # cxtruth does no linear algebra: OpenBLAS's idle worker threads would only spin on
    # the cores Arrow and numpy need (0.2 s of CPU per run on 2 cores, measured).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    small_pages_only()
    # Importing pandas and pyarrow allocates hundreds of thousands of objects that live
    # until exit; at the default threshold (700 new objects) the collector ran 209 times
    # in a `metrics` run (0.12 s), now 25 (0.06 s). Cycles are still collected.
    gc.set_threshold(100_000, 50, 50)
    cli.main(args=argv, prog_name="cxtruth")


_PR_SET_THP_DISABLE = 41  # linux/prctl.h


def small_pages_only() -> None:
    """Ask Linux not to back this process's memory with transparent huge pages.

    Arrow's allocator marks its arenas for huge pages, and a run touches 1-2 GB
    once, front to back: each 2 MiB page is zeroed whole before use, and on VMs
    whose free memory is handed back to the host (balloon page reporting hands
    back exactly such 2 MiB blocks) every one of them is a fault on the host too.
    Measured on the 2-core benchmark VM: system time 4.0 -> 1.3 s, wall 5.45 ->
    4.27 s on a 1 GB export (docs/performance.md, decision 35). Elsewhere this is
    a no-op or costs a few TLB misses; failure (not Linux, old kernel) is ignored.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
