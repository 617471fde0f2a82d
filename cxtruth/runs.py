"""One unattended run of `cxtruth render`: lock, render, record, deliver.

What makes a cron run safe:
- a lock per output report, so two runs never overlap (the second raises
  LockHeld and writes nothing);
- every output written atomically (`render.write_atomic`), so a crash or a
  full disk leaves the previous report intact;
- a run record beside the report (`<report>.run.json`): inputs' names, sizes
  and hashes, the config's hash, version, row counts, timings and the email
  outcome, so any figure can be traced to the files it came from;
- a delivery record (`<report>.delivery.json`) written only once an email
  was accepted by the server: a rerun does not send again without --force,
  and a rerun after a failed send sends the stored PDF, not a new render.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .config import Config
from .errors import ConfigError, DataError, DeliveryError, LockHeld
from .months import Month

Echo = Callable[[str], None]


@dataclass(frozen=True)
class OutputPaths:
    report: Path
    json: Path
    run: Path
    delivery: Path
    eml: Path
    lock: Path

    @classmethod
    def for_month(cls, default_dir: Path, month: Month, out: Path | None = None, fmt: str = "pdf") -> "OutputPaths":
        """Where a run writes: ``--out``, else <output_dir>/cxtruth-YYYY-MM.<fmt>, and the files beside it."""
        return cls.for_report(out if out is not None else default_dir / f"cxtruth-{month}.{fmt}")

    @classmethod
    def for_report(cls, report: Path) -> "OutputPaths":
        stem = report.with_suffix("")
        return cls(report=report, json=report.with_suffix(".json"), run=Path(f"{stem}.run.json"),
                   delivery=Path(f"{stem}.delivery.json"), eml=report.with_suffix(".eml"),
                   lock=report.parent / f".{report.name}.lock")

    def all_outputs(self) -> list[Path]:
        return [self.report, self.json, self.run, self.delivery, self.eml]


@contextmanager
def run_lock(path: Path):
    """Hold an exclusive lock on ``path`` for the run; the OS releases it if the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise LockHeld(f"another cxtruth run (pid {holder}) is writing this report; nothing was written",
                           hint=f"wait for it to finish; the lock is {path}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock; the file stays, so the lock is never raced on unlink


def remove_stale_temporaries(paths: OutputPaths) -> None:
    """Temporary files of a run that was killed mid-write (only ever touched under the lock)."""
    for output in paths.all_outputs():
        for leftover in output.parent.glob(f".{output.name}.*.tmp"):
            leftover.unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # an unreadable record is treated as absent; the run record explains


def record_bytes(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


@dataclass
class RunOptions:
    month: Month | None = None
    out: Path | None = None
    fmt: str = "pdf"
    email: bool = False
    force: bool = False
    dry_run: bool = False
    strict: bool = False


@dataclass
class RunResult:
    month: Month
    paths: OutputPaths
    summary: str
    email_status: str  # not_requested / sent / dry_run / already_sent / failed
    warnings: list[str] = field(default_factory=list)


class _Timer:
    def __init__(self):
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - start, 3)


def _inputs_record(config: Config, sources, hashes: dict[str, str]) -> list[dict[str, Any]]:
    inputs = []
    for name, result in sources.results.items():
        entry: dict[str, Any] = {"source": name, "path": str(result.path), "status": result.status}
        if result.status == "read":
            stat = result.path.stat()
            entry.update(size=stat.st_size, sha256=hashes[name], rows_read=result.rows_read,
                         accepted=result.accepted, rejected=result.rejected)
        inputs.append(entry)
    return inputs


def run_render(config_path, options: RunOptions, echo: Echo = print) -> RunResult:
    """Everything `cxtruth render` does, as a library call."""
    from .config import find_config, load_config

    started, timer = now_utc(), _Timer()
    with timer("load_config"):
        config_file = find_config(config_path)
        config = load_config(config_path)
    month = options.month or Month.last_complete(config.report.timezone)
    if options.email and config.email is None:
        raise ConfigError("--email needs an [email] table in the config (host, sender, to)",
                          hint="see docs/deployment.md")
    if options.email:
        from .delivery import subject_for

        subject_for(config.email, config.report, month)  # a line break in a header stops the run here
    if options.email and not options.dry_run:
        from .delivery import PASSWORD_ENV

        if config.email.username and not os.environ.get(PASSWORD_ENV):
            raise ConfigError(f"[email] username is set but {PASSWORD_ENV} is not in the environment",
                              hint="docs/deployment.md shows how to pass it to cron or systemd")
    paths = OutputPaths.for_month(config.output_dir, month, options.out, options.fmt)
    with run_lock(paths.lock):
        remove_stale_temporaries(paths)
        if options.email and not options.force and not options.dry_run:
            delivered = read_record(paths.delivery)
            if delivered and delivered.get("status") == "sent":
                return RunResult(month, paths, f"{month} was already emailed on {delivered.get('sent_at')} to "
                                 f"{', '.join(delivered.get('to', []))}; not sending again (use --force to resend)",
                                 "already_sent")
            stored = _stored_after_failed_send(paths)
            if stored is not None:
                echo(f"Sending the stored {paths.report.name} (rendered {stored['finished_at']}; "
                     "the last send failed)")
                return _deliver(config, paths, stored, stored_pdf=paths.report.read_bytes(),
                                options=options, timer=timer)
        return _render_and_maybe_send(config, config_file, month, paths, options, timer, started, echo)


def _stored_after_failed_send(paths: OutputPaths) -> dict[str, Any] | None:
    """The run record of a PDF whose send failed, if that PDF is still on disk unchanged."""
    record = read_record(paths.run)
    if not record or record.get("email", {}).get("status") not in ("failed", "pending"):
        return None
    pdf = record.get("outputs", {}).get("report", {})
    if not paths.report.exists() or pdf.get("sha256") != sha256_file(paths.report):
        return None
    return record


def _render_and_maybe_send(config: Config, config_file: Path, month: Month, paths: OutputPaths,
                           options: RunOptions, timer: _Timer, started: str, echo: Echo) -> RunResult:
    from .sources.csvplan import read_ahead

    read_ahead(config)  # Arrow parses the exports while the modules below (pandas, Jinja) are imported
    from .agenda import build_report
    from .agenda import metrics_json
    from .render import render_html, render_pdf, time_limit, write_outputs
    from .sources import load_sources

    with timer("read_sources"):
        sources = load_sources(config)
    # The run record's input hashes are computed beside the rest of the run
    # (hashlib releases the GIL), so recording them costs no wall time.
    with ThreadPoolExecutor(max_workers=1) as hasher:
        hashes = {name: hasher.submit(sha256_file, result.path)
                  for name, result in sources.results.items() if result.status == "read"}
        with timer("compute"):
            report = build_report(config, sources, month)
        if report.draft and options.strict:
            what = "too many rows rejected" if report.weakened else "stale data"
            raise DataError(f"{what} (--strict): " + "; ".join(report.draft_reasons),
                            hint="fix the export or the source's settings (cxtruth validate lists the reasons)"
                            if report.weakened else
                            "refresh the exports, or raise max_staleness_days if this source is slow by nature")
        with time_limit(config.report.render_timeout_seconds, "rendering the report"):
            with timer("render_html"):
                html = render_html(report, template_dir=config.template_dir)
            with timer("render_pdf"):
                document = render_pdf(html) if options.fmt == "pdf" else html
        payload = document if isinstance(document, bytes) else document.encode("utf-8")
        document_json = metrics_json(report)
        with timer("hash_inputs_wait"):
            inputs = _inputs_record(config, sources, {name: f.result() for name, f in hashes.items()})
    record = {
        "cxtruth": __version__,
        "month": str(month),
        "started_at": started,
        "finished_at": now_utc(),
        "config": {"path": str(config_file.resolve()), "sha256": sha256_file(config_file)},
        "inputs": inputs,
        "rejected_rows": report.rejected_rows,
        "draft": report.draft,
        "weakened_sources": [s.describe() for s in report.weakened],
        "stale_sources": [s.describe(report.month) for s in report.stale],
        "outputs": {
            "report": {"path": paths.report.name, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)},
            "json": {"path": paths.json.name, "sha256": hashlib.sha256(document_json.encode()).hexdigest()},
        },
        "timings_seconds": timer.timings,
        "email": {"status": "pending" if options.email and not options.dry_run else "not_requested"},
    }
    if config.email is not None:
        from .delivery import summary_text

        # Kept so that a resend of this PDF carries the summary of this PDF, whatever the inputs are by then.
        record["email_body"] = summary_text(report, paths.report.name)
    with timer("write"):
        # Everything is rendered before anything is written.
        write_outputs({paths.report: document, paths.json: document_json, paths.run: record_bytes(record)})
    counts = report.status_counts
    summary = (f"Wrote {paths.report} ({month}: {counts['off_track']} off track, {counts['at_risk']} at risk, "
               f"{counts['on_track']} on track, {counts['no_data']} no data; {report.rejected_rows} rows rejected)")
    warnings = [f"DRAFT: {reason}" for reason in report.draft_reasons]
    if not options.email:
        return RunResult(month, paths, summary, "not_requested", warnings)
    echo(summary)
    result = _deliver(config, paths, record, stored_pdf=payload, options=options, timer=timer)
    result.warnings = warnings
    return result


