"""How stored records look on the wire: Xero's field names, `/Date()/` dates, exact
decimal amounts. Stored records keep Python types (date, datetime, Decimal); keys that
start with an underscore are the sandbox's own bookkeeping and never leave it."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from .dates import iso_string, ms_date
from .orgs import Org

TWO = Decimal("0.01")


def plain(value):
    """Dates to `/Date()/`, private keys dropped, recursively."""
    if isinstance(value, (date, datetime)):
        return ms_date(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not k.startswith("_") and v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def account(a: dict) -> dict:
    return plain(a)


def tax_rate(t: dict) -> dict:
    return plain(t)


def organisation(org: Org) -> dict:
    return {
        "OrganisationID": org.tenant_id, "APIKey": "", "Name": org.name,
        "LegalName": org.name, "PaysTax": True, "Version": "AU",
        "OrganisationType": "COMPANY", "BaseCurrency": "AUD", "CountryCode": "AU",
        "IsDemoCompany": False, "OrganisationStatus": "ACTIVE",
        "TaxNumber": "", "FinancialYearEndDay": 30, "FinancialYearEndMonth": 6,
        "SalesTaxBasis": "ACCRUALS", "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive", "DefaultPurchasesTax": "Tax Inclusive",
        "CreatedDateUTC": ms_date(org.created), "Timezone": org.timezone_name,
        "OrganisationEntityType": "COMPANY", "ShortCode": org.short_code,
        "Class": "STANDARD", "Edition": "BUSINESS", "LineOfBusiness": "IT services",
        "Addresses": [{"AddressType": "STREET", "AddressLine1": "1 King William Street"
                       if org.city == "Adelaide" else "1 George Street",
                       "City": org.city, "Region": org.region, "PostalCode": org.postcode,
                       "Country": "Australia"}],
        "Phones": [], "ExternalLinks": [], "PaymentTerms": {},
        # "Shown if set" (the spec): absent until /_sandbox/xero/lock-dates sets them.
        **({"PeriodLockDate": ms_date(org.period_lock_date)} if org.period_lock_date else {}),
        **({"EndOfYearLockDate": ms_date(org.end_of_year_lock_date)}
           if org.end_of_year_lock_date else {}),
    }


def contact(c: dict) -> dict:
    out = plain(c)
    out["HasValidationErrors"] = False
    return out


def contact_ref(c: dict) -> dict:
    """A contact as it appears inside a document."""
    out = {"ContactID": c["ContactID"], "Name": c["Name"]}
    if c.get("ContactNumber"):
        out["ContactNumber"] = c["ContactNumber"]
    out.update(Addresses=[], Phones=[], ContactGroups=[], ContactPersons=[],
               HasValidationErrors=False)
    return out


def line_item(line: dict, unitdp: int) -> dict:
    out = plain(line)
    if out.get("UnitAmount") is not None and unitdp != 4:
        out["UnitAmount"] = out["UnitAmount"].quantize(TWO)
    return out


def _payment_summary(p: dict) -> dict:
    return {"PaymentID": p["PaymentID"], "Date": ms_date(p["Date"]), "Amount": p["Amount"],
            "Reference": p.get("Reference", ""), "CurrencyRate": p["CurrencyRate"],
            "HasAccount": False, "HasValidationErrors": False}


def document(doc: dict, org: Org, kind, *, with_lines: bool = True, unitdp: int = 2) -> dict:
    """An invoice or credit note (kind says which) as Xero returns it."""
    out = {k: plain(v) for k, v in doc.items()
           if not k.startswith("_") and k != "LineItems" and v is not None}
    contact_rec = org.contacts.get(doc.get("_contact_id") or "")
    if contact_rec is not None:
        out["Contact"] = contact_ref(contact_rec)
    if with_lines:
        out["LineItems"] = [line_item(line, unitdp) for line in doc.get("LineItems", [])]
    payments = [org.payments[pid] for pid in doc.get("_payments", [])
                if org.payments[pid]["Status"] == "AUTHORISED"]
    out["Payments"] = [_payment_summary(p) for p in payments]
    if kind.is_invoice:
        out["CreditNotes"] = [_credit_summary(org, a) for a in doc.get("_credits", [])]
        received = doc.get("_received", [])
        out["Prepayments"] = [_received_summary(org, a) for a in received
                              if a["_kind"] == "Prepayment"]
        out["Overpayments"] = [_received_summary(org, a) for a in received
                               if a["_kind"] == "Overpayment"]
        out["IsDiscounted"] = False
    else:
        out["Allocations"] = [_allocation(org, a, doc) for a in doc.get("_allocations", [])]
    if isinstance(doc.get("UpdatedDateUTC"), datetime):
        out["UpdatedDateUTC"] = ms_date(doc["UpdatedDateUTC"])
    return out


def _received_summary(org: Org, allocation: dict) -> dict:
    """An overpayment or prepayment as it appears inside the invoice it was allocated to:
    AppliedAmount is what this invoice received from it."""
    kind = allocation["_kind"]
    source = (org.overpayments if kind == "Overpayment" else org.prepayments)[
        allocation["_source_id"]]
    return {f"{kind}ID": source[f"{kind}ID"], "Type": source["Type"],
            "Date": ms_date(allocation["Date"]), "Total": source["Total"],
            "AppliedAmount": allocation["Amount"], "Status": source["Status"],
            "CurrencyCode": source["CurrencyCode"], "HasAttachments": False}


def received(o: dict, org: Org, kind: str) -> dict:
    """An overpayment or prepayment with its allocations."""
    out = plain({k: v for k, v in o.items() if k != "Allocations"})
    out["Contact"] = contact_ref(org.contacts[o["_contact_id"]])
    out["UpdatedDateUTCString"] = iso_string(o["UpdatedDateUTC"])
    out["Allocations"] = [{"AllocationID": a["AllocationID"], "Amount": a["Amount"],
                           "Date": ms_date(a["Date"]), "IsDeleted": False,
                           "Invoice": {"InvoiceID": a["_invoice_id"],
                                       "InvoiceNumber": org.invoices[a["_invoice_id"]].get(
                                           "InvoiceNumber", "")}}
                          for a in o.get("Allocations", [])]
    return out


def _credit_summary(org: Org, allocation: dict) -> dict:
    note = org.credit_notes[allocation["_credit_note_id"]]
    return {"CreditNoteID": note["CreditNoteID"], "CreditNoteNumber": note["CreditNoteNumber"],
            "AppliedAmount": allocation["Amount"], "Date": ms_date(allocation["Date"]),
            "Total": note["Total"], "HasErrors": False}


def _allocation(org: Org, allocation: dict, note: dict) -> dict:
    invoice = org.invoices[allocation["_invoice_id"]]
    return {"AllocationID": allocation["AllocationID"], "Amount": allocation["Amount"],
            "Date": ms_date(allocation["Date"]), "IsDeleted": False,
            "Invoice": {"InvoiceID": invoice["InvoiceID"],
                        "InvoiceNumber": invoice.get("InvoiceNumber", ""),
                        "Type": invoice["Type"], "HasErrors": False}}


def allocation_result(org: Org, allocation: dict, note: dict) -> dict:
    out = _allocation(org, allocation, note)
    out["CreditNote"] = {"CreditNoteID": note["CreditNoteID"],
                         "CreditNoteNumber": note["CreditNoteNumber"], "Type": note["Type"],
                         "HasErrors": False}
    return out


def payment(p: dict, org: Org) -> dict:
    out = {"PaymentID": p["PaymentID"], "Date": ms_date(p["Date"]),
           "BankAmount": p["Amount"], "Amount": p["Amount"],
           "Reference": p.get("Reference", ""), "CurrencyRate": p["CurrencyRate"],
           "PaymentType": p["PaymentType"], "Status": p["Status"],
           "UpdatedDateUTC": ms_date(p["UpdatedDateUTC"]), "HasAccount": True,
           "IsReconciled": False, "HasValidationErrors": False}
    bank = org.account_by_id(p["_account_id"])
    out["Account"] = {"AccountID": bank["AccountID"], "Code": bank["Code"]}
    if p.get("_invoice_id"):
        doc = org.invoices[p["_invoice_id"]]
        key = "Invoice"
        ref = {"Type": doc["Type"], "InvoiceID": doc["InvoiceID"],
               "InvoiceNumber": doc.get("InvoiceNumber", "")}
    else:
        doc = org.credit_notes[p["_credit_note_id"]]
        key = "CreditNote"
        ref = {"Type": doc["Type"], "CreditNoteID": doc["CreditNoteID"],
               "CreditNoteNumber": doc.get("CreditNoteNumber", "")}
    ref["Contact"] = contact_ref(org.contacts[doc["_contact_id"]])
    ref["CurrencyCode"] = doc["CurrencyCode"]
    ref["HasErrors"] = False
    out[key] = ref
    return out


def overpayment(o: dict, org: Org) -> dict:
    return received(o, org, "Overpayment")


def prepayment(o: dict, org: Org) -> dict:
    return received(o, org, "Prepayment")
