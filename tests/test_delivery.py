"""Unattended delivery (issue #4) against a real SMTP server on loopback (aiosmtpd).

Every test goes through the real CLI with real files; the server is real
and so are its replies (250, 421, 550, 535, nothing listening).
"""

import email
import email.policy
import json
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import pdf_text_pages

EPOCH = "1793602800"  # 2026-11-02 07:00 UTC
PASSWORD = "s3cret-Pa55word"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """An SMTP handler that keeps what it receives and answers as scripted."""

    def __init__(self, data_replies=(), refuse=()):
        self.messages = []
        self.data_replies = list(data_replies)  # replies to DATA before accepting, e.g. ["421 ..."]
        self.refuse = set(refuse)
        self.data_calls = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_calls += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 queued"


@pytest.fixture
def smtp_server():
    started = []

    def start(handler=None, **kwargs):
        handler = handler or Recorder()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        started.append(controller)
        return handler, controller.port

    yield start
    for controller in started:
        controller.stop()


def email_config(config, port, extra=""):
    text = config.read_text(encoding="utf-8")
    config.write_text(text + f"""
[email]
host = "127.0.0.1"
port = {port}
sender = "CX reports <cx@fixture.example>"
to = ["ceo@fixture.example", "cfo@fixture.example"]
cc = ["cx@fixture.example"]
starttls = false
retry_for_seconds = 8
timeout_seconds = 5
{extra}""", encoding="utf-8")
    return config


def render(run, config, *extra, env=None):
    return run("render", "--month", "2026-10", "--config", config, "--email", *extra,
               env={"SOURCE_DATE_EPOCH": EPOCH, **(env or {})})


def reports(config):
    return config.parent / "reports"


