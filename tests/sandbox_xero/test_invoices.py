"""Invoices and credit notes the way Xero keeps them: arithmetic, batches, status rules."""
from decimal import Decimal

from .conftest import decimals, invoice


def _put(api, *docs, **params):
    return api.put("/Invoices", {"Invoices": list(docs)}, params=params or None)


def test_tax_is_rounded_per_line_then_summed(adelaide, customer):
    lines = [(f"Line {i}", "1", "33.33", "200", "OUTPUT") for i in range(3)]
    saved = decimals(_put(adelaide, invoice(customer["ContactID"], *lines)))["Invoices"][0]
    assert [line["TaxAmount"] for line in saved["LineItems"]] == [Decimal("3.33")] * 3
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"]) == (
        Decimal("99.99"), Decimal("9.99"), Decimal("109.98"))
    assert saved["AmountDue"] == Decimal("109.98")
    assert saved["InvoiceNumber"] == "INV-0001"


def test_inclusive_and_no_tax_amounts(adelaide, customer):
    inclusive = invoice(customer["ContactID"], ("Support", "1", "110.00", "200", "OUTPUT"),
                        LineAmountTypes="Inclusive")
    no_tax = invoice(customer["ContactID"], ("Support", "2", "50.00", "200", "OUTPUT"),
                     LineAmountTypes="NoTax")
    a, b = decimals(_put(adelaide, inclusive, no_tax))["Invoices"]
    assert (a["SubTotal"], a["TotalTax"], a["Total"]) == (Decimal("100.00"), Decimal("10.00"), Decimal("110.00"))
    assert (b["SubTotal"], b["TotalTax"], b["Total"]) == (Decimal("100.00"), Decimal("0.00"), Decimal("100.00"))


def test_unit_amounts_keep_four_places_only_with_unitdp_4(adelaide, customer):
    doc = invoice(customer["ContactID"], ("Licence", "3", "1.2345", "200", "OUTPUT"))
    two = decimals(_put(adelaide, doc))["Invoices"][0]
    assert two["LineItems"][0]["UnitAmount"] == Decimal("1.23")
    assert two["LineItems"][0]["LineAmount"] == Decimal("3.69")
    four = decimals(_put(adelaide, doc, unitdp="4"))["Invoices"][0]
    assert four["LineItems"][0]["UnitAmount"] == Decimal("1.2345")
    assert four["LineItems"][0]["LineAmount"] == Decimal("3.70")


def test_summarize_errors_false_gives_per_element_status(adelaide, customer):
    good = invoice(customer["ContactID"])
    bad = invoice(customer["ContactID"], ("Freight", "1", "10", "4900", "OUTPUT"))
    answer = _put(adelaide, good, bad, summarizeErrors="false")
    assert answer.status_code == 200
    first, second = answer.json()["Invoices"]
    assert first["StatusAttributeString"] == "OK" and first["InvoiceID"]
    assert second["StatusAttributeString"] == "ERROR" and second["HasErrors"] is True
    assert second["ValidationErrors"] == [
        {"Message": "Account code '4900' is not a valid code for this document."}]


def test_without_summarize_errors_a_bad_element_makes_a_400(adelaide, customer):
    bad = invoice(customer["ContactID"], ("Thing", "1", "10", "200", "VAT20"))
    answer = _put(adelaide, invoice(customer["ContactID"]), bad)
    assert answer.status_code == 400
    body = answer.json()
    assert (body["ErrorNumber"], body["Type"], body["Message"]) == (
        10, "ValidationException", "A validation exception occurred")
    assert body["Elements"][0]["ValidationErrors"] == [{
        "Message": "The TaxType code VAT20 does not exist or cannot be used for this type of transaction."}]
    # The valid one was written all the same: the 400 hides it.
    assert len(adelaide.get("/Invoices").json()["Invoices"]) == 1


def test_unknown_tracking_option_and_contact_are_refused(adelaide, customer):
    doc = invoice(customer["ContactID"])
    doc["LineItems"][0]["Tracking"] = [{"Name": "Office", "Option": "Perth"}]
    missing = invoice("00000000-0000-4000-8000-000000000001")
    first, second = _put(adelaide, doc, missing, summarizeErrors="false").json()["Invoices"]
    assert "Perth" in first["ValidationErrors"][0]["Message"]
    assert "could not be found" in second["ValidationErrors"][0]["Message"]


def test_tracking_is_echoed_with_ids(adelaide, customer):
    doc = invoice(customer["ContactID"])
    doc["LineItems"][0]["Tracking"] = [{"Name": "Office", "Option": "Adelaide"},
                                       {"Name": "Department", "Option": "Managed Services"}]
    line = _put(adelaide, doc).json()["Invoices"][0]["LineItems"][0]
    assert [(t["Name"], t["Option"]) for t in line["Tracking"]] == [
        ("Office", "Adelaide"), ("Department", "Managed Services")]
    assert all(t["TrackingOptionID"] for t in line["Tracking"])