def _deliver(config: Config, paths: OutputPaths, record: dict[str, Any], stored_pdf: bytes,
             options: RunOptions, timer: _Timer) -> RunResult:
    from .delivery import PASSWORD_ENV, build_message, send, subject_for
    from .render import write_outputs

    month = Month.parse(record["month"])
    settings = config.email
    subject = subject_for(settings, config.report, month)
    body = record.get("email_body") or f"The {month.label} agenda is attached ({paths.report.name}).\n"
    message = build_message(settings, subject, body, stored_pdf, paths.report.name)
    if options.dry_run:
        write_outputs({paths.eml: message.as_bytes()})
        record["email"] = {"status": "dry_run", "eml": paths.eml.name}
        write_outputs({paths.run: record_bytes(record)})
        return RunResult(month, paths, f"Wrote {paths.eml} (dry run: nothing was sent)", "dry_run")
    recipients = {"to": list(settings.to), "cc": list(settings.cc)}
    try:
        with timer("send"):
            outcome = send(settings, message, config.base_dir, password=os.environ.get(PASSWORD_ENV))
    except DeliveryError as exc:
        record["email"] = {"status": "failed", "error": str(exc), "failed_at": now_utc(), **recipients}
        record["timings_seconds"] = timer.timings
        write_outputs({paths.run: record_bytes(record)})
        raise
    sent_at = now_utc()
    delivery = {"status": "sent", "month": str(month), "sent_at": sent_at, **recipients,
                "subject": message["Subject"], "message_id": outcome.message_id,
                "report": paths.report.name, "report_sha256": hashlib.sha256(stored_pdf).hexdigest(),
                "attempts": outcome.attempts, "retried_errors": outcome.errors, "host": settings.host}
    record["email"] = {"status": "sent", "sent_at": sent_at, "attempts": outcome.attempts, **recipients}
    record["timings_seconds"] = timer.timings
    write_outputs({paths.delivery: record_bytes(delivery), paths.run: record_bytes(record)})
    tries = f" after {outcome.attempts} attempts" if outcome.attempts > 1 else ""
    return RunResult(month, paths, f"Emailed {paths.report.name} to {', '.join(settings.to + settings.cc)}{tries}",
                     "sent")
