"""CW credit memos -> ACCRECCREDIT payloads (positive amounts) and allocations."""
from decimal import Decimal as D

from sync.credit_notes import allocation, map_credit_note
from sync.invoices import map_sales_transaction
from sync.sales import SalesSource

from .cw import CONTACT, facts, invoice, line, mappings, tax_line, transaction


def credit_memo(number="10260"):
    txn = transaction(number, [line("4200", "Credit: Onsite labour", "2", "-82.50"),
                               tax_line("-16.50")], doc_type="CREDIT MEMO")
    return SalesSource(txn, invoice(number, type_="CreditMemo", apply_to=231), facts(),
                       CONTACT, applies_to_number="10231")


def test_credit_memo_maps_to_a_positive_credit_note():
    result = map_credit_note(credit_memo(), mappings())
    assert result.payload == {
        "Type": "ACCRECCREDIT", "Contact": CONTACT, "CreditNoteNumber": "10260",
        "Date": "2026-03-04", "Reference": "Credit for invoice 10231", "CurrencyCode": "AUD",
        "Status": "DRAFT", "LineAmountTypes": "Exclusive",
        "LineItems": [{"Description": "Credit: Onsite labour", "Quantity": D(2),
                       "UnitAmount": D("82.5"), "AccountCode": "220", "TaxType": "OUTPUT",
                       "Tracking": [{"Name": "Office", "Option": "Sydney"},
                                    {"Name": "Department", "Option": "Managed Services"}]}]}
    assert result.cw_total == D("181.50")
    assert result.rounding == D("0.00")


def test_document_type_chooses_the_mapper():
    assert map_sales_transaction(credit_memo(), mappings()).payload["Type"] == "ACCRECCREDIT"


def test_customer_po_wins_over_the_credited_invoice_number():
    source = credit_memo()
    source = SalesSource(source.transaction, {**source.invoice, "customerPO": "PO99"},
                         source.facts, CONTACT)
    assert map_credit_note(source, mappings()).payload["Reference"] == "PO99"


def test_allocation_is_capped_by_what_the_invoice_still_owes():
    assert allocation(D("181.50"), "inv-1", D("100.00"), "2026-03-04T00:00:00Z") == {
        "Amount": D("100.00"), "Invoice": {"InvoiceID": "inv-1"}, "Date": "2026-03-04"}
    assert allocation(D("181.50"), "inv-1", D("500.00"), "2026-03-04")["Amount"] == D("181.50")


def test_nothing_to_allocate_against_a_settled_invoice():
    assert allocation(D("181.50"), "inv-1", D("0.00"), "2026-03-04") is None
