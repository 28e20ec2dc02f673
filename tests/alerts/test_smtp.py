"""connectors/smtp.py against a real aiosmtpd: STARTTLS with login, implicit TLS, and the
sentences for a wrong password, a server without STARTTLS, one that never answers."""
import socket
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest

from connectors.smtp import SmtpError, SmtpSettings, build_message, send

from .conftest import SMTP_PASSWORD, SMTP_USER, client_context, parts


def message(to="finance@msp.example"):
    return build_message("ferry@msp.example", [to], "Ferry test", "plain words",
                         "<p>html words</p>")


def test_starttls_with_login_delivers_both_parts(smtp_tls, certificate):
    settings = SmtpSettings("127.0.0.1", smtp_tls.port, SMTP_USER, SMTP_PASSWORD,
                            starttls=True, timeout=5, ssl_context=client_context(certificate))
    assert send(settings, message()) == []
    [received] = smtp_tls.inbox.messages
    assert received["Subject"] == "Ferry test"
    assert received["To"] == "finance@msp.example"
    body = parts(received)
    assert body["text/plain"].strip() == "plain words"
    assert "<p>html words</p>" in body["text/html"]


def test_wrong_password_is_a_sentence_naming_the_settings(smtp_tls, certificate):
    settings = SmtpSettings("127.0.0.1", smtp_tls.port, SMTP_USER, "wrong",
                            starttls=True, timeout=5, ssl_context=client_context(certificate))
    with pytest.raises(SmtpError) as caught:
        send(settings, message())
    assert "refused the user name or password" in caught.value.sentence
    assert "FERRY_SMTP_PASSWORD" in caught.value.sentence
    assert smtp_tls.inbox.messages == []


def test_an_untrusted_certificate_is_refused(smtp_tls):
    """The system's CAs do not know the test's self-signed certificate: no mail goes."""
    settings = SmtpSettings("127.0.0.1", smtp_tls.port, SMTP_USER, SMTP_PASSWORD,
                            starttls=True, timeout=5)
    with pytest.raises(SmtpError) as caught:
        send(settings, message())
    assert "TLS handshake" in caught.value.sentence
    assert smtp_tls.inbox.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_login(smtp_implicit, certificate):
    settings = SmtpSettings("127.0.0.1", smtp_implicit.port, SMTP_USER, SMTP_PASSWORD,
                            starttls=False, implicit_tls=True, timeout=5,
                            ssl_context=client_context(certificate))
    send(settings, message())
    assert [m["Subject"] for m in smtp_implicit.inbox.messages] == ["Ferry test"]
    # Without trusting the certificate, the first byte already fails: nothing is sent.
    with pytest.raises(SmtpError):
        send(SmtpSettings("127.0.0.1", smtp_implicit.port, SMTP_USER, SMTP_PASSWORD,
                          starttls=False, implicit_tls=True, timeout=5), message())
    assert len(smtp_implicit.inbox.messages) == 1


def test_no_password_is_sent_to_a_server_without_starttls(smtp):
    settings = SmtpSettings("127.0.0.1", smtp.port, SMTP_USER, SMTP_PASSWORD,
                            starttls=True, timeout=5)
    with pytest.raises(SmtpError) as caught:
        send(settings, message())
    assert "does not offer STARTTLS" in caught.value.sentence
    assert smtp.inbox.messages == []


def test_a_server_that_never_answers_times_out_with_a_sentence(silent):
    settings = SmtpSettings("127.0.0.1", silent, starttls=False, timeout=0.5)
    with pytest.raises(SmtpError) as caught:
        send(settings, message())
    assert "did not answer within 0.5 seconds" in caught.value.sentence
    assert not caught.value.permanent


def test_nobody_listening_is_a_sentence_to_retry():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SmtpError) as caught:
        send(SmtpSettings("127.0.0.1", port, starttls=False, timeout=2), message())
    assert "could not reach the mail server" in caught.value.sentence
    assert not caught.value.permanent


def test_a_recipient_refused_for_good_is_permanent(smtp):
    smtp.inbox.refuse_rcpt = "550 5.1.1 no such user"
    with pytest.raises(SmtpError) as caught:
        send(SmtpSettings("127.0.0.1", smtp.port, starttls=False, timeout=5),
             message("nobody@msp.example"))
    assert caught.value.permanent
    assert "nobody@msp.example" in caught.value.sentence


def test_a_mail_has_a_date_and_a_message_id(smtp):
    """RFC 5322 requires Date; smtplib adds neither it nor a Message-ID."""
    before = datetime.now(timezone.utc).replace(microsecond=0)
    send(SmtpSettings("127.0.0.1", smtp.port, starttls=False, timeout=5),
         build_message("Ferry <ferry@msp.example>", ["finance@msp.example"], "Ferry test",
                       "plain words"))
    [received] = smtp.inbox.messages
    raw = smtp.inbox.envelopes[0].content.decode()
    assert "\nDate: " in raw and "\nMessage-ID: <" in raw
    sent_at = parsedate_to_datetime(received["Date"])
    assert before <= sent_at <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert received["Date"].endswith(" +0000")
    assert received["Message-ID"].strip().endswith("@msp.example>")
