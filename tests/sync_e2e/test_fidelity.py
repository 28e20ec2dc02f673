"""Issue 8 end to end: Ferry against sandboxes that behave as the real APIs are
documented to (sandbox/FIDELITY.md): GL export ledger signs, future-dated invoices left
out of an export without thruDate, Reference dropped on bills, DueDate required when
AUTHORISED, lock dates, archived contacts."""
from datetime import date, timedelta

import httpx2

from jobs import cycle_waiting
from jobs.cycle import run_cycle
from models import Connection, ContactLink, OrgRecordSetting, SyncRecord

from .helpers import action, documents, duplicates, fault, money, orgs

INVOICES = "/api.xro/2.0/Invoices"
SYDNEY = "Sydney IT Services Pty Ltd"


def authorise(*kinds):
    """The user's choice in Settings: write these record types AUTHORISED."""
    for org in Connection.select().where(Connection.kind == "xero"):
        for kind in kinds:
            OrgRecordSetting.insert(org=org, record_type=kind, status="AUTHORISED").on_conflict(
                conflict_target=[OrgRecordSetting.org, OrgRecordSetting.record_type],
                update={OrgRecordSetting.status: "AUTHORISED"}).execute()


def test_authorised_documents_are_accepted_positive_with_due_dates_and_equal_totals(
        ferry, cw, xero):
    authorise("invoice", "credit_note", "bill")
    runs = [run_cycle(kind) for kind in ("invoice", "credit_note", "bill")]
    assert [r.status for r in runs] == ["done", "done", "done"]
    assert all(r.written > 0 for r in runs)
    records = {(r.record_type, r.xero_id.lower()): r for r in SyncRecord.select()
               if r.state == "synced"}
    assert not [r.problems for r in SyncRecord.select() if r.state == "exception"
                and "DueDate" in " ".join(r.problems)]
    seen = {"invoice": 0, "credit_note": 0, "bill": 0}
    for org in orgs(xero).values():
        assert duplicates(org) == {}
        for kind, record_type, key in (("ACCREC", "invoice", "InvoiceID"),
                                       ("ACCRECCREDIT", "credit_note", "CreditNoteID"),
                                       ("ACCPAY", "bill", "InvoiceID")):
            for doc in documents(org, kind):
                record = records[record_type, doc[key].lower()]
                assert doc["Status"] in ("AUTHORISED", "PAID")
                assert money(doc["Total"]) > 0
                assert kind == "ACCRECCREDIT" or doc["DueDate"]
                assert money(doc["Total"]) == money(record.cw_total)    # CW's, to the cent
                assert "Reference" not in doc or kind != "ACCPAY"
                seen[record_type] += 1
    assert all(seen.values()), seen


def test_a_future_dated_invoice_waits_then_syncs_when_its_date_comes(ferry, cw, xero,
                                                                     monkeypatch):
    run_cycle("invoice")
    on = date.today() + timedelta(days=10)
    invoice = action(cw, "invoices", {
        "companyName": "Tomorrow Dental Pty Ltd", "identifier": "TomorrowDental",
        "location": "Sydney", "amount": "100.00", "date": on.isoformat(),
        "type": "Agreement"})
    first = run_cycle("invoice")
    record = SyncRecord.get(SyncRecord.cw_id == invoice["id"])
    assert first.status == "done" and record.state == "waiting"
    assert record.problems == [f"Waiting for its date {on.isoformat()}: ConnectWise exports "
                               "an invoice only once its date has come."]
    # Until the day before its date a cycle spends no ConnectWise call on it.
    again = run_cycle("invoice")
    assert SyncRecord.get_by_id(record.id).state == "waiting" and again.written == 0
    assert again.read == 0 and again.cw_calls == 1
    assert not [d for o in orgs(xero).values() for d in documents(o)
                if d["InvoiceNumber"] == invoice["invoiceNumber"]]

    # Eleven days on, for ConnectWise and for Ferry alike.
    httpx2.post(f"{cw.url}/_sandbox/clock",
                json={"advance_seconds": 11 * 86400}).raise_for_status()
    monkeypatch.setattr(cycle_waiting, "today", lambda: date.today() + timedelta(days=11))
    run_cycle("invoice")
    record = SyncRecord.get_by_id(record.id)
    assert record.state == "synced", record.problems
    [doc] = [d for d in documents(orgs(xero)[SYDNEY])
             if d["InvoiceNumber"] == invoice["invoiceNumber"]]
    assert doc["Date"].startswith(on.isoformat()) if isinstance(doc["Date"], str) \
        else doc["Date"] == on
    assert money(doc["Total"]) == money(invoice["total"]) > 0


