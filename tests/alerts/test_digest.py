"""The daily digest with a controllable clock: nothing before its time, one mail after
it (once a day), in the set timezone; its content from real cycles against the
sandboxes: the day per record type and org, exceptions raised and resolved, open ones
oldest first, Xero calls per org, records metered this month; both parts."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jobs.alerts import DIGEST_TIME, MODE, RECIPIENTS, TIMEZONE
from jobs.cycle import run_cycle
from jobs.digest import digest_tick
from jobs.outbox import send_due
from models import (
    AccountMapping, AuditEntry, Connection, MeteredVersion, OutboxMail, RecordEvent, Setting,
    SyncRecord, utcnow,
)
from tests.conftest import ADMIN_EMAIL

from .conftest import inside, parts

ADELAIDE = ZoneInfo("Australia/Adelaide")


def next_digest_time(hour=7) -> datetime:
    """The next 07:00 in Adelaide after now, as naive UTC."""
    local = datetime.now(ADELAIDE)
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= local:
        at += timedelta(days=1)
    return at.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def test_digest_goes_once_at_its_time_with_the_days_content(ferry, smtp):
    Setting.set_value(DIGEST_TIME, "07:00")
    Setting.set_value(TIMEZONE, "Australia/Adelaide")
    first = run_cycle("invoice")
    run_cycle("credit_note")
    # The user maps the troublesome GL account; the next cycle writes those invoices.
    fixed = [r for r in SyncRecord.select().where(SyncRecord.state == "exception")
             if "GL account 4900" in r.problems[0]]
    assert fixed and first.exceptions > len(fixed)
    for org in Connection.select().where(Connection.kind == "xero"):
        AccountMapping.create(org=org, cw_account="4900", xero_code="200")
    run_cycle("invoice")
    assert all(SyncRecord.get_by_id(r.id).state == "synced" for r in fixed)

    at = next_digest_time()
    assert digest_tick(now=at - timedelta(minutes=1)) is None        # not yet
    mail = digest_tick(now=at + timedelta(minutes=2))
    assert mail is not None
    assert digest_tick(now=at + timedelta(minutes=7)) is None        # once a day
    assert send_due(now=at + timedelta(minutes=8))["sent"] == 1
    [message] = smtp.inbox.messages
    assert message["To"] == ADMIN_EMAIL
    day = (at + timedelta(minutes=2)).replace(tzinfo=ZoneInfo("UTC")).astimezone(ADELAIDE)
    assert message["Subject"].strip().startswith(f"Ferry daily digest {day.date().isoformat()}: ")
    body = parts(message)
    text, html = body["text/plain"].replace("\r\n", "\n"), body["text/html"]
    # The first digest: the 24 hours up to when it was built, on Adelaide's clock.
    built = (at + timedelta(minutes=2)).replace(tzinfo=ZoneInfo("UTC")).astimezone(ADELAIDE)
    assert (f"\nCovers {built - timedelta(hours=24):%Y-%m-%d %H:%M %Z} to "
            f"{built:%Y-%m-%d %H:%M %Z} "
            "(Australia/Adelaide time, as every time below); the open exceptions are those "
            "still open at the end.") in text

    orgs = {c.id: c.name for c in Connection.select().where(Connection.kind == "xero")}
    for kind in ("invoice", "credit_note"):
        for org_id, name in orgs.items():
            events = (RecordEvent.select().join(SyncRecord)
                      .where((SyncRecord.record_type == kind) & (SyncRecord.org == org_id)))
            written = events.where(RecordEvent.kind == "created").count()
            raised = events.where(RecordEvent.kind == "exception").count()
            resolved = len({r.id for r in fixed if r.org_id == org_id and
                            r.record_type == kind})
            line = (f"  {name}: written {written}, updated 0, exceptions raised {raised}, "
                    f"resolved {resolved}")
            if written or raised:
                assert line in text, (line, text)
    assert "Invoices: 2 cycles." in text and "Credit notes: 1 cycle." in text

    # Open exceptions, oldest first, each with its links.
    still_open = list(SyncRecord.select().where(SyncRecord.state == "exception"))
    assert f"OPEN EXCEPTIONS ({len(still_open)}), OLDEST FIRST" in text
    listed = [line for line in text.splitlines() if line.startswith("* ")]
    assert len(listed) == len(still_open)
    since = [line.rsplit("since ", 1)[1] for line in listed]
    assert since == sorted(since)
    for record in still_open:
        began = (RecordEvent.select().where((RecordEvent.record == record) &
                                            (RecordEvent.kind == "exception"))
                 .order_by(RecordEvent.at).first().at)
        local = began.replace(tzinfo=ZoneInfo("UTC")).astimezone(ADELAIDE)
        assert f"* Invoice {record.cw_number} ({record.org.name}), since " \
               f"{local:%Y-%m-%d %H:%M %Z}\n" in text or record.record_type != "invoice"
        if record.party_name and record.cw_total is not None:
            assert f"  Customer: {record.party_name}; total {record.cw_total:,.2f}" in text
        assert f"https://ferry.msp.example/records/{record.id}" in text
        # Never sent on its own: "Audit" is the calls of the run that held it back.
        assert f"Audit: https://ferry.msp.example/audit/?run={record.last_run_id}" in text
    assert "Audit: https://ferry.msp.example/audit/?q=" not in text
    assert "Mappings: https://ferry.msp.example/mappings/\n" not in text

    # Xero calls per org (the audit trail's count) and this month's metered records.
    for org_id, name in orgs.items():
        used = AuditEntry.select().where((AuditEntry.api == "xero") &
                                         (AuditEntry.connection_id == org_id)).count()
        assert used > 0
        assert f"  {name}: {used:,} calls in this period" in text
    metered = MeteredVersion.select().where(
        (MeteredVersion.record_type == "invoice") &
        (MeteredVersion.month == utcnow().strftime("%Y-%m"))).count()
    assert f"  Invoices: {metered:,}" in text

    for name in orgs.values():
        assert name in html
    assert "<script" not in html.lower() and "<img" not in html.lower()

    # The next day's digest covers only its own 24 hours: nothing happened in them.
    later = digest_tick(now=at + timedelta(days=1, minutes=4))
    assert later is not None and later.key != mail.key
    assert "Invoices: 0 cycles." in later.text
    # ... from where the first one stopped: no gap, no overlap.
    assert f"Covers {built:%Y-%m-%d %H:%M %Z} to " \
           f"{built + timedelta(days=1, minutes=2):%Y-%m-%d %H:%M %Z} (" in later.text


def test_a_digest_built_after_its_time_counts_what_it_lists(ferry, smtp):
    """Ferry started after the digest time: the day's first digest goes at once, and its
    cycles, open exceptions and metered records tell one story (they said "0 cycles"
    beside exceptions raised after the window and records metered by those cycles)."""
    Setting.set_value(DIGEST_TIME, "00:00")                # long past, whatever the hour
    Setting.set_value(TIMEZONE, "Australia/Adelaide")
    run = run_cycle("invoice")
    assert run.written and run.exceptions
    mail = digest_tick(now=utcnow() + timedelta(minutes=1))
    text = mail.text
    assert "Invoices: 1 cycle." in text
    orgs = {c.name for c in Connection.select().where(Connection.kind == "xero")}
    lines = [line for line in text.splitlines()
             if line.startswith("  ") and line.split(":")[0].strip() in orgs and
             "written" in line]
    written = sum(int(line.split("written ")[1].split(",")[0]) for line in lines)
    raised = sum(int(line.split("raised ")[1].split(",")[0]) for line in lines)
    assert written == run.written and raised == run.exceptions
    end = text.split(" to ", 1)[1].split(" (", 1)[0]
    since = [line.rsplit("since ", 1)[1] for line in text.splitlines() if line.startswith("* ")]
    assert len(since) == run.exceptions and all(s <= end for s in since)
    metered = MeteredVersion.select().where(MeteredVersion.record_type == "invoice").count()
    assert f"  Invoices: {metered:,}" in text and metered <= run.written


def test_every_type_and_everyones_recipients_whatever_the_mode(ferry, smtp):
    """Immediate mode adds the per-cycle mail; the day's summary still covers the type."""
    Setting.set_value(MODE.format("invoice"), "immediate")
    Setting.set_value(RECIPIENTS.format("bill"), ["ap@msp.example"])
    mail = digest_tick(now=next_digest_time() + timedelta(minutes=1))
    assert mail.recipients == [ADMIN_EMAIL, "ap@msp.example"]
    for label in ("Invoices:", "Credit notes:", "Bills:", "Payments:"):
        assert label in mail.text


def test_flask_digest_send_sends_now(connected, smtp):
    with inside(connected):
        Setting.set_value(TIMEZONE, "Australia/Adelaide")
    before = datetime.now(ADELAIDE).replace(second=0, microsecond=0, tzinfo=None)
    result = connected.test_cli_runner().invoke(args=["digest", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent." in result.output
    [message] = smtp.inbox.messages
    assert message["Subject"].strip().startswith("Ferry daily digest ")
    # The last 24 hours, and it says so, on Adelaide's clock.
    said = parts(message)["text/plain"].split("\nCovers ", 1)[1].split(" (Australia/Adelaide")[0]
    # Each time carries the zone's abbreviation (one clock, issue 24).
    start, end = (datetime.strptime(t.rsplit(" ", 1)[0], "%Y-%m-%d %H:%M")
                  for t in said.split(" to "))
    assert end - start == timedelta(hours=24)
    assert before <= end <= before + timedelta(minutes=1)
    with inside(connected):
        assert OutboxMail.get().status == "sent"
