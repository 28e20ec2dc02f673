"""What happens after the first sync: edits in CW, payments in Xero, credit memos,
name clashes and mappings fixed later."""
from decimal import Decimal

from jobs.cycle import run_cycle
from models import AccountMapping, Connection, ContactLink, RecordEvent, SyncRecord

from .helpers import action, duplicates, orgs


def synced_invoice(org_name: str) -> SyncRecord:
    org = Connection.get(Connection.name == org_name)
    return (SyncRecord.select().where((SyncRecord.org == org) &
                                      (SyncRecord.record_type == "invoice") &
                                      (SyncRecord.state == "synced"))
            .order_by(SyncRecord.cw_id).first())


SYDNEY = "Sydney IT Services Pty Ltd"


def test_an_edit_in_connectwise_updates_the_same_xero_invoice(ferry, cw, xero):
    run_cycle("invoice")
    record = synced_invoice(SYDNEY)
    before = orgs(xero)[SYDNEY].invoices[record.xero_id.lower()]["Total"]
    action(cw, f"invoices/{record.cw_id}/edit", {"line": 0, "itemPrice": "1234.50"})
    run = run_cycle("invoice")
    assert run.written == 1
    org = orgs(xero)[SYDNEY]
    doc = org.invoices[record.xero_id.lower()]
    assert doc["Total"] != before
    assert doc["Total"] == cw.app.sandbox.store.table("finance/invoices")[record.cw_id]["total"]
    assert duplicates(org) == {}
    assert [e.kind for e in SyncRecord.get_by_id(record.id).events] == ["created", "updated"]


def test_paid_in_xero_then_edited_in_cw_is_an_exception_and_xero_is_left_alone(
        ferry, cw, xero):
    run_cycle("invoice")
    record = synced_invoice(SYDNEY)
    action(xero, "xero/pay", {"org": SYDNEY, "invoice_id": record.xero_id})
    paid = dict(orgs(xero)[SYDNEY].invoices[record.xero_id.lower()])
    action(cw, f"invoices/{record.cw_id}/edit", {"line": 0, "itemPrice": "999.00"})
    run = run_cycle("invoice")
    record = SyncRecord.get_by_id(record.id)
    assert run.written == 0 and record.state == "exception"
    assert "it is paid in Xero" in record.problems[0]
    after = orgs(xero)[SYDNEY].invoices[record.xero_id.lower()]
    assert (after["Total"], after["Status"]) == (paid["Total"], "PAID")


def test_a_credit_memo_is_allocated_to_the_invoice_it_credits(ferry, cw, xero):
    run_cycle("invoice")
    record = synced_invoice(SYDNEY)
    memo = action(cw, f"invoices/{record.cw_id}/credit-memo", {"amount": "50.00"})
    run = run_cycle("credit_note")
    assert run.status == "done"
    note = SyncRecord.get((SyncRecord.record_type == "credit_note") &
                          (SyncRecord.cw_id == memo["id"]))
    assert note.state == "synced"
    assert note.events.where(RecordEvent.kind == "allocated").count() == 1
    invoice = orgs(xero)[SYDNEY].invoices[record.xero_id.lower()]
    assert invoice["AmountCredited"] == Decimal("55.00")   # 50.00 plus GST


def test_a_name_already_taken_in_xero_is_an_exception_never_a_merge(ferry, cw, xero):
    from sandbox.catalog import CLASH_COMPANY
    made = action(cw, "invoices", {"companyName": CLASH_COMPANY["name"],
                                   "identifier": CLASH_COMPANY["identifier"],
                                   "location": "Sydney", "amount": "300.00"})
    run_cycle("invoice")
    record = SyncRecord.get(SyncRecord.cw_id == made["id"])
    assert record.state == "exception"
    assert record.problems == [
        f"A Xero contact named {CLASH_COMPANY['name']} already exists in org {SYDNEY} with "
        f"contact number {CLASH_COMPANY['xero_contact_number']}; ConnectWise company "
        f"{CLASH_COMPANY['identifier']} was not merged. Link it in Mappings or rename one "
        "of them."]
    assert all(d["InvoiceNumber"] != made["invoiceNumber"]
               for d in orgs(xero)[SYDNEY].invoices.values())


