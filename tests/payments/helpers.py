"""What a person would see in each product, and the invariants after a payment cycle."""
from __future__ import annotations

from decimal import Decimal

import httpx2

from models import PaymentLedger, SyncRecord
from tests.sync_e2e.helpers import action, fault, money, orgs  # noqa: F401


def cw_invoice(cw, cw_id: int) -> dict:
    return cw.app.sandbox.store.table("finance/invoices")[cw_id]


def cw_payments(cw, cw_id: int) -> list[dict]:
    return cw.app.sandbox.store.payments[cw_id]


def xero_doc(xero, record: SyncRecord) -> dict:
    for org in orgs(xero).values():
        if record.xero_id in org.invoices:
            return org.invoices[record.xero_id]
    raise AssertionError(f"{record.cw_number} is not in Xero")


def org_of(xero, record: SyncRecord):
    return next(o for o in orgs(xero).values() if record.xero_id in o.invoices)


def synced_invoices(*, currency: str | None = None, cw=None, n: int = 1,
                    skip: set | None = None) -> list[SyncRecord]:
    """Invoices Ferry wrote to Xero that are open in CW, optionally in a currency."""
    found = []
    for record in SyncRecord.select().where((SyncRecord.record_type == "invoice") &
                                            (SyncRecord.state == "synced")
                                            ).order_by(SyncRecord.cw_id):
        invoice = cw_invoice(cw, record.cw_id)
        if invoice["type"] == "CreditMemo" or invoice["total"] <= 100 or \
                invoice["credits"] != 0 or invoice["payments"] != 0:
            continue
        if currency and invoice["currency"]["currencyCode"] != currency:
            continue
        if skip and record.cw_id in skip:
            continue
        found.append(record)
        if len(found) == n:
            return found
    raise AssertionError("not enough open synced invoices")


def pay(xero, record: SyncRecord, amount="full", **extra) -> dict:
    org = org_of(xero, record)
    return action(xero, "xero/pay", {"org": org.name, "invoice_id": record.xero_id,
                                     "amount": str(amount), **extra})


def delete_payment(xero, record: SyncRecord, payment_id: str) -> dict:
    return action(xero, "xero/delete-payment", {"org": org_of(xero, record).name,
                                                "payment_id": payment_id})


def assert_converged(cw, xero) -> None:
    """For every synced invoice, CW's balance equals Xero's AmountDue (credit notes are
    mirrored both ways), and no CW invoice holds more than one payment."""
    for record in SyncRecord.select().where((SyncRecord.record_type == "invoice") &
                                            (SyncRecord.state == "synced")):
        invoice = cw_invoice(cw, record.cw_id)
        if invoice["type"] == "CreditMemo":
            continue
        doc = xero_doc(xero, record)
        assert len(cw_payments(cw, record.cw_id)) <= 1, record.cw_number
        received = money(doc["AmountPaid"]) + sum(
            (money(a["Amount"]) for a in doc.get("_received", [])), Decimal(0))
        notes = money(doc["AmountCredited"]) - (received - money(doc["AmountPaid"]))
        # What was received agrees on every invoice...
        assert money(invoice["payments"]) == min(received, money(invoice["total"]) -
                                                 money(invoice["credits"])), record.cw_number
        # ...and the balance too, wherever the CW credit memo has reached Xero (a memo
        # still open in CW is credited there at once but synced once closed).
        if money(invoice["credits"]) == notes:
            assert money(invoice["balance"]) == money(doc["AmountDue"]), \
                (record.cw_number, invoice["balance"], doc["AmountDue"])
    for ledger in PaymentLedger.select():
        applied = sum((p["amount"] for p in cw_payments(cw, ledger.cw_invoice_id)),
                      Decimal(0))
        assert money(applied) == money(ledger.applied), ledger.cw_number
        assert ledger.intent is None


def payment_record(cw_id: int) -> SyncRecord:
    return SyncRecord.get((SyncRecord.record_type == "payment") & (SyncRecord.cw_id == cw_id))


__all__ = ["fault", "httpx2"]
