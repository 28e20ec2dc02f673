"""One Xero organisation's mapping tables, as the Mappings screens edit them.

Frozen and built from plain rows: the jobs layer reads its tables and passes, for
example, `accounts={row.cw_account: row.xero_code for row in rows}`. Keys are CW values
as they arrive (GL account numbers and tax code names as strings, location and
department ids as ints); values are what Xero expects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

RECORD_TYPES = ("invoice", "credit_note", "bill")
STATUSES = ("DRAFT", "AUTHORISED")
LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")


@dataclass(frozen=True)
class RecordSettings:
    """How one record type is written to one org."""
    status: str = "DRAFT"
    line_amount_types: str = "Exclusive"

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        if self.line_amount_types not in LINE_AMOUNT_TYPES:
            raise ValueError(f"line_amount_types must be one of {LINE_AMOUNT_TYPES}")


@dataclass(frozen=True)
class TrackingMap:
    """A Xero tracking category fed by a CW location or department.

    `options` maps the CW id to the Xero option name.
    """
    category: str
    source: str                      # "location" | "department"
    options: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.source not in ("location", "department"):
            raise ValueError("a tracking category is fed by 'location' or 'department'")


@dataclass(frozen=True)
class TaxTypes:
    """CW tax code name -> Xero tax type, for one side (sales or purchases).

    `untaxed` is the Xero tax type for lines CW marks as not taxable (EXEMPTOUTPUT on
    sales in an AU org, for example); None until the user sets it.
    """
    by_code: Mapping[str, str] = field(default_factory=dict)
    untaxed: str | None = None


@dataclass(frozen=True)
class OrgMappings:
    """Everything the mappers need to know about one Xero organisation."""
    org_name: str
    accounts: Mapping[str, str] = field(default_factory=dict)
    sales_tax: TaxTypes = field(default_factory=TaxTypes)
    purchase_tax: TaxTypes = field(default_factory=TaxTypes)
    # Xero tax type -> effective rate in percent, as GET /TaxRates reports it.
    tax_rates: Mapping[str, Decimal] = field(default_factory=dict)
    tracking: tuple[TrackingMap, ...] = ()
    items: Mapping[str, str] = field(default_factory=dict)   # CW item identifier -> ItemCode
    settings: Mapping[str, RecordSettings] = field(default_factory=dict)
    rounding_account: str | None = None
    rounding_tax_type: str = "BASEXCLUDED"
    base_currency: str | None = None     # the org's base currency, from GET /Organisation
    # Currency codes the org has enabled (GET /Currencies); None when not read.
    currencies: frozenset[str] | None = None

    def __post_init__(self):
        if len(self.tracking) > 2:
            raise ValueError("Xero allows at most two tracking categories on a line")

    def settings_for(self, record_type: str) -> RecordSettings:
        if record_type not in RECORD_TYPES:
            raise ValueError(f"unknown record type {record_type!r}")
        return self.settings.get(record_type) or RecordSettings()
