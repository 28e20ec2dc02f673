"""Payments received in Xero reach the ConnectWise invoices, over HTTP, converged."""
from decimal import Decimal

from jobs.cycle_payments import run_payment_cycle
from models import AuditEntry, PaymentLedger, RecordEvent, SyncRun, XeroPaymentSeen
from sandbox.connectwise import data

from .helpers import (
    action, assert_converged, cw_invoice, cw_payments, delete_payment, org_of,
    pay, payment_record, synced_invoices, xero_doc,
)


def test_full_partial_split_and_repeat_converge_without_a_second_payment(synced, cw, xero):
    full, partial = synced_invoices(cw=cw, n=2)
    pay(xero, full)
    pay(xero, partial, "100.00")
    run = run_payment_cycle()
    assert run.status == "done" and run.record_type == "payment"
    assert run.written == 2
    assert cw_invoice(cw, full.cw_id)["balance"] == 0
    assert cw_invoice(cw, partial.cw_id)["balance"] == \
        cw_invoice(cw, partial.cw_id)["total"] - Decimal("100.00")
    # A second partial payment: the one CW payment moves to the sum, not a second one.
    pay(xero, partial, "50.25")
    assert run_payment_cycle().written == 1
    (only,) = cw_payments(cw, partial.cw_id)
    assert only["amount"] == Decimal("150.25") and set(only) <= {
        "_info", "amount", "appliedBy", "credit", "id", "invoice", "paymentDate", "type"}
    assert PaymentLedger.get(PaymentLedger.cw_invoice_id == partial.cw_id).match_rule == \
        "ferry_wrote"
    # Nothing changed: nothing written, and two Xero calls per org (the invoices and the
    # payments changed since). If-Modified-Since is
    # whole seconds, so a later cycle reads again what changed in the last cycle's newest
    # second: the clock moves on first, as time does between two real cycles, so that
    # second holds the payments only, not the hundreds of invoices the fixture wrote in
    # it (two pages, three calls, when the fixture and the payments share a second).
    action(xero, "clock", {"advance_seconds": 2})
    pay(xero, partial, "0.01")
    assert run_payment_cycle().written == 1
    action(xero, "clock", {"advance_seconds": 2})
    again = run_payment_cycle()
    calls = [(e.method, e.url) for e in AuditEntry.select().where(
        (AuditEntry.run_id == again.id) & (AuditEntry.api == "xero"))]
    assert again.written == 0 and again.xero_calls == 4, (again.message, calls)
    assert payment_record(partial.cw_id).state == "synced"
    seen = XeroPaymentSeen.select().where(XeroPaymentSeen.cw_invoice_id == partial.cw_id)
    assert sorted(s.amount for s in seen) == [Decimal("0.01"), Decimal("50.25"),
                                              Decimal("100.00")]
    assert all(s.cw_payment_id == only["id"] and s.applied_at for s in seen)
    assert_converged(cw, xero)


def test_a_deleted_payment_in_xero_moves_connectwise_back(synced, cw, xero):
    (record,) = synced_invoices(cw=cw)
    first = pay(xero, record, "200.00")["payment"]
    pay(xero, record, "10.00")
    run_payment_cycle()
    assert cw_payments(cw, record.cw_id)[0]["amount"] == Decimal("210.00")
    delete_payment(xero, record, first["PaymentID"])
    assert run_payment_cycle().written == 1
    assert cw_payments(cw, record.cw_id)[0]["amount"] == Decimal("10.00")
    deleted = XeroPaymentSeen.get(XeroPaymentSeen.xero_id == first["PaymentID"])
    assert deleted.status == "DELETED"
    # The last one deleted too: Ferry's CW payment is taken back, the invoice open again.
    last = xero_doc(xero, record)["_payments"][-1]
    delete_payment(xero, record, last)
    run_payment_cycle()
    assert cw_payments(cw, record.cw_id) == []
    invoice = cw_invoice(cw, record.cw_id)
    assert invoice["balance"] == invoice["total"]
    assert_converged(cw, xero)


