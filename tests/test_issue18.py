"""Issue 18: under faults, at most one email, bounded runs, and no traceback.

One test per defect of the SRE fault campaign, through the real CLI with real
files, against real misbehaving SMTP servers on loopback: `RawSMTP` below
speaks just enough SMTP by hand to store a message and then drop the line,
answer too late, or trickle its greeting or its last reply for ever. Disk
faults are real too: a full or read-only tmpfs in a private mount namespace
(`Namespace`), a folder that a non-root user may not write.
"""

import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import held_lock
from cxtruth.records import OutputPaths
from test_delivery import EPOCH, email_config, free_port, reports, smtp_server  # noqa: F401 (fixture)

CXTRUTH = [sys.executable, "-c", "from cxtruth.cli import main; main()"]


class RawSMTP:
    """An SMTP server that misbehaves on purpose once the whole message is in.

    after_message: "drop" closes the connection without a reply, "late" replies
    250 after ``delay`` seconds, "trickle" sends ``250-`` continuation lines
    every 0.2 s and never the last one, "ok" replies 250 at once.
    ``on_message`` runs before that reply; ``on_data`` runs before the 354
    that lets the message come. trickle_greeting=True sends ``220-``
    continuation lines every 0.2 s and never finishes the greeting.
    """

    def __init__(self, after_message="ok", delay=0.0, on_message=None, on_data=None, trickle_greeting=False, port=0):
        self.after_message, self.delay, self.on_message, self.on_data = after_message, delay, on_message, on_data
        self.trickle_greeting = trickle_greeting
        self.messages: list[bytes] = []
        self.connections = 0
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def close(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.listener.close()

    def message_ids(self) -> list[str]:
        return [email.message_from_bytes(m, policy=email.policy.default)["Message-ID"] for m in self.messages]

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket):
        try:
            with conn, conn.makefile("rb") as lines:
                if self.trickle_greeting:
                    while not self.stop.wait(0.2):
                        conn.sendall(b"220-raw.test still getting ready\r\n")
                    return
                conn.sendall(b"220 raw.test ESMTP\r\n")
                for line in lines:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 raw.test\r\n")
                    elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                        conn.sendall(b"250 OK\r\n")
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
                    elif verb == b"DATA":
                        if self.on_data:
                            self.on_data()
                        conn.sendall(b"354 go ahead\r\n")
                        body = []
                        while (line := lines.readline()) != b".\r\n":
                            if not line:
                                return  # the client gave up mid-message: there is no message
                            body.append(line)
                        self.messages.append(b"".join(body))
                        if self.on_message:
                            self.on_message()
                        if self.after_message == "drop":
                            return
                        while self.after_message == "trickle" and not self.stop.wait(0.2):
                            conn.sendall(b"250-still checking it\r\n")
                        if self.after_message == "late" and self.stop.wait(self.delay):
                            return
                        conn.sendall(b"250 2.0.0 queued\r\n")
                    else:
                        conn.sendall(b"500 what\r\n")
        except OSError:
            pass  # the client hung up: that is its right