def test_contact_by_name_creates_it_and_by_number_finds_it(adelaide, customer):
    by_name = invoice(None, Contact={"Name": "Walk-in Customer"})
    by_number = invoice(None, Contact={"ContactNumber": "BarossaWines"})
    a, b = _put(adelaide, by_name, by_number).json()["Invoices"]
    assert a["Contact"]["Name"] == "Walk-in Customer"
    assert b["Contact"]["ContactID"] == customer["ContactID"]
    names = [c["Name"] for c in adelaide.get("/Contacts").json()["Contacts"]]
    assert "Walk-in Customer" in names


def test_accrec_numbers_are_unique_accpay_numbers_are_not(adelaide, customer):
    first = invoice(customer["ContactID"], InvoiceNumber="CW-1001")
    assert _put(adelaide, first).status_code == 200
    again = _put(adelaide, first, summarizeErrors="false").json()["Invoices"][0]
    assert again["ValidationErrors"] == [{"Message": "Invoice # must be unique."}]
    bill = invoice(customer["ContactID"], ("Parts", "1", "10", "310", "INPUT"),
                   Type="ACCPAY", InvoiceNumber="SUP-77")
    assert _put(adelaide, bill).status_code == 200
    assert _put(adelaide, bill).status_code == 200
    bills = adelaide.get("/Invoices", params={"where": 'Type=="ACCPAY"'}).json()["Invoices"]
    assert [b["InvoiceNumber"] for b in bills] == ["SUP-77", "SUP-77"]


def test_update_replaces_lines_and_post_by_number_updates(xero, adelaide, customer):
    doc = invoice(customer["ContactID"], ("A", "1", "10", "200", "OUTPUT"),
                  ("B", "1", "20", "200", "OUTPUT"), InvoiceNumber="CW-2001", Status="DRAFT")
    saved = _put(adelaide, doc).json()["Invoices"][0]
    keep = saved["LineItems"][0]
    xero.advance(60)
    update = {"InvoiceNumber": "CW-2001", "Type": "ACCREC",
              "LineItems": [{"LineItemID": keep["LineItemID"], "Description": "A",
                             "Quantity": Decimal("2"), "UnitAmount": Decimal("10"), "AccountCode": "200",
                             "TaxType": "OUTPUT"}]}
    updated = decimals(adelaide.post("/Invoices", {"Invoices": [update]}))["Invoices"][0]
    assert updated["InvoiceID"] == saved["InvoiceID"]
    assert [(line["LineItemID"], line["LineAmount"]) for line in updated["LineItems"]] == [
        (keep["LineItemID"], Decimal("20.00"))]
    assert updated["Total"] == Decimal("22.00")
    assert updated["UpdatedDateUTC"] > saved["UpdatedDateUTC"]


def test_status_rules(xero, adelaide, customer):
    draft, authorised = _put(adelaide, invoice(customer["ContactID"], Status="DRAFT"),
                             invoice(customer["ContactID"])).json()["Invoices"]
    deleted = adelaide.post(f"/Invoices/{draft['InvoiceID']}", {"Invoices": [{"Status": "DELETED"}]})
    assert deleted.json()["Invoices"][0]["Status"] == "DELETED"
    cannot = adelaide.post(f"/Invoices/{authorised['InvoiceID']}", {"Invoices": [{"Status": "DELETED"}]},
                           params={"summarizeErrors": "false"}).json()["Invoices"][0]
    assert cannot["ValidationErrors"] == [{"Message": "Invoice not of valid status for modification"}]
    xero.action("pay", org="Adelaide IT Services Pty Ltd", invoice_id=authorised["InvoiceID"],
                amount="10.00")
    locked = adelaide.post(f"/Invoices/{authorised['InvoiceID']}", {"Invoices": [{"Reference": "changed"}]},
                           params={"summarizeErrors": "false"}).json()["Invoices"][0]
    assert locked["ValidationErrors"] == [{"Message": "This document cannot be edited as it "
                                                      "has a payment or credit note allocated to it."}]
    voided = xero.action("void", org="Adelaide IT Services Pty Ltd",
                         invoice_id=authorised["InvoiceID"], remove_payments=True)
    assert voided.json()["Status"] == "VOIDED"
    again = adelaide.post(f"/Invoices/{authorised['InvoiceID']}", {"Invoices": [{"Status": "AUTHORISED"}]},
                          params={"summarizeErrors": "false"}).json()["Invoices"][0]
    assert again["StatusAttributeString"] == "ERROR"


def test_paid_invoice_cannot_be_edited_or_voided(xero, adelaide, customer):
    saved = _put(adelaide, invoice(customer["ContactID"])).json()["Invoices"][0]
    xero.action("pay", org="Adelaide IT Services Pty Ltd", invoice_id=saved["InvoiceID"])
    void = adelaide.post(f"/Invoices/{saved['InvoiceID']}", {"Invoices": [{"Status": "VOIDED"}]})
    assert void.status_code == 400
    assert adelaide.get(f"/Invoices/{saved['InvoiceID']}").json()["Invoices"][0]["Status"] == "PAID"


