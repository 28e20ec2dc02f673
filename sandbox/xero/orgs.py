"""The two synthetic Xero organisations, built from sandbox.catalog and a seed.

Each is an Australian org (AUD, GST, NZD and USD enabled) with the AU demo chart of
accounts plus the codes the catalogue maps CW's GL accounts to, the AU tax rates as Xero
lists them, the "Office" and "Department" tracking categories, and a few contacts,
including the Sydney org's "Harbour Dental Group" whose ContactNumber differs from the
CW identifier (catalog.CLASH_COMPANY). Invoices are left for Ferry to write.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sandbox import catalog

# Standard AU demo-company accounts the catalogue does not name:
# (code, name, type, tax type, system account)
_DEMO_ACCOUNTS = [
    ("090", "Business Bank Account", "BANK", "BASEXCLUDED", None),
    ("091", "Business Savings Account", "BANK", "BASEXCLUDED", None),
    ("260", "Other Revenue", "REVENUE", "OUTPUT", None),
    ("270", "Interest Income", "REVENUE", "EXEMPTOUTPUT", None),
    ("400", "Advertising", "EXPENSE", "INPUT", None),
    ("404", "Bank Fees", "EXPENSE", "EXEMPTEXPENSES", None),
    ("412", "Consulting & Accounting", "EXPENSE", "INPUT", None),
    ("429", "General Expenses", "EXPENSE", "INPUT", None),
    ("461", "Printing & Stationery", "EXPENSE", "INPUT", None),
    ("469", "Rent", "EXPENSE", "INPUT", None),
    ("489", "Telephone & Internet", "EXPENSE", "INPUT", None),
    ("825", "PAYG Withholdings Payable", "CURRLIAB", "BASEXCLUDED", None),
    ("877", "Tracking Transfers", "EQUITY", "BASEXCLUDED", None),
    ("960", "Retained Earnings", "EQUITY", "BASEXCLUDED", "RETAINEDEARNINGS"),
    ("970", "Owner A Funds Introduced", "EQUITY", "BASEXCLUDED", None),
]
_SYSTEM = {"610": "DEBTORS", "800": "CREDITORS", "820": "GST", "860": "ROUNDING"}
_CLASS = {"REVENUE": "REVENUE", "SALES": "REVENUE", "OTHERINCOME": "REVENUE",
          "EXPENSE": "EXPENSE", "DIRECTCOSTS": "EXPENSE", "OVERHEADS": "EXPENSE",
          "BANK": "ASSET", "CURRENT": "ASSET", "FIXED": "ASSET",
          "CURRLIAB": "LIABILITY", "TERMLIAB": "LIABILITY", "EQUITY": "EQUITY"}
_DEFAULT_TAX = {"REVENUE": "OUTPUT", "EXPENSE": "INPUT", "DIRECTCOSTS": "INPUT"}

# (TaxType, Name, rate %, ReportTaxType, usable on sales, usable on purchases)
TAX_RATES = [
    ("OUTPUT", "GST on Income", "10", "OUTPUT", True, False),
    ("INPUT", "GST on Expenses", "10", "INPUT", False, True),
    ("EXEMPTOUTPUT", "GST Free Income", "0", "EXEMPTOUTPUT", True, False),
    ("EXEMPTEXPENSES", "GST Free Expenses", "0", "EXEMPTEXPENSES", False, True),
    ("BASEXCLUDED", "BAS Excluded", "0", "BASEXCLUDED", True, True),
    ("GSTONIMPORTS", "GST on Imports", "0", "GSTONIMPORTS", False, True),
    ("CAPEXINPUT", "GST on Capital", "10", "CAPEXINPUT", False, True),
    ("EXEMPTEXPORT", "GST Free Exports", "0", "EXEMPTEXPORT", True, False),
    ("INPUTTAXED", "Input Taxed", "0", "INPUTTAXED", True, True),
]

_SUPPLIERS = ["Telstra Corporation", "Ingram Micro Australia", "Dicker Data",
              "Officeworks", "Australian Taxation Office", "Leader Computers",
              "Synnex Australia", "Optus Business", "Microsoft Pty Ltd", "Amazon Web Services"]

_ORG_DETAILS = {
    "Adelaide IT Services Pty Ltd": ("ADL", "CENAUSTRALIASTANDARDTIME", "Adelaide", "SA", "5000"),
    "Sydney IT Services Pty Ltd": ("SYD", "AUSEASTERNSTANDARDTIME", "Sydney", "NSW", "2000"),
}


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Org:
    """One Xero organisation (a tenant) and everything stored in it."""

    tenant_id: str
    name: str
    short_code: str
    timezone_name: str
    city: str
    region: str
    postcode: str
    created: datetime
    accounts: list[dict] = field(default_factory=list)
    tax_rates: list[dict] = field(default_factory=list)
    tracking: list[dict] = field(default_factory=list)
    currencies: list[dict] = field(default_factory=list)
    contacts: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    credit_notes: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    overpayments: dict[str, dict] = field(default_factory=dict)
    prepayments: dict[str, dict] = field(default_factory=dict)
    next_invoice_number: int = 1
    next_credit_number: int = 1
    # Lock dates (a `date` or None), shown on /Organisation when set; documents dated on
    # or before either are refused. Set through /_sandbox/xero/lock-dates.
    period_lock_date: date | None = None
    end_of_year_lock_date: date | None = None
    # sandbox.xero.lookup's indexes over the dicts above (bookkeeping, never served)
    lookups: dict = field(default_factory=dict, repr=False, compare=False)

    def account_by_code(self, code: str | None) -> dict | None:
        return next((a for a in self.accounts if a["Code"] == code), None)

    def account_by_id(self, account_id: str | None) -> dict | None:
        return next((a for a in self.accounts
                     if a["AccountID"].lower() == str(account_id).lower()), None)

    def tax_rate(self, tax_type: str | None) -> dict | None:
        return next((t for t in self.tax_rates if t["TaxType"] == tax_type), None)


def _accounts(rng: random.Random, stamp: datetime) -> list[dict]:
    rows = {}
    for _, _, _, code, name, kind in catalog.GL_ACCOUNTS:
        if code is not None and code not in rows:
            rows[code] = (name, kind, _DEFAULT_TAX.get(kind, "BASEXCLUDED"), _SYSTEM.get(code))
    for code, name, kind, tax, system in _DEMO_ACCOUNTS:
        rows.setdefault(code, (name, kind, tax, system))
    out = []
    for code in sorted(rows):
        name, kind, tax, system = rows[code]
        account = {
            "AccountID": new_id(rng), "Code": code, "Name": name, "Status": "ACTIVE",
            "Type": kind, "TaxType": tax, "Class": _CLASS[kind],
            "EnablePaymentsToAccount": kind == "BANK", "ShowInExpenseClaims": kind == "EXPENSE",
            "BankAccountNumber": "" , "ReportingCode": "", "ReportingCodeName": "",
            "HasAttachments": False, "AddToWatchlist": False, "UpdatedDateUTC": stamp,
        }
        if kind == "BANK":
            account.update(BankAccountNumber=f"06200{code}1234567", BankAccountType="BANK",
                           CurrencyCode="AUD")
        else:
            del account["BankAccountNumber"]
        if system:
            account["SystemAccount"] = system
        out.append(account)
    return out


def _tax_rates() -> list[dict]:
    out = []
    for tax_type, name, rate, report, sales, purchases in TAX_RATES:
        rate_d = Decimal(rate).quantize(Decimal("0.0000"))
        out.append({
            "Name": name, "TaxType": tax_type, "ReportTaxType": report, "Status": "ACTIVE",
            "CanApplyToAssets": purchases, "CanApplyToEquity": tax_type == "BASEXCLUDED",
            "CanApplyToExpenses": purchases, "CanApplyToLiabilities": tax_type == "BASEXCLUDED",
            "CanApplyToRevenue": sales, "DisplayTaxRate": rate_d, "EffectiveRate": rate_d,
            "TaxComponents": [{"Name": "GST", "Rate": rate_d, "IsCompound": False,
                               "IsNonRecoverable": False}],
            # Not on the wire: which side of the ledger may use it.
            "_sales": sales, "_purchases": purchases,
        })
    return out


def _tracking(rng: random.Random) -> list[dict]:
    out = []
    for name, options in catalog.TRACKING.items():
        category_id = new_id(rng)
        out.append({"TrackingCategoryID": category_id, "Name": name, "Status": "ACTIVE",
                    "Options": [{"TrackingOptionID": new_id(rng), "Name": option,
                                 "Status": "ACTIVE", "TrackingCategoryID": category_id}
                                for option in options]})
    return out


def _contact(rng, name, number, stamp, *, supplier=False, customer=False,
             status="ACTIVE", email=""):
    return {"ContactID": new_id(rng), "ContactNumber": number, "Name": name,
            "ContactStatus": status, "EmailAddress": email, "FirstName": "", "LastName": "",
            "IsSupplier": supplier, "IsCustomer": customer, "Addresses": [], "Phones": [],
            "ContactPersons": [], "ContactGroups": [], "HasAttachments": False,
            "UpdatedDateUTC": stamp}


def build_orgs(seed: int, scale: int = 1) -> list[Org]:
    anchor = datetime.combine(catalog.ANCHOR_DATE, time(0), tzinfo=timezone.utc)
    orgs = []
    for office in catalog.OFFICES:
        name = office["xero_org"]
        rng = random.Random(f"xero:{seed}:{name}")
        prefix, tz, city, region, postcode = _ORG_DETAILS[name]
        created = anchor - timedelta(days=365 * 3)
        stamp = created + timedelta(days=1)
        org = Org(tenant_id=new_id(rng), name=name, short_code=f"!{prefix}{seed % 100:02d}",
                  timezone_name=tz, city=city, region=region, postcode=postcode,
                  created=created)
        org.accounts = _accounts(rng, stamp)
        org.tax_rates = _tax_rates()
        org.tracking = _tracking(rng)
        org.currencies = [{"Code": code, "Description": desc}
                          for code, desc, _ in catalog.CURRENCIES]
        contacts = [_contact(rng, supplier, f"SUP-{i + 1:03d}", stamp, supplier=True,
                             email=f"accounts@{supplier.split()[0].lower()}.example")
                    for i, supplier in enumerate(_SUPPLIERS[:3 + 2 * scale])]
        contacts.append(_contact(rng, f"{city} Former Client Pty Ltd", "ARCH-001", stamp,
                                 customer=True, status="ARCHIVED"))
        if name == catalog.CLASH_COMPANY["xero_org"]:
            contacts.append(_contact(rng, catalog.CLASH_COMPANY["name"],
                                     catalog.CLASH_COMPANY["xero_contact_number"], stamp,
                                     customer=True, email="accounts@harbourdental.example"))
        org.contacts = {c["ContactID"]: c for c in contacts}
        orgs.append(org)
    return orgs