@pytest.fixture
def raw_smtp():
    servers = []

    def start(**kwargs) -> RawSMTP:
        servers.append(RawSMTP(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def fast(config, timeout=1, retry_for=2):
    """Small limits, so a test of a deadline takes seconds."""
    text = config.read_text().replace("retry_for_seconds = 8", f"retry_for_seconds = {retry_for}")
    config.write_text(text.replace("timeout_seconds = 5", f"timeout_seconds = {timeout}"))
    return config


def cli(*args, env=None, prefix=(), timeout=120, python=CXTRUTH):
    """The CLI in a fresh process (a hang fails the test rather than the suite); returns (code, out, err, seconds)."""
    started = time.monotonic()
    done = subprocess.run([*prefix, *python, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH, **(env or {})})
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def render_email(config, *extra, **kwargs):
    return cli("render", "--month", "2026-10", "--config", config, "--email", *extra, **kwargs)


def status(config, **kwargs):
    return cli("status", "--month", "2026-10", "--config", config, **kwargs)


def delivery_record(config) -> dict:
    return json.loads((reports(config) / "cxtruth-2026-10.delivery.json").read_text())


def send_seconds(config) -> float:
    """How long the last send took, from the run record (the render before it is not part of the bound)."""
    return json.loads((reports(config) / "cxtruth-2026-10.run.json").read_text())["timings_seconds"]["send"]


def no_traceback(*outputs):
    for text in outputs:
        assert "Traceback" not in text, text


# 1. Duplicate emails when the outcome is ambiguous.

def test_issue18_connection_dropped_after_the_message_sends_one_copy_and_says_so(handcalc, raw_smtp):
    server = raw_smtp(after_message="drop")
    config = fast(email_config(handcalc, server.port))
    code, out, err, _ = render_email(config)
    assert code == 8, err
    assert "email outcome unknown" in err and "received the whole message" in err
    assert "check the recipients' mailboxes for Message-ID" in err and "--force" in err
    assert len(server.messages) == 1 and server.connections == 1  # never retried
    assert send_seconds(config) < 1.5
    record = delivery_record(config)
    assert record["status"] == "unknown" and record["message_id"] == server.message_ids()[0]

    # The rerun does not send again, and says why.
    code, out, err, _ = render_email(config)
    assert code == 8 and "may already have been emailed, so it is not sent again" in err
    assert len(server.messages) == 1 and server.connections == 1
    code, out, err, _ = status(config)
    assert code == 8 and "email: OUTCOME UNKNOWN" in out and record["message_id"] in out

    # --force sends the stored PDF again under the same Message-ID, so a client can tell it is a resend.
    server.after_message = "ok"
    code, out, err, _ = render_email(config, "--force")
    assert code == 0, err
    assert "Sending the stored cxtruth-2026-10.pdf" in out
    assert len(server.messages) == 2 and server.message_ids()[0] == server.message_ids()[1]
    assert delivery_record(config)["status"] == "sent"
    assert status(config)[0] == 0
    no_traceback(out, err)


def test_issue18_a_250_after_the_timeout_is_an_unknown_outcome_not_a_retry(handcalc, raw_smtp):
    server = raw_smtp(after_message="late", delay=4)
    config = fast(email_config(handcalc, server.port), timeout=1, retry_for=2)
    code, out, err, _ = render_email(config)
    assert code == 8, err
    assert "did not confirm it within the attempt's timeout_seconds = 1" in err
    assert len(server.messages) == 1 and server.connections == 1
    assert 1 <= send_seconds(config) < 2  # one attempt of timeout_seconds, not the server's 4 s
    again = render_email(config)
    assert again[0] == 8 and len(server.messages) == 1 and server.connections == 1
    no_traceback(out, err, again[2])


def test_issue18_a_reply_trickled_after_the_message_ends_the_run_as_unknown(handcalc, raw_smtp):
    port = free_port()  # a quick failure first, so that the timed run sends the stored PDF: no render in it
    config = fast(email_config(handcalc, port), timeout=1, retry_for=0)
    assert render_email(config)[0] == 7
    server = raw_smtp(after_message="trickle", port=port)
    code, out, err, seconds = render_email(config, timeout=60)
    assert code == 8, err
    assert "did not confirm it within the attempt's timeout_seconds = 1" in err
    assert 1 <= seconds < 1 + 6, seconds  # one attempt, never retried
    assert len(server.messages) == 1 and server.connections == 1
    assert delivery_record(config)["status"] == "unknown"
    no_traceback(out, err)


def test_issue18_the_message_id_is_the_same_for_the_same_pdf(handcalc, smtp_server):
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    assert render_email(config)[0] == 0
    assert render_email(config, "--force")[0] == 0  # renders again: the same inputs and clock, the same bytes
    first, second = (email.message_from_bytes(raw, policy=email.policy.default) for _, raw in handler.messages)
    assert first["Message-ID"] == second["Message-ID"] == delivery_record(config)["message_id"]
    assert first["Message-ID"].startswith("<cxtruth-2026-10.") and first["Message-ID"].endswith("@fixture.example>")
    # Another PDF (another clock) is another message.
    assert render_email(config, "--force", env={"SOURCE_DATE_EPOCH": "1793700000"})[0] == 0
    third = email.message_from_bytes(handler.messages[2][1], policy=email.policy.default)
    assert third["Message-ID"] != first["Message-ID"]


# 2. No overall bound on a send.

def test_issue18_a_server_trickling_its_greeting_cannot_hold_the_run(handcalc, raw_smtp):
    port = free_port()  # first a quick failure, so that the timed run below sends the stored PDF: no render in it
    config = fast(email_config(handcalc, port), timeout=1, retry_for=0)
    assert render_email(config)[0] == 7
    config.write_text(config.read_text().replace("retry_for_seconds = 0", "retry_for_seconds = 2.5"))
    server = raw_smtp(trickle_greeting=True, port=port)
    code, out, err, seconds = render_email(config, timeout=60)
    assert code == 7, err
    assert "the attempt took longer than timeout_seconds = 1" in err
    # Attempts start at 0 s and 2 s (backoff 1 s after a 1 s attempt); the next would start after
    # retry_for_seconds, so the send ends at 3 s, within retry_for + timeout = 3.5 s; the rest is starting Python.
    assert 3 <= seconds < 3.5 + 6, (seconds, err)
    assert server.connections == 2 and server.messages == []
    record = delivery_record(config)
    assert record["status"] == "failed" and "took longer" in record["error"]
    assert status(config)[0] == 7
    # The lock was released: the next run is not locked out.
    server.close()
    code, out, err, _ = render_email(config, timeout=60)
    assert code == 7 and "cannot connect" in err
    no_traceback(out, err)


def test_issue18_a_locked_out_month_is_not_silent(handcalc):
    """The documented systemd unit does not treat exit 6 as success, and `status` shows the month unsent."""
    deployment = (Path(__file__).resolve().parent.parent / "docs" / "deployment.md").read_text()
    unit = deployment.split("/etc/systemd/system/cxtruth.service`:", 1)[1].split("```ini", 1)[1].split("```", 1)[0]
    assert "SuccessExitStatus" not in unit and "TimeoutStartSec=" in unit
    folder = handcalc.parent / "reports"
    with held_lock(folder / ".cxtruth-2026-10.pdf.lock"):
        code, out, err, _ = cli("render", "--month", "2026-10", "--config", handcalc)
        assert code == 6 and "another cxtruth run" in err
    code, out, err, _ = status(handcalc)
    assert code == 1 and "no run recorded" in out


# 4. A failure to write the delivery record after the server accepted the message.

class Namespace:
    """A private user + mount namespace holding small tmpfs mounts: real full and read-only file systems.

    The CLI runs inside it (nsenter); the test sees its files under /proc/<pid>/root.
    """

    def __init__(self, mounts: dict[Path, str]):
        script = " && ".join(f"mkdir -p {path} && mount -t tmpfs -o {options} tmpfs {path}"
                             for path, options in mounts.items())
        try:
            self.holder = subprocess.Popen(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                                            f"{script} && echo ready && exec sleep 600"],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except FileNotFoundError:
            pytest.skip("unshare is not installed")
        if self.holder.stdout.readline().strip() != "ready":
            error = self.holder.communicate()[1]
            pytest.skip(f"cannot make a mount namespace here: {error.strip()}")
        self.inodes: list[Path] = []
        self.prefix = ["nsenter", "--target", str(self.holder.pid), "--user", "--mount", "--preserve-credentials",
                       "--"]

    def outside(self, path: Path) -> Path:
        return Path(f"/proc/{self.holder.pid}/root{path}")

    def fill(self, path: Path, inodes: bool = False) -> None:
        """Fill the file system holding ``path`` to the last byte (and its last inode too)."""
        try:  # already full (the run's own files took the last blocks): then it is filled
            with self.outside(path / "filler").open("wb") as handle:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
        except OSError:
            pass
        try:
            with self.outside(path / "filler2").open("wb", buffering=0) as handle:
                while handle.write(b"\0"):
                    pass
        except OSError:
            pass
        try:
            while inodes:
                (self.outside(path) / f"inode-{len(self.inodes)}").touch()
                self.inodes.append(path / f"inode-{len(self.inodes)}")
        except OSError:
            pass

    def free(self, path: Path) -> None:
        for name in ("filler", "filler2"):
            self.outside(path / name).unlink(missing_ok=True)
        for inode in self.inodes:
            self.outside(inode).unlink(missing_ok=True)
        self.inodes = []

    def close(self):
        self.holder.kill()
        self.holder.wait()


@pytest.fixture
def namespace():
    made = []

    def make(mounts):
        made.append(Namespace(mounts))
        return made[-1]

    yield make
    for ns in made:
        ns.close()


def use_output_dir(config: Path, folder) -> Path:
    config.write_text(config.read_text().replace("[report]", f'[report]\noutput_dir = "{folder}"', 1))
    return config


def test_issue18_a_full_disk_after_acceptance_still_records_it_and_the_rerun_does_not_send(
        handcalc, raw_smtp, namespace):
    disk = handcalc.parent / "disk"
    ns = namespace({disk: "size=8m"})
    server = raw_smtp(on_message=lambda: ns.fill(disk))  # the disk fills while the server accepts the message
    config = use_output_dir(email_config(handcalc, server.port), disk)
    code, out, err, _ = render_email(config, prefix=ns.prefix)
    assert code == 5, err
    assert "Error: email sent, recorded only by .cxtruth-2026-10.accepted: 127.0.0.1 accepted it" in err
    assert "No space left on device" in err and "a rerun knows it was sent" in err
    assert len(server.messages) == 1
    code, out, err2, _ = render_email(config, prefix=ns.prefix)  # the disk is still full
    assert code == 0 and "already emailed" in out, err2
    code, out, _, _ = status(config, prefix=ns.prefix)
    assert code == 0 and "email: sent" in out and "recorded by .cxtruth-2026-10.accepted only" in out
    # With room again, the next run completes the record.
    ns.free(disk)
    code, out, err3, _ = render_email(config, prefix=ns.prefix)
    assert code == 0 and "already emailed" in out, err3
    assert json.loads(ns.outside(disk / "cxtruth-2026-10.delivery.json").read_text())["status"] == "sent"
    assert not ns.outside(disk / ".cxtruth-2026-10.accepted").exists()
    assert len(server.messages) == 1 and server.connections == 1
    no_traceback(err, err2, err3)


def test_issue18_sent_but_not_recorded_is_said_and_the_rerun_does_not_send(handcalc, raw_smtp, namespace):
    disk = handcalc.parent / "disk"
    ns = namespace({disk: "size=8m,nr_inodes=64"})
    # The disk fills to the last block and the last inode while the server accepts the message.
    server = raw_smtp(on_message=lambda: ns.fill(disk, inodes=True))
    config = use_output_dir(email_config(handcalc, server.port), disk)
    code, out, err, _ = render_email(config, prefix=ns.prefix)
    assert code == 5, err
    assert "Error: email sent, but not recorded: 127.0.0.1 accepted it" in err
    assert "No space left on device" in err and "a rerun will not send again" in err
    assert len(server.messages) == 1
    # What was written before the message went out says the server may have it.
    record = json.loads(ns.outside(disk / "cxtruth-2026-10.delivery.json").read_text())
    assert record["status"] == "sending" and record["message_id"] == server.message_ids()[0]

    ns.free(disk)
    code, out, err2, _ = render_email(config, prefix=ns.prefix)
    assert code == 8 and "not sent again" in err2
    assert len(server.messages) == 1 and server.connections == 1
    code, out, _, _ = status(config, prefix=ns.prefix)
    assert code == 8 and "its run ended without recording the server's answer" in out
    no_traceback(err, err2)


def test_issue18_an_unreadable_delivery_record_is_not_a_licence_to_send(handcalc, smtp_server):
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    reports(config).mkdir()
    (reports(config) / "cxtruth-2026-10.delivery.json").write_text('{"status": "sen')  # torn by a crash
    code, out, err, _ = render_email(config)
    assert code == 8 and "cxtruth-2026-10.delivery.json cannot be read" in err, err
    assert handler.messages == [] and handler.data_calls == 0
    no_traceback(out, err)


def test_issue18_a_full_disk_before_the_message_goes_out_sends_nothing(handcalc, raw_smtp, namespace):
    """The delivery record is written ahead of the message; if it cannot be, the message is not transmitted."""
    disk = handcalc.parent / "disk"
    ns = namespace({disk: "size=8m"})
    server = raw_smtp(on_data=lambda: ns.fill(disk))
    config = use_output_dir(email_config(handcalc, server.port), disk)
    code, out, err, _ = render_email(config, prefix=ns.prefix)
    assert code == 5, err
    assert "email not sent: cannot write" in err and "No space left on device" in err
    assert server.messages == [] and server.connections == 1
    assert not ns.outside(disk / "cxtruth-2026-10.delivery.json").exists()
    ns.free(disk)
    server.on_data = None
    code, out, err2, _ = render_email(config, prefix=ns.prefix)  # nothing was sent, so this one sends
    assert code == 0, err2
    assert len(server.messages) == 1
    no_traceback(err, err2)


# 5. Output-folder problems print tracebacks.

def non_root_prefix() -> list[str]:
    """Run as a user that permissions apply to (root ignores a read-only mode)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: permissions cannot be tested")
    probe = subprocess.run(["unshare", "--user", "--map-user=65534", "--map-group=65534", "true"])
    if probe.returncode != 0:
        pytest.skip("running as root and user namespaces are not available")
    return ["unshare", "--user", "--map-user=65534", "--map-group=65534"]


def assert_one_error_line(code, out, err, *words):
    assert code == 5, (out, err)
    lines = err.strip().splitlines()
    assert lines[0].startswith("Error: cannot use the output folder") or lines[0].startswith("Error: cannot write")
    assert all(line.startswith("Hint: ") for line in lines[1:]), err
    for word in words:
        assert word in lines[0], err
    no_traceback(out, err)


@pytest.mark.parametrize("case", ["a file", "under a file", "/proc/self"])
def test_issue18_an_unusable_output_folder_is_one_error_line(handcalc, case):
    if case == "a file":
        (handcalc.parent / "occupied").write_text("not a folder\n")
        folder, words = handcalc.parent / "occupied", ["it is a file, not a folder"]
    elif case == "under a file":
        (handcalc.parent / "occupied").write_text("not a folder\n")
        folder, words = handcalc.parent / "occupied" / "reports", ["a part of that path is a file"]
    else:
        folder, words = Path("/proc/self/reports"), ["/proc/self/reports"]
    config = use_output_dir(handcalc, folder)
    for fmt in ("pdf", "html"):
        assert_one_error_line(*cli("render", "--month", "2026-10", "--config", config, "--format", fmt)[:3], *words)


def test_issue18_a_read_only_parent_is_one_error_line(handcalc):
    prefix = non_root_prefix()
    parent = handcalc.parent / "locked"
    parent.mkdir()
    config = use_output_dir(handcalc, parent / "reports")
    parent.chmod(0o555)
    try:
        code, out, err, _ = cli("render", "--month", "2026-10", "--config", config, prefix=prefix)
    finally:
        parent.chmod(0o755)
    assert_one_error_line(code, out, err, "Permission denied")


def test_issue18_a_read_only_or_full_file_system_is_one_error_line(handcalc, namespace):
    readonly, full, no_inodes = handcalc.parent / "readonly", handcalc.parent / "full", handcalc.parent / "no-inodes"
    ns = namespace({readonly: "size=1m,ro", full: "size=1m", no_inodes: "size=1m,nr_inodes=1"})
    ns.fill(full)
    code, out, err, _ = cli("render", "--month", "2026-10", "--config",
                            use_output_dir(handcalc, readonly / "reports"), prefix=ns.prefix)
    assert_one_error_line(code, out, err, "Read-only file system")
    handcalc.write_text(handcalc.read_text().replace(str(readonly / "reports"), str(full)))
    code, out, err, _ = cli("render", "--month", "2026-10", "--config", handcalc, prefix=ns.prefix)
    assert_one_error_line(code, out, err, "No space left on device")  # the lock file is made; the pid is not
    assert not ns.outside(full / "cxtruth-2026-10.pdf").exists()
    handcalc.write_text(handcalc.read_text().replace(str(full), str(no_inodes)))
    code, out, err, _ = cli("render", "--month", "2026-10", "--config", handcalc, prefix=ns.prefix)
    assert_one_error_line(code, out, err, "cannot use the output folder", "No space left on device")  # no lock file


# 8. The three outputs are not committed as a set.

KILL_BEFORE_JSON = (
    "import os, signal, sys\n"
    "def hook(event, args):\n"
    "    if event == 'os.rename' and str(args[1]).endswith('cxtruth-2026-10.json'):\n"
    "        os.kill(os.getpid(), signal.SIGKILL)\n"
    "sys.addaudithook(hook)\n"
    "from cxtruth.cli import main; main()\n")


def test_issue18_a_kill_between_the_moves_is_never_shown_as_a_set(handcalc):
    assert cli("render", "--month", "2026-10", "--config", handcalc)[0] == 0
    assert status(handcalc)[0] == 0
    folder = handcalc.parent / "reports"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # Another clock renders another PDF; the process dies after the PDF was moved into place.
    code, *_ = cli("render", "--month", "2026-10", "--config", handcalc, env={"SOURCE_DATE_EPOCH": "1793700000"},
                   python=[sys.executable, "-c", KILL_BEFORE_JSON])
    assert code == -signal.SIGKILL
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert after["cxtruth-2026-10.pdf"] != before["cxtruth-2026-10.pdf"]  # the kill came between the moves
    assert after["cxtruth-2026-10.run.json"] == before["cxtruth-2026-10.run.json"]
    code, out, err, _ = status(handcalc)
    assert code == 5 and "FILES DO NOT MATCH the run record: cxtruth-2026-10.pdf" in out
    # The next render replaces the whole set.
    assert cli("render", "--month", "2026-10", "--config", handcalc)[0] == 0
    code, out, err, _ = status(handcalc)
    assert code == 0 and "DO NOT MATCH" not in out


# 9. HTML and PDF renders of a month took different locks and shared the run record.

def test_issue18_an_html_render_keeps_the_failed_email_and_takes_the_months_lock(handcalc):
    config = fast(email_config(handcalc, free_port()), timeout=1, retry_for=0)  # nothing listens
    assert render_email(config)[0] == 7
    code, out, err, _ = cli("render", "--month", "2026-10", "--config", config, "--format", "html")
    assert code == 0, err
    code, out, err, _ = status(config)
    assert code == 7 and "email: FAILED" in out and "cannot connect" in out

    folder = reports(config)
    with held_lock(OutputPaths.for_report(folder / "cxtruth-2026-10.pdf").lock):  # the PDF's lock
        code, out, err, _ = cli("render", "--month", "2026-10", "--config", config, "--format", "html")
        assert code == 6 and "another cxtruth run" in err


# The deadline wraps smtplib's connection: TLS must still verify the configured host name.

def make_certificate(folder: Path) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cx test",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_issue18_tls_still_verifies_the_configured_host(handcalc, smtp_server, mode):
    import ssl

    cert = make_certificate(handcalc.parent)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, handcalc.parent / "key.pem")
    if mode == "starttls":
        handler, port = smtp_server(tls_context=context, require_starttls=True)
        extra = 'ca_file = "cert.pem"\n'
    else:
        handler, port = smtp_server(ssl_context=context)
        extra = 'ca_file = "cert.pem"\nssl = true\n'
    config = email_config(handcalc, port, extra=extra)
    config.write_text(config.read_text().replace("starttls = false", "starttls = true"))
    code, out, err, _ = render_email(config)
    assert code == 0, err
    assert len(handler.messages) == 1
    # The certificate names 127.0.0.1 only: asked for "localhost", the same server is refused.
    (reports(config) / "cxtruth-2026-10.delivery.json").unlink()
    config.write_text(config.read_text().replace('host = "127.0.0.1"', 'host = "localhost"'))
    code, out, err, _ = render_email(config)
    assert code == 7 and "TLS certificate was not accepted" in err, err
    assert len(handler.messages) == 1
    no_traceback(out, err)


def test_issue18_an_unreadable_ca_file_fails_at_once_without_a_traceback(handcalc, smtp_server):
    handler, port = smtp_server()
    config = email_config(handcalc, port, extra='ca_file = "missing.pem"\nssl = true\n')
    code, out, err, seconds = render_email(config)
    assert code == 7 and "cannot load [email] ca_file missing.pem" in err, err
    assert delivery_record(config)["status"] == "failed" and handler.data_calls == 0
    no_traceback(out, err)
