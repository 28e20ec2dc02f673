"""One call to every resource the sandbox serves, each answer checked against the spec by
the Api client (contract.py), including the error bodies of every batch endpoint."""
from decimal import Decimal

from .conftest import invoice


def test_every_read_endpoint_matches_the_spec(xero, adelaide, customer):
    saved = adelaide.put("/Invoices", {"Invoices": [invoice(customer["ContactID"])]}).json()["Invoices"][0]
    xero.action("pay", org="Adelaide IT Services Pty Ltd", invoice_id=saved["InvoiceID"],
                amount="200.00")
    account = adelaide.get("/Accounts").json()["Accounts"][0]
    category = adelaide.get("/TrackingCategories").json()["TrackingCategories"][0]
    payment = adelaide.get("/Payments").json()["Payments"][0]
    overpayment = adelaide.get("/Overpayments").json()["Overpayments"][0]
    for path in ["/Organisation", f"/Accounts/{account['AccountID']}", "/TaxRates/OUTPUT",
                 f"/TrackingCategories/{category['TrackingCategoryID']}", "/Currencies",
                 "/Contacts", f"/Contacts/{customer['ContactID']}", "/Invoices",
                 f"/Invoices/{saved['InvoiceID']}", "/CreditNotes", "/Payments",
                 f"/Payments/{payment['PaymentID']}", "/Overpayments",
                 f"/Overpayments/{overpayment['OverpaymentID']}", "/Prepayments"]:
        assert adelaide.get(path).status_code == 200, path
    assert adelaide.get("/Invoices", params={"page": "1", "unitdp": "4",
                                             "Statuses": "PAID,AUTHORISED"}).status_code == 200


def test_every_batch_error_body_matches_the_spec(adelaide, customer):
    bad_invoice = invoice(customer["ContactID"], ("X", "1", "1", "999", "OUTPUT"))
    assert adelaide.put("/Invoices", {"Invoices": [bad_invoice]}).status_code == 400
    bad_note = dict(bad_invoice, Type="ACCRECCREDIT")
    del bad_note["DueDate"]
    assert adelaide.put("/CreditNotes", {"CreditNotes": [bad_note]}).status_code == 400
    assert adelaide.put("/Contacts", {"Contacts": [{"Name": ""}]}).status_code == 400
    assert adelaide.put("/Payments", {"Payments": [{
        "Invoice": {"InvoiceID": "00000000-0000-4000-8000-000000000000"},
        "Account": {"Code": "090"}, "Amount": Decimal("1.00")}]}).status_code == 400


def test_malformed_json_is_a_post_data_invalid_exception(adelaide):
    answer = adelaide.served.http.put("/api.xro/2.0/Invoices", content=b"{not json", headers={
        "Authorization": f"Bearer {adelaide.token}", "Accept": "application/json",
        "xero-tenant-id": adelaide.tenant_id, "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert (answer.json()["ErrorNumber"], answer.json()["Type"]) == (14, "PostDataInvalidException")


def test_the_contract_check_itself_catches_strays():
    """Guard against a checker that passes everything."""
    import json

    import pytest

    from .contract import check_api_exchange

    url = "https://api.xero.com/api.xro/2.0/Invoices"
    headers = {"xero-tenant-id": "t", "content-type": "application/json"}
    for body in ({"Invoices": [{"Colour": "red"}]}, {"Invoices": [{"Status": "PENDING"}]}):
        with pytest.raises(AssertionError):
            check_api_exchange("GET", url, headers, None, 200, headers,
                               json.dumps(body).encode())