def test_foreign_currency_applies_the_invoice_currency_amount(synced, cw, xero):
    (record,) = synced_invoices(cw=cw, currency="USD")
    doc = xero_doc(xero, record)
    assert doc["CurrencyCode"] == "USD"
    pay(xero, record, "full", currency_rate="0.65")
    run_payment_cycle()
    (only,) = cw_payments(cw, record.cw_id)
    assert only["amount"] == cw_invoice(cw, record.cw_id)["total"] == doc["Total"]
    assert_converged(cw, xero)


def test_an_overpayment_applies_the_balance_and_the_surplus_is_an_exception(synced, cw, xero):
    (record,) = synced_invoices(cw=cw)
    total = cw_invoice(cw, record.cw_id)["total"]
    answer = pay(xero, record, str(total + Decimal("75.00")))
    run = run_payment_cycle()
    assert cw_invoice(cw, record.cw_id)["balance"] == 0
    assert run.exceptions == 1
    over = [r for r in payment_records_in_exception()]
    assert len(over) == 1 and "overpayment of AUD 75.00" in over[0].problems[0]
    assert "Allocate it in Xero" in over[0].problems[0]
    # A person allocates the surplus to another invoice in Xero: it flows to CW, and
    # the exception resolves.
    other = next(r for r in synced_invoices(cw=cw, n=20, skip={record.cw_id})
                 if xero_doc(xero, r)["CurrencyCode"] == "AUD"
                 and org_of(xero, r).name == org_of(xero, record).name)
    action(xero, "xero/allocate", {
        "org": org_of(xero, record).name,
        "overpayment_id": answer["overpayment"]["OverpaymentID"],
        "invoice_id": other.xero_id, "amount": "75.00"})
    run_payment_cycle()
    assert cw_payments(cw, other.cw_id)[0]["amount"] == Decimal("75.00")
    assert payment_records_in_exception() == []
    kinds = {s.kind for s in XeroPaymentSeen.select().where(
        XeroPaymentSeen.cw_invoice_id == other.cw_id)}
    assert kinds == {"overpayment"}
    assert_converged(cw, xero)


def test_a_prepayment_is_an_exception_until_allocated(synced, cw, xero):
    (record,) = synced_invoices(cw=cw)
    org = org_of(xero, record).name
    made = action(xero, "xero/prepay", {"org": org, "invoice_number": record.cw_number,
                                        "amount": "60.00"})
    run = run_payment_cycle()
    assert run.exceptions == 1
    assert "prepayment of AUD 60.00" in payment_records_in_exception()[0].problems[0]
    action(xero, "xero/allocate", {"org": org, "prepayment_id": made["PrepaymentID"],
                                   "invoice_id": record.xero_id, "amount": "60.00"})
    run_payment_cycle()
    assert cw_payments(cw, record.cw_id)[0]["amount"] == Decimal("60.00")
    assert payment_records_in_exception() == []
    assert_converged(cw, xero)


def test_a_payment_on_an_invoice_ferry_did_not_create_matches_by_number(synced, cw, xero):
    from models import SyncRecord
    (record,) = synced_invoices(cw=cw)
    # Ferry forgets it wrote this one (as if another tool had): rule 2 must find it.
    SyncRecord.update(xero_id=None).where(SyncRecord.id == record.id).execute()
    doc_id = record.xero_id
    org = org_of(xero, record)
    action(xero, "xero/pay", {"org": org.name, "invoice_id": doc_id, "amount": "30.00"})
    run_payment_cycle()
    assert cw_payments(cw, record.cw_id)[0]["amount"] == Decimal("30.00")
    assert PaymentLedger.get(PaymentLedger.cw_invoice_id == record.cw_id).match_rule == \
        "number_customer_amount"


