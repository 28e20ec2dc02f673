"""A CW GL export transaction (invoice or credit memo) read into a `Draft`.

The export's detail lines hold the revenue lines, the sales tax line (glTypeId "ST")
and sometimes the AR control line. Xero computes tax itself from each line's TaxType,
so tax lines are not written; their total is CW's tax, used to check Xero's. Control
lines are the other side of the entry and are skipped.

Amounts carry ledger signs (sandbox/FIDELITY.md 1.2, from the Zynk GLExport samples):
the transaction `total` is the AR side and the detail lines the other side, so the
lines sum to minus the total. An INVOICE has a positive total and negative lines
(quantity -1, itemPrice 10, total -10); a CREDIT MEMO the opposite. Xero wants both
documents positive, so a line's document amount is -total x the document's sign.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from .documents import Draft, currency_fields, xero_date
from .lines import SourceLine
from .money import ZERO, to_decimal
from .problems import MissingMapping, Problem
from .routing import RoutingFacts
from .tables import OrgMappings

SALES_TAX = "ST"
CONTROL = {"AR", "AP"}


@dataclass(frozen=True)
class SalesSource:
    """One CW sales document as the jobs layer read it.

    `transaction` is the GLExport transaction; `invoice` the CW Invoice record (for
    customerPO and applyToId); `contact` the Xero contact reference to write, e.g.
    {"ContactID": "..."}; `currency_rate` a known rate, base currency per unit of the
    invoice's currency (CW records none, so None lets Xero apply its day rate); `applies_to_number` the CW number of the invoice a credit memo
    credits, when CW says which."""
    transaction: Mapping
    invoice: Mapping
    facts: RoutingFacts
    contact: Mapping
    currency_rate: Decimal | None = None
    applies_to_number: str | None = None


def is_credit_memo(transaction: Mapping) -> bool:
    return (transaction.get("documentType") or "").upper() == "CREDIT MEMO"


def document_sign(transaction: Mapping) -> Decimal:
    """+1 for an INVOICE (its total is positive), -1 for a CREDIT MEMO (negative)."""
    return Decimal(-1) if is_credit_memo(transaction) else Decimal(1)


def draft_from_transaction(source: SalesSource, mappings: OrgMappings, record_type: str,
                           label: str) -> Draft:
    txn = source.transaction
    problems: list[Problem] = []
    detail = [d for d in txn.get("detail") or () if not _is_control(d, txn)]
    revenue = [d for d in detail if d.get("glTypeId") != SALES_TAX]
    sign = document_sign(txn)
    # The ledger side of the lines is the opposite of the document's.
    line_sign = -sign
    cw_tax = sum((to_decimal(d.get("total")) for d in detail
                  if d.get("glTypeId") == SALES_TAX), ZERO) * line_sign
    total = (to_decimal(txn["total"]) * sign if txn.get("total") is not None
             else sum((to_decimal(d.get("total")) for d in detail), ZERO) * line_sign)
    if total < 0 and sign > 0:
        problems.append(MissingMapping("data", str(txn.get("documentNumber")), (
            f"ConnectWise {label} totals {total}; Xero does not accept invoices below zero. "
            "Raise it as a credit memo in ConnectWise")))
    elif total < 0:
        problems.append(MissingMapping("data", str(txn.get("documentNumber")), (
            f"ConnectWise {label} adds {-total} to what the customer owes; Xero does not accept "
            "credit notes below zero. Raise it as an invoice in ConnectWise")))
    if not revenue:
        problems.append(MissingMapping("data", str(txn.get("documentNumber")),
                                       f"ConnectWise {label} has no lines to write to Xero"))
    default_code = (txn.get("taxCode") or {}).get("name")
    lines = [_source_line(d, default_code, line_sign) for d in revenue]
    on = xero_date(txn.get("documentDate"), "documentDate")
    currency, currency_problems, notes = currency_fields(
        txn.get("currency"), source.currency_rate, mappings, label, on)
    problems += currency_problems
    header = {"Contact": dict(source.contact), "Date": on, **currency}
    return Draft(label, record_type, "sales", header, lines, total, cw_tax, problems, notes)


def _is_control(line: Mapping, txn: Mapping) -> bool:
    if line.get("glTypeId") in CONTROL:
        return True
    if line.get("glTypeId") == SALES_TAX:
        return False        # the REST sample posts its ST line to the AR account (9999)
    return (txn.get("glTypeId") in CONTROL and bool(txn.get("accountNumber"))
            and line.get("accountNumber") == txn.get("accountNumber"))


def _source_line(line: Mapping, default_code: str | None, sign: Decimal) -> SourceLine:
    """The line in document terms: its amount is sign x CW's total. CW's itemPrice is
    positive whatever the side (the quantity carries the sign), so the quantity takes
    the sign and the price keeps its own; lines.build_line_items writes 1 x amount when
    quantity x price is not the amount."""
    code = (line.get("taxCode") or {}).get("name") or default_code
    item = (line.get("item") or {}).get("identifier")
    amount = to_decimal(line.get("total")) * sign
    quantity = to_decimal(line.get("quantity") if line.get("quantity") is not None else 1)
    price = to_decimal(line.get("itemPrice"))
    quantity = quantity * sign
    if quantity * price != amount and -quantity * price == amount:
        quantity = -quantity
    return SourceLine(
        description=line.get("description") or line.get("itemDescription") or "",
        quantity=quantity,
        unit_price=price,
        total=amount,
        gl_account=line.get("accountNumber") or "",
        tax_code=code,
        taxable=line.get("taxableFlag") is not False,
        item=item)
