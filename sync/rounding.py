"""Xero's arithmetic, so Ferry knows Xero's total before it writes.

Xero's rule (developer guide "Rounding in Xero"): each line's amount is Quantity x
UnitAmount rounded to 2 dp; each line's tax is rounded to 2 dp on its own and the
document's tax is the sum of those. Exclusive lines carry tax on top
(tax = round(amount x rate, 2)); Inclusive lines hold it inside
(tax = round(amount x rate / (1 + rate), 2)); NoTax lines carry none. CW rounds tax
once on the subtotal, so the two totals can differ by a few cents; Xero's guide
recommends a rounding line to the rounding account with no tax, which is what
`with_rounding_line` adds.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from .money import ZERO, cents, to_decimal

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class XeroTotals:
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class Rounded:
    """The payload to write, and what the rounding line holds (0.00 when none)."""
    payload: dict
    difference: Decimal


def line_amount(line: Mapping) -> Decimal:
    if "UnitAmount" not in line and "LineAmount" in line:
        return cents(to_decimal(line["LineAmount"]))
    quantity = to_decimal(line.get("Quantity", 1))
    return cents(quantity * to_decimal(line.get("UnitAmount")))


def line_tax(amount: Decimal, rate_percent: Decimal, line_amount_types: str) -> Decimal:
    if line_amount_types == "NoTax" or rate_percent == 0:
        return ZERO
    if line_amount_types == "Inclusive":
        return cents(amount * rate_percent / (HUNDRED + rate_percent))
    return cents(amount * rate_percent / HUNDRED)


def xero_totals(payload: Mapping, tax_rates: Mapping[str, Decimal]) -> XeroTotals:
    """What Xero will report as SubTotal, TotalTax and Total for this payload.

    `tax_rates` maps each TaxType used to its rate in percent; a line without TaxType
    counts as untaxed. An unknown TaxType raises KeyError: guessing would hide a
    missing mapping."""
    kind = payload.get("LineAmountTypes", "Exclusive")
    amounts = ZERO
    tax = ZERO
    for line in payload.get("LineItems", ()):
        amount = line_amount(line)
        rate = tax_rates[line["TaxType"]] if line.get("TaxType") else Decimal(0)
        amounts += amount
        tax += line_tax(amount, to_decimal(rate), kind)
    if kind == "Inclusive":
        return XeroTotals(amounts - tax, tax, amounts)
    return XeroTotals(amounts, tax, amounts + tax)


def with_rounding_line(payload: Mapping, cw_total: Decimal,
                       tax_rates: Mapping[str, Decimal], account_code: str,
                       tax_type: str = "BASEXCLUDED",
                       description: str = "Rounding") -> Rounded:
    """A copy of `payload` whose Xero total equals `cw_total` to the cent.

    When the totals already agree the payload is returned unchanged (as a copy) and the
    difference is 0.00. The rounding line's tax type must carry no tax."""
    if to_decimal(tax_rates.get(tax_type, 0)) != 0:
        raise ValueError(f"rounding tax type {tax_type} must have a zero rate")
    difference = cents(cw_total) - xero_totals(payload, tax_rates).total
    result = dict(payload)
    result["LineItems"] = [dict(line) for line in payload.get("LineItems", ())]
    if difference != 0:
        line = {"Description": description, "Quantity": Decimal(1),
                "UnitAmount": difference, "AccountCode": account_code}
        if payload.get("LineAmountTypes", "Exclusive") != "NoTax":
            line["TaxType"] = tax_type
        result["LineItems"].append(line)
    return Rounded(result, difference)
