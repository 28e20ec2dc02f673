"""A CW GL export transaction (invoice or credit memo) read into a `Draft`.

The export's detail lines hold the revenue lines, the sales tax line (glTypeId "ST")
and sometimes the AR control line. Xero computes tax itself from each line's TaxType,
so tax lines are not written; their total is CW's tax, used to check Xero's. Control
lines are the other side of the entry and are skipped.
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


def draft_from_transaction(source: SalesSource, mappings: OrgMappings, record_type: str,
                           label: str) -> Draft:
    txn = source.transaction
    problems: list[Problem] = []
    detail = [d for d in txn.get("detail") or () if not _is_control(d, txn)]
    revenue = [d for d in detail if d.get("glTypeId") != SALES_TAX]
    cw_tax = sum((to_decimal(d.get("total")) for d in detail
                  if d.get("glTypeId") == SALES_TAX), ZERO)
    total = (to_decimal(txn["total"]) if txn.get("total") is not None
             else sum((to_decimal(d.get("total")) for d in detail), ZERO))
    # Credit memos arrive negative in CW; Xero credit notes are written positive.
    sign = Decimal(-1) if record_type == "credit_note" and total < 0 else Decimal(1)
    if record_type == "invoice" and total < 0:
        problems.append(MissingMapping("data", str(txn.get("documentNumber")), (
            f"CW {label} totals {total}; Xero does not accept invoices below zero. "
            "Raise it as a credit memo in ConnectWise")))
    if not revenue:
        problems.append(MissingMapping("data", str(txn.get("documentNumber")),
                                       f"CW {label} has no lines to write to Xero"))
    default_code = (txn.get("taxCode") or {}).get("name")
    lines = [_source_line(d, default_code, sign) for d in revenue]
    on = xero_date(txn.get("documentDate"))
    currency, currency_problems, notes = currency_fields(
        txn.get("currency"), source.currency_rate, mappings, label, on)
    problems += currency_problems
    header = {"Contact": dict(source.contact), "Date": on, **currency}
    return Draft(label, record_type, "sales", header, lines, total * sign, cw_tax * sign,
                 problems, notes)


def _is_control(line: Mapping, txn: Mapping) -> bool:
    if line.get("glTypeId") in CONTROL:
        return True
    return (txn.get("glTypeId") in CONTROL and bool(txn.get("accountNumber"))
            and line.get("accountNumber") == txn.get("accountNumber"))


def _source_line(line: Mapping, default_code: str | None, sign: Decimal) -> SourceLine:
    code = (line.get("taxCode") or {}).get("name") or default_code
    item = (line.get("item") or {}).get("identifier")
    return SourceLine(
        description=line.get("description") or line.get("itemDescription") or "",
        quantity=to_decimal(line.get("quantity") if line.get("quantity") is not None else 1),
        unit_price=to_decimal(line.get("itemPrice")) * sign,
        total=to_decimal(line.get("total")) * sign,
        gl_account=line.get("accountNumber") or "",
        tax_code=code,
        taxable=line.get("taxableFlag") is not False,
        item=item)
