"""CW invoice (GL export transaction of type INVOICE) -> Xero ACCREC invoice."""
from __future__ import annotations

from typing import Mapping

from .credit_notes import map_credit_note
from .documents import Mapped, Unmapped, due_date, finish, no_due_date
from .sales import SalesSource, draft_from_transaction, is_credit_memo
from .tables import OrgMappings


def map_invoice(source: SalesSource, mappings: OrgMappings) -> Mapped | Unmapped:
    """The ACCREC payload: number, dates and currency from CW, Reference = customer PO,
    DueDate always."""
    txn = source.transaction
    label = f"invoice {txn.get('documentNumber')}"
    draft = draft_from_transaction(source, mappings, "invoice", label)
    draft.header.update({"Type": "ACCREC", "InvoiceNumber": str(txn.get("documentNumber"))})
    # Xero refuses an AUTHORISED invoice without DueDate ("The document DueDate field
    # must be specified."), so every invoice carries one: CW's due date, else the date
    # plus the billing terms' due days.
    due = (due_date(txn.get("dueDate") or source.invoice.get("dueDate"),
                    draft.header.get("Date"), txn.get("dueDays")))
    if due:
        draft.header["DueDate"] = due
    else:
        draft.problems.append(no_due_date(label))
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
