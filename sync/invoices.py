"""CW invoice (GL export transaction of type INVOICE) -> Xero ACCREC invoice."""
from __future__ import annotations

from typing import Mapping

from .credit_notes import map_credit_note
from .documents import Mapped, Unmapped, finish, xero_date
from .sales import SalesSource, draft_from_transaction, is_credit_memo
from .tables import OrgMappings


def map_invoice(source: SalesSource, mappings: OrgMappings) -> Mapped | Unmapped:
    """The ACCREC payload: number, dates and currency from CW, Reference = customer PO."""
    txn = source.transaction
    label = f"invoice {txn.get('documentNumber')}"
    draft = draft_from_transaction(source, mappings, "invoice", label)
    draft.header.update({"Type": "ACCREC", "InvoiceNumber": str(txn.get("documentNumber"))})
    due = xero_date(txn.get("dueDate"))
    if due:
        draft.header["DueDate"] = due
    reference = _customer_po(source.invoice)
    if reference:
        draft.header["Reference"] = reference
    return finish(draft, source.facts, mappings)


def map_sales_transaction(source: SalesSource, mappings: OrgMappings) -> Mapped | Unmapped:
    """An invoice or a credit note, as the transaction's documentType says."""
    if is_credit_memo(source.transaction):
        return map_credit_note(source, mappings)
    return map_invoice(source, mappings)


def _customer_po(invoice: Mapping) -> str | None:
    return (invoice.get("customerPO") or "").strip() or None
