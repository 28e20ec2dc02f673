"""Ferry's own ConnectWise client, held to ConnectWise's models: every body it sends and
every record it gets back, as the sandbox's journal saw them on the wire, validated
against manage-models.schema.json with unknown keys rejected."""
import json
import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.reference import reference_file
from tests.sandbox_cw.test_contract import assert_valid

API = re.compile(r"^/v4_6_release/apis/3\.0/(?P<path>.+)$")
# Path (ids as {id}) -> the model of one record in its answer.
ANSWERS = {
    "company/companies": "Company", "company/contacts": "Contact",
    "system/locations": "Location", "system/departments": "Department",
    "system/members": "Member", "finance/taxCodes": "TaxCode",
    "finance/currencies": "FinanceCurrency", "finance/glAccounts": "GLAccount",
    "finance/invoices": "Invoice", "finance/invoices/{id}": "Invoice",
    "finance/invoices/{id}/payments": "Payment",
    "finance/accounting/unpostedinvoices": "UnpostedInvoice",
    "finance/accounting/unpostedprocurement": "UnpostedProcurement",
    "finance/accounting/unpostedexpenses": "UnpostedExpense",
    "finance/accounting/export": "GLExport",
    "finance/accounting/batches": "AccountingBatch",
    "procurement/purchaseorders": "PurchaseOrder",
    "procurement/purchaseorders/{id}/lineitems": "PurchaseOrderLineItem",
    "expense/entries": "ExpenseEntry",
}
REQUESTS = {
    "finance/accounting/export": "ExportAccountingBatchRequest",
    "finance/accounting/batches": "CreateAccountingBatchRequest",
    "finance/invoices/{id}/payments": "Payment",
}


@pytest.fixture(scope="module")
def schemas():
    with open(reference_file("connectwise/manage-models.schema.json")) as fh:
        return json.load(fh)


def test_every_client_exchange_matches_the_models(cw, schemas):
    client = cw.client()
    for read in (client.companies, client.contacts, client.locations, client.departments,
                 client.members, client.tax_codes, client.currencies, client.gl_accounts,
                 client.unposted_invoices, client.unposted_procurement,
                 client.unposted_expenses, client.expense_entries):
        list(read())
    invoices = list(client.invoices_changed_since(datetime(2026, 6, 1, tzinfo=timezone.utc)))
    client.invoice(invoices[0]["id"])
    unposted = list(client.unposted_invoices())
    preview = client.export_preview({
        "batchIdentifier": "ferry-contract", "exportInvoicesFlag": True,
        "includedInvoiceIds": [u["id"] for u in unposted[:5]], "summarizeInvoices": "Detailed"})
    # glEntryIds is a comma-separated string in the GLExport model.
    posted = [int(preview["transactions"][0]["glEntryIds"].split(",")[0])]
    # "Batch must export Invoices, Expenses or Products": the flag of what is posted.
    client.create_accounting_batch({"batchIdentifier": "ferry-contract",
                                    "exportInvoicesFlag": True,
                                    "processedRecordIds": posted})
    target = next(i for i in invoices if i["balance"] > 0)
    client.create_invoice_payment(target["id"], {
        "type": "P", "amount": Decimal("10.00"), "paymentDate": "2026-11-02T00:00:00Z"})
    client.invoice_payments(target["id"])
    order = next(iter(client.purchase_orders()))
    client.purchase_order_lines(order["id"])

    checked = 0
    for entry in cw.journal(path="/v4_6_release/apis/3.0/*"):
        path = re.sub(r"/\d+(?=/|$)", "/{id}", API.match(entry["path"])["path"])
        if entry["body"] is not None:
            assert_valid(schemas, REQUESTS[path], entry["body"])
        answer = entry["response"]
        assert entry["status"] < 400, entry
        rows = answer if isinstance(answer, list) else [answer]
        for row in rows:
            assert_valid(schemas, ANSWERS[path], row)
            checked += 1
    assert checked > 1000
