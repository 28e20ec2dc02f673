"""Version hashes and the create / update / skip / exception decision."""
from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, strategies as st

from sync.invoices import map_invoice
from sync.sales import SalesSource
from sync.updates import StoredState, XeroState, as_update, decide
from sync.versions import canonical_json, version_hash

from .cw import CONTACT, facts, invoice, line, mappings, tax_line, transaction


def mapped(price="100.00", po=""):
    txn = transaction("10300", [line("4000", "Support", "1", price),
                                tax_line(str((D(price) / 10).quantize(D("0.01"))))])
    return map_invoice(SalesSource(txn, invoice("10300", customer_po=po), facts(), CONTACT),
                       mappings()).payload


def test_same_record_same_version_and_an_edit_changes_it():
    assert version_hash(mapped()) == version_hash(mapped())
    assert version_hash(mapped()) != version_hash(mapped("100.01"))
    assert version_hash(mapped()) != version_hash(mapped(po="PO1"))
    assert version_hash(mapped()).startswith("v1:")


def test_decimals_are_normalised_and_key_order_ignored():
    a = {"A": D("10.50"), "B": [D("1E+2"), D("-0.00")], "C": date(2026, 3, 4)}
    b = {"C": "2026-03-04", "B": [D("100"), D("0")], "A": D("10.5")}
    assert canonical_json(a) == canonical_json(b)
    assert version_hash(a) == version_hash(b)


def test_a_decimal_and_the_string_of_it_are_different_versions():
    assert version_hash({"A": D("1")}) != version_hash({"A": "1"})


def test_floats_are_refused():
    with pytest.raises(TypeError):
        version_hash({"A": 1.5})


@given(st.decimals(min_value=D("-1e12"), max_value=D("1e12"), places=4),
       st.integers(min_value=0, max_value=6))
def test_trailing_zeros_never_change_the_hash(value, zeros):
    padded = value.quantize(D(1).scaleb(-(4 + zeros)))
    assert version_hash({"x": value}) == version_hash({"x": padded})


NEW = "v1:new"


def test_never_written_is_created():
    assert decide("Invoice 10300", NEW, None, None).action == "create"
    assert decide("Invoice 10300", NEW, StoredState(None, None), None).action == "create"


def test_same_version_is_skipped_even_when_forced():
    stored = StoredState("inv-1", NEW)
    assert decide("Invoice 10300", NEW, stored, XeroState("AUTHORISED")).action == "skip"
    forced = decide("Invoice 10300", NEW, stored, XeroState("AUTHORISED"), forced=True)
    assert forced.action == "skip"
    assert forced.sentence == "Invoice 10300 is already in Xero as this version; nothing was sent."


@pytest.mark.parametrize("status", ["DRAFT", "SUBMITTED", "AUTHORISED"])
def test_editable_documents_are_updated(status):
    decision = decide("Invoice 10300", NEW, StoredState("inv-1", "v1:old"), XeroState(status))
    assert decision.action == "update"


@pytest.mark.parametrize("xero", [
    XeroState("PAID", amount_paid=D("110.00")), XeroState("VOIDED"), XeroState("DELETED"),
    XeroState("AUTHORISED", amount_paid=D("10.00")),
    XeroState("AUTHORISED", amount_credited=D("5.00")),
    XeroState("AUTHORISED", has_allocations=True)])
def test_what_xero_no_longer_allows_becomes_an_exception(xero):
    decision = decide("Invoice 10300", NEW, StoredState("inv-1", "v1:old"), xero)
    assert decision.action == "exception"
    assert decision.sentence.startswith("Invoice 10300 changed in ConnectWise, but ")
    assert "Ferry left Xero as it is" in decision.sentence


def test_paid_sentence_reads_well():
    decision = decide("Invoice 10300", NEW, StoredState("inv-1", "v1:old"),
                      XeroState("PAID", amount_paid=D("110.00")))
    assert decision.sentence == (
        "Invoice 10300 changed in ConnectWise, but it is paid in Xero, so Xero no longer "
        "accepts edits. Ferry left Xero as it is; make the change in Xero by hand (for "
        "example with a credit note) if it still matters.")


def test_a_document_gone_from_xero_is_not_recreated_silently():
    decision = decide("Invoice 10300", NEW, StoredState("inv-1", "v1:old"), None)
    assert decision.action == "exception"


def test_update_carries_every_line_and_known_line_item_ids():
    payload = {"Type": "ACCREC", "LineItems": [
        {"Description": "Support", "AccountCode": "200", "UnitAmount": D("120")},
        {"Description": "Onsite labour", "AccountCode": "220", "UnitAmount": D("165")},
        {"Description": "New line", "AccountCode": "200", "UnitAmount": D("5")}]}
    existing = [{"LineItemID": "li-2", "Description": "Onsite labour", "AccountCode": "220"},
                {"LineItemID": "li-1", "Description": "Support", "AccountCode": "200"},
                {"LineItemID": "li-9", "Description": "Removed in CW", "AccountCode": "200"}]
    update = as_update(payload, "InvoiceID", "inv-1", existing)
    assert update["InvoiceID"] == "inv-1"
    assert [li.get("LineItemID") for li in update["LineItems"]] == ["li-1", "li-2", None]
    assert "LineItemID" not in payload["LineItems"][0]
    assert version_hash(payload) != version_hash(update)
