"""The typed records beside each report: the run record and the month's delivery record."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .months import Month


@dataclass(frozen=True)
class OutputPaths:
    report: Path
    json: Path
    run: Path
    delivery: Path
    accepted: Path  # an empty file: the server accepted the message the "sending" record names
    eml: Path
    lock: Path  # the report's: one run writes its files at a time
    delivery_lock: Path | None = None  # the month's, in output_dir: one run emails it at a time (None: `lock`)

    @classmethod
    def for_month(cls, default_dir: Path, month: Month, out: Path | None = None, fmt: str = "pdf") -> "OutputPaths":
        """Where a run writes: ``--out``, else <output_dir>/cxtruth-YYYY-MM.<fmt>, and the files beside
        it; the month's delivery record, its accepted marker and its delivery lock stay in
        output_dir whatever ``--out`` says, so a month is emailed at most once however its report
        is named."""
        paths = cls.for_report(out if out is not None else default_dir / f"cxtruth-{month}.{fmt}")
        month_wide = cls.for_report(default_dir / f"cxtruth-{month}.pdf")
        return replace(paths, delivery=month_wide.delivery, accepted=month_wide.accepted,
                       delivery_lock=month_wide.lock)

    @classmethod
    def for_report(cls, report: Path) -> "OutputPaths":
        stem = report.with_suffix("")
        # One lock per month for every format: the JSON and run record are shared. It keeps
        # the PDF's name (`.cxtruth-YYYY-MM.pdf.lock`) so a running older version is excluded too.
        return cls(report=report, json=report.with_suffix(".json"), run=Path(f"{stem}.run.json"),
                   delivery=Path(f"{stem}.delivery.json"), accepted=report.parent / f".{stem.name}.accepted",
                   eml=report.with_suffix(".eml"),
                   lock=report.parent / f".{stem.name}.pdf.lock")

    def all_outputs(self) -> list[Path]:
        return [self.report, self.json, self.run, self.delivery, self.eml]


def _fits(spec, value) -> bool:
    """Whether a record's JSON value has the type its field declares (str, str | None, int, list[str])."""
    declared = str(spec.type)
    if value is None:
        return "None" in declared
    if declared.startswith("list[dict"):
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if declared.startswith("list"):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if declared.startswith("dict[str, dict"):
        return isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())
    if declared.startswith("dict"):
        return isinstance(value, dict)
    if declared == "bool":
        return isinstance(value, bool)
    if declared == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


# what `status` prints of a source that was read: a file's, or a warehouse table's
_READ_INPUT = {"source": str, "path": str, "size": int, "sha256": str, "accepted": int, "rejected": int}
_READ_TABLE = {"source": str, "table": str, "accepted": int, "rejected": int}


def _shown_status(value: str) -> str:
    return repr(value[:40])


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



DELIVERY_STATUSES = ("sending", "sent", "unknown", "failed")
UNCONFIRMED = ("sending", "unknown")  # the server may have the message; no rerun sends without --force



@dataclass
class DeliveryRecord:
    """`<report>.delivery.json`: the month's email, written ahead of the transmission.

    status: "sending" (written after the server said go ahead to DATA, before the
    message is transmitted: still there means the run ended without an answer),
    "sent" (the server replied 250), "unknown" (transmitted, never confirmed) or
    "failed" (nothing delivered; ``body`` lets a rerun send the stored PDF as it was).
    """

    status: str
    month: str = ""
    report: str = ""
    report_sha256: str = ""
    message_id: str = ""
    subject: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    host: str = ""
    body: str = ""
    started_at: str = ""
    sent_at: str | None = None
    failed_at: str | None = None
    attempts: int = 0
    retried_errors: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> str:
        return record_bytes(asdict(self))

    @classmethod
    def read(cls, paths: OutputPaths) -> "DeliveryRecord | None":
        """The month's record, None if there is none.

        One that cannot be read counts as "unknown" (never resend blindly); "sending" with
        the acceptance marker beside it is "sent" (the full record could not be written).
        """
        if not paths.delivery.exists():
            return None
        raw = read_record(paths.delivery)
        if not isinstance(raw, dict) or not isinstance(raw.get("status"), str):
            return cls(status="unknown", error=f"{paths.delivery.name} cannot be read")
        if raw["status"] not in DELIVERY_STATUSES:  # edited by hand, or by another program: never resend on it
            return cls(status="unknown", error=f"{paths.delivery.name} says {_shown_status(raw['status'])}, "
                                               f"not one of {', '.join(DELIVERY_STATUSES)}")
        known = {f.name: f for f in fields(cls)}
        wrong = sorted(k for k, v in raw.items() if k in known and not _fits(known[k], v))
        if wrong:  # a field of another type would stop the run later, at a resend or in `status`
            return cls(status="unknown", error=f"{paths.delivery.name} cannot be read: {', '.join(wrong)} "
                                               "of the wrong type")
        record = cls(**{k: v for k, v in raw.items() if k in known})
        if record.status == "sending":
            try:
                accepted = datetime.fromtimestamp(paths.accepted.stat().st_mtime, timezone.utc)
            except OSError:
                return record
            record.status, record.sent_at = "sent", accepted.strftime("%Y-%m-%dT%H:%M:%SZ")
            record.error = f"recorded by {paths.accepted.name} only: the full record could not be written"
        return record

    def describe(self) -> str:
        """What an operator needs to decide: when, to whom, what happened, which Message-ID to look for."""
        if self.status == "sent":
            return f"sent {self.sent_at} to {', '.join(self.to + self.cc)}" + (f" ({self.error})" if self.error else "")
        if self.status == "failed":
            return f"FAILED {self.failed_at}: {self.error}"
        what = (f"the message was transmitted to {self.host} at about {self.started_at} but never confirmed"
                if self.status == "unknown" else
                f"a send to {self.host} began at {self.started_at} and its run ended without recording "
                "the server's answer")
        return (f"OUTCOME UNKNOWN: {what}" + (f" ({self.error})" if self.error else "")
                + f"; Message-ID {self.message_id or '(not recorded)'}")



