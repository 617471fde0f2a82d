"""Email delivery of the rendered PDF over SMTP, exactly once per month.

- The message: a plain-text summary of the scorecard (readable on a phone)
  and the PDF attached. Header values are checked for CR/LF before any
  connection is made (config validation does it for config values).
- Sending: all recipients are accepted (RCPT) before the message is
  transmitted (DATA), so a refused address fails the send for everyone
  rather than half-delivering. Failures *before the whole message is
  transmitted* that are temporary (connection refused, timeouts, 4xx) are
  retried with backoff for `retry_for_seconds`; permanent ones (5xx, bad
  credentials, certificate errors) fail at once.
- At most one copy: once the whole message has been transmitted, a missing
  or late reply means the server may have it. That is never retried; it
  raises `DeliveryUnknown` (exit 8) and the caller records it.
- Every attempt ends: `timeout_seconds` bounds one attempt as wall time
  (every connect, read and write is given only what is left of it, so a
  server trickling continuation lines cannot hold it), and no attempt starts
  after `retry_for_seconds`: a delivery ends within the sum of the two.
- The Message-ID is derived from the month and the PDF's bytes, so a forced
  resend of the same PDF carries the same Message-ID.
- The password comes from CXTRUTH_SMTP_PASSWORD only and is never logged.
"""

from __future__ import annotations

import email.policy
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr

from .config import EmailConfig
from .errors import ConfigError, DeliveryError, DeliveryUnknown

PASSWORD_ENV = "CXTRUTH_SMTP_PASSWORD"
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0


@dataclass
class SendOutcome:
    attempts: int
    message_id: str
    errors: list[str] = field(default_factory=list)  # temporary failures that were retried


class _Temporary(Exception):
    pass


class _Permanent(Exception):
    pass


class _Unknown(Exception):
    """The whole message was transmitted and no verdict came back: the server may have it."""


class _TimeUp(TimeoutError):
    pass


class _BoundedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose every socket operation ends by one wall-clock deadline.

    smtplib's timeout applies to each read: a server that sends a continuation
    line (``220-...``) every few seconds keeps it waiting for ever. Here every
    connect, write and read gets only what is left of the attempt.
    """

    def __init__(self, host: str, deadline: float, clock, **kwargs):
        self.deadline, self.clock, self.time_up = deadline, clock, False
        super().__init__(**kwargs)  # no host: nothing connects before the deadline is set
        self._host = host  # the name TLS verifies; smtplib sets it only when __init__ connects

    def left(self) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            self.time_up = True
            raise _TimeUp("the attempt ran out of time")
        return min(self.timeout, left)

    def _get_socket(self, host, port, timeout):
        return super()._get_socket(host, port, self.left())

    def send(self, s):
        if self.sock is not None:
            self.sock.settimeout(self.left())
        super().send(s)

    def getreply(self):
        if self.file is None and self.sock is not None:
            self.file = _DeadlineLines(self, self.sock)
        return super().getreply()


class _BoundedSMTP_SSL(_BoundedSMTP, smtplib.SMTP_SSL):
    pass


class _DeadlineLines:
    """The reply reader smtplib uses (``readline``/``close``), each recv bounded by the attempt's deadline."""

    def __init__(self, smtp: _BoundedSMTP, sock):
        self.smtp, self.sock, self.buffer = smtp, sock, b""

    def readline(self, limit: int) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0 or len(self.buffer) >= limit:
                cut = end + 1 if 0 <= end < limit else limit
                line, self.buffer = self.buffer[:cut], self.buffer[cut:]
                return line
            self.sock.settimeout(self.smtp.left())
            chunk = self.sock.recv(8192)
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk

    def close(self) -> None:
        pass  # the socket is smtplib's to close


def _tls_context(settings: EmailConfig, base_dir) -> ssl.SSLContext:
    # Verifies the certificate and the host name; a private CA may be added, never verification removed.
    context = ssl.create_default_context()
    if settings.ca_file:
        context.load_verify_locations(cafile=str(base_dir / settings.ca_file))
    return context


def _reply(code: int, text: bytes | str, stage: str) -> None:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    detail = f"{stage}: server said {code} {words}".strip()
    if 400 <= code < 500:
        raise _Temporary(detail)
    raise _Permanent(detail)


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    # One mechanism, not smtplib's try-them-all: a refused PLAIN is an answer, and
    # falling through to LOGIN only repeats the refusal (or hangs on some servers).
    if not smtp.has_extn("auth"):
        raise _Permanent("the server does not offer login (AUTH); remove [email] username or use another port")
    mechanisms = smtp.esmtp_features["auth"].upper().split()
    if "PLAIN" in mechanisms:
        smtp.user, smtp.password = username, password
        smtp.auth("PLAIN", smtp.auth_plain)
    else:
        smtp.login(username, password)


def _dot_stuffed(message: EmailMessage) -> bytes:
    # What smtplib.SMTP.data sends; done here so that "transmitted" is known to the byte.
    payload = re.sub(rb"(?m)^\.", b"..", message.as_bytes(policy=email.policy.SMTP))
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    return payload + b".\r\n"


