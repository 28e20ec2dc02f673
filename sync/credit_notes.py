"""CW credit memo -> Xero ACCRECCREDIT credit note, and its allocation to the invoice
it credits (CW's applyToId)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from .documents import Mapped, Unmapped, finish, xero_date
from .money import cents
from .sales import SalesSource, draft_from_transaction
from .tables import OrgMappings


def map_credit_note(source: SalesSource, mappings: OrgMappings) -> Mapped | Unmapped:
    """The ACCRECCREDIT payload, amounts positive. Reference is the customer PO, else
    the number of the CW invoice it credits."""
    txn = source.transaction
    label = f"credit memo {txn.get('documentNumber')}"
    draft = draft_from_transaction(source, mappings, "credit_note", label)
    draft.header.update({"Type": "ACCRECCREDIT",
                         "CreditNoteNumber": str(txn.get("documentNumber"))})
    reference = (source.invoice.get("customerPO") or "").strip()
    if not reference and source.applies_to_number:
        reference = f"Credit for invoice {source.applies_to_number}"
    if reference:
        draft.header["Reference"] = reference
    return finish(draft, source.facts, mappings)


def allocation(remaining_credit: Decimal, invoice_id: str, invoice_amount_due: Decimal,
               on: date | str) -> dict | None:
    """The body of PUT /CreditNotes/{id}/Allocations for the invoice CW credited.

    Allocates what the invoice still owes, at most the credit note's remaining credit;
    None when there is nothing to allocate."""
    amount = min(cents(remaining_credit), cents(invoice_amount_due))
    if amount <= 0:
        return None
    return {"Amount": amount, "Invoice": {"InvoiceID": invoice_id}, "Date": xero_date(on)}
