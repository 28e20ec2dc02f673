"""A received CW purchase order (one packing slip) -> Xero ACCPAY bill.

ACCPAY numbers are not unique in Xero (a repeated PUT makes a second bill), so Ferry
finds its own bills by a marker at the end of Reference:
`PO 1234 / slip PS-77 [ferry:po-5001-PS-77]`, where 5001 is CW's purchase order id
(stable where the PO number can be edited) and the slip part is the packing slip, made
safe for a Xero `Reference.Contains(...)` search.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Mapping

from .documents import Draft, Mapped, Unmapped, currency_fields, finish, xero_date
from .lines import SourceLine
from .money import ZERO, cents, to_decimal
from .problems import MissingMapping, Problem
from .routing import RoutingFacts
from .tables import OrgMappings

REFERENCE_LIMIT = 255
_SAFE_SLIP = re.compile(r"[A-Za-z0-9._-]{1,40}")
_MARKER = re.compile(r"\[ferry:(po-\d+(?:-[A-Za-z0-9._~-]+)?)\]")


@dataclass(frozen=True)
class BillSource:
    """What was received on one packing slip of one CW purchase order.

    `line_items` are the PurchaseOrderLineItem records received on this slip;
    `gl_accounts` maps each line's id to the CW GL account it posts to (the GL export's
    purchaseDetail carries it); `due_date` comes from the PO's terms when the jobs layer
    knows them (None lets Xero apply the supplier's default terms)."""
    purchase_order: Mapping
    packing_slip: str
    line_items: tuple[Mapping, ...]
    facts: RoutingFacts
    contact: Mapping
    gl_accounts: Mapping[int, str] = field(default_factory=dict)
    currency_rate: Decimal | None = None
    due_date: date | str | None = None


def bill_marker(po_id: int, packing_slip: str) -> str:
    """`[ferry:po-<id>-<slip>]`; a slip with other characters is shortened and given a
    hash so two different slips never share a marker."""
    slip = (packing_slip or "").strip()
    if not slip:
        return f"[ferry:po-{po_id}]"
    if not _SAFE_SLIP.fullmatch(slip):
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", slip).strip("-")[:24]
        slip = f"{safe}~{hashlib.sha1(slip.encode()).hexdigest()[:8]}"
    return f"[ferry:po-{po_id}-{slip}]"


def marker_in(reference: str | None) -> str | None:
    """The marker Ferry put in a Xero bill's Reference, or None if it is not Ferry's."""
    found = _MARKER.search(reference or "")
    return f"[ferry:{found.group(1)}]" if found else None


def bill_reference(po_number: str, po_id: int, packing_slip: str) -> str:
    marker = bill_marker(po_id, packing_slip)
    human = f"PO {po_number}" + (f" / slip {packing_slip.strip()}" if packing_slip.strip()
                                 else "")
    room = REFERENCE_LIMIT - len(marker) - 1
    if len(human) > room:
        human = human[:room - 1] + "…"
    return f"{human} {marker}"


def map_bill(source: BillSource, mappings: OrgMappings) -> Mapped | Unmapped:
    po = source.purchase_order
    label = f"PO {po.get('poNumber')} slip {source.packing_slip or '(none)'}"
    problems: list[Problem] = []
    tax_code = (po.get("taxCode") or {}).get("name")
    lines, cw_tax = [], ZERO
    for item in source.line_items:
        line, tax = _source_line(item, po, source, tax_code)
        lines.append(line)
        cw_tax += tax
    if not lines:
        problems.append(MissingMapping("data", label, f"CW {label} has no received lines"))
    on = xero_date(po.get("vendorInvoiceDate") or _last_received(source.line_items)
                   or po.get("poDate"))
    currency, currency_problems, notes = currency_fields(
        po.get("currency"), source.currency_rate, mappings, label, on)
    problems += currency_problems
    header = {
        "Type": "ACCPAY", "Contact": dict(source.contact), "Date": on,
        "Reference": bill_reference(str(po.get("poNumber")), po["id"], source.packing_slip),
        **currency}
    if po.get("vendorInvoiceNumber"):
        header["InvoiceNumber"] = str(po["vendorInvoiceNumber"])
    if source.due_date:
        header["DueDate"] = xero_date(source.due_date)
    cw_total = sum((line.total for line in lines), ZERO) + cw_tax
    draft = Draft(label, "bill", "purchases", header, lines, cw_total, cw_tax, problems,
                  notes)
    return finish(draft, source.facts, mappings)


def _source_line(item: Mapping, po: Mapping, source: BillSource, tax_code: str | None):
    """The line as received, and its share of CW's line tax (CW's `tax` is for the
    quantity ordered; a partial receipt carries the received share of it)."""
    ordered = to_decimal(item.get("quantity"))
    received = to_decimal(item["receivedQuantity"] if item.get("receivedQuantity") is not None
                          else item.get("quantity"))
    price = to_decimal(item.get("unitCost"))
    tax = to_decimal(item.get("tax"))
    if ordered and received != ordered:
        tax = cents(tax * received / ordered)
    line = SourceLine(
        description=item.get("description") or "", quantity=received, unit_price=price,
        total=cents(received * price), gl_account=source.gl_accounts.get(item.get("id"), ""),
        tax_code=tax_code,
        taxable=po.get("taxPoFlag") is not False and bool(tax_code),
        item=(item.get("product") or {}).get("identifier"))
    return line, cents(tax)


def _last_received(line_items) -> str | None:
    dates = [item["dateReceived"] for item in line_items if item.get("dateReceived")]
    return max(dates) if dates else None
