"""Immediate exception mail: after a real invoice cycle against the sandboxes, one
e-mail listing that cycle's new exceptions, each with what is wrong, what to do and its
links; nothing for a cycle that raised nothing new; nothing at all in digest mode."""
import re
from urllib.parse import parse_qs, urlparse

from jobs.alerts import MODE, RECIPIENTS
from jobs.cycle import run_cycle
from jobs.outbox import send_due
from models import OutboxMail, RecordProblem, Setting, SyncRecord, SyncRun
from tests.conftest import ADMIN_EMAIL

from .conftest import inside, parts

BASE = "https://ferry.msp.example"


def test_one_mail_per_cycle_listing_its_new_exceptions_with_links(ferry, smtp):
    Setting.set_value(MODE.format("invoice"), "immediate")
    run = run_cycle("invoice")
    exceptions = list(SyncRecord.select().where(SyncRecord.state == "exception")
                      .order_by(SyncRecord.cw_number))
    assert run.status == "done" and len(exceptions) > 1
    assert send_due()["sent"] == 1
    [message] = smtp.inbox.messages                     # one mail, never one per record
    assert message["To"] == ADMIN_EMAIL                  # by default every administrator
    assert message["Subject"] == \
        f"Ferry: {len(exceptions)} invoices could not be written to Xero"
    body = parts(message)
    text, html = body["text/plain"], body["text/html"]
    with_total = 0
    for record in exceptions:
        for part in (text, html):
            assert f"Invoice {record.cw_number}" in part
            assert record.problems[0] in part.replace("&#39;", "'").replace("&amp;", "&")
        assert f"{BASE}/records/{record.id}" in text
        # A held-back record was never sent: its audit link is the run that held it back.
        assert f"{BASE}/audit/?run={run.id}" in text
        assert f"{BASE}/audit/?q=invoice%3A{record.cw_id}" not in text
        assert f"{BASE}/force-sync?record=invoice%3A{record.cw_id}" in text
        assert f'href="{BASE}/records/{record.id}"' in html
        # Which document it is, without opening it: the customer and the total.
        # Never written: its total is ConnectWise's, noted when it was read (issue 24:
        # totals shown wherever the record has one), else what its problem holds back.
        total = record.cw_total if record.cw_total is not None else \
            RecordProblem.get(RecordProblem.record == record).amount
        assert record.party_name and record.currency
        who = f"Customer: {record.party_name}" + (
            f"; total {total:,.2f} {record.currency}" if total is not None else "")
        with_total += total is not None and "GL account 4900" in record.problems[0]
        assert f"\n  {who}\n" in text.replace("\r\n", "\n")
        assert who in html.replace("&amp;", "&").replace("&#39;", "'")
    assert with_total                     # the invoices a GL account mapping holds back
    assert f"Fix the mapping: {BASE}/mappings/\n" not in text   # the row, not the index
    assert "What to do: Add the missing mapping for" in text
    # Readable in mail clients: inline styles, no scripts, no remote images.
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "<style" not in html.lower() and 'style="' in html

    # The next cycle raises nothing new: no second mail.
    again = run_cycle("invoice")
    assert again.exceptions == len(exceptions)
    send_due()
    assert len(smtp.inbox.messages) == 1
    assert OutboxMail.select().where(OutboxMail.kind == "exceptions").count() == 1


def test_the_force_sync_link_asks_the_signed_in_user_to_confirm(connected, client, auth):
    with inside(connected):
        Setting.set_value(MODE.format("invoice"), "immediate")
        run_cycle("invoice")
        text = OutboxMail.get(OutboxMail.kind == "exceptions").text
    link = re.search(r"Force-sync \(asks you to confirm\): (\S+)", text).group(1)
    path = urlparse(link).path + "?" + urlparse(link).query
    record_ref = parse_qs(urlparse(link).query)["record"][0]
    signed_out = client.get(path)
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    auth.login()
    page = client.get(path).get_data(as_text=True)
    # Worded as every other page words it, and shown as a page of Runs.
    assert re.search(r"<h1>Sync invoice \S+ now\?</h1>", page) and "Yes, sync it now" in page
    assert "Force-sync" not in page
    assert re.search(r'<a href="/runs/"\s+aria-current="page">Runs</a>', page)
    assert not re.search(r'<a href="/outbox/"\s+aria-current="page"', page)
    assert 'action="/runs/force"' in page and 'name="csrf_token"' in page
    assert f'value="{record_ref}"' in page
    with inside(connected):
        # Opening the link changed nothing by itself: no forced run was queued.
        assert SyncRun.select().where(SyncRun.trigger == "force").count() == 0
    # The other links of the mail open pages too.
    for target in re.findall(r"(?:Record|Fix the mapping|Audit entries): (\S+)", text)[:3]:
        parsed = urlparse(target)
        answer = client.get(parsed.path + ("?" + parsed.query if parsed.query else ""))
        assert answer.status_code == 200, target
    # "Fix the mapping" opens the very row the Exceptions page links to for that record.
    exceptions_page = client.get("/exceptions/").get_data(as_text=True).replace("&amp;", "&")
    fixes = re.findall(r"Fix the mapping: (\S+)", text)
    assert fixes
    for target in fixes:
        parsed = urlparse(target)
        assert parsed.path != "/mappings/"
        assert f'href="{parsed.path}?{parsed.query}"' in exceptions_page, target
    # "Audit entries" lists the calls of the run that held the record back: not empty.
    target = urlparse(re.search(r"Audit entries: (\S+)", text).group(1))
    assert parse_qs(target.query).keys() == {"run"}
    calls = client.get(f"{target.path}?{target.query}").get_data(as_text=True)
    assert 'id="audit-empty"' not in calls and 'id="entry-' in calls


def test_chosen_recipients_get_it(ferry, smtp):
    Setting.set_value(MODE.format("invoice"), "immediate")
    Setting.set_value(RECIPIENTS.format("invoice"), ["ap@msp.example", "cfo@msp.example"])
    run_cycle("invoice")
    send_due()
    [message] = smtp.inbox.messages
    assert sorted(smtp.inbox.envelopes[0].rcpt_tos) == ["ap@msp.example", "cfo@msp.example"]
    assert message["To"] == "ap@msp.example, cfo@msp.example"


def test_in_digest_mode_a_cycle_sends_nothing(ferry, smtp):
    run = run_cycle("invoice")
    assert run.exceptions > 0
    assert OutboxMail.select().count() == 0