@dataclass
class RunRecord:
    """`<report>.run.json`: what one render read, wrote and did (docs/deployment.md, "Files beside each report").

    ``outputs`` names the report and JSON with their SHA-256: the record is moved into place
    after them, so files that do not match it were not written with it (decision 51).
    """

    cxtruth: str
    month: str
    started_at: str
    finished_at: str
    config: dict[str, str]
    inputs: list[dict[str, Any]]
    rejected_rows: int
    draft: bool
    stale_sources: list[str]
    outputs: dict[str, dict[str, Any]]
    timings_seconds: dict[str, float]
    email: dict[str, Any]
    # sources over the rejection gate (issue 17); absent in records written before it
    weakened_sources: list[str] = field(default_factory=list)
    # what the report printed for its own month, per metric key: {"value", "sample"} (issue 22,
    # decision 62); later reports compare it with the month computed again. Absent before it.
    printed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        return record_bytes(asdict(self))

    @classmethod
    def read(cls, path: Path) -> "RunRecord | None":
        """The record, or None if there is none or it cannot be read."""
        raw = read_record(path)
        if not isinstance(raw, dict):
            return None
        known = {f.name: f for f in fields(cls)}
        if any(k in known and not _fits(known[k], v) for k, v in raw.items()):
            return None  # edited, or another program's: `status` would stop on it with a traceback
        for entry in raw.get("inputs", []):
            needed = _READ_TABLE if "table" in entry else _READ_INPUT
            if entry.get("status") == "read" and not all(isinstance(entry.get(k), t) for k, t in needed.items()):
                return None
        try:
            return cls(**{k: v for k, v in raw.items() if k in known})
        except TypeError:  # a key missing: not a record this version can describe
            return None

    def describes(self, pdf_sha256: str) -> bool:
        return self.outputs.get("report", {}).get("sha256") == pdf_sha256

    def mismatched_outputs(self, folder: Path) -> list[str]:
        """The outputs this record names whose file is missing or is not the one its run wrote."""
        wrong = []
        for entry in self.outputs.values():
            path = folder / entry.get("path", "")
            try:
                same = sha256_file(path) == entry.get("sha256")
            except OSError:
                same = False
            if not same:
                wrong.append(path.name)
        return wrong


@dataclass(frozen=True)
class Printed:
    """What a month's own report printed for one metric: the value (unrounded) and its sample size."""

    value: float | None
    sample: int | None
    printed_at: str = ""  # when that report was rendered (its run record's finished_at)

    @classmethod
    def from_record(cls, raw: Any, printed_at: str = "") -> "Printed | None":
        """One metric's entry of a run record, or None when it is not one this version can read."""
        if not isinstance(raw, dict):
            return None
        value, sample = raw.get("value"), raw.get("sample")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            return None
        if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 0):
            return None
        return cls(None if value is None else float(value), sample, printed_at)

    def record(self) -> dict[str, Any]:
        return {"value": self.value, "sample": self.sample}


def read_printed(folder: Path, months: list[Month]) -> dict[Month, dict[str, Printed]]:
    """What the reports of ``months`` in ``folder`` printed (their run records), per month and metric key.

    A month whose run record is missing, unreadable or written before records kept it is left
    out, as is any entry that is not a value and a count: no record, no restatement claimed.
    """
    found: dict[Month, dict[str, Printed]] = {}
    for month in months:
        record = RunRecord.read(OutputPaths.for_month(folder, month).run)
        if record is None or record.month != str(month) or not isinstance(record.printed, dict):
            continue
        stamp = record.finished_at if isinstance(record.finished_at, str) else ""
        entries = {key: Printed.from_record(raw, stamp) for key, raw in record.printed.items()}
        found[month] = {key: entry for key, entry in entries.items() if entry is not None}
    return found
