"""What invoices, credit notes and bills share: header fields, tracking, currency, and
the finishing step that checks the tax and balances the total with a rounding line."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Mapping

from .lines import BuiltLines, SourceLine, build_line_items
from .money import cents, to_decimal
from .problems import MissingMapping, Problem, TaxMismatch
from .rounding import with_rounding_line, xero_totals
from .routing import RoutingFacts
from .tables import OrgMappings

XERO_RATE_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class Mapped:
    """A payload ready to write. `unitdp` is 4 when any UnitAmount has more than 2 dp:
    the write must then carry the query parameter unitdp=4. `rounding` is the amount of
    the rounding line (0.00 when none), for the UI."""
    payload: dict
    unitdp: int
    rounding: Decimal
    cw_total: Decimal
    notes: tuple[str, ...] = ()      # for the record's history once Xero accepts it


@dataclass(frozen=True)
class Unmapped:
    problems: tuple[Problem, ...]
    cw_total: Decimal | None = None   # CW's total: what the problems hold back

    @property
    def sentences(self) -> list[str]:
        return [p.sentence for p in self.problems]


@dataclass(frozen=True)
class Draft:
    """A document being mapped: the header so far, its lines and CW's figures."""
    label: str                     # "invoice 10234", for sentences
    record_type: str               # "invoice" | "credit_note" | "bill"
    side: str                      # "sales" | "purchases"
    header: dict
    lines: list[SourceLine]
    cw_total: Decimal
    cw_tax: Decimal
    problems: list[Problem]
    notes: tuple[str, ...] = ()


def xero_date(value, field: str = "date") -> str | None:
    """CW's date-time ("2026-03-04T00:00:00Z") as the date Xero wants: the record's own
    calendar date, never converted through a time zone. An unreadable one raises a
    ValueError that names the field, for the record's exception."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ValueError(f"its {field} “{value}” is not a date as ConnectWise sends them "
                         "(2026-12-31T00:00:00Z)") from None


def due_date(explicit, on: str | None, due_days) -> str | None:
    """The DueDate Xero requires on an AUTHORISED document: CW's own due date, else the
    document date plus CW's due days (billing terms); None when CW gives neither."""
    due = xero_date(explicit, "dueDate")
    if due:
        return due
    if on is None or due_days is None or str(due_days).strip() == "":
        return None
    try:
        days = int(str(due_days).strip())
    except ValueError:
        return None
    return (date.fromisoformat(on) + timedelta(days=days)).isoformat()


def no_due_date(label: str) -> MissingMapping:
    return MissingMapping("data", label, (
        f"ConnectWise gives {label} no due date and no billing terms, and Xero needs a "
        "due date; set the billing terms on it (or its company) in ConnectWise"))


def tracking_for(facts: RoutingFacts, mappings: OrgMappings) -> tuple[list[dict], list[Problem]]:
    tracking, problems = [], []
    for category in mappings.tracking:
        ref = facts.location if category.source == "location" else facts.department
        if ref is None:
            continue    # CW left it empty: the line goes untracked in this category
        option = category.options.get(ref.id)
        if option is None:
            sentence = f"No tracking option for ConnectWise {category.source} {ref.name}"
            problems.append(MissingMapping("tracking option", ref.name, sentence))
        else:
            tracking.append({"Name": category.category, "Option": option})
    return tracking, problems


def currency_fields(currency: Mapping | None, cw_rate: Decimal | None,
                    mappings: OrgMappings, label: str, on: str | None = None
                    ) -> tuple[dict, list[Problem], tuple[str, ...]]:
    """CurrencyCode, CurrencyRate when a rate is known, and a note for the history.

    ConnectWise records no exchange rate on its documents, so a foreign-currency
    document normally goes without CurrencyRate and Xero applies its own day rate for
    the document's date (`on`). A known rate is base currency per unit of the
    document's currency (1 USD = 1.5310 AUD); Xero wants the inverse, to 6 dp. A
    currency the org has not enabled is a problem, when the caller knows the org's
    currencies (`mappings.currencies`)."""
    code = (currency or {}).get("currencyCode")
    if not code:
        return {}, [], ()
    fields: dict = {"CurrencyCode": code}
    if mappings.base_currency is None or code == mappings.base_currency:
        return fields, [], ()
    if mappings.currencies is not None and code not in mappings.currencies:
        sentence = (f"{label[0].upper()}{label[1:]} is in {code}, which is not enabled in "
                    f"the Xero organisation; enable {code} in Xero (Settings, "
                    "Currencies) and Ferry writes it on the next cycle")
        return fields, [MissingMapping("currency", code, sentence)], ()
    if cw_rate is not None and to_decimal(cw_rate) > 0:
        fields["CurrencyRate"] = (Decimal(1) / to_decimal(cw_rate)).quantize(XERO_RATE_PLACES)
        return fields, [], ()
    note = (f"Xero applied its own {code} rate for {on or 'the document date'}: "
            "ConnectWise records no exchange rate")
    return fields, [], (note,)


def finish(draft: Draft, facts: RoutingFacts, mappings: OrgMappings) -> Mapped | Unmapped:
    settings = mappings.settings_for(draft.record_type)
    tracking, problems = tracking_for(facts, mappings)
    problems = list(draft.problems) + problems
    built: BuiltLines = build_line_items(draft.lines, mappings, draft.side, tracking,
                                         settings.line_amount_types)
    problems += built.problems
    if problems:
        return Unmapped(tuple(problems), cents(draft.cw_total))
    payload = dict(draft.header)
    payload["Status"] = settings.status
    payload["LineAmountTypes"] = settings.line_amount_types
    payload["LineItems"] = built.line_items
    totals = xero_totals(payload, mappings.tax_rates)
    difference = cents(draft.cw_total) - totals.total
    # Per-line rounding moves the total by at most half a cent a line; more than that
    # means the tax mapping charges a different rate than CW did.
    tolerance = Decimal("0.01") * (len(built.line_items) + 1)
    if abs(difference) > tolerance:
        return Unmapped((_mismatch(draft, totals, difference, mappings),),
                        cents(draft.cw_total))
    if difference != 0 and not mappings.rounding_account:
        sentence = (f"No rounding account set for the organisation: {draft.label} needs a "
                    f"rounding line of {difference}")
        return Unmapped((MissingMapping("setting", "rounding account", sentence),),
                        cents(draft.cw_total))
    rounded = with_rounding_line(payload, draft.cw_total, mappings.tax_rates,
                                 mappings.rounding_account or "", mappings.rounding_tax_type)
    return Mapped(rounded.payload, 4 if built.needs_unitdp4 else 2, rounded.difference,
                  cents(draft.cw_total), draft.notes)


def _mismatch(draft: Draft, totals, difference: Decimal, mappings: OrgMappings) -> TaxMismatch:
    codes = sorted({line.tax_code for line in draft.lines if line.tax_code})
    # Amounts as the pages show them (5,280.00 AUD): the document's currency, else the
    # org's. The exceptions page reads the codes from the sentence's end to link them.
    currency = draft.header.get("CurrencyCode") or mappings.base_currency
    unit = f" {currency}" if currency else ""
    return TaxMismatch(str(difference), (
        f"Xero would total {draft.label} at {totals.total:,.2f}{unit} (tax "
        f"{totals.total_tax:,.2f}) but ConnectWise totals it at "
        f"{cents(draft.cw_total):,.2f}{unit} (tax {cents(draft.cw_tax):,.2f}); "
        f"check the tax mapping for ConnectWise tax code {', '.join(codes) or '(none)'}"))
