"""One unattended run of `cxtruth render`: lock, render, record, deliver.

What makes a cron run safe:
- one lock per month, whatever the format (the PDF, HTML, JSON and run
  record of a month share it), so two runs never overlap (the second raises
  LockHeld and writes nothing); a folder that cannot hold it is a RenderError;
- the outputs written as a set (`output.files.write_outputs`): all complete under
  temporary names, then moved into place with the run record last; the run
  record names the PDF's and JSON's hashes, so `status` can tell when a kill
  between two moves left files it does not describe (decision 51);
- a run record beside the report (`<report>.run.json`): inputs' names, sizes
  and hashes, the config's hash, version, row counts, timings and the email
  outcome, so any figure can be traced to the files it came from;
- a delivery record (`<report>.delivery.json`, `DeliveryRecord`), the
  month's email state, written *before* the message is transmitted
  (status "sending") and updated to "sent", "unknown" or "failed" after: a
  rerun sends again only when the record proves nothing was delivered
  ("failed": it sends the stored PDF) or with --force.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .config import Config
from .errors import ConfigError, DataError, DeliveryError, DeliveryUnknown, LockHeld, RenderError
from .months import Month
from .records import UNCONFIRMED, DeliveryRecord, OutputPaths, RunRecord, now_utc, read_printed, sha256_file

Echo = Callable[[str], None]
log = logging.getLogger("cxtruth")


@contextmanager
def run_lock(path: Path):
    """Hold an exclusive lock on ``path`` for the run; the OS releases it if the process dies.

    Raises LockHeld when another run holds it, RenderError when the folder cannot hold it
    (a file in its place, read-only, full, permission denied).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _folder_error(path.parent, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise LockHeld(f"another cxtruth run (pid {holder}) is writing this report; nothing was written",
                           hint=f"wait for it to finish; the lock is {path}") from None
        except OSError as exc:
            raise _folder_error(path.parent, exc) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # the pid only names the holder in the message above; a full disk fails the run where it writes
        yield
    finally:
        os.close(fd)  # closing releases the lock; the file stays, so the lock is never raced on unlink


def _folder_error(folder: Path, exc: OSError) -> RenderError:
    if folder.exists() and not folder.is_dir():
        why = "it is a file, not a folder"
    elif exc.errno == errno.ENOTDIR:
        why = "a part of that path is a file, not a folder"
    else:
        why = exc.strerror or str(exc)
    return RenderError(f"cannot use the output folder {folder}: {why}",
                       hint="set [report] output_dir (or --out) to a folder cxtruth can write; "
                            "check free space and permissions")


def remove_stale_temporaries(paths: OutputPaths) -> None:
    """Temporary files of a run that was killed mid-write (only ever touched under the lock)."""
    try:
        for output in paths.all_outputs():
            for leftover in output.parent.glob(f".{output.name}.*.tmp"):
                leftover.unlink(missing_ok=True)
    except OSError as exc:
        raise _folder_error(paths.report.parent, exc) from None


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
    email_status: str  # not_requested / sent / dry_run / already_sent (anything else raises)
    warnings: list[str] = field(default_factory=list)


# The stages a terminal is told about as they end (logging "cxtruth"; the CLI shows them).
_STAGES = {"render_html": "laid out the report", "render_pdf": "drew the PDF", "write": "wrote the outputs",
           "send": "emailed the PDF"}


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
        if name in _STAGES:  # only when the stage ended normally
            log.info("%s (%.1f s)", _STAGES[name], self.timings[name])


def _inputs_record(config: Config, sources, hashes: dict[str, str]) -> list[dict[str, Any]]:
    inputs = []
    for name, result in sources.results.items():
        entry: dict[str, Any] = {"source": name, "path": str(result.path), "status": result.status}
        if result.table is not None:  # a warehouse table: no file to hash; its name and counts
            entry = {"source": name, "table": config.sources.get(name).table, "status": result.status,
                     "rows_read": result.rows_read, "accepted": result.accepted, "rejected": result.rejected}
        elif result.status == "read":
            stat = result.path.stat()
            entry.update(size=stat.st_size, sha256=hashes[name], rows_read=result.rows_read,
                         accepted=result.accepted, rejected=result.rejected)
        inputs.append(entry)
    return inputs


def run_render(config_path, options: RunOptions, echo: Echo = print) -> RunResult:
    """Everything `cxtruth render` does, as a library call.

    Raises LockHeld when another run holds the month's lock, RenderError when the
    output folder or a file cannot be written, DeliveryError when nothing was
    delivered and DeliveryUnknown when the server may have the message (this run's
    send, or an earlier one's that this run will not repeat without ``force``).
    """
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
        from .output.email import subject_for

        subject_for(config.email, config.report, month)  # a line break in a header stops the run here
    if options.email and not options.dry_run:
        from .delivery import PASSWORD_ENV

        if config.email.username and not os.environ.get(PASSWORD_ENV):
            raise ConfigError(f"[email] username is set but {PASSWORD_ENV} is not in the environment",
                              hint="docs/deployment.md shows how to pass it to cron or systemd")
        if config.email.username and not os.environ[PASSWORD_ENV].isascii():  # smtplib logs in with ASCII only
            raise ConfigError(f"{PASSWORD_ENV} holds characters beyond ASCII, which the SMTP login cannot send",
                              hint="use an ASCII password (an app password) for the mail account")
    paths = OutputPaths.for_month(config.output_dir, month, options.out, options.fmt)
    with ExitStack() as locks:
        locks.enter_context(run_lock(paths.lock))
        if options.email and paths.delivery_lock not in (None, paths.lock):  # --out elsewhere: the month's too
            locks.enter_context(run_lock(paths.delivery_lock))
        remove_stale_temporaries(paths)
        if options.email and not options.dry_run:
            delivery = DeliveryRecord.read(paths)
            if delivery is not None and not options.force:
                if delivery.status == "sent":
                    if paths.accepted.exists():
                        _complete_delivery_record(paths, delivery)
                    return RunResult(month, paths, f"{month} was already emailed on {delivery.sent_at} to "
                                     f"{', '.join(delivery.to)}; not sending again (use --force to resend)",
                                     "already_sent")
                if delivery.status in UNCONFIRMED:
                    raise DeliveryUnknown(
                        f"{month} may already have been emailed, so it is not sent again: {delivery.describe()}",
                        hint="check the recipients' mailboxes for that Message-ID; if it did not arrive, "
                             "`cxtruth render --email --force` sends the same PDF again")
            # After a failed send, and with --force after an unknown outcome, the PDF already sent (or
            # tried) goes again, under its Message-ID; --force after "sent" renders anew, as it always did.
            resend = UNCONFIRMED if options.force else ("failed",)
            stored = _stored_pdf(paths, delivery)
            if stored is not None and delivery.status in resend:
                why = "the last send failed" if delivery.status == "failed" else "--force after an unknown outcome"
                echo(f"Sending the stored {paths.report.name} ({why}; same Message-ID)")
                return _deliver(config, paths, month, stored, delivery.body, options, timer)
        return _render_and_maybe_send(config, config_file, month, paths, options, timer, started, echo)


def _stored_pdf(paths: OutputPaths, delivery: DeliveryRecord | None) -> bytes | None:
    """The PDF the delivery record names, if it is still on disk unchanged (then it is sent as it was)."""
    if delivery is None or not delivery.report_sha256 or delivery.report != paths.report.name:
        return None
    try:
        pdf = paths.report.read_bytes()
    except OSError:
        return None
    return pdf if hashlib.sha256(pdf).hexdigest() == delivery.report_sha256 else None


def _render_and_maybe_send(config: Config, config_file: Path, month: Month, paths: OutputPaths,
                           options: RunOptions, timer: _Timer, started: str, echo: Echo) -> RunResult:
    from .agenda import TREND_MONTHS, build_report
    from .agenda.restated import printed_values
    from .output.document import metrics_json
    from .output.files import write_outputs
    from .output.render import render_html, render_pdf, time_limit
    from .sources import load_sources

    with timer("read_sources"):
        sources = load_sources(config)
    # The run record's input hashes are computed beside the rest of the run
    # (hashlib releases the GIL), so recording them costs no wall time.
    with ThreadPoolExecutor(max_workers=1) as hasher:
        hashes = {name: hasher.submit(sha256_file, result.path)
                  for name, result in sources.results.items() if result.status == "read" and result.table is None}
        with timer("compute"):
            # What the earlier months' reports printed, from their run records beside this one.
            printed = read_printed(paths.report.parent, month.trailing(TREND_MONTHS)[:-1])
            report = build_report(config, sources, month, printed)
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
    record = RunRecord(
        cxtruth=__version__,
        month=str(month),
        started_at=started,
        finished_at=now_utc(),
        config={"path": str(config_file.resolve()), "sha256": sha256_file(config_file)},
        inputs=inputs,
        rejected_rows=report.rejected_rows,
        draft=report.draft,
        weakened_sources=[s.describe() for s in report.weakened],
        stale_sources=[s.describe(report.month) for s in report.stale],
        outputs={
            "report": {"path": paths.report.name, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)},
            "json": {"path": paths.json.name, "sha256": hashlib.sha256(document_json.encode()).hexdigest()},
        },
        timings_seconds=timer.timings,
        email={"status": "pending" if options.email and not options.dry_run else "not_requested"},
        printed=printed_values(report.metrics),
    )
    with timer("write"):
        # Everything is rendered before anything is written; the run record, which names the
        # others' hashes, is moved into place last (decision 51).
        write_outputs({paths.report: document, paths.json: document_json, paths.run: record.to_json()})
    counts = report.status_counts
    summary = (f"Wrote {paths.report} ({month}: {counts['off_track']} off track, {counts['at_risk']} at risk, "
               f"{counts['on_track']} on track, {counts['no_data']} no data; {report.rejected_rows} rows rejected)")
    warnings = [f"DRAFT: {reason}" for reason in report.draft_reasons]
    if not options.email:
        return RunResult(month, paths, summary, "not_requested", warnings)
    echo(summary)
    from .output.email import summary_text

    # The delivery record keeps this body, so a resend of this PDF carries the summary of this PDF.
    result = _deliver(config, paths, month, payload, summary_text(report, paths.report.name), options, timer)
    result.warnings = warnings + result.warnings
    return result


