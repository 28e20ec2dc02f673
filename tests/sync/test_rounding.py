"""Xero's per-line tax arithmetic and the rounding line that makes totals agree."""
from decimal import Decimal as D

import pytest
from hypothesis import given, strategies as st

from sync.rounding import line_tax, with_rounding_line, xero_totals

RATES = {"OUTPUT": D("15"), "GST": D("10"), "HALF": D("12.5"), "BASEXCLUDED": D("0")}


def payload(lines, kind="Exclusive"):
    return {"LineAmountTypes": kind, "LineItems": [
        {"Quantity": D(q), "UnitAmount": D(u), "TaxType": t} for q, u, t in lines]}


def test_xero_guide_example_rounds_tax_per_line():
    # developer.xero.com "Rounding in Xero": 25.06, 25.61, 25.63 at 15%.
    totals = xero_totals(payload([("1", "25.06", "OUTPUT"), ("1", "25.61", "OUTPUT"),
                                  ("1", "25.63", "OUTPUT")]), RATES)
    assert (totals.sub_total, totals.total_tax, totals.total) == \
        (D("76.30"), D("11.44"), D("87.74"))


def test_inclusive_lines_hold_their_tax():
    totals = xero_totals(payload([("1", "110.00", "GST"), ("3", "3.6663", "GST")],
                                 "Inclusive"), RATES)
    # 110.00 holds 10.00; 3 x 3.6663 = 10.9989 -> 11.00 holds 1.00
    assert (totals.sub_total, totals.total_tax, totals.total) == \
        (D("110.00"), D("11.00"), D("121.00"))


def test_notax_lines_carry_none():
    totals = xero_totals(payload([("2", "10.005", "GST")], "NoTax"), RATES)
    assert (totals.total_tax, totals.total) == (D("0.00"), D("20.01"))


def test_half_cents_round_away_from_zero():
    assert line_tax(D("0.05"), D("10"), "Exclusive") == D("0.01")
    assert line_tax(D("-0.05"), D("10"), "Exclusive") == D("-0.01")


def test_no_rounding_line_when_totals_agree():
    rounded = with_rounding_line(payload([("1", "100", "GST")]), D("110.00"), RATES, "860")
    assert rounded.difference == D("0.00")
    assert len(rounded.payload["LineItems"]) == 1


def test_rounding_line_does_not_touch_the_input():
    original = payload([("1", "33.33", "GST")] * 3)
    rounded = with_rounding_line(original, D("109.99"), RATES, "860")
    assert len(original["LineItems"]) == 3
    assert rounded.payload["LineItems"][-1]["UnitAmount"] == D("0.01")


def test_notax_rounding_line_has_no_tax_type():
    rounded = with_rounding_line(payload([("1", "10", "GST")], "NoTax"), D("10.02"), RATES,
                                 "860")
    assert "TaxType" not in rounded.payload["LineItems"][-1]


def test_rounding_tax_type_must_carry_no_tax():
    with pytest.raises(ValueError):
        with_rounding_line(payload([]), D("1"), RATES, "860", tax_type="GST")


def test_unknown_tax_type_is_an_error_not_a_guess():
    with pytest.raises(KeyError):
        xero_totals(payload([("1", "10", "TAX009")]), RATES)


amounts = st.decimals(min_value=D("-5000"), max_value=D("5000"), places=4)
quantities = st.decimals(min_value=D("0.0001"), max_value=D("500"), places=4)
lines = st.lists(st.tuples(quantities, amounts, st.sampled_from(sorted(RATES))),
                 min_size=1, max_size=12)


@given(lines, st.sampled_from(["Exclusive", "Inclusive", "NoTax"]),
       st.decimals(min_value=D("-0.50"), max_value=D("0.50"), places=2))
def test_payload_total_with_rounding_line_equals_cw_total(items, kind, drift):
    doc = payload([(q, u, t) for q, u, t in items], kind)
    cw_total = xero_totals(doc, RATES).total + drift
    rounded = with_rounding_line(doc, cw_total, RATES, "860")
    assert xero_totals(rounded.payload, RATES).total == cw_total
    assert rounded.difference == drift


@given(lines)
def test_cw_tax_once_on_subtotal_differs_from_xero_by_under_half_a_cent_a_line(items):
    doc = payload(items)
    subtotal = xero_totals(doc, RATES).sub_total
    cw_tax = sum(((D(q) * D(u)).quantize(D("0.01")) * RATES[t] / 100 for q, u, t in items),
                 D(0)).quantize(D("0.01"))
    rounded = with_rounding_line(doc, subtotal + cw_tax, RATES, "860")
    assert abs(rounded.difference) <= D("0.005") * (len(items) + 1)
