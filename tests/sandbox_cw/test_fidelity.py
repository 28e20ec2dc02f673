"""Contract tests on sample-shaped data: documents with our own values, fed through the
sandbox, must come out of the GL export shaped and signed as ConnectWise's documented
GLExport samples are (zynksoftware/Zynk-Workflow, the REST and the accounting-interface
samples; sandbox/FIDELITY.md section 1), and every body validates against CW's schema.
"""
import re
from datetime import datetime, timedelta
from decimal import Decimal

import httpx2
import pytest

from .conftest import body
from .test_contract import assert_valid, schemas  # noqa: F401  (the fixture)

D = Decimal


def unposted_row(client, invoice_number: str) -> dict:
    rows = body(client.get("finance/accounting/unpostedinvoices", params={
        "conditions": f'invoiceNumber = "{invoice_number}"'}))
    assert len(rows) == 1
    return rows[0]


def export_of(client, request: dict) -> dict:
    response = client.post("finance/accounting/export", json=request)
    assert response.status_code == 200, response.text
    return body(response)


def test_an_invoice_exports_with_the_samples_ledger_signs(fresh, schemas):  # noqa: F811
    """Shaped as the accounting-interface sample (INVOICE 42.00 = −35.00 revenue, −7.00
    sales tax): ours is 4 × 12.50 with 10% GST."""
    client = fresh.client
    invoice = fresh.action("invoices", {"companyName": "Sample Shape Pty Ltd",
                                        "identifier": "SampleShape", "amount": "12.50",
                                        "quantity": 4, "taxCode": "GST"})
    row = unposted_row(client, invoice["invoiceNumber"])
    # The unposted record's own id is not the invoice's; billingLogId names the invoice.
    assert row["billingLogId"] == invoice["id"] and row["id"] != invoice["id"]
    export = export_of(client, {"summarizeInvoices": "Detailed", "exportInvoicesFlag": True,
                                "includedInvoiceIds": [row["id"]]})
    assert_valid(schemas, "GLExport", export)
    [tx] = export["transactions"]
    assert tx["id"] not in (invoice["id"], row["id"])
    assert {k: tx[k] for k in ("documentNumber", "documentType", "glTypeId", "total",
                               "salesTax", "taxableTotal", "dueDays", "billingType")} == {
        "documentNumber": invoice["invoiceNumber"], "documentType": "INVOICE",
        "glTypeId": "AR", "total": D("55.00"), "salesTax": D("5.00"),
        "taxableTotal": D("50.00"), "dueDays": 30, "billingType": "Standard"}
    revenue, tax = tx["detail"]
    assert {k: revenue[k] for k in ("quantity", "itemPrice", "total")} == {
        "quantity": D("-4"), "itemPrice": D("12.50"), "total": D("-50.00")}
    assert {k: tax[k] for k in ("glTypeId", "quantity", "itemPrice", "total", "memo")} == {
        "glTypeId": "ST", "quantity": 0, "itemPrice": 0, "total": D("-5.00"),
        "memo": "Sales Tax"}
    # glEntryIds and the detail ids are disjoint GL entries, as in the REST sample.
    entries = {int(i) for i in tx["glEntryIds"].split(",")}
    assert entries and not entries & {revenue["id"], tax["id"]}


def test_a_credit_memo_is_the_mirror_of_an_invoice(fresh, schemas):  # noqa: F811
    client = fresh.client
    invoice = fresh.action("invoices", {"identifier": "MirrorCo", "amount": "200.00"})
    memo = fresh.action(f"invoices/{invoice['id']}/credit-memo", {"amount": "20.00"})
    row = unposted_row(client, memo["invoiceNumber"])
    export = export_of(client, {"summarizeInvoices": "Detailed",
                                "includedInvoiceIds": [row["id"]]})
    assert_valid(schemas, "GLExport", export)
    [tx] = export["transactions"]
    assert (tx["documentType"], tx["total"], tx["salesTax"]) == (
        "CREDIT MEMO", D("-22.00"), D("-2.00"))
    revenue, tax = tx["detail"]
    assert (revenue["quantity"], revenue["itemPrice"], revenue["total"]) == (
        1, D("20.00"), D("20.00"))
    assert (tax["glTypeId"], tax["total"]) == ("ST", D("2.00"))


