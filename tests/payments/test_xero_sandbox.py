"""The Xero sandbox's overpayments and prepayments through its API: allocations reach the
invoice as Xero describes (AmountCredited, the invoice's Overpayments/Prepayments with
AppliedAmount), and If-Modified-Since on /Invoices finds the invoice they changed."""
from decimal import Decimal

from tests.sandbox_xero.conftest import (  # noqa: F401  (fixtures)
    adelaide, customer, decimals, invoice, tokens, xero,
)

ORG = "Adelaide IT Services Pty Ltd"


def test_prepayment_and_overpayment_allocations_through_the_api(  # noqa: F811
        xero, adelaide, customer):  # noqa: F811
    target = adelaide.put("/Invoices", {"Invoices": [invoice(customer["ContactID"])]}
                          ).json()["Invoices"][0]                      # 110.00 with GST
    prepaid = xero.action("prepay", org=ORG, contact_id=customer["ContactID"],
                          amount="30.00").json()
    listed = decimals(adelaide.get("/Prepayments"))["Prepayments"]
    assert [(p["PrepaymentID"], p["RemainingCredit"]) for p in listed] == [
        (prepaid["PrepaymentID"], Decimal("30.00"))]
    xero.advance(120)
    since = xero.xero.kit.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert adelaide.get("/Invoices", headers={"If-Modified-Since": since}
                        ).json()["Invoices"] == []
    answer = adelaide.put(f"/Prepayments/{prepaid['PrepaymentID']}/Allocations", {
        "Allocations": [{"Invoice": {"InvoiceID": target["InvoiceID"]},
                         "Amount": Decimal("30.00"), "Date": "2026-10-05"}]})
    assert answer.status_code == 200, answer.text
    too_much = adelaide.put(f"/Prepayments/{prepaid['PrepaymentID']}/Allocations", {
        "Allocations": [{"Invoice": {"InvoiceID": target["InvoiceID"]},
                         "Amount": Decimal("1.00"), "Date": "2026-10-05"}]})
    assert too_much.status_code == 400 and "Only AUTHORISED prepayments" in too_much.text
    changed = decimals(adelaide.get("/Invoices", headers={"If-Modified-Since": since}))
    (doc,) = changed["Invoices"]
    assert (doc["AmountPaid"], doc["AmountCredited"], doc["AmountDue"]) == (
        Decimal("0.00"), Decimal("30.00"), Decimal("80.00"))
    assert [(p["PrepaymentID"], p["AppliedAmount"]) for p in doc["Prepayments"]] == [
        (prepaid["PrepaymentID"], Decimal("30.00"))]
    # An overpayment from paying another invoice too much, allocated here.
    other = adelaide.put("/Invoices", {"Invoices": [invoice(customer["ContactID"])]}
                         ).json()["Invoices"][0]
    over = xero.action("pay", org=ORG, invoice_id=other["InvoiceID"],
                       amount="150.00").json()["overpayment"]
    assert adelaide.put(f"/Overpayments/{over['OverpaymentID']}/Allocations", {
        "Allocations": [{"Invoice": {"InvoiceID": target["InvoiceID"]},
                         "Amount": Decimal("40.00"), "Date": "2026-10-06"}]}).status_code == 200
    doc = decimals(adelaide.get(f"/Invoices/{target['InvoiceID']}"))["Invoices"][0]
    assert (doc["AmountCredited"], doc["AmountDue"]) == (Decimal("70.00"), Decimal("40.00"))
    assert [o["AppliedAmount"] for o in doc["Overpayments"]] == [Decimal("40.00")]
    left = decimals(adelaide.get(f"/Overpayments/{over['OverpaymentID']}"))["Overpayments"]
    assert (left[0]["RemainingCredit"], left[0]["Status"]) == (Decimal("0.00"), "PAID")
