"""Money flows as CW keeps it: totals add up, payments reduce balances, closed invoices
wait in the unposted lists until a batch posts their GL entries."""
from decimal import Decimal

from .conftest import body


def get_all(client, path, **params):
    return body(client.get(path, params={"pageSize": 1000, **params}))


def test_invoice_totals_add_up(cw):
    for invoice in get_all(cw.client, "finance/invoices"):
        assert invoice["subtotal"] + invoice["salesTax"] == invoice["total"]
        assert invoice["total"] - invoice["payments"] - invoice["credits"] == invoice["balance"]
        assert invoice["salesTax"] == invoice["salesTax"].quantize(Decimal("0.01"))


def test_gl_export_lines_carry_ledger_signs(cw):
    """As the documented GLExport samples: an INVOICE's total is positive and its revenue
    and sales-tax lines negative (quantity negative, itemPrice positive); a credit memo
    the other way round; the lines always sum to minus the total."""
    for summarize in ("Detailed", "Condensed"):
        export = body(cw.client.post("finance/accounting/export",
                                     json={"summarizeInvoices": summarize}))
        assert export["transactions"]
        for tx in export["transactions"]:
            assert sum(d["total"] for d in tx["detail"]) == -tx["total"], tx["documentNumber"]
            tax = [d for d in tx["detail"] if d["glTypeId"] == "ST"]
            assert len(tax) == 1 and tax[0]["total"] == -tx["salesTax"]
            assert tax[0]["quantity"] == 0 and tax[0]["itemPrice"] == 0
            credit = tx["documentType"] == "CREDIT MEMO"
            assert (tx["total"] < 0) == credit
            assert tx["salesTax"] == 0 or (tx["salesTax"] < 0) == credit
            for line in tx["detail"]:
                if line["glTypeId"] == "ST":
                    continue
                assert line["itemPrice"] > 0
                assert line["quantity"] * line["itemPrice"] == line["total"]
                assert (line["total"] > 0) == credit, tx["documentNumber"]
        for po in export["purchaseTransactions"]:
            assert po["total"] > 0
            lines = po["purchaseDetail"] + po["purchaseDetailTax"]
            assert sum(d["total"] for d in lines) == -po["total"]
            for line in po["purchaseDetail"]:
                assert line["quantity"] < 0 < line["itemCost"]
                assert line["total"] == line["quantity"] * line["itemCost"] == -line["cost"]


def test_export_carries_the_troublemakers(cw):
    export = body(cw.client.post("finance/accounting/export",
                                 json={"summarizeInvoices": "Detailed"}))
    companies = {tx["company"]["name"] for tx in export["transactions"]}
    assert "Harbour Dental Group" in {c["name"] for c in get_all(cw.client,
                                                                 "company/companies")}
    invoices = get_all(cw.client, "finance/invoices")
    assert any(i["taxCode"]["name"] == "VAT20" for i in invoices)
    assert {i["currency"]["currencyCode"] for i in invoices} == {"AUD", "NZD", "USD"}
    accounts = {d["accountNumber"] for tx in export["transactions"] for d in tx["detail"]}
    assert {"4300", "2200"} <= accounts and companies
    memos = [tx for tx in export["transactions"] if tx["documentType"] == "CREDIT MEMO"]
    assert memos and all(tx["total"] < 0 for tx in memos)