def test_an_unmatched_xero_invoice_and_a_foreign_cw_payment_are_exceptions(synced, cw,
                                                                             xero):
    from models import SyncRecord
    (record, other) = synced_invoices(cw=cw, n=2)
    # Someone recorded a payment by hand in CW: Ferry does not add a second beside it.
    store = cw.app.sandbox.store
    data.add_payment(store, cw_invoice(cw, other.cw_id), Decimal("20.00"),
                     "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", applied_by="jsmith")
    pay(xero, other, "40.00")
    # And a Xero invoice whose number no CW invoice has.
    SyncRecord.update(xero_id=None).where(SyncRecord.id == record.id).execute()
    doc = xero_doc_by_id(xero, record.xero_id)
    doc["InvoiceNumber"] = "XERO-ONLY-1"
    pay(xero, record, "30.00")
    run = run_payment_cycle()
    assert run.exceptions == 2
    texts = " ".join(" ".join(r.problems) for r in payment_records_in_exception())
    assert "ConnectWise has no invoice numbered XERO-ONLY-1" in texts
    assert "already has a payment of AUD 20.00 that Ferry did not apply" in texts
    assert len(cw_payments(cw, other.cw_id)) == 1
    assert cw_payments(cw, other.cw_id)[0]["amount"] == Decimal("20.00")
    # Removing the hand-made payment in CW lets the next cycle apply Xero's.
    (hand_made,) = cw_payments(cw, other.cw_id)
    assert cw.app.sandbox.store is store
    import httpx2
    from sandbox.connectwise import DEFAULTS
    auth = (f"{DEFAULTS['company']}+{DEFAULTS['public_key']}", DEFAULTS["private_key"])
    httpx2.delete(f"{cw.url}/v4_6_release/apis/3.0/finance/invoices/{other.cw_id}/payments/"
                  f"{hand_made['id']}", auth=auth,
                  headers={"clientId": DEFAULTS["client_id"]}).raise_for_status()
    run_payment_cycle()
    assert cw_payments(cw, other.cw_id)[0]["amount"] == Decimal("40.00")
    assert payment_record(other.cw_id).state == "synced"
    assert RecordEvent.select().where(RecordEvent.kind == "resolved").count() >= 1


def test_runs_are_payment_runs_and_the_cli_names_them(synced, cw, xero):
    run_payment_cycle(trigger="cli")
    assert SyncRun.select().where(SyncRun.record_type == "payment").count() == 1


# -- helpers -------------------------------------------------------------------------
def payment_records_in_exception():
    from models import SyncRecord
    return list(SyncRecord.select().where((SyncRecord.record_type == "payment") &
                                          (SyncRecord.state == "exception")))


def xero_doc_by_id(xero, xero_id):
    from .helpers import orgs
    return next(o.invoices[xero_id] for o in orgs(xero).values() if xero_id in o.invoices)



def test_an_overpaid_supplier_bill_is_not_a_customer_payment(synced, cw, xero):
    """Money paid out to a supplier (a SPEND-OVERPAYMENT in Xero) never goes to
    ConnectWise and is no exception: only money customers paid in is Ferry's business."""
    from jobs.cycle import run_cycle
    from models import OrgRecordSetting, SyncRecord
    for org_id in {r.org_id for r in SyncRecord.select(SyncRecord.org)
                   if r.org_id is not None}:
        OrgRecordSetting.insert(org=org_id, record_type="bill", status="AUTHORISED").on_conflict(
            conflict_target=[OrgRecordSetting.org, OrgRecordSetting.record_type],
            update={OrgRecordSetting.status: "AUTHORISED"}).execute()
    assert run_cycle("bill").status == "done"
    bill = SyncRecord.select().where((SyncRecord.record_type == "bill") &
                                     (SyncRecord.state == "synced")).first()
    answer = pay(xero, bill, str(xero_doc(xero, bill)["AmountDue"] + Decimal("40.00")))
    assert answer["overpayment"]["Type"] == "SPEND-OVERPAYMENT"
    run = run_payment_cycle()
    assert run.status == "done" and run.exceptions == 0
    assert payment_records_in_exception() == []


def test_a_payment_is_found_even_if_xero_leaves_its_invoice_unchanged(synced, cw, xero):
    """That a payment moves its invoice's UpdatedDateUTC is assumed (FIDELITY P.3): a
    payment whose invoice keeps its old UpdatedDateUTC is found through /Payments."""
    (record,) = synced_invoices(cw=cw)
    run_payment_cycle()
    action(xero, "clock", {"advance_seconds": 2})
    doc = org_of(xero, record).invoices[record.xero_id]
    before = doc["UpdatedDateUTC"]
    pay(xero, record, "60.00")
    doc["UpdatedDateUTC"] = before
    run = run_payment_cycle()
    assert run.status == "done" and run.written == 1
    assert cw_payments(cw, record.cw_id)[0]["amount"] == Decimal("60.00")
    assert_converged(cw, xero)