def _deliver(config: Config, paths: OutputPaths, month: Month, pdf: bytes, body: str,
             options: RunOptions, timer: _Timer) -> RunResult:
    """Send ``pdf`` at most once, keeping the delivery record ahead of the server (module docstring)."""
    from .delivery import PASSWORD_ENV, send
    from .output.email import build_message, message_id_for, subject_for
    from .output.files import write_outputs

    settings = config.email
    subject = subject_for(settings, config.report, month)
    message_id = message_id_for(settings, month, pdf)
    message = build_message(settings, subject, body, pdf, paths.report.name, message_id)
    pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    if options.dry_run:
        write_outputs({paths.eml: message.as_bytes()})
        _note_email(paths, pdf_sha256, {"status": "dry_run", "eml": paths.eml.name}, timer)
        return RunResult(month, paths, f"Wrote {paths.eml} (dry run: nothing was sent)", "dry_run")
    recipients = {"to": list(settings.to), "cc": list(settings.cc)}
    delivery = DeliveryRecord(status="sending", month=str(month), report=paths.report.name,
                              report_sha256=pdf_sha256, message_id=message_id, subject=subject,
                              host=settings.host, body=body, started_at=now_utc(), **recipients)

    def before_transmit() -> None:
        # Once the server may have the message, the record says so, so no later run sends it blindly.
        delivery.started_at = now_utc()
        try:
            paths.accepted.unlink(missing_ok=True)  # an earlier send's: it must not vouch for this one
            write_outputs({paths.delivery: delivery.to_json()})
        except OSError as exc:
            raise RenderError(f"email not sent: cannot remove {paths.accepted}: {exc.strerror or exc}") from None
        except RenderError as exc:
            raise RenderError(f"email not sent: {exc} (the delivery record is written before the message "
                              "is transmitted)", hint=exc.hint) from None

    try:
        with timer("send"):
            outcome = send(settings, message, config.base_dir, password=os.environ.get(PASSWORD_ENV),
                           before_transmit=before_transmit)
    except (DeliveryError, DeliveryUnknown) as exc:
        # A record that cannot be written here leaves "sending" (if the message went out): still no resend.
        delivery.status = "unknown" if isinstance(exc, DeliveryUnknown) else "failed"
        delivery.error, delivery.failed_at = str(exc), now_utc()
        try:
            write_outputs({paths.delivery: delivery.to_json()})
        except RenderError:
            pass
        _note_email(paths, pdf_sha256, {"status": delivery.status, "error": str(exc),
                                        "failed_at": delivery.failed_at, **recipients}, timer)
        raise
    delivery.status, delivery.sent_at = "sent", now_utc()
    delivery.attempts, delivery.retried_errors = outcome.attempts, outcome.errors
    # First the empty marker: it needs no free block, so a full disk still records the acceptance.
    marked = _mark_accepted(paths.accepted)
    try:
        write_outputs({paths.delivery: delivery.to_json()})
    except RenderError as exc:
        accepted = f"{settings.host} accepted it at {delivery.sent_at} (Message-ID {message_id})"
        if marked:
            raise RenderError(f"email sent, recorded only by {paths.accepted.name}: {accepted}; {exc}",
                              hint="a rerun knows it was sent and will not send again; free the space") from None
        raise RenderError(f"email sent, but not recorded: {accepted}; {exc}",
                          hint="the record written before sending stays, so a rerun will not send again; "
                               "free the space, and expect `cxtruth status` to call the outcome unknown") from None
    _unlink_quietly(paths.accepted)  # the full record says it now
    warnings = _note_email(paths, pdf_sha256, {"status": "sent", "sent_at": delivery.sent_at,
                                               "attempts": outcome.attempts, **recipients}, timer)
    tries = f" after {outcome.attempts} attempts" if outcome.attempts > 1 else ""
    return RunResult(month, paths, f"Emailed {paths.report.name} to {', '.join(settings.to + settings.cc)}{tries}",
                     "sent", warnings)


def _complete_delivery_record(paths: OutputPaths, delivery: DeliveryRecord) -> None:
    """Write the full "sent" record that a full disk kept to the marker, if there is room now."""
    from .output.files import write_outputs

    delivery.error = None
    try:
        write_outputs({paths.delivery: delivery.to_json()})
    except RenderError:
        return  # the marker still says it
    _unlink_quietly(paths.accepted)


def _mark_accepted(path: Path) -> bool:
    from .output.files import sync_folder

    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644))
    except OSError:
        return False
    sync_folder(path.parent)
    return True


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # a leftover marker beside a "sent" record says nothing new


def _note_email(paths: OutputPaths, pdf_sha256: str, email: dict[str, Any], timer: _Timer) -> list[str]:
    """Copy the email outcome into the run record if that record describes this PDF.

    The delivery record is the authority; the run record's copy is history, so a failure here is a warning.
    """
    from .output.files import write_outputs

    record = RunRecord.read(paths.run)
    if record is None or not record.describes(pdf_sha256):
        return []
    record.email, record.timings_seconds = email, {**record.timings_seconds, **timer.timings}
    try:
        write_outputs({paths.run: record.to_json()})
    except RenderError as exc:
        return [f"the run record was not updated: {exc}"]
    return []
