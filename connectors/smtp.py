"""Sending one e-mail through an SMTP relay: STARTTLS or implicit TLS, login, timeouts.

Knows nothing of Flask or the outbox: `send(settings, message)` either hands the message
to the relay (returning the recipients it refused, if it took the others) or raises `SmtpError`, whose `sentence` says what went wrong and what to do,
and whose `permanent` says that trying again cannot help (a recipient the relay refuses for
good). Whether and when to try again is the caller's business (jobs/outbox.py).
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    starttls: bool = True          # upgrade a plain connection (port 587)
    implicit_tls: bool = False     # TLS from the first byte (port 465)
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None   # None: the system's trusted CAs

    def context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()


class SmtpError(Exception):
    def __init__(self, sentence: str, *, permanent: bool = False):
        super().__init__(sentence)
        self.sentence = sentence
        self.permanent = permanent


def build_message(sender: str, recipients: list[str], subject: str, text: str,
                  html: str | None = None, *, date: datetime | None = None,
                  message_id: str | None = None) -> EmailMessage:
    """A plain-text mail, with an HTML alternative when given, or SmtpError (permanent)
    when a value cannot go in a mail (a line break in a header). It carries the Date
    (RFC 5322 requires one; `date` is naive UTC, now when not given) and a Message-ID
    (smtplib adds neither): pass `message_id` so a mail sent again is the same message
    to the receiver, who may then drop the copy."""
    message = EmailMessage()
    for name, value, what in (("From", sender, "the sender address (FERRY_MAIL_FROM)"),
                              ("To", ", ".join(recipients), "an address it goes to"),
                              ("Subject", subject, "its subject")):
        try:
            message[name] = value
        except ValueError:
            raise SmtpError(
                f"This e-mail cannot be sent: {what} holds a line break, which an e-mail "
                "header cannot carry.", permanent=True) from None
    when = (date or datetime.now(timezone.utc).replace(tzinfo=None))
    message["Date"] = format_datetime(when.replace(tzinfo=timezone.utc), usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain=sender_domain(sender))
    try:
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype="html")
    except ValueError:                  # UnicodeEncodeError: a lone surrogate, say
        raise SmtpError("This e-mail cannot be sent: its text holds characters an "
                        "e-mail cannot carry.", permanent=True) from None
    return message


def sender_domain(sender: str) -> str:
    """The From address's domain, for Message-IDs ("ferry.invalid" when it has none)."""
    _local, at, domain = parseaddr(sender)[1].rpartition("@")
    return domain.strip() if at and domain.strip() else "ferry.invalid"


def send(settings: SmtpSettings, message: EmailMessage) -> list[str]:
    """Hand `message` to the relay; returns the recipients it refused (if it took others)."""
    return sorted(_session(settings, lambda server: server.send_message(message)))


def verify(settings: SmtpSettings) -> None:
    """Connect, secure and log in as `send` would, then say NOOP: `flask check` uses it
    to prove the settings work without sending anyone a mail."""
    _session(settings, lambda server: server.noop())


def _session(settings: SmtpSettings, action):
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.implicit_tls:
            server = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                      context=settings.context())
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with server:
            server.ehlo()
            if settings.starttls and not settings.implicit_tls:
                if not server.has_extn("starttls"):
                    raise SmtpError(
                        f"The mail server {where} does not offer STARTTLS, so Ferry will not "
                        "send the password or the mail unencrypted. Use its TLS port with "
                        "FERRY_SMTP_TLS=1, or set FERRY_SMTP_STARTTLS=0 only for a relay "
                        "on this machine.")
                server.starttls(context=settings.context())
                server.ehlo()
            if settings.username:
                _login(server, settings.username, settings.password or "")
            result = action(server)
    except SmtpError:
        raise
    except smtplib.SMTPAuthenticationError:
        raise SmtpError(f"The mail server {where} refused the user name or password. "
                        "Check FERRY_SMTP_USERNAME and FERRY_SMTP_PASSWORD.")
    except smtplib.SMTPNotSupportedError as exc:
        raise SmtpError(f"The mail server {where} does not support what Ferry asked for "
                        f"({_text(exc)}). Check the port and the TLS settings.")
    except smtplib.SMTPRecipientsRefused as exc:
        who = ", ".join(sorted(exc.recipients))
        permanent = all(code >= 500 for code, _ in exc.recipients.values())
        raise SmtpError(f"The mail server {where} refused every recipient ({who}). Check "
                        "the addresses in Settings → Alerts.", permanent=permanent)
    except smtplib.SMTPSenderRefused as exc:
        raise SmtpError(f"The mail server {where} refused the sender {exc.sender} "
                        f"({exc.smtp_code} {_text(exc.smtp_error)}). Set FERRY_MAIL_FROM to "
                        "an address the server lets Ferry send from.",
                        permanent=False)
    except smtplib.SMTPResponseException as exc:
        raise SmtpError(f"The mail server {where} answered {exc.smtp_code} "
                        f"{_text(exc.smtp_error)}.")
    except smtplib.SMTPServerDisconnected as exc:
        # smtplib reports a read that timed out as a disconnection.
        if "timed out" not in str(exc):
            raise SmtpError(f"The mail server {where} closed the connection "
                            f"({_text(exc)}).")
        raise SmtpError(f"The mail server {where} did not answer within "
                        f"{settings.timeout:g} seconds.")
    except (socket.timeout, TimeoutError):
        raise SmtpError(f"The mail server {where} did not answer within "
                        f"{settings.timeout:g} seconds.")
    except ssl.SSLError as exc:
        raise SmtpError(f"The TLS handshake with the mail server {where} failed "
                        f"({exc.reason or exc}). Check the port: 465 is implicit TLS "
                        "(FERRY_SMTP_TLS=1), 587 is STARTTLS.")
    except (smtplib.SMTPException, OSError) as exc:
        raise SmtpError(f"Ferry could not reach the mail server {where} "
                        f"({type(exc).__name__}: {_text(exc) or 'no detail'}).")
    # For a send: some recipients took it, the mail is sent; the caller names the others.
    return result


def _login(server: smtplib.SMTP, username: str, password: str) -> None:
    """PLAIN when offered (one round trip, over TLS); otherwise smtplib's choice. A
    refused PLAIN is final: trying LOGIN next with the same password cannot help."""
    mechanisms = server.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" in mechanisms:
        server.user, server.password = username, password
        server.auth("PLAIN", server.auth_plain)
    else:
        server.login(username, password)


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