def test_listing_filters_and_paging(xero, adelaide, customer):
    docs = [invoice(customer["ContactID"], InvoiceNumber=f"CW-{n}") for n in range(3)]
    saved = _put(adelaide, *docs).json()["Invoices"]
    xero.advance(120)
    # Taken before the edit: a second boundary crossed after it must not hide the change.
    since = xero.xero.kit.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    adelaide.post(f"/Invoices/{saved[1]['InvoiceID']}", {"Invoices": [{"Reference": "moved"}]})
    listing = adelaide.get("/Invoices").json()
    assert "pagination" not in listing and "LineItems" not in listing["Invoices"][0]
    page = adelaide.get("/Invoices", params={"page": "1"}).json()
    assert page["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 1, "itemCount": 3}
    assert page["Invoices"][0]["LineItems"]
    changed = adelaide.get("/Invoices", headers={"If-Modified-Since": since}).json()["Invoices"]
    assert [i["InvoiceNumber"] for i in changed] == ["CW-1"]
    by_numbers = adelaide.get("/Invoices", params={"InvoiceNumbers": "CW-0,CW-2"}).json()["Invoices"]
    assert sorted(i["InvoiceNumber"] for i in by_numbers) == ["CW-0", "CW-2"]
    by_where = adelaide.get("/Invoices", params={
        "where": f'Contact.ContactID==Guid("{customer["ContactID"]}") AND Status=="AUTHORISED"'})
    assert len(by_where.json()["Invoices"]) == 3
    # Xero serves /Invoices/{InvoiceNumber} too; the spec types that slot as a uuid only.
    by_number = adelaide.get("/Invoices/CW-2", check=False).json()["Invoices"][0]
    assert by_number["InvoiceID"] == saved[2]["InvoiceID"]


def test_unknown_invoice_id_is_404(adelaide):
    assert adelaide.get("/Invoices/00000000-0000-4000-8000-000000000009").status_code == 404


def test_credit_note_allocation_settles_the_invoice(adelaide, customer):
    target = _put(adelaide, invoice(customer["ContactID"])).json()["Invoices"][0]
    note = adelaide.put("/CreditNotes", {"CreditNotes": [{
        "Type": "ACCRECCREDIT", "Contact": {"ContactID": customer["ContactID"]},
        "Date": "2026-10-05", "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
        "LineItems": [{"Description": "Refund", "Quantity": Decimal("1"), "UnitAmount": Decimal("100.00"),
                       "AccountCode": "200", "TaxType": "OUTPUT"}]}]}).json()["CreditNotes"][0]
    assert note["CreditNoteNumber"] == "CN-0001" and note["RemainingCredit"] == 110
    allocated = adelaide.put(f"/CreditNotes/{note['CreditNoteID']}/Allocations", {"Allocations": [
        {"Amount": Decimal("110.00"), "Date": "2026-10-06", "Invoice": {"InvoiceID": target["InvoiceID"]}}]})
    assert allocated.status_code == 200, allocated.text
    settled = decimals(adelaide.get(f"/Invoices/{target['InvoiceID']}"))["Invoices"][0]
    assert (settled["Status"], settled["AmountDue"], settled["AmountCredited"]) == (
        "PAID", Decimal("0.00"), Decimal("110.00"))
    assert settled["CreditNotes"][0]["CreditNoteID"] == note["CreditNoteID"]
    note_after = adelaide.get(f"/CreditNotes/{note['CreditNoteID']}").json()["CreditNotes"][0]
    assert (note_after["Status"], note_after["RemainingCredit"]) == ("PAID", 0)


def test_a_sales_or_purchase_document_marks_its_contact_customer_or_supplier(adelaide, customer):
    """Xero sets IsCustomer/IsSupplier itself when an AR/AP document names the contact, so
    `where=IsCustomer==true` finds the contacts Ferry invoiced."""
    assert customer["IsCustomer"] is False
    assert adelaide.put("/Invoices", {"Invoices": [invoice(customer["ContactID"])]}).status_code == 200
    after = adelaide.get(f"/Contacts/{customer['ContactID']}").json()["Contacts"][0]
    assert (after["IsCustomer"], after["IsSupplier"]) == (True, False)
    found = adelaide.get("/Contacts", params={"where": "IsCustomer==true"}).json()["Contacts"]
    assert customer["ContactID"] in {c["ContactID"] for c in found}
    bill = invoice(customer["ContactID"], ("Cables", "1", "20.00", "429", "INPUT"), Type="ACCPAY",
                   InvoiceNumber="SUP-77")
    assert adelaide.put("/Invoices", {"Invoices": [bill]}).status_code == 200
    again = adelaide.get(f"/Contacts/{customer['ContactID']}").json()["Contacts"][0]
    assert (again["IsCustomer"], again["IsSupplier"]) == (True, True)