def test_a_payment_reduces_the_balance_and_can_be_removed(fresh):
    client = fresh.client
    invoice = get_all(client, "finance/invoices",
                      conditions='balance > 100 and type != "CreditMemo" and payments = 0')[0]
    before = invoice["_info"]["lastUpdated"]
    too_much = client.post(f"finance/invoices/{invoice['id']}/payments",
                           json={"amount": str(invoice["balance"] + 1)})
    assert too_much.status_code == 400
    made = client.post(f"finance/invoices/{invoice['id']}/payments", json={
        "type": "Payment", "amount": 40.25, "paymentDate": "2026-10-30T00:00:00Z"})
    assert made.status_code == 201 and "transactionId" not in body(made)
    after = body(client.get(f"finance/invoices/{invoice['id']}"))
    assert after["balance"] == invoice["balance"] - Decimal("40.25")
    assert after["_info"]["lastUpdated"] > before
    # One payment per invoice (FIDELITY.md, Payments): a second is refused...
    again = client.post(f"finance/invoices/{invoice['id']}/payments", json={"amount": 1})
    assert again.status_code == 400 and body(again)["errors"][0]["code"] == "ObjectExists"
    # ...and the one there is changed instead.
    changed = client.patch(f"finance/invoices/{invoice['id']}/payments/{body(made)['id']}",
                           json=[{"op": "replace", "path": "amount", "value": 50}])
    assert changed.status_code == 200
    assert body(client.get(f"finance/invoices/{invoice['id']}"))["balance"] == \
        invoice["balance"] - Decimal("50")
    gone = client.delete(f"finance/invoices/{invoice['id']}/payments/{body(made)['id']}")
    assert gone.status_code == 204
    assert body(client.get(f"finance/invoices/{invoice['id']}"))["balance"] == \
        invoice["balance"]


def document_ids(tx: dict) -> list[int]:
    """What a batch names to post a document: its glEntryIds and its detail line ids (the
    public SmartConnect maps write back exactly these)."""
    return ([int(i) for i in tx["glEntryIds"].split(",")] + [d["id"] for d in tx["detail"]])


def test_batches_post_records_out_of_the_unposted_lists(fresh):
    client = fresh.client
    counts = {k: client.get(f"finance/accounting/unposted{k}/count").json()["count"]
              for k in ("invoices", "procurement", "expenses")}
    assert all(counts.values())
    export = body(client.post("finance/accounting/export", json={
        "summarizeInvoices": "Detailed", "thruDate": "2026-09-30T00:00:00Z"}))
    entry_ids = [i for tx in export["transactions"][:3] for i in document_ids(tx)]
    purchase = export["purchaseTransactions"][0]
    entry_ids += [d["id"] for d in purchase["purchaseDetail"] + purchase["purchaseDetailTax"]]
    entry_ids += [export["expenses"][0]["id"]]
    made = client.post("finance/accounting/batches", json={
        "batchIdentifier": "FERRY-1", "processedRecordIds": entry_ids,
        "exportInvoicesFlag": True, "exportProductsFlag": True, "exportExpensesFlag": True})
    assert made.status_code == 201
    after = {k: client.get(f"finance/accounting/unposted{k}/count").json()["count"]
             for k in counts}
    assert after == {"invoices": counts["invoices"] - 3,
                     "procurement": counts["procurement"] - len(purchase["purchaseDetail"]),
                     "expenses": counts["expenses"] - 1}
    posted = {tx["documentNumber"] for tx in export["transactions"][:3]}
    assert not posted & {r["invoiceNumber"] for r in get_all(
        client, "finance/accounting/unpostedinvoices")}
    duplicate = client.post("finance/accounting/batches", json={
        "batchIdentifier": "ferry-1", "processedRecordIds": entry_ids[:1],
        "exportInvoicesFlag": True})
    assert duplicate.status_code == 400
    assert body(duplicate)["errors"][0]["code"] == "ObjectExists"
    again = client.post("finance/accounting/batches", json={
        "batchIdentifier": "FERRY-2", "processedRecordIds": entry_ids[:1],
        "exportInvoicesFlag": True})
    assert again.status_code == 400 and "already posted" in body(again)["errors"][0]["message"]


def test_invoices_are_unposted_only_once_closed(fresh):
    client = fresh.client
    open_ = get_all(client, "finance/invoices", conditions='status/name != "Closed"')
    unposted = {r["invoiceNumber"] for r in get_all(client,
                                                    "finance/accounting/unpostedinvoices")}
    assert open_ and not {i["invoiceNumber"] for i in open_} & unposted
    fresh.action(f"invoices/{open_[0]['id']}/close")
    assert open_[0]["invoiceNumber"] in {r["invoiceNumber"] for r in get_all(
        client, "finance/accounting/unpostedinvoices")}


