"""The outbox against a real SMTP server: written first, retried with back-off after a
refusal or while the server is down, failed with the reason after the last try or a
permanent refusal, Resend, nothing lost when the sender dies mid-conversation, and with
no SMTP configured everything waits."""
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

from jobs.outbox import MAX_ATTEMPTS, queue_mail, retry_delay, send_due
from models import OutboxMail, utcnow

from tests.conftest import csrf_token

from .conftest import inside, parts, point_at


def mail(key=None, to=("finance@msp.example",)):
    return queue_mail("digest", list(to), "Ferry outbox test", "plain body", "<p>html body</p>",
                      key=key, notify=False)


def test_a_mail_is_written_before_it_is_sent_and_sent_once(mailing):
    queued = mail(key="once")
    assert OutboxMail.get_by_id(queued.id).status == "pending"
    assert mailing.inbox.messages == []
    assert mail(key="once") is None                     # the same news is never queued twice
    assert send_due() == {"sent": 1, "retry": 0, "failed": 0}
    assert send_due() == {"sent": 0, "retry": 0, "failed": 0}
    [received] = mailing.inbox.messages
    assert received["From"] == "ferry@msp.example"
    assert set(parts(received)) == {"text/plain", "text/html"}
    row = OutboxMail.get_by_id(queued.id)
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1


def test_a_refusal_is_retried_with_back_off_until_the_server_takes_it(mailing):
    queued = mail()
    mailing.inbox.refuse = "451 4.3.0 mailbox busy, try later"
    start = utcnow()
    assert send_due(now=start)["retry"] == 1
    row = OutboxMail.get_by_id(queued.id)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error == ("The mail server 127.0.0.1:%d answered 451 4.3.0 mailbox busy, "
                              "try later." % mailing.port)
    assert row.next_attempt_at == start + timedelta(minutes=1)
    assert send_due(now=start + timedelta(seconds=30))["retry"] == 0   # not due yet
    assert send_due(now=start + timedelta(minutes=1))["retry"] == 1
    row = OutboxMail.get_by_id(queued.id)
    assert row.next_attempt_at == start + timedelta(minutes=1) + timedelta(minutes=2)
    mailing.inbox.refuse = None
    assert send_due(now=start + timedelta(minutes=3))["sent"] == 1
    assert len(mailing.inbox.messages) == 1
    assert OutboxMail.get_by_id(queued.id).last_error is None
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 12)] == \
        [60, 120, 240, 3600, 3600]


def test_while_the_server_is_down_mail_waits_then_goes(mailing):
    mailing.stop()
    queued = mail()
    now = utcnow()
    assert send_due(now=now)["retry"] == 1
    row = OutboxMail.get_by_id(queued.id)
    assert row.status == "pending"
    assert "could not reach the mail server" in row.last_error
    mailing.start()                                       # same port, back up
    assert send_due(now=now + timedelta(minutes=1))["sent"] == 1
    assert [m["Subject"] for m in mailing.inbox.messages] == ["Ferry outbox test"]


def test_after_the_last_try_it_is_failed_with_the_reason_and_resend_sends_it(
        app, smtp, client, auth):
    point_at(app, smtp)
    smtp.inbox.refuse = "452 4.2.2 mailbox full"
    with inside(app):
        queued = mail()
        now = utcnow()
        for _ in range(MAX_ATTEMPTS):
            now += timedelta(hours=1)
            send_due(now=now)
        row = OutboxMail.get_by_id(queued.id)
        assert row.status == "failed" and row.attempts == MAX_ATTEMPTS
        assert "mailbox full" in row.last_error
        assert f"Ferry gave up after {MAX_ATTEMPTS} tries: press Resend" in row.last_error
    auth.login()
    page = client.get("/outbox/?status=failed").get_data(as_text=True)
    assert "Ferry outbox test" in page and "mailbox full" in page
    token = csrf_token(client, "/outbox/")
    smtp.inbox.refuse = None
    answer = client.post(f"/outbox/{queued.id}/resend", data={"csrf_token": token})
    assert answer.status_code == 303
    with inside(app):
        assert OutboxMail.get_by_id(queued.id).status == "pending"
        assert send_due()["sent"] == 1
    assert len(smtp.inbox.messages) == 1


def test_a_recipient_refused_for_good_fails_at_once(mailing):
    mailing.inbox.refuse_rcpt = "550 5.1.1 no such mailbox"
    queued = mail(to=("gone@msp.example",))
    assert send_due()["failed"] == 1
    row = OutboxMail.get_by_id(queued.id)
    assert row.status == "failed" and "gone@msp.example" in row.last_error
    assert "Ferry will not retry it by itself: press Resend" in row.last_error


