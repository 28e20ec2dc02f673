"""Xero's behaviour where the spec is silent (sandbox/FIDELITY.md section 3), each
exchange checked against xero_accounting.yaml by the Api client."""
from decimal import Decimal

from .conftest import decimals, invoice


def _put(api, *docs, **params):
    return api.put("/Invoices", {"Invoices": list(docs)}, params=params or None)


def _errors(answer) -> list[str]:
    body = answer.json()
    elements = body.get("Elements") or body.get("Invoices") or body.get("CreditNotes") or []
    return [e["Message"] for el in elements for e in el.get("ValidationErrors") or []]


def bill(contact_id: str, **fields) -> dict:
    return invoice(contact_id, ("Cables", "2", "15.00", "429", "INPUT"), Type="ACCPAY",
                   InvoiceNumber="VI-20001", **fields)


def test_a_bill_silently_drops_its_reference(adelaide, customer):
    """"ACCREC only" (the spec); XeroAPI/xero-mcp-server#121, Xero-NetStandard#249."""
    made = _put(adelaide, bill(customer["ContactID"], Reference="PO-00042 PS-1"))
    assert made.status_code == 200, made.text
    saved = made.json()["Invoices"][0]
    assert "Reference" not in saved and saved["InvoiceNumber"] == "VI-20001"
    again = adelaide.get(f"/Invoices/{saved['InvoiceID']}").json()["Invoices"][0]
    assert "Reference" not in again
    assert adelaide.get("/Invoices", params={
        "where": 'Reference=="PO-00042 PS-1"'}).json()["Invoices"] == []
    updated = adelaide.post(f"/Invoices/{saved['InvoiceID']}",
                            {"Invoices": [{"Reference": "PO-00042 PS-1"}]})
    assert updated.status_code == 200 and "Reference" not in updated.json()["Invoices"][0]
    sale = _put(adelaide, invoice(customer["ContactID"], Reference="PO-00042 PS-1"))
    assert sale.json()["Invoices"][0]["Reference"] == "PO-00042 PS-1"


def test_an_authorised_invoice_needs_a_due_date_on_put_and_post(adelaide, customer):
    """"The document DueDate field must be specified." (xeroizer#290, #395; xero-python#78)"""
    no_due = invoice(customer["ContactID"])
    del no_due["DueDate"]
    refused = _put(adelaide, no_due)
    assert refused.status_code == 400
    assert _errors(refused) == ["The document DueDate field must be specified."]
    one_of_two = _put(adelaide, invoice(customer["ContactID"]), no_due, summarizeErrors="false")
    first, second = one_of_two.json()["Invoices"]
    assert first["StatusAttributeString"] == "OK"
    assert second["ValidationErrors"] == [{"Message": "The document DueDate field must be specified."}]
    no_due_bill = bill(customer["ContactID"])
    del no_due_bill["DueDate"]
    assert _errors(_put(adelaide, no_due_bill)) == ["The document DueDate field must be specified."]
    draft = _put(adelaide, {**no_due, "Status": "DRAFT"})
    assert draft.status_code == 200
    draft_id = draft.json()["Invoices"][0]["InvoiceID"]
    approve = adelaide.post(f"/Invoices/{draft_id}", {"Invoices": [{"Status": "AUTHORISED"}]})
    assert approve.status_code == 400
    assert _errors(approve) == ["The document DueDate field must be specified."]
    approved = adelaide.post(f"/Invoices/{draft_id}", {"Invoices": [
        {"Status": "AUTHORISED", "DueDate": "2026-11-30"}]})
    assert approved.status_code == 200 and approved.json()["Invoices"][0]["Status"] == "AUTHORISED"


def test_lock_dates_show_on_the_organisation_and_refuse_documents(xero, adelaide, customer):
    """"The document date cannot be before the end of year lock date, currently set at
    31-Jul-2013" (xeroizer#92); the period lock wording is assumed by analogy."""
    org = adelaide.get("/Organisation").json()["Organisations"][0]
    assert "PeriodLockDate" not in org and "EndOfYearLockDate" not in org
    xero.action("lock-dates", org="Adelaide IT Services Pty Ltd",
                end_of_year_lock_date="2026-06-30",
                period_lock_date="2026-09-30").raise_for_status()
    org = adelaide.get("/Organisation").json()["Organisations"][0]
    assert (org["EndOfYearLockDate"], org["PeriodLockDate"]) == (
        "/Date(1782777600000+0000)/", "/Date(1790726400000+0000)/")
    year = _put(adelaide, invoice(customer["ContactID"], Date="2026-06-15"))
    assert _errors(year) == ["The document date cannot be before the end of year lock "
                             "date, currently set at 30-Jun-2026"]
    period = _put(adelaide, invoice(customer["ContactID"], Date="2026-09-30"))
    assert _errors(period) == ["The document date cannot be before the period lock date, "
                               "currently set at 30-Sep-2026"]
    assert _put(adelaide, invoice(customer["ContactID"], Date="2026-10-01")).status_code == 200
    # The other org keeps its own (no) lock dates.
    xero.action("lock-dates", org="Adelaide IT Services Pty Ltd",
                period_lock_date=None).raise_for_status()
    assert _put(adelaide, invoice(customer["ContactID"], Date="2026-09-30")).status_code == 200


