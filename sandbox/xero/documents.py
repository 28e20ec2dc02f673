"""Invoices and credit notes: create, update, status rules, and Xero's arithmetic.

Arithmetic as Xero does it: each line's amount is Quantity × UnitAmount (less any
DiscountRate) rounded to 2 dp; each line's tax is rounded to 2 dp on its own and the
document's tax is the sum of those (so three lines of 33.33 at 10% GST make 9.99 tax,
not 10.00). `Inclusive` lines hold the tax inside the line amount, `NoTax` lines carry
none. Unit amounts keep 4 dp only when the request asks `unitdp=4`; otherwise they are
rounded to 2 dp on the way in.

Xero's rules beyond the schema (sources in sandbox/FIDELITY.md section 3): a bill's
(ACCPAY) Reference is silently dropped; an AUTHORISED invoice needs a DueDate, on PUT and
POST; a document dated on or before the org's end-of-year or period lock date is refused;
a new document to an ARCHIVED contact is refused.

Status rules: DRAFT and SUBMITTED documents may be edited, approved or DELETED; an
AUTHORISED one may be edited or VOIDED only while nothing is paid or allocated against
it; PAID, VOIDED and DELETED documents cannot change. Line items left out of an update
are deleted. ACCREC invoice numbers (and ACCRECCREDIT credit note numbers) are unique;
ACCPAY numbers are not, so a POST with the number of an existing sales invoice updates
it while a bill with a repeated number is a new bill.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sandbox import catalog

from . import contacts, lookup
from .dates import parse_date
from .orgs import Org

TWO = Decimal("0.01")
FOUR = Decimal("0.0001")
SIX = Decimal("0.000001")
HUNDRED = Decimal(100)
EDITABLE = {"DRAFT", "SUBMITTED"}
LOCKED_MESSAGE = "This document cannot be edited as it has a payment or credit note allocated to it."
STATUS_MESSAGE = "Invoice not of valid status for modification"
ACCOUNTS_NOT_ON_DOCUMENTS = {"DEBTORS", "CREDITORS", "GST"}
# Xero's wording, with its sources in sandbox/FIDELITY.md section 3.
DUE_DATE_MESSAGE = "The document DueDate field must be specified."
END_OF_YEAR_LOCK_MESSAGE = ("The document date cannot be before the end of year lock date, "
                            "currently set at {}")
PERIOD_LOCK_MESSAGE = ("The document date cannot be before the period lock date, "
                       "currently set at {}")
ARCHIVED_CONTACT_MESSAGE = ("The contact with the specified contact details has been archived. "
                            "The contact must be un-archived before creating new invoices or "
                            "credit notes.")
_AUD_PER_UNIT = {code: Decimal(rate) for code, _, rate in catalog.CURRENCIES}


@dataclass(frozen=True)
class Kind:
    """What differs between invoices and credit notes."""

    label: str
    id_key: str
    number_key: str
    store: str
    types: tuple[str, str]          # (sales, purchases)
    number_prefix: str
    duplicate_message: str

    @property
    def is_invoice(self) -> bool:
        return self.store == "invoices"

    def records(self, org: Org) -> dict[str, dict]:
        return getattr(org, self.store)


INVOICE = Kind("Invoice", "InvoiceID", "InvoiceNumber", "invoices", ("ACCREC", "ACCPAY"),
               "INV-", "Invoice # must be unique.")
CREDIT_NOTE = Kind("CreditNote", "CreditNoteID", "CreditNoteNumber", "credit_notes",
                   ("ACCRECCREDIT", "ACCPAYCREDIT"), "CN-", "Credit Note # must be unique.")


def money(value: Decimal) -> Decimal:
    return value.quantize(TWO, rounding=ROUND_HALF_UP)


def _decimal(value, default=None):
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def has_settlements(doc: dict, org: Org) -> bool:
    """True when a payment or credit is applied: the document is then locked."""
    live = [p for p in doc.get("_payments", []) if org.payments[p]["Status"] == "AUTHORISED"]
    return bool(live or doc.get("_credits") or doc.get("_allocations")
                or doc.get("_received"))


class _Build:
    """One element of a write batch being turned into a stored document."""

    def __init__(self, org: Org, kind: Kind, raw: dict, existing: dict | None,
                 now: datetime, unitdp: int, new_id):
        self.org, self.kind, self.raw, self.existing = org, kind, raw, existing
        self.now, self.unitdp, self.new_id = now, unitdp, new_id
        self.errors: list[str] = []
        self.pending_contact: dict | None = None
        self.doc = dict(existing) if existing else {
            "Status": "DRAFT", "LineAmountTypes": "Exclusive", "CurrencyCode": "AUD",
            "CurrencyRate": Decimal("1.000000"), "LineItems": [],
            "SentToContact": False, "HasAttachments": False, "HasErrors": False,
            "_payments": [],
        }
        if kind.is_invoice:
            self.doc.setdefault("AmountPaid", Decimal("0.00"))
            self.doc.setdefault("AmountCredited", Decimal("0.00"))
            self.doc.setdefault("_credits", [])
        else:
            self.doc.setdefault("_allocations", [])

    def error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    # -- the steps -----------------------------------------------------------------------
    def run(self) -> None:
        raw, doc = self.raw, self.doc
        if self.existing is None or "Type" in raw:
            doc["Type"] = raw.get("Type")
            if doc["Type"] not in self.kind.types:
                self.error(f"'{doc['Type'] or ''}' is not a valid {self.kind.label} type. "
                           f"Use {' or '.join(self.kind.types)}.")
        if not self._status_allows_change():
            return
        if self.existing is None or "Contact" in raw:
            self._contact(raw.get("Contact"))
        for key in ("Date", "DueDate"):
            if key in raw or (self.existing is None and key == "Date"):
                value = parse_date(raw.get(key)) if raw.get(key) else None
                if raw.get(key) and value is None:
                    self.error(f"{key} is not a valid date.")
                if key == "Date" and value is None:
                    value = self.now.date()
                doc[key] = value
        for key in ("Reference", "SentToContact", "Url", "BrandingThemeID",
                    "ExpectedPaymentDate", "PlannedPaymentDate"):
            if key in raw:
                doc[key] = raw[key]
        if self.kind.is_invoice and doc.get("Type") == "ACCPAY":
            # "ACCREC only": Xero silently drops a bill's Reference (FIDELITY.md 3.1).
            doc.pop("Reference", None)
        self._due_date_and_locks()
        if "LineAmountTypes" in raw:
            doc["LineAmountTypes"] = raw["LineAmountTypes"]
            if raw["LineAmountTypes"] not in {"Exclusive", "Inclusive", "NoTax"}:
                self.error(f"'{raw['LineAmountTypes']}' is not a valid LineAmountTypes value.")
        self._currency()
        self._number()
        if "LineItems" in raw or self.existing is None:
            self._lines(raw.get("LineItems") or [])
        self._totals()

    def _due_date_and_locks(self) -> None:
        doc = self.doc
        if self.kind.is_invoice and doc["Status"] == "AUTHORISED" and not doc.get("DueDate"):
            self.error(DUE_DATE_MESSAGE)
        day = doc.get("Date")
        if day is None:
            return
        for lock, message in ((self.org.end_of_year_lock_date, END_OF_YEAR_LOCK_MESSAGE),
                              (self.org.period_lock_date, PERIOD_LOCK_MESSAGE)):
            if lock is not None and day <= lock:
                self.error(message.format(lock.strftime("%d-%b-%Y")))
                return

    def _status_allows_change(self) -> bool:
        wanted = self.raw.get("Status")
        if self.existing is None:
            status = wanted or "DRAFT"
            if status not in EDITABLE | {"AUTHORISED"}:
                self.error(STATUS_MESSAGE)
            self.doc["Status"] = status
            return True
        current = self.existing["Status"]
        wanted = wanted or current
        settled = has_settlements(self.existing, self.org)
        if current in EDITABLE:
            allowed = wanted in EDITABLE | {"AUTHORISED", "DELETED"}
        elif current == "AUTHORISED":
            if settled:
                self.error(LOCKED_MESSAGE)
                return False
            allowed = wanted in {"AUTHORISED", "VOIDED"}
        elif current == "PAID":
            self.error(LOCKED_MESSAGE)
            return False
        else:
            allowed = False
        if not allowed:
            self.error(STATUS_MESSAGE)
            return False
        self.doc["Status"] = wanted
        return True

    def _contact(self, ref) -> None:
        found, problem = contacts.resolve_for_document(self.org, ref, self.now, self.new_id,
                                                       create=False)
        if found is not None and found["ContactStatus"] == "ARCHIVED" and (
                self.existing is None or self.existing.get("_contact_id") != found["ContactID"]):
            self.error(ARCHIVED_CONTACT_MESSAGE)
        elif found is not None:
            self.doc["_contact_id"] = found["ContactID"]
        elif isinstance(ref, dict) and ref.get("Name") and not ref.get("ContactID"):
            # Xero creates a contact named in a document; wait until the document is valid.
            self.pending_contact = {k: v for k, v in ref.items() if k in contacts.SETTABLE}
        else:
            self.error(problem)

    def _currency(self) -> None:
        raw, doc = self.raw, self.doc
        if "CurrencyCode" in raw:
            doc["CurrencyCode"] = raw["CurrencyCode"]
        code = doc["CurrencyCode"]
        if code not in {c["Code"] for c in self.org.currencies}:
            self.error(f"The currency code '{code}' is not enabled for this organisation.")
            return
        if "CurrencyRate" in raw and raw["CurrencyRate"] not in (None, ""):
            rate = _decimal(raw["CurrencyRate"])
            if rate is None or rate <= 0:
                self.error("CurrencyRate must be a positive number.")
                return
            doc["CurrencyRate"] = rate.quantize(SIX)
        elif "CurrencyCode" in raw or self.existing is None:
            # Xero's rate is units of the foreign currency per unit of the base currency.
            doc["CurrencyRate"] = (Decimal(1) / _AUD_PER_UNIT[code]).quantize(SIX)

    def _number(self) -> None:
        key = self.kind.number_key
        if key in self.raw:
            self.doc[key] = str(self.raw[key] or "").strip()
        sales = self.doc.get("Type") == self.kind.types[0]
        number = self.doc.get(key) or ""
        if not sales:
            self.doc.setdefault(key, number)
            return
        if not number:
            return  # assigned on save, from the org's sequence
        mine = self.doc.get(self.kind.id_key)
        for other in lookup.documents_numbered(self.org, self.kind, number.lower()):
            if (other["Type"] == self.doc["Type"] and other[self.kind.id_key] != mine
                    and (other.get(key) or "").lower() == number.lower()):
                self.error(self.kind.duplicate_message)
                return

    def _lines(self, raw_lines) -> None:
        if not isinstance(raw_lines, list):
            self.error("LineItems must be a list.")
            return
        old = {line["LineItemID"]: line for line in (self.existing or {}).get("LineItems", [])}
        sales = self.doc.get("Type") == self.kind.types[0]
        unit_q = FOUR if self.unitdp == 4 else TWO
        lines = []
        for raw in raw_lines:
            if not isinstance(raw, dict):
                self.error("Each line item must be an object.")
                continue
            line_id = str(raw.get("LineItemID") or "").lower()
            line = {"LineItemID": line_id if line_id in old else self.new_id()}
            if raw.get("Description") is not None:
                line["Description"] = str(raw["Description"])
            if raw.get("ItemCode"):
                line["ItemCode"] = str(raw["ItemCode"])
            quantity = _decimal(raw.get("Quantity"), Decimal(1))
            unit = _decimal(raw.get("UnitAmount"))
            given_total = _decimal(raw.get("LineAmount"))
            discount = _decimal(raw.get("DiscountRate"), Decimal(0))
            if quantity is None or discount is None or (
                    raw.get("UnitAmount") not in (None, "") and unit is None):
                self.error("Quantity, UnitAmount and DiscountRate must be numbers.")
                continue
            quantity = quantity.quantize(FOUR, rounding=ROUND_HALF_UP)
            if unit is None:
                unit = (given_total / quantity) if (given_total is not None and quantity) else Decimal(0)
            unit = unit.quantize(unit_q, rounding=ROUND_HALF_UP)
            amount = money(quantity * unit * (1 - discount / HUNDRED))
            if given_total is not None and money(given_total) != amount:
                self.error(f"The line total {money(given_total)} does not match the expected "
                           f"line total {amount}")
            line.update(Quantity=quantity, UnitAmount=unit, LineAmount=amount)
            if discount:
                line["DiscountRate"] = discount
            self._line_account_and_tax(line, raw, sales)
            self._line_tracking(line, raw.get("Tracking"))
            lines.append(line)
        self.doc["LineItems"] = lines

    def _line_account_and_tax(self, line: dict, raw: dict, sales: bool) -> None:
        code = raw.get("AccountCode")
        account = None
        if code not in (None, ""):
            code = str(code)
            account = self.org.account_by_code(code)
            if (account is None or account["Status"] != "ACTIVE" or account["Type"] == "BANK"
                    or account.get("SystemAccount") in ACCOUNTS_NOT_ON_DOCUMENTS):
                self.error(f"Account code '{code}' is not a valid code for this document.")
                account = None
            line["AccountCode"] = code
            if account is not None:
                line["AccountID"] = account["AccountID"]
        elif self.doc["Status"] != "DRAFT":
            self.error("Account code must be specified")
        tax_type = raw.get("TaxType") or (account or {}).get("TaxType")
        if tax_type:
            rate = self.org.tax_rate(tax_type)
            if rate is None or rate["Status"] != "ACTIVE" or not rate["_sales" if sales else "_purchases"]:
                self.error(f"The TaxType code {tax_type} does not exist or cannot be used for "
                           "this type of transaction.")
            line["TaxType"] = tax_type
        given_tax = _decimal(raw.get("TaxAmount"))
        if given_tax is not None:
            line["_tax_override"] = money(given_tax)

    def _line_tracking(self, line: dict, raw_tracking) -> None:
        if not raw_tracking:
            line["Tracking"] = []
            return
        if not isinstance(raw_tracking, list):
            self.error("Tracking must be a list of tracking categories.")
            return
        if len(raw_tracking) > 2:
            self.error("A line item can have at most 2 tracking categories.")
        chosen = []
        for ref in raw_tracking[:2]:
            category = next((c for c in self.org.tracking if c["Status"] == "ACTIVE" and (
                (ref.get("TrackingCategoryID") or "").lower() == c["TrackingCategoryID"]
                or (ref.get("Name") or "").strip().lower() == c["Name"].lower())), None)
            if category is None:
                self.error(f"There is no ACTIVE tracking category with the name "
                           f"'{ref.get('Name') or ref.get('TrackingCategoryID') or ''}'")
                continue
            option = next((o for o in category["Options"] if o["Status"] == "ACTIVE" and (
                (ref.get("TrackingOptionID") or "").lower() == o["TrackingOptionID"]
                or (ref.get("Option") or "").strip().lower() == o["Name"].lower())), None)
            if option is None:
                self.error(f"The tracking option '{ref.get('Option') or ref.get('TrackingOptionID') or ''}'"
                           f" does not exist in the tracking category '{category['Name']}'")
                continue
            chosen.append({"Name": category["Name"], "Option": option["Name"],
                           "TrackingCategoryID": category["TrackingCategoryID"],
                           "TrackingOptionID": option["TrackingOptionID"]})
        line["Tracking"] = chosen

    def _totals(self) -> None:
        doc = self.doc
        mode = doc["LineAmountTypes"]
        sub_total = total_tax = Decimal("0.00")
        for line in doc["LineItems"]:
            rate = (self.org.tax_rate(line.get("TaxType")) or {}).get("EffectiveRate", Decimal(0))
            amount = line["LineAmount"]
            if mode == "NoTax":
                tax = Decimal("0.00")
            elif "_tax_override" in line:
                tax = line["_tax_override"]
            elif mode == "Inclusive":
                tax = money(amount * rate / (HUNDRED + rate))
            else:
                tax = money(amount * rate / HUNDRED)
            line["TaxAmount"] = tax
            sub_total += amount - tax if mode == "Inclusive" else amount
            total_tax += tax
        doc["SubTotal"], doc["TotalTax"] = money(sub_total), money(total_tax)
        doc["Total"] = money(sub_total + total_tax)
        applied = doc.get("AmountPaid", Decimal(0)) + doc.get("AmountCredited", Decimal(0)) + sum(
            (a["Amount"] for a in doc.get("_allocations", [])), Decimal(0))
        if doc["Total"] < applied:
            self.error("The document total cannot be less than the amount already paid or credited.")
        outstanding = money(doc["Total"] - applied)
        if doc["Status"] in {"VOIDED", "DELETED"}:
            outstanding = Decimal("0.00")
        doc["AmountDue" if self.kind.is_invoice else "RemainingCredit"] = outstanding

    # -- saving --------------------------------------------------------------------------
    def save(self) -> dict:
        doc, kind, org = self.doc, self.kind, self.org
        if self.pending_contact is not None:
            record, errors, _ = contacts.write(org, self.pending_contact, "PUT", self.now,
                                               self.new_id)
            doc["_contact_id"] = record["ContactID"]
        # Xero sets IsCustomer/IsSupplier itself once a contact has a sales/purchase document.
        contact = org.contacts.get(doc.get("_contact_id"))
        if contact is not None:
            contact["IsCustomer" if doc.get("Type") == kind.types[0] else "IsSupplier"] = True
        if self.existing is None:
            doc[kind.id_key] = self.new_id()
        if doc.get("Type") == kind.types[0] and not doc.get(kind.number_key):
            doc[kind.number_key] = self._next_number()
        doc["UpdatedDateUTC"] = self.now
        kind.records(org)[doc[kind.id_key]] = doc
        lookup.document_stored(org, kind, doc[kind.id_key])
        return doc

    def _next_number(self) -> str:
        key = self.kind.number_key

        def taken(number: str) -> bool:
            return any((d.get(key) or "").lower() == number
                       for d in lookup.documents_numbered(self.org, self.kind, number))
        attr = "next_invoice_number" if self.kind.is_invoice else "next_credit_number"
        while True:
            n = getattr(self.org, attr)
            setattr(self.org, attr, n + 1)
            number = f"{self.kind.number_prefix}{n:04d}"
            if not taken(number.lower()):
                return number


def write(org: Org, kind: Kind, raw: dict, method: str, now: datetime, unitdp: int,
          new_id, path_id: str | None = None):
    """Create or update one document. Returns (saved record or None, errors, candidate)."""
    if not isinstance(raw, dict):
        return None, [f"Each {kind.label} must be an object."], {}
    records = kind.records(org)
    doc_id = path_id or raw.get(kind.id_key)
    existing = None
    if doc_id:
        existing = records.get(str(doc_id).strip().lower())
        if existing is None:
            return None, [f"{kind.label} with {kind.id_key} '{doc_id}' could not be found."], raw
        if method == "PUT":
            return None, [f"A {kind.label} with this {kind.id_key} already exists; use POST to "
                          "update it."], raw
    elif method == "POST" and raw.get(kind.number_key) and raw.get("Type", kind.types[0]) == kind.types[0]:
        # Sales document numbers are unique, so a POST naming one updates that document.
        number = str(raw[kind.number_key]).strip().lower()
        existing = next((d for d in lookup.documents_numbered(org, kind, number)
                         if d["Type"] == kind.types[0]
                         and (d.get(kind.number_key) or "").lower() == number), None)
    build = _Build(org, kind, raw, existing, now, unitdp, new_id)
    build.run()
    if build.errors:
        return None, build.errors, build.doc
    return build.save(), [], build.doc