def test_an_untaxed_invoice_still_has_its_sales_tax_line(fresh):
    """The REST sample's untaxed invoice carries an ST line of 0."""
    invoice = fresh.action("invoices", {"identifier": "ExportCo", "amount": "80.00",
                                        "taxCode": "EXPORT", "currency": "USD"})
    row = unposted_row(fresh.client, invoice["invoiceNumber"])
    [tx] = export_of(fresh.client, {"includedInvoiceIds": [row["id"]]})["transactions"]
    assert [(d["glTypeId"], d["total"]) for d in tx["detail"]][-1] == ("ST", 0)
    assert tx["total"] == D("80.00") and tx["taxable"] is False


def receive(served, po_id: int, line_id: int, quantity: int, slip: str) -> None:
    served.action(f"purchaseorders/{po_id}/lineitems/{line_id}/receive",
                  {"quantity": quantity, "packingSlip": slip})


def open_po_with_lines(client, count: int) -> tuple[dict, list[dict]]:
    for po in body(client.get("procurement/purchaseorders", params={
            "conditions": "closedFlag = false", "pageSize": 1000})):
        lines = body(client.get(f"procurement/purchaseorders/{po['id']}/lineitems"))
        waiting = [x for x in lines if x["receivedQuantity"] == 0 and x["quantity"] >= 2]
        if len(waiting) >= count:
            return po, waiting
    pytest.skip("no open purchase order with enough unreceived lines in this seed")


def test_receipts_export_as_one_purchase_transaction_per_packing_slip(fresh, schemas):  # noqa: F811
    """Shaped as the REST sample's purchase transaction: id "PO #..., Packing Slip: ...",
    a positive total, detail lines with negative quantity and total, positive itemCost."""
    client = fresh.client
    po, lines = open_po_with_lines(client, 2)
    receive(fresh, po["id"], lines[0]["id"], 1, "SLIP-A")
    receive(fresh, po["id"], lines[1]["id"], 2, "SLIP-A")
    receive(fresh, po["id"], lines[0]["id"], 1, "SLIP-B")
    rows = body(client.get("finance/accounting/unpostedprocurement", params={
        "conditions": f"purchaseOrder/id = {po['id']}", "pageSize": 1000}))
    assert len(rows) == 3
    for row in rows:      # opaque: no "<line id>-<quantity>" a client could parse
        assert not re.fullmatch(r"\d+-\d+", row["unpostedProductId"])
    export = export_of(client, {"exportProductsFlag": True, "exportInvoicesFlag": False,
                                "exportExpensesFlag": False,
                                "includedProductIds": [r["unpostedProductId"] for r in rows]})
    assert_valid(schemas, "GLExport", export)
    assert not export["transactions"] and not export["expenses"]
    by_id = {t["id"]: t for t in export["purchaseTransactions"]}
    assert set(by_id) == {f"PO #{po['poNumber']}, Packing Slip: SLIP-A",
                          f"PO #{po['poNumber']}, Packing Slip: SLIP-B"}
    slip_a = by_id[f"PO #{po['poNumber']}, Packing Slip: SLIP-A"]
    assert (slip_a["documentNumber"], slip_a["packingSlip"], slip_a["dueDays"]) == (
        po["poNumber"], "SLIP-A", 30)
    assert slip_a["vendorInvoiceNumber"] and slip_a["apAccountNumber"]
    details = sorted(slip_a["purchaseDetail"], key=lambda d: d["lineNumber"])
    assert [(d["lineNumber"], d["quantity"]) for d in details] == [
        (lines[0]["lineNumber"], -1), (lines[1]["lineNumber"], -2)]
    net = D(0)
    for detail, line in zip(details, lines):
        assert detail["itemCost"] == line["unitCost"] > 0
        assert detail["total"] == detail["quantity"] * detail["itemCost"] < 0
        assert detail["cost"] == -detail["total"]
        net += detail["cost"]
    tax = -sum(t["total"] for t in slip_a["purchaseDetailTax"])
    assert tax > 0 and slip_a["total"] == net + tax


def test_an_export_without_thru_date_stops_at_today(fresh):
    """"If no value is specified the default used by ConnectWise is the current date"
    (Zynk, Thru Date). An agreement invoice dated next month waits for its date."""
    client = fresh.client
    now = datetime.fromisoformat(httpx2.get(fresh.url + "/_sandbox/clock").json()["now"])
    ahead = (now + timedelta(days=40)).date().isoformat()
    invoice = fresh.action("invoices", {"identifier": "FutureCo", "amount": "300.00",
                                        "type": "Agreement", "date": ahead})
    row = unposted_row(client, invoice["invoiceNumber"])
    request = {"includedInvoiceIds": [row["id"]]}
    assert export_of(client, request)["transactions"] == []
    later = export_of(client, {**request, "thruDate": f"{ahead}T00:00:00Z"})
    assert [t["documentNumber"] for t in later["transactions"]] == [invoice["invoiceNumber"]]
    httpx2.post(fresh.url + "/_sandbox/clock",
                json={"advance_seconds": 41 * 86400}).raise_for_status()
    assert [t["documentNumber"] for t in export_of(client, request)["transactions"]] == [
        invoice["invoiceNumber"]]