def test_sandbox_actions_move_last_updated(fresh):
    client = fresh.client
    invoice = get_all(client, "finance/invoices", conditions='type = "Standard"')[0]
    edited = fresh.action(f"invoices/{invoice['id']}/edit",
                          {"line": 0, "itemPrice": "123.45", "dueDate": "2026-12-15"})
    assert edited["_info"]["lastUpdated"] > invoice["_info"]["lastUpdated"]
    assert edited["dueDate"] == "2026-12-15T00:00:00Z"
    assert edited["subtotal"] + edited["salesTax"] == edited["total"]
    changed = get_all(client, "finance/invoices", conditions=(
        f"_info/lastUpdated > [{invoice['_info']['lastUpdated']}] and id = {invoice['id']}"))
    assert len(changed) == 1
    memo = fresh.action(f"invoices/{invoice['id']}/credit-memo", {"amount": "20.00"})
    assert memo["type"] == "CreditMemo" and memo["applyToId"] == invoice["id"]
    new = fresh.action("invoices", {"companyName": "Brand New Clinic Pty Ltd",
                                    "identifier": "BrandNewClinic", "amount": "250.00"})
    assert new["company"]["identifier"] == "BrandNewClinic" and new["total"] == \
        Decimal("275.00")
    assert get_all(client, "company/companies", conditions='identifier = "BrandNewClinic"')
    po = get_all(client, "procurement/purchaseorders", conditions="closedFlag = false")[-1]
    line = get_all(client, f"procurement/purchaseorders/{po['id']}/lineitems")[0]
    received = fresh.action(f"purchaseorders/{po['id']}/lineitems/{line['id']}/receive",
                            {"quantity": 1, "packingSlip": "PS-T1"})
    assert received["packingSlip"] == "PS-T1" and received["receivedQuantity"] >= 1
    expense = fresh.action("expenses", {"amount": "42.50", "type": "Meals"})
    assert expense["id"] in {r["id"] for r in get_all(
        client, "finance/accounting/unpostedexpenses")}


def test_callbacks_register_once_and_delete(fresh):
    hook = {"url": "https://ferry.example/cw", "type": "invoice", "level": "owner",
            "objectId": 1}
    made = fresh.client.post("system/callbacks", json=hook)
    assert made.status_code == 201
    assert fresh.client.post("system/callbacks", json=hook).status_code == 400
    assert fresh.client.delete(f"system/callbacks/{made.json()['id']}").status_code == 204
    assert fresh.client.get("system/callbacks/count").json() == {"count": 0}


def test_each_unposted_record_answers_by_id_until_posted(fresh):
    """GET finance/accounting/unposted{invoices,procurement,expenses}/{id}, as in CW's
    schema (pyconnectwise's `unpostedinvoices.id(n).get()`): the list's record, then 404
    once a batch has posted it."""
    client = fresh.client
    for kind in ("invoices", "procurement", "expenses"):
        first = get_all(client, f"finance/accounting/unposted{kind}")[0]
        one = client.get(f"finance/accounting/unposted{kind}/{first['id']}")
        assert one.status_code == 200 and body(one) == first
        missing = client.get(f"finance/accounting/unposted{kind}/999999999")
        assert missing.status_code == 404 and body(missing)["code"] == "NotFound"
    record = get_all(client, "finance/accounting/unpostedexpenses")[0]
    assert client.post("finance/accounting/batches", json={
        "batchIdentifier": "FERRY-BY-ID", "processedRecordIds": [record["id"]],
        "exportExpensesFlag": True}).status_code == 201
    assert client.get(f"finance/accounting/unpostedexpenses/{record['id']}").status_code == 404
