"""Every payload sync/ produces uses only properties of the matching schema in Xero's
OpenAPI spec, with the schema's types, enums and lengths.

The spec declares few required fields and forbids no unknown keys, so this test adds
the key check itself."""
import uuid
from decimal import Decimal as D

import pytest

from sync.bills import BillSource, map_bill
from sync.contacts import contact_payload
from sync.credit_notes import allocation
from sync.invoices import map_sales_transaction
from sync.sales import SalesSource
from sync.updates import as_update

from .cw import CONTACT, USD, facts, invoice, line, mappings, tax_line, transaction
from .test_bills import VENDOR, detail, purchase, tax
from .test_contacts import BILLING, COMPANY
from .xero_schema import check


def sales_payloads():
    export = {"id": 4, "name": "EXPORT"}
    rows = [
        (transaction("10400", [line("4000", "Support", "1", "33.33"),
                               line("4000", "Support", "2", "33.3333"),
                               line("4100", "Laptop", "1", "1500", item={"identifier":
                                                                           "LAPTOP-14"}),
                               tax_line("160.00")]), {}),
        (transaction("10401", [line("4200", "Consulting", "3", "150", taxCode=export)],
                     currency=USD, tax_code=export), {"currency_rate": D("1.5310")}),
        (transaction("10403", [line("4200", "Consulting", "3", "150", taxCode=export)],
                     currency=USD, tax_code=export), {}),
        (transaction("10402", [line("4200", "Credit", "1", "-82.50"), tax_line("-8.25")],
                     doc_type="CREDIT MEMO"), {"applies_to_number": "10231"}),
    ]
    for txn, more in rows:
        result = map_sales_transaction(SalesSource(txn, invoice(txn["documentNumber"],
                                                                customer_po="PO1"),
                                                   facts(), CONTACT, **more), mappings())
        yield result.payload


def test_invoice_and_credit_note_payloads_fit_the_spec(schemas):
    for payload in sales_payloads():
        name = "CreditNote" if payload["Type"] == "ACCRECCREDIT" else "Invoice"
        check(payload, {"$ref": name}, schemas)


def test_bill_payload_fits_the_invoice_schema(schemas):
    txn = purchase([detail(1, 1, "Dock", "2", "189.9950")], [tax(2, 1, "38.00")])
    result = map_bill(BillSource(txn, facts("bills"), VENDOR), mappings())
    check(result.payload, {"$ref": "Invoice"}, schemas)


def test_update_payload_fits_the_spec(schemas):
    payload = next(sales_payloads())
    line_id = str(uuid.uuid4())
    update = as_update(payload, "InvoiceID", str(uuid.uuid4()),
                       [{"LineItemID": line_id, "Description": "Support", "AccountCode": "200"}])
    check(update, {"$ref": "Invoice"}, schemas)


def test_contact_payloads_fit_the_spec(schemas):
    check(contact_payload(COMPANY, BILLING), {"$ref": "Contact"}, schemas)
    check(contact_payload({"identifier": "V1", "name": "Vendor"}, None),
          {"$ref": "Contact"}, schemas)


def test_allocation_fits_the_spec(schemas):
    body = allocation(D("10.00"), str(uuid.uuid4()), D("50.00"), "2026-03-04")
    check(body, {"$ref": "Allocation"}, schemas)
    assert set(schemas["Allocation"]["required"]) <= set(body)


def test_the_checker_catches_unknown_keys_and_wrong_types(schemas):
    with pytest.raises(AssertionError, match="not a property"):
        check({"Type": "ACCREC", "Lines": []}, {"$ref": "Invoice"}, schemas)
    with pytest.raises(AssertionError, match="not in"):
        check({"Type": "BILL"}, {"$ref": "Invoice"}, schemas)
    with pytest.raises(AssertionError, match="Decimal number"):
        check({"LineItems": [{"UnitAmount": "12.5"}]}, {"$ref": "Invoice"}, schemas)
