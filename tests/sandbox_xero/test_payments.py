"""Payments move what is due; Ferry's back-sync reads them with If-Modified-Since."""
from decimal import Decimal

from .conftest import decimals, invoice

ORG = "Adelaide IT Services Pty Ltd"


def _authorised(api, contact_id, amount="100.00"):
    doc = invoice(contact_id, ("Support", "1", amount, "200", "OUTPUT"))
    return api.put("/Invoices", {"Invoices": [doc]}).json()["Invoices"][0]


def test_part_then_full_payment_moves_amount_due_and_status(xero, adelaide, customer):
    target = _authorised(adelaide, customer["ContactID"])
    part = adelaide.put("/Payments", {"Payments": [{
        "Invoice": {"InvoiceID": target["InvoiceID"]}, "Account": {"Code": "090"},
        "Date": "2026-10-10", "Amount": Decimal("50.00"), "Reference": "EFT 1"}]})
    assert part.status_code == 200, part.text
    payment = part.json()["Payments"][0]
    assert (payment["PaymentType"], payment["Status"]) == ("ACCRECPAYMENT", "AUTHORISED")
    after = decimals(adelaide.get(f"/Invoices/{target['InvoiceID']}"))["Invoices"][0]
    assert (after["AmountPaid"], after["AmountDue"], after["Status"]) == (
        Decimal("50.00"), Decimal("60.00"), "AUTHORISED")
    xero.action("pay", org=ORG, invoice_id=target["InvoiceID"])
    paid = decimals(adelaide.get(f"/Invoices/{target['InvoiceID']}"))["Invoices"][0]
    assert (paid["AmountDue"], paid["Status"]) == (Decimal("0.00"), "PAID")
    assert "FullyPaidOnDate" in paid


def test_payment_over_the_amount_due_is_refused_through_the_api(adelaide, customer):
    target = _authorised(adelaide, customer["ContactID"])
    answer = adelaide.put("/Payments", {"Payments": [{
        "Invoice": {"InvoiceID": target["InvoiceID"]}, "Account": {"Code": "090"},
        "Amount": Decimal("500.00")}]}, params={"summarizeErrors": "false"})
    element = answer.json()["Payments"][0]
    assert element["StatusAttributeString"] == "ERROR"
    assert "exceeds" in element["ValidationErrors"][0]["Message"]


def test_a_person_overpaying_leaves_an_overpayment(xero, adelaide, customer):
    target = _authorised(adelaide, customer["ContactID"])
    result = xero.action("pay", org=ORG, invoice_id=target["InvoiceID"], amount="150.00").json()
    assert result["invoice"]["Status"] == "PAID"
    over = decimals(adelaide.get("/Overpayments"))["Overpayments"]
    assert [(o["Type"], o["RemainingCredit"]) for o in over] == [("RECEIVE-OVERPAYMENT", Decimal("40.00"))]


def test_deleting_a_payment_reopens_the_invoice_and_shows_in_modified_since(xero, adelaide, customer):
    target = _authorised(adelaide, customer["ContactID"])
    paid = xero.action("pay", org=ORG, invoice_id=target["InvoiceID"]).json()["payment"]
    xero.advance(120)
    since = xero.xero.kit.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert adelaide.get("/Payments", headers={"If-Modified-Since": since}).json()["Payments"] == []
    deleted = adelaide.post(f"/Payments/{paid['PaymentID']}", {"Status": "DELETED"})
    assert deleted.json()["Payments"][0]["Status"] == "DELETED"
    changed = adelaide.get("/Payments", headers={"If-Modified-Since": since}).json()["Payments"]
    assert [(p["PaymentID"], p["Status"]) for p in changed] == [(paid["PaymentID"], "DELETED")]
    reopened = adelaide.get(f"/Invoices/{target['InvoiceID']}").json()["Invoices"][0]
    assert (reopened["Status"], reopened["AmountDue"]) == ("AUTHORISED", 110)


def test_payments_where_and_page(xero, adelaide, customer):
    for _ in range(2):
        target = _authorised(adelaide, customer["ContactID"])
        xero.action("pay", org=ORG, invoice_id=target["InvoiceID"], reference="card")
    found = adelaide.get("/Payments", params={"where": 'Status=="AUTHORISED" AND Amount>=110',
                                              "page": "1"}).json()
    assert found["pagination"]["itemCount"] == 2
    assert all(p["Invoice"]["Contact"]["ContactID"] == customer["ContactID"] for p in found["Payments"])


def test_post_payments_creates_one_payment_as_the_spec_s_create_payment(adelaide, customer):
    """POST /Payments is createPayment in Xero's spec (one Payment object); the official
    SDK's `create_payment` sends it. It answers like PUT, in the Payments envelope."""
    target = _authorised(adelaide, customer["ContactID"])
    answer = adelaide.post("/Payments", {
        "Invoice": {"InvoiceID": target["InvoiceID"]}, "Account": {"Code": "090"},
        "Date": "2026-10-10", "Amount": Decimal("30.00"), "Reference": "EFT 2"})
    assert answer.status_code == 200, answer.text
    payment = answer.json()["Payments"][0]
    assert (payment["PaymentType"], payment["Amount"]) == ("ACCRECPAYMENT", 30)
    after = decimals(adelaide.get(f"/Invoices/{target['InvoiceID']}"))["Invoices"][0]
    assert after["AmountDue"] == Decimal("80.00")
