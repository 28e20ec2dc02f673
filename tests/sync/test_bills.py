"""Received CW purchase orders -> ACCPAY bills with Ferry's reference marker."""
from decimal import Decimal as D

from hypothesis import given, strategies as st

from sync.bills import BillSource, bill_marker, bill_reference, map_bill, marker_in

from .cw import AUD, GST, ORG, facts, mappings

VENDOR = {"ContactID": "7b0c1a2e-0000-4000-8000-00000000beef"}


def po(**more):
    record = {"id": 5001, "poNumber": "1234", "poDate": "2026-02-20T00:00:00Z",
              "vendorCompany": {"id": 300, "identifier": "IngramMicro",
                                "name": "Ingram Micro"},
              "vendorInvoiceNumber": "INV-88123", "vendorInvoiceDate": "2026-03-02T00:00:00Z",
              "currency": dict(AUD), "taxCode": dict(GST), "taxPoFlag": True,
              "locationId": 2}
    record.update(more)
    return record


def po_line(id_, number, description, quantity, cost, tax, received=None, **more):
    return {"id": id_, "lineNumber": number, "description": description,
            "quantity": D(quantity), "unitCost": D(cost), "tax": D(tax),
            "receivedQuantity": int(received if received is not None else quantity),
            "packingSlip": "PS-77", "dateReceived": "2026-03-03T00:00:00Z",
            "receivedStatus": "FullyReceived", **more}


def bill_source(lines, gl=None, **more):
    return BillSource(po(**more.pop("po", {})), "PS-77", tuple(lines),
                      facts("bills", department=None), VENDOR,
                      gl_accounts=gl if gl is not None else {l["id"]: "5000" for l in lines},
                      **more)


def test_received_po_maps_to_an_exact_accpay_bill():
    lines = [po_line(1, 1, "Dell Latitude 5450", "2", "1450.0000", "290.00"),
             po_line(2, 2, "USB-C dock", "2", "189.9950", "38.00")]
    result = map_bill(bill_source(lines, due_date="2026-04-01"), mappings())
    office = {"Name": "Office", "Option": "Sydney"}
    assert result.payload == {
        "Type": "ACCPAY", "Contact": VENDOR, "InvoiceNumber": "INV-88123",
        "Date": "2026-03-02", "DueDate": "2026-04-01",
        "Reference": "PO 1234 / slip PS-77 [ferry:po-5001-PS-77]", "CurrencyCode": "AUD",
        "Status": "DRAFT", "LineAmountTypes": "Exclusive",
        "LineItems": [
            {"Description": "Dell Latitude 5450", "Quantity": D(2), "UnitAmount": D(1450),
             "AccountCode": "310", "TaxType": "INPUT", "Tracking": [office]},
            {"Description": "USB-C dock", "Quantity": D(2), "UnitAmount": D("189.995"),
             "AccountCode": "310", "TaxType": "INPUT", "Tracking": [office]}]}
    assert result.unitdp == 4
    assert result.cw_total == D("3607.99")      # 2900.00 + 379.99 + 328.00 tax


def test_partial_receipt_bills_what_was_received_with_its_share_of_tax():
    lines = [po_line(1, 1, "Cat6 patch leads", "10", "4.50", "4.50", received=4)]
    result = map_bill(bill_source(lines), mappings())
    assert result.payload["LineItems"][0]["Quantity"] == D(4)
    assert result.cw_total == D("19.80")


def test_bill_without_vendor_invoice_date_uses_the_receipt_date():
    lines = [po_line(1, 1, "Toner", "1", "80.00", "8.00")]
    result = map_bill(bill_source(lines, po={"vendorInvoiceDate": None,
                                             "vendorInvoiceNumber": None}), mappings())
    assert result.payload["Date"] == "2026-03-03"
    assert "InvoiceNumber" not in result.payload


def test_bill_problems_are_all_reported():
    lines = [po_line(1, 1, "Rack", "1", "900.00", "90.00"),
             po_line(2, 2, "Freight", "1", "50.00", "5.00")]
    result = map_bill(bill_source(lines, gl={1: "5000"},
                                  po={"taxCode": {"id": 5, "name": "VAT20"}}), mappings())
    assert sorted(result.sentences) == sorted([
        'CW line "Freight" has no GL account, so Ferry cannot tell which Xero account '
        "it belongs to",
        f"No Xero tax type for CW tax code VAT20 in org {ORG}"])


def test_marker_is_found_again_in_a_reference():
    reference = bill_reference("1234", 5001, "PS-77")
    assert marker_in(reference) == "[ferry:po-5001-PS-77]"
    assert marker_in("PO 1234 from someone else") is None
    assert bill_reference("1234", 5001, "") == "PO 1234 [ferry:po-5001]"


def test_awkward_slips_get_distinct_safe_markers():
    a, b = bill_marker(5001, "PS 77/A"), bill_marker(5001, "PS 77 A")
    assert a != b
    assert marker_in(f"x {a}") == a


@given(po_number=st.text(min_size=0, max_size=400), slip=st.text(max_size=300),
       po_id=st.integers(min_value=1, max_value=10**9))
def test_reference_fits_xero_and_keeps_its_marker(po_number, slip, po_id):
    reference = bill_reference(po_number, po_id, slip)
    assert len(reference) <= 255
    assert marker_in(reference) == bill_marker(po_id, slip)
    assert reference.endswith(bill_marker(po_id, slip))
