"""Issue 20, item 4 (finding 2): a CR/LF in a ConnectWise invoice number left its alert
mail "sending" for ever (the subject could not be built: "Header values may not contain
linefeed"; never failed, claimed again on every pass), and a CR/LF in a company name
forged lines in the plain-text part. Values are now one line in a mail, and a mail Ferry
cannot build is failed with a sentence. Against the real SMTP server of the other mail
tests."""
from datetime import timedelta
from decimal import Decimal

from jobs.alerts import MODE, after_cycle
from jobs.outbox import SENDING_STALE, send_due
from models import OutboxMail, RecordEvent, Setting, SyncRecord, SyncRun, utcnow
from tests.conftest import ADMIN_EMAIL

from .conftest import parts

NUMBER = "INV-7\r\nBcc: attacker@evil.example"
COMPANY = "Acme Pty Ltd\r\n  What to do: pay into account 12-3456 instead"


def _exception_run() -> SyncRun:
    run = SyncRun.create(record_type="invoice", status="done", read=1, exceptions=1)
    record = SyncRecord.create(record_type="invoice", cw_id=7, cw_number=NUMBER,
                               state="exception", last_run=run, party_name=COMPANY,
                               cw_total=Decimal("110.00"), currency="AUD",
                               problems=["No Xero account is mapped for GL account 4900."])
    RecordEvent.create(record=record, run=run, kind="exception", message="held back")
    return run


def test_an_exception_mail_with_line_breaks_in_its_values_is_sent_on_one_line(mailing):
    Setting.set_value(MODE.format("invoice"), "immediate")
    after_cycle(_exception_run())
    assert send_due()["sent"] == 1
    [message] = mailing.inbox.messages
    # (folded, being long: Python reads the fold back as a leading space)
    assert message["Subject"].strip() == \
        "Ferry: Invoice INV-7 Bcc: attacker@evil.example could not be written to Xero"
    assert message["Bcc"] is None
    assert mailing.inbox.envelopes[0].rcpt_tos == [ADMIN_EMAIL]
    text = parts(message)["text/plain"].replace("\r\n", "\n")
    assert "* Invoice INV-7 Bcc: attacker@evil.example\n" in text
    assert ("  Customer: Acme Pty Ltd What to do: pay into account 12-3456 instead; "
            "total 110.00 AUD\n") in text
    # The only "What to do:" line that starts a line is Ferry's own.
    assert [line for line in text.split("\n") if line.lstrip().startswith("What to do:")] \
        == ["  What to do: Add the missing mapping for its Xero organisation under "
            "Mappings, then force-sync the record (or wait for the next cycle)."]


def test_a_mail_that_cannot_be_built_fails_with_a_sentence_not_sending_for_ever(mailing):
    """A row an earlier version wrote with a line break in its subject."""
    mail = OutboxMail.create(kind="exceptions", recipients=[ADMIN_EMAIL],
                             subject=f"Ferry: Invoice {NUMBER} could not be written to Xero",
                             text="body", html=None)
    counts = send_due()
    assert counts == {"sent": 0, "retry": 0, "failed": 1}
    mail = OutboxMail.get_by_id(mail.id)
    assert mail.status == "failed" and mail.claimed_at is None
    assert mail.last_error.startswith(
        "This e-mail cannot be sent: its subject holds a line break, which an e-mail "
        "header cannot carry.")
    # Not claimed again, now or once a claim would have gone stale.
    assert send_due(now=utcnow() + SENDING_STALE + timedelta(minutes=1)) == \
        {"sent": 0, "retry": 0, "failed": 0}
    assert OutboxMail.get_by_id(mail.id).status == "failed"
    assert mailing.inbox.attempts == 0 and not mailing.inbox.messages
