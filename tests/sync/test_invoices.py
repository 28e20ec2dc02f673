"""CW GL export transactions -> exact Xero ACCREC payloads."""
from decimal import Decimal as D

from sync.documents import Mapped, Unmapped
from sync.invoices import map_invoice, map_sales_transaction
from sync.sales import SalesSource
from sync.routing import CwRef

from .cw import (CONTACT, MANAGED, PROCUREMENT, USD, facts, invoice, line, mappings,
                 tax_line, transaction)

OFFICE = {"Name": "Office", "Option": "Sydney"}
DEPT = {"Name": "Department", "Option": "Managed Services"}


def source(txn, record=None, **more):
    record = record or invoice(txn["documentNumber"])
    return SalesSource(txn, record, more.pop("facts", facts()), CONTACT, **more)


def test_standard_invoice_maps_to_exact_accrec_payload():
    txn = transaction("10234", [
        line("4000", "Managed services - March 2026", "1", "1200.00"),
        line("4200", "Onsite labour", "2.5", "165.00"),
        tax_line("161.25"),
    ])
    result = map_invoice(source(txn, invoice("10234", customer_po="PO4471")), mappings())
    assert isinstance(result, Mapped)
    assert result.payload == {
        "Type": "ACCREC", "Contact": CONTACT, "InvoiceNumber": "10234",
        "Date": "2026-03-04", "DueDate": "2026-04-03", "Reference": "PO4471",
        "CurrencyCode": "AUD", "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
        "LineItems": [
            {"Description": "Managed services - March 2026", "Quantity": D("1"),
             "UnitAmount": D("1200"), "AccountCode": "200", "TaxType": "OUTPUT",
             "Tracking": [OFFICE, DEPT]},
            {"Description": "Onsite labour", "Quantity": D("2.5"), "UnitAmount": D("165"),
             "AccountCode": "220", "TaxType": "OUTPUT", "Tracking": [OFFICE, DEPT]},
        ]}
    assert result.unitdp == 2
    assert result.rounding == D("0.00")
    assert result.cw_total == D("1773.75")


def test_ar_control_line_is_skipped_and_no_reference_without_customer_po():
    txn = transaction("10235", [
        {"accountNumber": "1200", "glTypeId": "AR", "description": "Receivable",
         "quantity": D(1), "itemPrice": D("110.00"), "total": D("110.00")},
        line("4000", "Backup", "1", "100.00"), tax_line("10.00")], total="110.00")
    result = map_invoice(source(txn), mappings())
    assert [li["Description"] for li in result.payload["LineItems"]] == ["Backup"]
    assert "Reference" not in result.payload


def test_cw_rounding_tax_once_gets_a_rounding_line():
    # CW: 99.99 x 10% = 9.999 -> 10.00 once. Xero: 3.33 a line -> 9.99. One cent short.
    detail = [line("4000", f"Seat {n}", "1", "33.33") for n in range(3)] + [tax_line("10.00")]
    result = map_invoice(source(transaction("10236", detail)), mappings())
    assert result.rounding == D("0.01")
    assert result.payload["LineItems"][-1] == {
        "Description": "Rounding", "Quantity": D(1), "UnitAmount": D("0.01"),
        "AccountCode": "860", "TaxType": "BASEXCLUDED"}


def test_four_decimal_unit_prices_keep_4dp_and_ask_for_unitdp4():
    txn = transaction("10237", [
        line("4100", "Toner cartridges", "3", "12.3456"), tax_line("3.70")])
    result = map_invoice(source(txn), mappings())
    item = result.payload["LineItems"][0]
    assert (item["Quantity"], item["UnitAmount"]) == (D(3), D("12.3456"))
    assert result.unitdp == 4
    assert result.rounding == D("0.00")


