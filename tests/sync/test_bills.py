"""CW purchase transactions, shaped and signed as the Zynk GLExport sample
(purchaseDetail quantity -50, itemCost 0.25, total -12.5 under a total of 12.5), ->
positive ACCPAY bills whose InvoiceNumber Ferry can find again."""
from decimal import Decimal as D

from hypothesis import given, strategies as st

from sync.bills import BillSource, bill_key, bill_number, is_bill_number_for, map_bill

from .cw import AUD, GST, facts, mappings

VENDOR = {"ContactID": "7b0c1a2e-0000-4000-8000-00000000beef"}


def detail(id_, number, description, quantity, cost, account="5000", **more):
    """A purchaseDetail line as CW exports it: quantity and total negative."""
    quantity, cost = D(quantity), D(cost)
    return {"id": id_, "lineNumber": number, "glTypeId": "RP", "description": "Purchase",
            "memo": description, "itemDescription": description,
            "accountNumber": "4001", "costAccountNumber": account,
            "quantity": -quantity, "itemCost": cost, "cost": quantity * cost,
            "total": -(quantity * cost).quantize(D("0.01")), "itemPrice": D("7"),
            "taxable": True, "item": {"id": 743, "identifier": "PATCH10"}, **more}


def tax(id_, number, amount):
    return {"id": id_, "lineNumber": number, "glTypeId": "PT", "total": -D(amount),
            "taxRatePercent": D(10), "taxableFlag": True}


def purchase(lines, taxes=(), **more):
    net = -sum((d["total"] for d in lines), D(0))
    total = net + sum((-t["total"] for t in taxes), D(0))
    txn = {"id": "PO #1234, Packing Slip: PS-77", "documentNumber": "1234",
           "packingSlip": "PS-77", "freightPackingSlip": "PS-77", "description": "Purchase",
           "documentDate": "2026-02-20T00:00:00Z", "purchaseDate": "2026-02-20T00:00:00Z",
           "vendorInvoiceNumber": "INV-88123", "vendorInvoiceDate": "2026-03-02T00:00:00Z",
           "apAccountNumber": "2100", "dueDays": 30,
           "billingTerms": {"id": 2, "name": "Net 30"},
           "company": {"id": 300, "identifier": "IngramMicro"},
           "currency": dict(AUD), "taxCode": dict(GST), "total": total,
           "purchaseDetail": list(lines), "purchaseDetailTax": list(taxes)}
    txn.update(more)
    return txn


def source(txn, **more):
    return BillSource(txn, facts("bills", department=None), VENDOR, **more)


def test_zynk_sample_shape_maps_to_a_positive_bill():
    """The sample's numbers: 50 patch cables at 0.25, total 12.5, no tax."""
    txn = purchase([detail(1299, 1, "10ft Patch Cable", "50", "0.25")],
                   taxCode={"id": 7, "name": "GST-FREE"})
    result = map_bill(source(txn), mappings())
    [line] = result.payload["LineItems"]
    assert (line["Quantity"], line["UnitAmount"]) == (D(50), D("0.25"))
    assert line["TaxType"] == "EXEMPTEXPENSES"
    assert result.cw_total == D("12.50") and result.rounding == 0


def test_purchase_transaction_maps_to_an_exact_accpay_bill():
    txn = purchase([detail(1, 1, "Dell Latitude 5450", "2", "1450.0000"),
                    detail(2, 2, "USB-C dock", "2", "189.9950")],
                   [tax(3, 1, "290.00"), tax(4, 2, "38.00")])
    result = map_bill(source(txn), mappings())
    office = {"Name": "Office", "Option": "Sydney"}
    assert result.payload == {
        "Type": "ACCPAY", "Contact": VENDOR, "InvoiceNumber": "INV-88123 (PO 1234 slip PS-77)",
        "Date": "2026-03-02", "DueDate": "2026-04-01", "CurrencyCode": "AUD",
        "Status": "DRAFT", "LineAmountTypes": "Exclusive",
        "LineItems": [
            {"Description": "Dell Latitude 5450", "Quantity": D(2), "UnitAmount": D(1450),
             "AccountCode": "310", "TaxType": "INPUT", "Tracking": [office]},
            {"Description": "USB-C dock", "Quantity": D(2), "UnitAmount": D("189.995"),
             "AccountCode": "310", "TaxType": "INPUT", "Tracking": [office]}]}
    assert "Reference" not in result.payload       # Xero drops it on ACCPAY
    assert result.unitdp == 4
    assert result.cw_total == D("3607.99")      # 2900.00 + 379.99 + 328.00 tax


def test_due_date_comes_from_the_vendor_terms_when_the_transaction_has_none():
    txn = purchase([detail(1, 1, "Toner", "1", "80.00")], [tax(2, 1, "8.00")],
                   dueDays=None)
    assert map_bill(source(txn, vendor_due_days=14), mappings()).payload["DueDate"] == \
        "2026-03-16"
    result = map_bill(source(txn), mappings())
    assert result.sentences == [
        "ConnectWise gives PO 1234 slip PS-77 no due date and no billing terms, and Xero "
        "needs a due date; set the billing terms on it (or its company) in ConnectWise"]


def test_bill_without_vendor_invoice_uses_the_document_date_and_its_key():
    txn = purchase([detail(1, 1, "Toner", "1", "80.00")], [tax(2, 1, "8.00")],
                   vendorInvoiceDate=None, vendorInvoiceNumber=None)
    result = map_bill(source(txn), mappings())
    assert result.payload["Date"] == "2026-02-20"
    assert result.payload["InvoiceNumber"] == "PO 1234 slip PS-77"


def test_bill_problems_are_all_reported():
    txn = purchase([detail(1, 1, "Rack", "1", "900.00"),
                    detail(2, 2, "Freight", "1", "50.00", account="")],
                   taxCode={"id": 5, "name": "VAT20"})
    txn["purchaseDetail"][1]["accountNumber"] = ""
    result = map_bill(source(txn), mappings())
    assert sorted(result.sentences) == sorted([
        'ConnectWise line "Freight" has no GL account, so Ferry cannot tell which Xero account '
        "it belongs to",
        "No Xero tax type for ConnectWise tax code VAT20"])


def test_the_cost_account_is_the_debit_side():
    txn = purchase([detail(1, 1, "Cable", "1", "10.00", account="")], [tax(2, 1, "1.00")])
    txn["purchaseDetail"][0]["accountNumber"] = "5000"
    assert map_bill(source(txn), mappings()).payload["LineItems"][0]["AccountCode"] == "310"


def test_numbers_are_found_again_by_key():
    txn = purchase([detail(1, 1, "Cable", "1", "10.00")])
    key = bill_key(txn)
    assert key == "PO 1234 slip PS-77"
    assert is_bill_number_for(bill_number(txn), key)
    assert not is_bill_number_for("INV-1 (PO 1234 slip PS-777)", key)
    assert not is_bill_number_for("PO 12345 slip PS-77", key)
    assert bill_key({"documentNumber": "88", "packingSlip": ""}) == "PO 88"


@given(supplier=st.text(max_size=400), po=st.text(min_size=1, max_size=40),
       slip=st.text(max_size=40))
def test_bill_number_fits_xero_and_keeps_its_key(supplier, po, slip):
    txn = {"documentNumber": po, "packingSlip": slip, "vendorInvoiceNumber": supplier}
    number = bill_number(txn)
    assert len(number) <= 255
    assert is_bill_number_for(number, bill_key(txn))