def test_a_missing_mapping_fixed_later_is_written_on_the_next_cycle(ferry, cw, xero):
    run_cycle("invoice")
    stuck = [r for r in SyncRecord.select().where(SyncRecord.state == "exception")
             if "GL account 4900" in r.problems[0]]
    assert stuck
    for org in Connection.select().where(Connection.kind == "xero"):
        AccountMapping.create(org=org, cw_account="4900", xero_code="260")
    run = run_cycle("invoice")
    assert run.written == len(stuck)
    assert {SyncRecord.get_by_id(r.id).state for r in stuck} == {"synced"}
    assert all(duplicates(o) == {} for o in orgs(xero).values())


def test_a_credit_note_left_unallocated_by_a_failure_is_allocated_next_cycle_once(
        ferry, cw, xero):
    from .helpers import fault
    run_cycle("invoice")
    fault(xero, kind="500", method="PUT", path="/api.xro/2.0/CreditNotes/*/Allocations", nth=1)
    stopped = run_cycle("credit_note")
    assert stopped.status == "stopped" and "Xero answered HTTP 500" in stopped.message
    left = [n for n in SyncRecord.select().where((SyncRecord.record_type == "credit_note") &
                                                 (SyncRecord.state == "synced"))
            if not [e for e in n.events if e.kind in ("allocated", "unallocated")]]
    assert left                           # written to Xero, but the allocation failed

    assert run_cycle("credit_note").status == "done"
    allocated = 0
    for note in left:
        kinds = [e.kind for e in SyncRecord.get_by_id(note.id).events]
        assert kinds.count("allocated") + kinds.count("unallocated") <= 1, kinds
        if "allocated" in kinds:
            allocated += 1
            org = orgs(xero)[note.org.name]
            assert len(org.credit_notes[note.xero_id.lower()]["_allocations"]) == 1
    assert allocated
    events = RecordEvent.select().count()
    run_cycle("credit_note")
    assert RecordEvent.select().count() == events       # settled: never allocated twice
    for note in left:
        credit = orgs(xero)[note.org.name].credit_notes[note.xero_id.lower()]
        assert len(credit.get("_allocations", [])) <= 1


def test_an_allocation_that_reached_xero_before_a_crash_is_adopted_not_repeated(
        ferry, cw, xero):
    run_cycle("invoice")
    record = synced_invoice(SYDNEY)
    memo = action(cw, f"invoices/{record.cw_id}/credit-memo", {"amount": "50.00"})
    run_cycle("credit_note")
    note = SyncRecord.get((SyncRecord.record_type == "credit_note") &
                          (SyncRecord.cw_id == memo["id"]))
    # As if the worker died after Xero allocated but before the history was written.
    RecordEvent.delete().where((RecordEvent.record == note) &
                               (RecordEvent.kind == "allocated")).execute()
    run_cycle("credit_note")
    assert [e.message for e in note.events if e.kind == "allocated"] == [
        f"Found allocated to invoice {record.cw_number} in Xero; not allocated again."]
    credit = orgs(xero)[SYDNEY].credit_notes[note.xero_id.lower()]
    assert len(credit["_allocations"]) == 1


def test_an_identifier_whose_xero_contact_belongs_to_another_company_is_never_merged(
        ferry, cw, xero):
    # The condition behind the scale-20 re-writes: a Xero contact found by ContactNumber
    # that Ferry linked to another CW company. Here the identifier moved in CW.
    run_cycle("invoice")
    record = synced_invoice(SYDNEY)
    invoice = cw.app.sandbox.store.table("finance/invoices")[record.cw_id]
    old = cw.app.sandbox.store.table("company/companies")[invoice["company"]["id"]]
    ident = old["identifier"]
    action(cw, f"companies/{old['id']}/edit", {"identifier": ident + "Old"})
    made = action(cw, "invoices", {"companyName": "Newcomer Dental Pty Ltd",
                                   "identifier": ident, "location": "Sydney"})
    contact = next(c for c in orgs(xero)[SYDNEY].contacts.values()
                   if c.get("ContactNumber") == ident)
    before = dict(contact)
    run = run_cycle("invoice")
    newcomer = SyncRecord.get(SyncRecord.cw_id == made["id"])
    assert run.written == 0 and newcomer.state == "exception"
    assert newcomer.problems == [
        f"The Xero contact {before['Name']} in org {SYDNEY} already carries contact number "
        f"{ident} for another ConnectWise company; ConnectWise company Newcomer Dental Pty "
        "Ltd was not merged. Give one of them another identifier in ConnectWise, or link it "
        "in Mappings."]
    assert contact["Name"] == before["Name"]
    assert all(d["InvoiceNumber"] != made["invoiceNumber"]
               for d in orgs(xero)[SYDNEY].invoices.values())
    # The same cycle carried the old company's new identifier to its own Xero contact,
    # which frees the number: the next cycle gives the newcomer a contact of its own.
    contact = orgs(xero)[SYDNEY].contacts[contact["ContactID"].lower()]
    assert contact["ContactNumber"] == ident + "Old"
    again = run_cycle("invoice")
    newcomer = SyncRecord.get_by_id(newcomer.id)
    assert again.written == 1 and newcomer.state == "synced"
    written = orgs(xero)[SYDNEY].invoices[newcomer.xero_id.lower()]
    assert written["_contact_id"] != contact["ContactID"]     # the store's own field
    mine = orgs(xero)[SYDNEY].contacts[written["_contact_id"].lower()]
    assert (mine["Name"], mine["ContactNumber"]) == ("Newcomer Dental Pty Ltd", ident)
    assert duplicates(orgs(xero)[SYDNEY]) == {}


