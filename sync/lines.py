"""CW lines -> Xero LineItems, collecting every missing mapping on the way.

Both sides feed `SourceLine`s in (GL export detail lines for sales, received PO lines
for bills) with signs already set so a document's lines add up to a positive total.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .money import UNIT_4DP, cents, decimal_places, plain
from .problems import MissingMapping
from .rounding import HUNDRED
from .tables import OrgMappings, TaxTypes


@dataclass(frozen=True)
class SourceLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal                 # CW's line total, excluding tax
    gl_account: str
    tax_code: str | None
    taxable: bool = True
    item: str | None = None        # CW product/item identifier


@dataclass(frozen=True)
class BuiltLines:
    line_items: list[dict]
    problems: list[MissingMapping]
    needs_unitdp4: bool


def build_line_items(lines: list[SourceLine], mappings: OrgMappings, side: str,
                     tracking: list[dict], line_amount_types: str) -> BuiltLines:
    """Xero LineItems for `lines` on the "sales" or "purchases" side.

    Problems are deduplicated: one sentence per unmapped account or tax code however
    many lines use it."""
    taxes = mappings.sales_tax if side == "sales" else mappings.purchase_tax
    problems: dict[str, MissingMapping] = {}
    items: list[dict] = []
    needs_unitdp4 = False
    for line in lines:
        account = mappings.accounts.get(line.gl_account)
        if not line.gl_account:
            sentence = (f"ConnectWise line \"{line.description}\" has no GL account, so Ferry cannot "
                        "tell which Xero account it belongs to")
            problems[sentence] = MissingMapping("data", "", sentence)
        elif account is None:
            sentence = f"No Xero account for ConnectWise GL account {line.gl_account}"
            problems[sentence] = MissingMapping("account", line.gl_account, sentence)
        tax_type = None
        if line_amount_types != "NoTax":
            tax_type, problem = _tax_type(line, taxes, mappings)
            if problem:
                problems[problem.sentence] = problem
        quantity, unit_amount, description = _units(line, mappings, tax_type,
                                                    line_amount_types)
        needs_unitdp4 = needs_unitdp4 or decimal_places(unit_amount) > 2
        item = {"Description": description, "Quantity": quantity,
                "UnitAmount": unit_amount}
        if account is not None:
            item["AccountCode"] = account
        if tax_type is not None:
            item["TaxType"] = tax_type
        item_code = mappings.items.get(line.item) if line.item else None
        if item_code:
            item["ItemCode"] = item_code
        if tracking:
            item["Tracking"] = [dict(t) for t in tracking]
        items.append(item)
    return BuiltLines(items, list(problems.values()), needs_unitdp4)


def _tax_type(line: SourceLine, taxes: TaxTypes,
              mappings: OrgMappings) -> tuple[str | None, MissingMapping | None]:
    mapped = taxes.by_code.get(line.tax_code) if line.tax_code else None
    if not line.taxable:
        # An untaxed line keeps its code's tax type when that type charges nothing.
        if mapped and mappings.tax_rates.get(mapped) == 0:
            return mapped, None
        if taxes.untaxed:
            return taxes.untaxed, None
        sentence = "No Xero tax type for untaxed ConnectWise lines"
        return None, MissingMapping("tax type", "(untaxed)", sentence)
    if mapped is None:
        sentence = f"No Xero tax type for ConnectWise tax code {line.tax_code or '(none)'}"
        return None, MissingMapping("tax type", line.tax_code or "", sentence)
    if mapped not in mappings.tax_rates:
        sentence = (f"Xero tax type {mapped} (for ConnectWise tax code {line.tax_code}) is not "
                    "among the organisation's tax rates; refresh its reference data")
        return None, MissingMapping("tax rate", mapped, sentence)
    return mapped, None


def _units(line: SourceLine, mappings: OrgMappings, tax_type: str | None,
           line_amount_types: str) -> tuple[Decimal, Decimal, str]:
    """Quantity, UnitAmount and Description so that Xero's line amount is CW's total.

    Xero keeps 4 dp on quantities and unit amounts (with unitdp=4) and rounds the line
    amount to the cent; a line it cannot reproduce goes in as 1 x total with the detail
    in the description, as Xero's rounding guide suggests."""
    description = line.description or line.item or "(no description)"
    quantity, price = plain(line.quantity), plain(line.unit_price)
    if line_amount_types == "Inclusive":
        rate = mappings.tax_rates.get(tax_type, Decimal(0)) if tax_type else Decimal(0)
        gross = cents(line.total * (HUNDRED + rate) / HUNDRED)
        if quantity == 0 or decimal_places(quantity) > 4:
            return Decimal(1), gross, description
        return quantity, plain((gross / quantity).quantize(UNIT_4DP, ROUND_HALF_UP)), description
    exact = (decimal_places(quantity) <= 4 and decimal_places(price) <= 4
             and cents(quantity * price) == cents(line.total))
    if exact:
        return quantity, price, description
    return Decimal(1), cents(line.total), f"{description} ({quantity} @ {price})"