def test_a_line_xero_cannot_reproduce_goes_in_as_one_times_total():
    # A CW price with 5 dp: Xero keeps 4, so the line is sent as 1 x CW's total.
    txn = transaction("10238", [
        line("4100", "Cabling", "1000", "0.061171", total="61.17"), tax_line("6.12")])
    item = map_invoice(source(txn), mappings()).payload["LineItems"][0]
    assert item["Quantity"] == D(1)
    assert item["UnitAmount"] == D("61.17")
    assert item["Description"] == "Cabling (1000 @ 0.061171)"


def test_item_codes_are_mapped_when_known():
    txn = transaction("10239", [
        line("4100", "Laptop 14in", "1", "1500.00", item={"id": 9, "identifier": "LAPTOP-14"}),
        line("4100", "Mouse", "1", "20.00", item={"id": 8, "identifier": "MOUSE"}),
        tax_line("152.00")])
    items = map_invoice(source(txn), mappings()).payload["LineItems"]
    assert items[0]["ItemCode"] == "LAP14"
    assert "ItemCode" not in items[1]


def test_a_known_rate_is_sent_inverted_for_xero():
    export = {"id": 4, "name": "EXPORT"}
    txn = transaction("10240", [line("4200", "Consulting", "10", "150.00",
                                     taxCode=export)], currency=USD, tax_code=export)
    result = map_invoice(source(txn, currency_rate=D("1.5310")), mappings())
    assert result.payload["CurrencyCode"] == "USD"
    assert result.payload["CurrencyRate"] == D("0.653168")
    assert result.payload["LineItems"][0]["TaxType"] == "EXEMPTEXPORT"
    assert result.notes == ()


def test_without_a_cw_rate_xero_applies_its_day_rate_and_the_history_says_so():
    export = {"id": 4, "name": "EXPORT"}
    txn = transaction("10241", [line("4200", "Consulting", "1", "100.00", taxCode=export)],
                      currency=USD, tax_code=export)
    result = map_invoice(source(txn), mappings(currencies=frozenset({"AUD", "USD"})))
    assert result.payload["CurrencyCode"] == "USD"
    assert "CurrencyRate" not in result.payload
    assert result.notes == (f"Xero applied its own USD rate for {result.payload['Date']}: "
                            "ConnectWise records no exchange rate",)


def test_a_currency_the_org_has_not_enabled_says_to_enable_it():
    export = {"id": 4, "name": "EXPORT"}
    txn = transaction("10241", [line("4200", "Consulting", "1", "100.00", taxCode=export)],
                      currency=USD, tax_code=export)
    result = map_invoice(source(txn), mappings(currencies=frozenset({"AUD", "NZD"})))
    assert result.sentences == [
        "Invoice 10241 is in USD, which is not enabled in the Xero organisation; enable USD in "
        "Xero (Settings, Currencies) and Ferry writes it on the next cycle"]


def test_the_base_currency_carries_no_rate_and_no_note():
    result = map_invoice(source(transaction("10244", [line("4000", "Support", "1", "100.00"),
                                                      tax_line("10.00")])), mappings())
    assert result.payload["CurrencyCode"] == "AUD"
    assert "CurrencyRate" not in result.payload and result.notes == ()


def test_untaxed_line_uses_the_untaxed_tax_type():
    txn = transaction("10242", [line("4000", "Support", "1", "100.00"),
                                line("4000", "Donation", "1", "50.00", taxableFlag=False),
                                tax_line("10.00")])
    items = map_invoice(source(txn), mappings()).payload["LineItems"]
    assert [i["TaxType"] for i in items] == ["OUTPUT", "EXEMPTOUTPUT"]


def test_every_problem_of_a_record_is_reported_once():
    vat = {"id": 5, "name": "VAT20"}
    txn = transaction("10243", [
        line("4100", "Switch", "1", "400.00", taxCode=vat),
        line("4900", "Freight", "1", "35.00", taxCode=vat),
        line("4900", "Freight again", "1", "35.00", taxCode=vat),
        tax_line("94.00")], tax_code=vat)
    result = map_invoice(source(txn, facts=facts(department=PROCUREMENT)), mappings())
    assert isinstance(result, Unmapped)
    assert sorted(result.sentences) == sorted([
        "No tracking option for ConnectWise department Procurement",
        "No Xero account for ConnectWise GL account 4900",
        "No Xero tax type for ConnectWise tax code VAT20",
    ])
    assert {p.kind for p in result.problems} == {"tracking option", "account", "tax type"}