def test_message_arrives_with_pdf_attached_and_summary_in_body(handcalc, run, smtp_server):
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    result = render(run, config)
    assert result.exit_code == 0, result.output
    assert "Emailed cxtruth-2026-10.pdf" in result.stdout
    [(rcpts, raw)] = handler.messages
    assert sorted(rcpts) == ["ceo@fixture.example", "cfo@fixture.example", "cx@fixture.example"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Fixture Co: Monthly CX Truth Session, October 2026"
    body = message.get_body(("plain",)).get_content()
    for label in ("Net Promoter Score", "Logo churn", "Feedback loop closure time"):
        assert label in body
    assert "Scorecard (metric | value | status | change | owner)" in body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "cxtruth-2026-10.pdf"
    pdf_bytes = attachment.get_content()
    stored = reports(config) / "cxtruth-2026-10.pdf"
    assert pdf_bytes == stored.read_bytes()
    received = config.parent / "received.pdf"
    received.write_bytes(pdf_bytes)
    assert "What is going wrong" in pdf_text_pages(received)[0]
    record = json.loads((reports(config) / "cxtruth-2026-10.delivery.json").read_text())
    assert record["status"] == "sent" and record["to"] == ["ceo@fixture.example", "cfo@fixture.example"]
    assert record["message_id"] == message["Message-ID"]


def test_second_run_does_not_send_again_force_does(handcalc, run, smtp_server):
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    assert render(run, config).exit_code == 0
    again = render(run, config)
    assert again.exit_code == 0
    assert "already emailed" in again.stdout and "--force" in again.stdout
    assert len(handler.messages) == 1
    forced = render(run, config, "--force")
    assert forced.exit_code == 0, forced.output
    assert len(handler.messages) == 2


def test_another_out_does_not_email_the_month_again(handcalc, run, smtp_server):
    """The month's delivery record stays in output_dir whatever --out names: at most one copy."""
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    assert render(run, config).exit_code == 0
    elsewhere = render(run, config, "--out", config.parent / "elsewhere" / "board.pdf")
    assert elsewhere.exit_code == 0, elsewhere.output
    assert "already emailed" in elsewhere.stdout
    assert len(handler.messages) == 1


@pytest.mark.parametrize("out", ["config.toml", "nps.csv", "x.json", "-"])
def test_out_must_name_a_pdf(handcalc, run, out):
    """--out config.toml would have replaced the config with the PDF, --out x.json the PDF by its JSON."""
    before = (handcalc.parent / "config.toml").read_bytes()
    result = run("render", "--month", "2026-10", "--config", handcalc, "--out", handcalc.parent / out)
    assert result.exit_code == 2 and "--out must name a .pdf file" in result.output
    assert (handcalc.parent / "config.toml").read_bytes() == before


@pytest.mark.parametrize("edit", [{"status": "Sent"}, {"status": "failed", "body": None}, {"to": "ceo@x.example"}])
def test_a_delivery_record_edited_by_hand_is_never_a_reason_to_resend(handcalc, run, smtp_server, edit):
    """A status cxtruth does not write, or a field of another type, is an unknown outcome (exit 8),
    not a resend (an unrecognised status sent a second copy) nor a traceback."""
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    assert render(run, config).exit_code == 0
    path = reports(config) / "cxtruth-2026-10.delivery.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    again = render(run, config)
    assert again.exit_code == 8 and "Traceback" not in again.output, again.output
    assert len(handler.messages) == 1
    status = run("status", "--month", "2026-10", "--config", config)
    assert status.exit_code == 8 and "Traceback" not in status.output, status.output


def test_temporary_421_is_retried_to_success(handcalc, run, smtp_server):
    handler, port = smtp_server(Recorder(data_replies=["421 4.3.2 Service not available, try later"]))
    config = email_config(handcalc, port)
    result = render(run, config)
    assert result.exit_code == 0, result.output
    assert "after 2 attempts" in result.stdout
    assert handler.data_calls == 2 and len(handler.messages) == 1
    record = json.loads((reports(config) / "cxtruth-2026-10.delivery.json").read_text())
    assert record["attempts"] == 2 and "421" in record["retried_errors"][0]


def test_refused_recipient_fails_at_once_and_is_named(handcalc, run, smtp_server):
    handler, port = smtp_server(Recorder(refuse={"cfo@fixture.example"}))
    config = email_config(handcalc, port)
    result = render(run, config)
    assert result.exit_code == 7
    assert "recipient cfo@fixture.example refused" in result.stderr and "550" in result.stderr
    assert "Traceback" not in result.output
    assert handler.messages == [] and handler.data_calls == 0  # nobody got half a delivery
    assert (reports(config) / "cxtruth-2026-10.pdf").exists()
    delivery = json.loads((reports(config) / "cxtruth-2026-10.delivery.json").read_text())
    assert delivery["status"] == "failed" and "cfo@fixture.example refused" in delivery["error"]
    run_record = json.loads((reports(config) / "cxtruth-2026-10.run.json").read_text())
    assert run_record["email"]["status"] == "failed"


def test_server_down_fails_clearly_then_rerun_sends_the_stored_pdf(handcalc, run, smtp_server):
    port = free_port()  # nothing listens here yet
    config = email_config(handcalc, port)
    config.write_text(config.read_text().replace("retry_for_seconds = 8", "retry_for_seconds = 2"))
    result = render(run, config)
    assert result.exit_code == 7
    assert f"cannot connect to 127.0.0.1:{port}" in result.stderr
    pdf = reports(config) / "cxtruth-2026-10.pdf"
    stored = pdf.read_bytes()
    delivery = json.loads((reports(config) / "cxtruth-2026-10.delivery.json").read_text())
    assert delivery["status"] == "failed" and "cannot connect" in delivery["error"]
    status = run("status", "--month", "2026-10", "--config", config)
    assert status.exit_code == 7 and "email: FAILED" in status.stdout

    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # A different clock would render different bytes: the stored PDF must be sent as it is.
        again = render(run, config, env={"SOURCE_DATE_EPOCH": "1793700000"})
    finally:
        controller.stop()
    assert again.exit_code == 0, again.output
    assert "Sending the stored cxtruth-2026-10.pdf" in again.stdout
    [(_, raw)] = handler.messages
    attachment = next(email.message_from_bytes(raw, policy=email.policy.default).iter_attachments())
    assert attachment.get_content() == stored == pdf.read_bytes()
    status = run("status", "--month", "2026-10", "--config", config)
    assert status.exit_code == 0 and "email: sent" in status.stdout


def test_dry_run_writes_an_eml_and_sends_nothing(handcalc, run, smtp_server):
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    result = render(run, config, "--dry-run")
    assert result.exit_code == 0, result.output
    eml = reports(config) / "cxtruth-2026-10.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "ceo@fixture.example, cfo@fixture.example"
    assert next(message.iter_attachments()).get_content_type() == "application/pdf"
    assert handler.messages == [] and not (reports(config) / "cxtruth-2026-10.delivery.json").exists()


def test_line_break_in_a_header_is_refused_before_connecting(handcalc, run, smtp_server):
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    config.write_text(config.read_text().replace('company = "Fixture Co"',
                                                 'company = "Fixture Co\\r\\nBcc: spy@evil.example"'))
    result = render(run, config)
    assert result.exit_code == 3
    assert "line break" in result.stderr
    assert handler.data_calls == 0 and not reports(config).exists()

    fixed = config.read_text().replace('company = "Fixture Co\\r\\nBcc: spy@evil.example"', 'company = "Fixture Co"')
    config.write_text(fixed.replace("retry_for_seconds = 8", 'retry_for_seconds = 8\nsubject = "x\\nBcc: a@b.c"'))
    result = render(run, config)
    assert result.exit_code == 3 and "email.subject" in result.stderr


def test_a_password_beyond_ascii_is_refused_before_rendering(handcalc, run, smtp_server):
    """smtplib logs in with ASCII only: the send stopped with a traceback after rendering."""
    handler, port = smtp_server()
    config = email_config(handcalc, port, extra='username = "reporter"\n')
    result = render(run, config, env={"CXTRUTH_SMTP_PASSWORD": "pässwörd"})
    assert result.exit_code == 3 and "beyond ASCII" in result.stderr and "pässwörd" not in result.output
    assert handler.data_calls == 0 and not reports(config).exists()


def test_password_comes_only_from_the_environment(handcalc, run, smtp_server):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"reporter" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535 itself

    handler, port = smtp_server(authenticator=authenticate, auth_require_tls=False)
    config = email_config(handcalc, port, extra='username = "reporter"\n')
    missing = render(run, config)
    assert missing.exit_code == 3 and "CXTRUTH_SMTP_PASSWORD" in missing.stderr
    assert not reports(config).exists()  # checked before anything is rendered

    wrong = render(run, config, env={"CXTRUTH_SMTP_PASSWORD": "wrong"})
    assert wrong.exit_code == 7 and "login as 'reporter' refused" in wrong.stderr
    assert "wrong" not in wrong.stderr.replace("'reporter' refused", "")

    good = render(run, config, env={"CXTRUTH_SMTP_PASSWORD": PASSWORD})
    assert good.exit_code == 0, good.output
    assert len(handler.messages) == 1
    for written in reports(config).iterdir():
        assert PASSWORD not in written.read_bytes().decode("latin-1")

    in_config = config.read_text().replace('username = "reporter"', 'username = "reporter"\npassword = "x"')
    config.write_text(in_config)
    refused = render(run, config, env={"CXTRUTH_SMTP_PASSWORD": PASSWORD})
    assert refused.exit_code == 3 and "email.password: unknown key" in refused.stderr


def test_starttls_is_required_unless_turned_off(handcalc, run, smtp_server):
    handler, port = smtp_server()
    config = email_config(handcalc, port)
    config.write_text(config.read_text().replace("starttls = false", "starttls = true"))
    result = render(run, config)
    assert result.exit_code == 7 and "does not offer STARTTLS" in result.stderr
    assert handler.data_calls == 0
