"""A first full sync of the synthetic MSP into its two Xero orgs, then a second one."""
from collections import defaultdict

from jobs.cycle import run_cycle
from models import Connection, ContactLink, RecordEvent, SyncRecord
from sandbox import catalog

from .helpers import duplicates, money, orgs

ORG_OF_LOCATION = {o["location_id"]: o["xero_org"] for o in catalog.OFFICES}


def cw_invoices(cw) -> dict[str, dict]:
    """The unposted invoices and credit memos of the CW sandbox, by number."""
    store = cw.app.sandbox.store
    table = store.table("finance/invoices")
    return {table[i]["invoiceNumber"]: table[i] for i in store.unposted["invoices"]}


def expected_sentence(invoice, org: str) -> str:
    number, code = invoice["invoiceNumber"], invoice["currency"]["currencyCode"]
    if code != "AUD":
        return (f"No exchange rate recorded in ConnectWise for {code} "
                f"{'credit memo' if invoice['type'] == 'CreditMemo' else 'invoice'} "
                f"{number}; Ferry will not let org {org} pick its own day rate")
    if invoice["taxCode"]["name"] == "VAT20":
        return f"No Xero tax type for CW tax code VAT20 in org {org}"
    return f"No Xero account for CW GL account 4900 in org {org}"


def test_first_sync_matches_connectwise_to_the_cent_then_writes_nothing(ferry, cw, xero):
    runs = [run_cycle(kind) for kind in ("invoice", "credit_note")]
    assert [r.status for r in runs] == ["done", "done"]
    invoices = cw_invoices(cw)
    lines = cw.app.sandbox.store.lines
    records = {r.cw_number: r for r in SyncRecord.select()}
    assert set(records) == set(invoices)                  # nothing lost

    cw_totals, xero_totals = defaultdict(lambda: money(0)), defaultdict(lambda: money(0))
    for number, invoice in invoices.items():
        org = ORG_OF_LOCATION[invoice["locationId"]]
        record = records[number]
        troublesome = (invoice["currency"]["currencyCode"] != "AUD"
                       or invoice["taxCode"]["name"] == "VAT20"
                       or any(line.account == "4900" for line in lines[invoice["id"]]))
        if troublesome:
            assert record.state == "exception"
            assert record.problems == [expected_sentence(invoice, org)]
            continue
        assert record.state == "synced", (number, record.problems)
        cw_totals[org, invoice["taxCode"]["name"]] += abs(money(invoice["total"]))
    for name, org in orgs(xero).items():
        assert duplicates(org) == {}
        docs = list(org.invoices.values()) + list(org.credit_notes.values())
        for doc in docs:
            number = doc.get("InvoiceNumber") or doc.get("CreditNoteNumber")
            xero_totals[name, invoices[number]["taxCode"]["name"]] += money(doc["Total"])
    assert xero_totals == cw_totals
    assert len(cw_totals) >= 4                            # both orgs, several tax codes

    written = RecordEvent.select().count()
    again = [run_cycle(kind) for kind in ("invoice", "credit_note")]
    assert [r.written for r in again] == [0, 0]
    assert all(r.read == r.skipped + r.exceptions for r in again)
    assert sum(len(o.invoices) + len(o.credit_notes) for o in orgs(xero).values()) == \
        sum(1 for r in records.values() if r.state == "synced")
    assert RecordEvent.select().count() == written        # no history noise either


def test_bills_one_per_packing_slip_as_drafts_suppliers_linked_not_merged(ferry, cw, xero):
    first = run_cycle("bill")
    clashes = [r for r in SyncRecord.select() if r.state == "exception"]
    assert first.exceptions == len(clashes) > 0
    assert all("already exists in org" in r.problems[0] and "was not merged" in r.problems[0]
               for r in clashes)
    # The user links each CW supplier to the Xero contact that already holds its name.
    for org_row in Connection.select().where(Connection.kind == "xero"):
        by_name = {c["Name"]: c["ContactID"] for c in orgs(xero)[org_row.name].contacts.values()}
        vendors = {po["vendorCompany"]["id"]: po["vendorCompany"]["name"] for po in
                   cw.app.sandbox.store.table("procurement/purchaseorders").values()}
        for cw_id, name in vendors.items():
            if name in by_name:
                ContactLink.insert(org=org_row, cw_company_id=cw_id,
                                   xero_contact_id=by_name[name]).on_conflict_ignore().execute()
    second = run_cycle("bill")
    assert second.exceptions == 0 and second.written == len(clashes)
    bills = [d for org in orgs(xero).values() for d in org.invoices.values()
             if d["Type"] == "ACCPAY"]
    assert len(bills) == first.written + second.written
    assert {b["Status"] for b in bills} == {"DRAFT"}
    receipts = cw.app.sandbox.store.unposted["procurement"].values()
    assert sum(money(b["Total"]) for b in bills) == sum(money(r["total"]) for r in receipts)
    assert all(duplicates(org) == {} for org in orgs(xero).values())
    assert run_cycle("bill").written == 0