def test_with_no_smtp_configured_mail_stays_and_the_page_says_so(app, client, auth):
    app.config["SMTP_HOST"] = None
    with inside(app):
        queued = mail()
        assert send_due() == {"sent": 0, "retry": 0, "failed": 0}
        assert OutboxMail.get_by_id(queued.id).status == "pending"
    auth.login()
    page = client.get("/outbox/").get_data(as_text=True)
    assert "No mail server is configured (FERRY_SMTP_HOST is not set)" in page
    assert "Ferry outbox test" in page
    result = app.test_cli_runner().invoke(args=["outbox"])
    assert "No mail server is configured" in result.output
    assert "Ferry outbox test" in result.output and "pending" in result.output


SENDER = """
import os
from app import create_app
from jobs.outbox import send_due
from models import db
app = create_app({"DATABASE_URL": os.environ["T_DB"], "SMTP_HOST": "127.0.0.1",
                  "SMTP_PORT": int(os.environ["T_PORT"]), "SMTP_STARTTLS": False,
                  "SMTP_TIMEOUT": 60})
with app.app_context(), db.connection_context():
    print(send_due(), flush=True)
"""


def test_nothing_is_lost_when_the_sender_dies_mid_conversation(app, mailing, database_url):
    """A worker killed while the SMTP server holds its DATA leaves the mail claimed;
    once the claim is stale the next sender (after the restart) delivers it."""
    queued = mail()
    mailing.inbox.hold = threading.Event()
    env = dict(os.environ, T_DB=database_url, T_PORT=str(mailing.port))
    worker = subprocess.Popen([sys.executable, "-c", SENDER], env=env,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while mailing.inbox.attempts == 0 and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode()
            time.sleep(0.05)
        assert mailing.inbox.attempts == 1               # the worker is inside DATA
        assert OutboxMail.get_by_id(queued.id).status == "sending"
        worker.kill()
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stdout.close()
        worker.stderr.close()
    mailing.inbox.hold.set()
    mailing.inbox.hold = None
    # A fresh sender right away leaves the claim alone (it might still be alive) ...
    assert send_due()["sent"] == 0
    # ... and takes the mail over once the claim is stale.
    assert send_due(now=utcnow() + timedelta(minutes=11))["sent"] == 1
    assert [m["Subject"] for m in mailing.inbox.messages] == ["Ferry outbox test"]
    assert OutboxMail.get_by_id(queued.id).status == "sent"


def test_flask_outbox_lists_what_waits_and_sends_it(app, smtp, client, auth):
    point_at(app, smtp)
    smtp.inbox.refuse = "451 4.3.0 greylisted"
    with inside(app):
        queued = mail()
        send_due()
    listed = app.test_cli_runner().invoke(args=["outbox"])
    assert listed.exit_code == 0
    assert f"{queued.id:>6}  pending" in listed.output
    assert "Ferry outbox test  -> finance@msp.example  (1 attempt, next try" in listed.output
    assert "451 4.3.0 greylisted" in listed.output
    auth.login()
    detail = client.get(f"/outbox/{queued.id}").get_data(as_text=True)
    assert "Plain-text part" in detail and "plain body" in detail and "greylisted" in detail
    smtp.inbox.refuse = None
    with inside(app):
        OutboxMail.update(next_attempt_at=utcnow()).execute()     # its retry time has come
    sent = app.test_cli_runner().invoke(args=["outbox", "--send"])
    assert "Sent 1, to retry 0, failed 0." in sent.output
    assert "Nothing is waiting: every e-mail has been sent." in sent.output
    assert len(smtp.inbox.messages) == 1


def test_a_retried_mail_is_the_same_message_to_the_receiver(mailing):
    """Date is when Ferry wrote the mail and the Message-ID is the outbox row's, at every
    attempt: a receiver that took a mail whose conversation then broke drops the copy."""
    from email.utils import parsedate_to_datetime
    first, second = mail(), mail()
    mailing.inbox.refuse = "451 4.3.0 mailbox busy, try later"
    start = utcnow()
    send_due(now=start, only=first.id)
    mailing.inbox.refuse = None
    send_due(now=start + timedelta(minutes=1))
    [refused] = mailing.inbox.refused_messages
    taken = {m["Message-ID"]: m for m in mailing.inbox.messages}
    assert len(taken) == 2                                  # two rows: two messages
    again = taken[refused["Message-ID"]]
    assert again["Date"] == refused["Date"]
    written = OutboxMail.get_by_id(first.id).created_at
    assert parsedate_to_datetime(again["Date"]).replace(tzinfo=None) == \
        written.replace(microsecond=0)
    assert refused["Message-ID"].endswith("@msp.example>")
    raw = [e.content.decode() for e in mailing.inbox.envelopes]
    assert all("\nDate: " in r and "\nMessage-ID: " in r for r in raw)
    assert second.id != first.id