def test_a_bill_whose_answer_was_lost_is_never_written_twice(ferry, cw, xero):
    fault(xero, kind="lost_response", method="PUT", path=INVOICES, nth=1)
    first = run_cycle("bill")
    second = run_cycle("bill")
    assert second.status == "done"
    synced = [r for r in SyncRecord.select() if r.state == "synced"]
    bills = [d for o in orgs(xero).values() for d in documents(o, "ACCPAY")
             if d["Status"] not in ("DELETED", "VOIDED")]
    assert first.written + second.written >= 1
    assert all("Reference" not in b for b in bills)          # Xero dropped it
    assert all(duplicates(o) == {} for o in orgs(xero).values())
    assert len(bills) == len(synced)                           # each bill once
    assert {b["InvoiceID"].lower() for b in bills} == {r.xero_id.lower() for r in synced}
    assert run_cycle("bill").written == 0


def test_a_locked_period_is_an_exception_saying_what_to_do(ferry, cw, xero):
    action(xero, "xero/lock-dates", {"org": SYDNEY, "end_of_year_lock_date": "2027-06-30"})
    run = run_cycle("invoice")
    assert run.status == "done"
    locked = [r for r in SyncRecord.select() if r.state == "exception"
              and "locked in Xero" in r.problems[0]]
    assert locked and all(r.org.name == SYDNEY for r in locked)
    assert all("Ask your Xero adviser to move the lock date" in r.problems[0]
               and "(end-of-year lock date 30-Jun-2027)" in r.problems[0] for r in locked)
    assert documents(orgs(xero)[SYDNEY]) == []
    assert documents(orgs(xero)["Adelaide IT Services Pty Ltd"])      # the other org is open


def test_an_archived_contact_is_never_written_to(ferry, cw, xero):
    run_cycle("invoice")
    link = ContactLink.select().join(Connection).where(Connection.name == SYDNEY).first()
    company = cw.app.sandbox.store.table("company/companies")[link.cw_company_id]
    action(xero, "xero/archive-contact", {"org": SYDNEY, "contact_id": link.xero_contact_id})
    before = len(documents(orgs(xero)[SYDNEY]))
    invoice = action(cw, "invoices", {"identifier": company["identifier"],
                                      "location": "Sydney", "amount": "80.00"})
    run_cycle("invoice")
    record = SyncRecord.get(SyncRecord.cw_id == invoice["id"])
    assert record.state == "exception"
    assert "its contact is archived in Xero" in record.problems[0]
    assert len(documents(orgs(xero)[SYDNEY])) == before

    # Not linked (say Ferry's link was removed): found by its number, still archived.
    ContactLink.delete().where(ContactLink.id == link.id).execute()
    action(cw, "invoices", {"identifier": company["identifier"], "location": "Sydney",
                            "amount": "90.00"})
    run_cycle("invoice")
    archived = [r for r in SyncRecord.select() if r.state == "exception"
                and "is archived, and Xero takes no new invoices" in r.problems[0]]
    assert archived
    assert len(documents(orgs(xero)[SYDNEY])) == before
    numbers = [c for c in orgs(xero)[SYDNEY].contacts.values()
               if c.get("ContactNumber") == company["identifier"]]
    assert len(numbers) == 1                                   # no second contact made
