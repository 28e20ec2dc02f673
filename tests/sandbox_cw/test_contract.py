"""Every body the sandbox serves validates against ConnectWise's own model schemas
(manage-models.schema.json), with unknown keys rejected: a field the real API does not
have would let Ferry's client depend on something that is not there."""
import copy
import json

import pytest
from jsonschema import Draft202012Validator

from tests.reference import reference_file

from .conftest import body

# Fields the sandbox serves that the reference schema (pyconnectwise 0.6.1.2 models)
# lacks, each with the reason it is there.
EXTRA_FIELDS: dict = {}   # none: e.g. Payment has no external-id key (FIDELITY.md)


def _strict(node):
    """Forbid keys a schema does not name, everywhere a schema lists properties."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)
    return node


@pytest.fixture(scope="module")
def schemas():
    with open(reference_file("connectwise/manage-models.schema.json")) as fh:
        return json.load(fh)


def validator(schemas, model: str, many: bool = False) -> Draft202012Validator:
    schema = copy.deepcopy(schemas[model])
    schema["properties"].update(EXTRA_FIELDS.get(model, {}))
    _strict(schema)
    if many:
        schema = {"$defs": schema.pop("$defs", {}), "type": "array",
                  "items": schema, "minItems": 1}
    return Draft202012Validator(schema)


def assert_valid(schemas, model: str, data, many: bool = False) -> None:
    errors = sorted(validator(schemas, model, many).iter_errors(data), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


LISTS = [
    ("company/companies", "Company"), ("company/contacts", "Contact"),
    ("system/locations", "Location"), ("system/departments", "Department"),
    ("system/members", "Member"), ("finance/taxCodes", "TaxCode"),
    ("finance/currencies", "FinanceCurrency"), ("finance/glAccounts", "GLAccount"),
    ("finance/invoices", "Invoice"), ("procurement/purchaseorders", "PurchaseOrder"),
    ("expense/entries", "ExpenseEntry"),
    ("finance/accounting/unpostedinvoices", "UnpostedInvoice"),
    ("finance/accounting/unpostedprocurement", "UnpostedProcurement"),
    ("finance/accounting/unpostedexpenses", "UnpostedExpense"),
]


@pytest.mark.parametrize("path,model", LISTS)
def test_every_list_row_matches_the_model(cw, schemas, path, model):
    response = cw.client.get(path, params={"pageSize": 1000})
    assert response.status_code == 200
    assert_valid(schemas, model, response.json(), many=True)


@pytest.mark.parametrize("path,model", [p for p in LISTS if "unposted" not in p[0]])
def test_single_records_match_the_model(cw, schemas, path, model):
    first = cw.client.get(path, params={"pageSize": 1}).json()[0]
    response = cw.client.get(f"{path}/{first['id']}")
    assert response.status_code == 200
    assert_valid(schemas, model, response.json())


def test_every_invoice_type_is_served_and_valid(cw, schemas):
    rows = cw.client.get("finance/invoices", params={"pageSize": 1000}).json()
    assert {r["type"] for r in rows} == {"Standard", "Agreement", "CreditMemo", "DownPayment",
                                         "Miscellaneous", "Progress"}


def test_purchase_order_lines_match_the_model(cw, schemas):
    pos = cw.client.get("procurement/purchaseorders", params={"pageSize": 5}).json()
    for po in pos:
        lines = cw.client.get(f"procurement/purchaseorders/{po['id']}/lineitems").json()
        assert_valid(schemas, "PurchaseOrderLineItem", lines, many=True)


def test_payments_match_the_model(fresh, schemas):
    paid = fresh.client.get("finance/invoices", params={
        "conditions": "payments > 0", "pageSize": 1}).json()[0]
    assert_valid(schemas, "Payment",
                 fresh.client.get(f"finance/invoices/{paid['id']}/payments").json(), many=True)
    open_ = fresh.client.get("finance/invoices", params={
        "conditions": 'balance > 100 and type != "CreditMemo"', "pageSize": 1}).json()[0]
    created = fresh.client.post(f"finance/invoices/{open_['id']}/payments", json={
        "type": "Payment", "amount": 10, "paymentDate": "2026-10-30T00:00:00Z"})
    assert created.status_code == 201
    assert_valid(schemas, "Payment", created.json())


def test_gl_export_matches_the_model(cw, schemas):
    response = cw.client.post("finance/accounting/export", json={
        "batchIdentifier": "PREVIEW", "glInterfaceIdentifier": "Ferry",
        "summarizeInvoices": "Detailed", "exportInvoicesFlag": True,
        "exportProductsFlag": True, "exportExpensesFlag": True})
    assert response.status_code == 200
    export = response.json()
    assert export["transactions"] and export["purchaseTransactions"] and export["expenses"]
    assert_valid(schemas, "GLExport", export)


def test_export_request_and_batches_match_the_models(fresh, schemas):
    request = {"batchIdentifier": "B1", "glInterfaceIdentifier": "Ferry",
               "summarizeInvoices": "Condensed", "exportInvoicesFlag": True,
               "includedInvoiceIds": [], "thruDate": "2026-10-31T00:00:00Z"}
    assert_valid(schemas, "ExportAccountingBatchRequest", request)
    export = fresh.client.post("finance/accounting/export", json=request).json()
    tx = export["transactions"][0]
    ids = [int(i) for i in tx["glEntryIds"].split(",")] + [d["id"] for d in tx["detail"]]
    batch_request = {"batchIdentifier": "B1", "processedRecordIds": ids,
                     "exportInvoicesFlag": True}
    assert_valid(schemas, "CreateAccountingBatchRequest", batch_request)
    created = fresh.client.post("finance/accounting/batches", json=batch_request)
    assert created.status_code == 201
    assert_valid(schemas, "AccountingBatch", created.json())
    assert_valid(schemas, "AccountingBatch",
                 fresh.client.get("finance/accounting/batches").json(), many=True)


def test_callbacks_match_the_model(fresh, schemas):
    created = fresh.client.post("system/callbacks", json={
        "url": "https://ferry.example/hooks/cw", "type": "invoice", "level": "owner",
        "objectId": 1, "description": "Ferry"})
    assert created.status_code == 201
    assert_valid(schemas, "CallbackEntry", created.json())
    assert_valid(schemas, "CallbackEntry", fresh.client.get("system/callbacks").json(),
                 many=True)


def test_error_bodies_have_cw_shape(cw):
    response = cw.client.get("finance/invoices", params={"conditions": "nosuchfield = 1"})
    assert response.status_code == 400
    error = body(response)
    assert set(error) == {"code", "message", "errors"}
    assert set(error["errors"][0]) == {"code", "message", "resource", "field"}
    missing = cw.client.get("finance/invoices/999999")
    assert missing.status_code == 404
    assert body(missing) == {"code": "NotFound", "message": "Invoice with id 999999 not found"}
