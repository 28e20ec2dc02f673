"""A CW purchase transaction (one purchase order and packing slip, as the GL export
gives it) -> Xero ACCPAY bill.

Signs (sandbox/FIDELITY.md 1.3, from the Zynk GLExport sample): the transaction `total`
is positive (the AP side) and its `purchaseDetail` lines are the other side, negative:
quantity -50, itemCost 0.25, total -12.5. A bill line is written positive: quantity
-quantity at itemCost, amount -total.

How Ferry finds its bill again: Xero drops `Reference` on ACCPAY (the spec: "ACCREC
only"; XeroAPI/xero-mcp-server pull request 121) and keeps `InvoiceNumber`, which the
Xero app shows as the bill's reference. ACCPAY numbers need not be unique, so Ferry
writes a number that is: the supplier's invoice number followed by the bill's key,
`INV-88123 (PO 1234 slip PS-77)`, or the key alone when CW has no supplier invoice
number. The key (CW's PO number and packing slip, one purchase transaction each) is
what the look-up before a re-write searches for.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from .documents import (Draft, Mapped, Unmapped, currency_fields, due_date, finish,
                        no_due_date, xero_date)
from .lines import SourceLine
from .money import ZERO, to_decimal
from .problems import MissingMapping, Problem
from .routing import RoutingFacts
from .tables import OrgMappings

NUMBER_LIMIT = 255


@dataclass(frozen=True)
class BillSource:
    """One purchase transaction of CW's GL export as the jobs layer read it.

    `contact` is the Xero contact reference to write; `vendor_due_days` the vendor's
    due days from the export's `vendors[]`, for a transaction that carries none;
    `currency_rate` a known rate (CW records none)."""
    transaction: Mapping
    facts: RoutingFacts
    contact: Mapping
    vendor_due_days: int | str | None = None
    currency_rate: Decimal | None = None


def bill_key(transaction: Mapping) -> str:
    """`PO 1234 slip PS-77`: the bill's identity, from the transaction's documented
    `documentNumber` (the PO number) and `packingSlip`, never from its `id`."""
    po = str(transaction.get("documentNumber") or "").strip()
    slip = str(transaction.get("packingSlip") or "").strip()
    return f"PO {po}" + (f" slip {slip}" if slip else "")


def bill_number(transaction: Mapping) -> str:
    """The ACCPAY InvoiceNumber: supplier invoice number, then the key in brackets."""
    key = bill_key(transaction)
    supplier = str(transaction.get("vendorInvoiceNumber") or "").strip()
    if not supplier:
        return key[:NUMBER_LIMIT]
    room = NUMBER_LIMIT - len(key) - 3
    if len(supplier) > room:
        supplier = supplier[:max(room - 1, 0)] + "…"
    return f"{supplier} ({key})"


def is_bill_number_for(number: str | None, key: str) -> bool:
    """Whether a Xero bill's InvoiceNumber is the one Ferry writes for `key`."""
    number = number or ""
    return number == key or number.endswith(f"({key})")


def map_bill(source: BillSource, mappings: OrgMappings) -> Mapped | Unmapped:
    txn = source.transaction
    label = bill_key(txn)
    problems: list[Problem] = []
    tax_code = (txn.get("taxCode") or {}).get("name")
    lines = [_source_line(d, tax_code) for d in txn.get("purchaseDetail") or ()]
    if not lines:
        problems.append(MissingMapping("data", label, f"ConnectWise {label} has no received lines"))
    amounts = sum((line.total for line in lines), ZERO)
    total = to_decimal(txn["total"]) if txn.get("total") is not None else None
    taxes = txn.get("purchaseDetailTax") or ()
    if taxes:
        cw_tax = -sum((to_decimal(t.get("total")) for t in taxes), ZERO)
    else:
        cw_tax = (total - amounts) if total is not None else ZERO
    cw_total = total if total is not None else amounts + cw_tax
    if cw_total < 0:
        problems.append(MissingMapping("data", label, (
            f"ConnectWise {label} totals {cw_total}; Xero does not accept bills below zero. "
            "Check the receipt in ConnectWise")))
    field = next((f for f in ("vendorInvoiceDate", "documentDate", "purchaseDate")
                  if txn.get(f)), "documentDate")
    on = xero_date(txn.get(field), field)
    currency, currency_problems, notes = currency_fields(
        txn.get("currency"), source.currency_rate, mappings, label, on)
    problems += currency_problems
    header = {"Type": "ACCPAY", "Contact": dict(source.contact), "Date": on,
              "InvoiceNumber": bill_number(txn), **currency}
    due = due_date(None, on, txn.get("dueDays") if txn.get("dueDays") is not None
                   else source.vendor_due_days)
    if due:
        header["DueDate"] = due
    else:
        problems.append(no_due_date(label))
    draft = Draft(label, "bill", "purchases", header, lines, cw_total, cw_tax, problems,
                  notes)
    return finish(draft, source.facts, mappings)


def _source_line(detail: Mapping, tax_code: str | None) -> SourceLine:
    """A purchaseDetail line, positive. The debit side of a receipt is the item's cost
    account (`costAccountNumber`); `accountNumber` is used when CW leaves it empty."""
    amount = -to_decimal(detail.get("total"))
    quantity = -to_decimal(detail.get("quantity") if detail.get("quantity") is not None
                           else -1)
    price = to_decimal(detail.get("itemCost"))
    if quantity * price != amount and -quantity * price == amount:
        quantity = -quantity
    item = (detail.get("item") or {}).get("identifier")
    return SourceLine(
        description=(detail.get("itemDescription") or detail.get("memo")
                     or detail.get("description") or ""),
        quantity=quantity, unit_price=price, total=amount,
        gl_account=str(detail.get("costAccountNumber") or detail.get("accountNumber") or ""),
        tax_code=(detail.get("taxCode") or {}).get("name") or tax_code,
        taxable=detail.get("taxable") is not False and bool(tax_code),
        item=item)