def test_a_tax_rate_mismatch_is_not_hidden_in_a_rounding_line():
    # CW charged 20% but the code maps to a 10% Xero tax type.
    txn = transaction("10244", [line("4000", "Support", "1", "100.00"), tax_line("20.00")])
    result = map_invoice(source(txn), mappings())
    assert result.sentences == [
        "Xero would total invoice 10244 at 110.00 AUD (tax 10.00) but ConnectWise totals "
        "it at 120.00 AUD (tax 20.00); check the tax mapping for ConnectWise tax code GST"]


def test_rounding_needed_without_a_rounding_account_is_a_problem():
    detail = [line("4000", f"Seat {n}", "1", "33.33") for n in range(3)] + [tax_line("10.00")]
    result = map_invoice(source(transaction("10245", detail)),
                         mappings(rounding_account=None))
    assert result.sentences == ["No rounding account set for the organisation: invoice 10245 "
                                "needs a rounding line of 0.01"]


def test_untracked_location_leaves_lines_untracked_in_that_category():
    txn = transaction("10246", [line("4000", "Support", "1", "100.00"), tax_line("10.00")])
    result = map_invoice(source(txn, facts=facts(location=None)), mappings())
    assert result.payload["LineItems"][0]["Tracking"] == [DEPT]


def test_negative_invoice_is_refused_with_advice():
    txn = transaction("10247", [line("4000", "Refund", "1", "-100.00"), tax_line("-10.00")])
    result = map_invoice(source(txn), mappings())
    assert result.sentences == [
        "ConnectWise invoice 10247 totals -110.00; Xero does not accept invoices below zero. "
        "Raise it as a credit memo in ConnectWise"]


def test_every_invoice_type_maps_the_same_way():
    for kind in ("Standard", "Agreement", "Miscellaneous", "Progress", "DownPayment"):
        txn = transaction("10250", [line("4300", f"{kind} billing", "1", "500.00"),
                                    tax_line("50.00")])
        result = map_sales_transaction(source(txn, invoice("10250", type_=kind)), mappings())
        assert result.payload["Type"] == "ACCREC"
        assert result.cw_total == D("550.00")


def test_inclusive_org_setting_grosses_lines_up_and_balances():
    from sync.tables import RecordSettings
    detail = [line("4000", f"Seat {n}", "1", "33.33") for n in range(3)] + [tax_line("10.00")]
    result = map_invoice(source(transaction("10251", detail)),
                         mappings(settings={"invoice": RecordSettings("DRAFT", "Inclusive")}))
    assert result.payload["LineAmountTypes"] == "Inclusive"
    assert result.payload["LineItems"][0]["UnitAmount"] == D("36.66")
    total = sum(li["Quantity"] * li["UnitAmount"] for li in result.payload["LineItems"])
    assert total == D("109.99")


def test_dates_are_the_records_own():
    txn = transaction("10252", [line("4000", "Support", "1", "100.00"), tax_line("10.00")],
                      date="2025-12-31T00:00:00Z", due="2026-01-30T00:00:00Z")
    payload = map_invoice(source(txn), mappings()).payload
    assert (payload["Date"], payload["DueDate"]) == ("2025-12-31", "2026-01-30")


def test_unknown_location_name_appears_in_the_tracking_sentence():
    perth = CwRef(7, "Perth")
    txn = transaction("10253", [line("4000", "Support", "1", "100.00"), tax_line("10.00")])
    result = map_invoice(source(txn, facts=facts(location=perth, department=MANAGED)),
                         mappings())
    assert result.sentences == ["No tracking option for ConnectWise location Perth"]