def test_reading_the_whole_contact_list_finds_the_same_clash(ferry, cw, xero, monkeypatch):
    # What a first sync of many companies does: one list read instead of look-ups.
    from jobs import cycle_contacts
    from sandbox.catalog import CLASH_COMPANY
    monkeypatch.setattr(cycle_contacts, "MIN_LOOKUPS_FOR_LIST", 0)
    made = action(cw, "invoices", {"companyName": CLASH_COMPANY["name"],
                                   "identifier": CLASH_COMPANY["identifier"],
                                   "location": "Sydney", "amount": "300.00"})
    run = run_cycle("invoice")
    record = SyncRecord.get(SyncRecord.cw_id == made["id"])
    assert record.state == "exception" and "was not merged" in record.problems[0]
    assert run.written > 0 and all(duplicates(o) == {} for o in orgs(xero).values())
    assert ContactLink.select().count() > 0
    assert run_cycle("invoice").written == 0


def test_a_company_edited_in_cw_updates_its_xero_contact_once(ferry, cw, xero):
    run_cycle("invoice")
    link = ContactLink.select().join(Connection).where(Connection.name == SYDNEY).first()
    company = dict(cw.app.sandbox.store.table("company/companies")[link.cw_company_id])
    # The next scheduled cycle looks back from its watermark: edits made now are after it.
    cw.app.kit.clock.advance(3600)
    action(cw, f"companies/{company['id']}/edit", {
        "name": company["name"] + " (Parramatta)", "phoneNumber": "02 9999 0000",
        "addressLine1": "1 Church Street", "city": "Parramatta"})
    before = len(xero.app.xero.kit.journal.entries(method="POST", path="/api.xro/2.0/Contacts"))
    run_cycle("invoice")
    contact = orgs(xero)[SYDNEY].contacts[link.xero_contact_id.lower()]
    assert contact["Name"] == company["name"] + " (Parramatta)"
    assert any(a.get("AddressLine1") == "1 Church Street" and a.get("City") == "Parramatta"
               for a in contact["Addresses"])
    assert any("9999 0000" in (p.get("PhoneNumber") or "") for p in contact["Phones"])
    writes = xero.app.xero.kit.journal.entries(method="POST", path="/api.xro/2.0/Contacts")
    assert len(writes) == before + 1
    run_cycle("invoice")        # nothing changed since: no second write
    assert len(xero.app.xero.kit.journal.entries(
        method="POST", path="/api.xro/2.0/Contacts")) == before + 1


def test_voided_in_xero_then_edited_in_cw_is_an_exception_and_never_recreated(
        ferry, cw, xero):
    run_cycle("invoice")
    record = synced_invoice(SYDNEY)
    action(xero, "xero/void", {"org": SYDNEY, "invoice_id": record.xero_id})
    action(cw, f"invoices/{record.cw_id}/edit", {"line": 0, "itemPrice": "777.00"})
    run = run_cycle("invoice")
    record = SyncRecord.get_by_id(record.id)
    assert run.written == 0 and record.state == "exception"
    assert "void" in record.problems[0].lower()
    org = orgs(xero)[SYDNEY]
    assert org.invoices[record.xero_id.lower()]["Status"] == "VOIDED"
    # Never recreated behind the person's back: still one document for that number.
    number = org.invoices[record.xero_id.lower()]["InvoiceNumber"]
    assert [d["Status"] for d in org.invoices.values()
            if d["InvoiceNumber"] == number] == ["VOIDED"]