def _send_once(settings: EmailConfig, message: EmailMessage, password: str | None, tls: ssl.SSLContext | None,
               deadline: float, clock, before_transmit) -> None:
    recipients = [parseaddr(a)[1] for a in settings.to + settings.cc]
    where = f"{settings.host}:{settings.port}"
    if settings.ssl:
        smtp = _BoundedSMTP_SSL(settings.host, deadline, clock, timeout=settings.timeout_seconds, context=tls)
    else:
        smtp = _BoundedSMTP(settings.host, deadline, clock, timeout=settings.timeout_seconds)
    in_data = transmitted = False
    try:
        try:
            code, text = smtp.connect(settings.host, settings.port)
        except ssl.SSLCertVerificationError:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise _Temporary(f"cannot connect to {where}: {_why(smtp, exc)}")
        if code != 220:
            _reply(code, text, "greeting")
        smtp.ehlo()
        if settings.starttls and not settings.ssl:
            if not smtp.has_extn("starttls"):
                raise _Permanent(f"{settings.host} does not offer STARTTLS; set starttls = false only "
                                 "for a trusted local relay")
            smtp.starttls(context=tls)
            smtp.ehlo()
        if settings.username:
            _login(smtp, settings.username, password or "")
        code, text = smtp.mail(parseaddr(settings.sender)[1])
        if code != 250:
            _reply(code, text, f"sender {settings.sender} refused")
        for address in recipients:
            code, text = smtp.rcpt(address)
            if code not in (250, 251):
                smtp.rset()
                _reply(code, text, f"recipient {address} refused")
        code, text = smtp.docmd("DATA")
        if code != 354:
            _reply(code, text, "DATA refused")
        in_data = True
        before_transmit()  # the write-ahead record: it must be on disk before the server can have the message
        # A failed write cannot have sent the final "." (it is the last byte), so the server has no message.
        smtp.send(_dot_stuffed(message))
        transmitted = True
        code, text = smtp.getreply()
        in_data = False
        if code != 250:
            _reply(code, text, "message refused")
    except smtplib.SMTPAuthenticationError as exc:
        raise _Permanent(f"login as {settings.username!r} refused: {exc.smtp_code} "
                         f"{exc.smtp_error.decode('utf-8', 'replace')}")
    except smtplib.SMTPNotSupportedError as exc:
        raise _Permanent(f"the server does not support a step cxtruth needs: {exc}")
    except ssl.SSLCertVerificationError as exc:
        raise _Permanent(f"the server's TLS certificate was not accepted: {exc.verify_message or exc}")
    except smtplib.SMTPResponseException as exc:
        _reply(exc.smtp_code, exc.smtp_error, "the server refused")
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        if transmitted:
            raise _Unknown(f"{where} received the whole message but {_why(smtp, exc, waiting=True)}")
        raise _Temporary(f"connection to {where} lost: {_why(smtp, exc)}")
    finally:
        if in_data:
            smtp.close()  # mid-DATA a QUIT would be read as message text; dropping the line abandons the message
        else:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _why(smtp: _BoundedSMTP, exc: BaseException, waiting: bool = False) -> str:
    # Every socket wait is at most what is left of the attempt, so any timeout means the attempt's time is up
    # (smtplib reports a read's timeout as a disconnect, with the TimeoutError as its context).
    if smtp.time_up or isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        limit = f"timeout_seconds = {smtp.timeout:g}"
        return f"did not confirm it within the attempt's {limit}" if waiting else f"the attempt took longer than {limit}"
    if waiting:
        return f"the connection ended before its reply ({exc})"
    return str(exc)


def send(settings: EmailConfig, message: EmailMessage, base_dir, *, password: str | None,
         before_transmit=lambda: None, sleep=time.sleep, clock=time.monotonic) -> SendOutcome:
    """Send ``message`` at most once; returns once the server accepted it (250).

    ``before_transmit`` is called in each attempt after the server said "go ahead" to DATA and
    before the message is transmitted; an exception from it ends the send with nothing
    transmitted. Raises DeliveryError when nothing was delivered (temporary failures are
    retried for ``retry_for_seconds``), and DeliveryUnknown when the whole message was
    transmitted but not confirmed (never retried). Ends within retry_for_seconds + timeout_seconds.
    """
    if settings.username and not password:
        raise ConfigError(f"[email] username is set but {PASSWORD_ENV} is not in the environment",
                          hint=f"export {PASSWORD_ENV} (docs/deployment.md shows safe ways)")
    try:
        tls = _tls_context(settings, base_dir) if settings.ssl or settings.starttls else None
    except OSError as exc:  # ssl.SSLError is one too
        raise DeliveryError(f"email not sent: cannot load [email] ca_file {settings.ca_file}: {exc}",
                            hint="ca_file is a PEM file of CA certificates, relative to config.toml") from None
    last_start = clock() + settings.retry_for_seconds  # no attempt starts later than this
    backoff = FIRST_BACKOFF_SECONDS
    outcome = SendOutcome(attempts=0, message_id=message["Message-ID"])
    while True:
        outcome.attempts += 1
        try:
            _send_once(settings, message, password, tls, clock() + settings.timeout_seconds, clock,
                       before_transmit)
            return outcome
        except _Unknown as exc:
            raise DeliveryUnknown(
                f"email outcome unknown: {exc}; not sending again (the server may have it)",
                hint=f"check the recipients' mailboxes for Message-ID {outcome.message_id}; if it did not "
                     "arrive, `cxtruth render --email --force` sends the same PDF again")
        except _Permanent as exc:
            raise DeliveryError(f"email not sent: {exc}", hint="the PDF is kept; fix the cause and rerun "
                                "with --email to send the stored PDF")
        except _Temporary as exc:
            outcome.errors.append(str(exc))
            if clock() + backoff > last_start:
                raise DeliveryError(
                    f"email not sent after {outcome.attempts} attempt{'s' if outcome.attempts > 1 else ''} "
                    f"over {settings.retry_for_seconds:g} s: {exc}",
                    hint="the PDF is kept; a rerun with --email sends the stored PDF")
            sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