def test_a_batch_must_name_what_it_exports(fresh):
    client = fresh.client
    invoice = fresh.action("invoices", {"identifier": "BatchCo", "amount": "10.00"})
    row = unposted_row(client, invoice["invoiceNumber"])
    [tx] = export_of(client, {"includedInvoiceIds": [row["id"]]})["transactions"]
    ids = [int(i) for i in tx["glEntryIds"].split(",")] + [d["id"] for d in tx["detail"]]
    none = client.post("finance/accounting/batches", json={
        "batchIdentifier": "NOFLAG", "processedRecordIds": ids})
    assert none.status_code == 400
    assert body(none)["errors"][0]["message"] == \
        "Batch must export Invoices, Expenses or Products"
    wrong = client.post("finance/accounting/batches", json={
        "batchIdentifier": "WRONGFLAG", "processedRecordIds": ids, "exportProductsFlag": True})
    assert wrong.status_code == 400
    missing = client.post("finance/accounting/batches", json={
        "batchIdentifier": "NOIDS", "exportInvoicesFlag": True})
    assert missing.status_code == 400
    assert body(missing)["errors"][0]["field"] == "processedRecordIds"
    assert unposted_row(client, invoice["invoiceNumber"])      # nothing was posted
    made = client.post("finance/accounting/batches", json={
        "batchIdentifier": "RIGHT", "processedRecordIds": ids, "exportInvoicesFlag": True})
    assert made.status_code == 201
    assert body(made)["exportInvoicesFlag"] is True and body(made)["exportProductsFlag"] is False
    assert body(client.get("finance/accounting/unpostedinvoices", params={
        "conditions": f'invoiceNumber = "{invoice["invoiceNumber"]}"'})) == []


LISTS = ["company/companies", "company/contacts", "system/locations", "system/departments",
         "system/members", "finance/taxCodes", "finance/currencies", "finance/glAccounts",
         "finance/invoices", "procurement/purchaseorders", "expense/entries",
         "finance/accounting/unpostedinvoices", "finance/accounting/unpostedprocurement",
         "finance/accounting/unpostedexpenses"]


@pytest.mark.parametrize("path", LISTS)
def test_last_updated_filters_in_any_case_on_every_list(cw, path):
    """Public clients send `lastUpdated > [...]` and `LastUpdated >= [...]` (amp-labs/
    connectors providers/connectwise/read_test.go); CW reads them as _info/lastUpdated."""
    rows = body(cw.client.get(path, params={"pageSize": 1000, "orderBy": "id"}))
    stamps = sorted(r["_info"]["lastUpdated"] for r in rows)
    middle = stamps[len(stamps) // 2]
    expected = {r["id"] for r in rows if r["_info"]["lastUpdated"] >= middle}
    for text in (f"LastUpdated >= [{middle}]", f"lastupdated >= [{middle}]",
                 f"_info/lastUpdated >= [{middle}]", f"_INFO/LASTUPDATED >= [{middle}]"):
        got = cw.client.get(path, params={"pageSize": 1000, "conditions": text})
        assert got.status_code == 200, (text, got.text)
        assert {r["id"] for r in body(got)} == expected, text


def test_a_later_receipt_keeps_the_vendor_invoice_date_typed_on_the_po(fresh):
    """The PO's vendor invoice date is a person's entry, not moved by each receipt, so a
    second packing slip does not re-date the bills of the first (FIDELITY 1.3)."""
    client = fresh.client
    for po in body(client.get("procurement/purchaseorders", params={
            "conditions": "closedFlag = false", "pageSize": 1000})):
        if not po.get("vendorInvoiceDate"):
            continue
        lines = body(client.get(f"procurement/purchaseorders/{po['id']}/lineitems"))
        line = next((x for x in lines if x["receivedQuantity"] < x["quantity"]), None)
        if line is not None:
            break
    else:
        pytest.skip("no part-received purchase order in this seed")
    receive(fresh, po["id"], line["id"], 1, "SLIP-LATER")
    again = body(client.get(f"procurement/purchaseorders/{po['id']}"))
    assert again["vendorInvoiceDate"] == po["vendorInvoiceDate"]