def test_a_new_document_to_an_archived_contact_is_refused(xero, adelaide, customer):
    """"The contact with the specified contact details has been archived. The contact
    must be un-archived before creating new invoices or credit notes." (FIDELITY.md 3.4)"""
    earlier = _put(adelaide, invoice(customer["ContactID"])).json()["Invoices"][0]
    xero.action("archive-contact", org="Adelaide IT Services Pty Ltd",
                contact_id=customer["ContactID"]).raise_for_status()
    contact = adelaide.get(f"/Contacts/{customer['ContactID']}").json()["Contacts"][0]
    assert contact["ContactStatus"] == "ARCHIVED"
    for ref in ({"ContactID": customer["ContactID"]},
                {"ContactNumber": customer["ContactNumber"]}):
        refused = _put(adelaide, invoice(customer["ContactID"], Contact=ref))
        assert refused.status_code == 400
        assert _errors(refused) == [
            "The contact with the specified contact details has been archived. The contact "
            "must be un-archived before creating new invoices or credit notes."]
    listed = {c["ContactID"] for c in adelaide.get("/Contacts").json()["Contacts"]}
    assert customer["ContactID"] not in listed
    with_archived = adelaide.get("/Contacts", params={"includeArchived": "true"}).json()
    assert customer["ContactID"] in {c["ContactID"] for c in with_archived["Contacts"]}
    # A document already made for the contact stays readable.
    assert adelaide.get(f"/Invoices/{earlier['InvoiceID']}").status_code == 200
    xero.action("archive-contact", org="Adelaide IT Services Pty Ltd",
                contact_id=customer["ContactID"], restore=True).raise_for_status()
    assert _put(adelaide, invoice(customer["ContactID"])).status_code == 200


def _credit_note(api, contact_id):
    return api.put("/CreditNotes", {"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": contact_id}, "Date": "2026-10-05",
        "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
        "LineItems": [{"Description": "Refund", "Quantity": Decimal("1"),
                       "UnitAmount": Decimal("10.00"), "AccountCode": "200",
                       "TaxType": "OUTPUT"}]}]}).json()["CreditNotes"][0]


def test_a_credit_note_allocation_needs_a_date_and_an_invoice_of_its_contact(adelaide,
                                                                             customer):
    other = adelaide.put("/Contacts", {"Contacts": [{"Name": "Clare Valley Clinic"}]}
                         ).json()["Contacts"][0]
    theirs = _put(adelaide, invoice(other["ContactID"])).json()["Invoices"][0]
    ours = _put(adelaide, invoice(customer["ContactID"])).json()["Invoices"][0]
    note = _credit_note(adelaide, customer["ContactID"])
    path = f"/CreditNotes/{note['CreditNoteID']}/Allocations"
    wrong = adelaide.put(path, {"Allocations": [{"Amount": Decimal("11.00"), "Date": "2026-10-06",
                                                 "Invoice": {"InvoiceID": theirs["InvoiceID"]}}]})
    assert wrong.status_code == 400
    assert "must be for the same contact" in wrong.text
    undated = adelaide.put(path, {"Allocations": [
        {"Amount": Decimal("11.00"), "Invoice": {"InvoiceID": ours["InvoiceID"]}}]}, check=False)
    assert undated.status_code == 400 and "The Date field must be specified." in undated.text
    made = adelaide.put(path, {"Allocations": [{"Amount": Decimal("11.00"), "Date": "2026-10-06",
                                                "Invoice": {"InvoiceID": ours["InvoiceID"]}}]})
    assert made.status_code == 200, made.text
    after = decimals(adelaide.get(f"/Invoices/{ours['InvoiceID']}"))["Invoices"][0]
    assert after["AmountCredited"] == Decimal("11.00")
