"""Payments, credit note allocations, overpayments and prepayments, and what they do to
documents.

A payment (PUT /Payments) needs an AUTHORISED invoice or credit note and a bank account
(or one with EnablePaymentsToAccount), and may not exceed what is outstanding; the
document's AmountPaid/AmountDue follow and it turns PAID when nothing is left. Deleting a
payment (POST /Payments/{id} with Status DELETED) reverses that. An allocation moves
credit from an AUTHORISED credit note to an AUTHORISED invoice of the same kind.

Overpayments and prepayments (money received with no invoice, or more than was due) are
allocated to invoices with PUT /Overpayments|Prepayments/{id}/Allocations: the invoice's
AmountCredited grows (the spec: "Sum of all credit notes, over-payments and pre-payments
applied to invoice"), not its AmountPaid ("Sum of payments received for invoice"), and
the invoice lists them under Overpayments/Prepayments with the AppliedAmount.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from . import lookup
from .dates import parse_date
from .documents import CREDIT_NOTE, INVOICE, money, _decimal
from .orgs import Org

PAYMENT_TYPES = {"ACCREC": "ACCRECPAYMENT", "ACCPAY": "ACCPAYPAYMENT",
                 "ACCRECCREDIT": "ARCREDITPAYMENT", "ACCPAYCREDIT": "APCREDITPAYMENT"}


def _find_document(org: Org, raw: dict):
    """(document, is_invoice, error) for a payment's Invoice or CreditNote element."""
    if isinstance(raw.get("Invoice"), dict):
        ref = raw["Invoice"]
        if ref.get("InvoiceID"):
            doc = org.invoices.get(str(ref["InvoiceID"]).lower())
        else:
            number = str(ref.get("InvoiceNumber") or "").lower()
            doc = next((d for d in lookup.documents_numbered(org, INVOICE, number) if number
                        and (d.get("InvoiceNumber") or "").lower() == number
                        and d["Status"] not in {"DELETED", "VOIDED"}), None)
        return doc, True, None if doc else "Invoice could not be found"
    if isinstance(raw.get("CreditNote"), dict):
        ref = raw["CreditNote"]
        if ref.get("CreditNoteID"):
            doc = org.credit_notes.get(str(ref["CreditNoteID"]).lower())
        else:
            number = str(ref.get("CreditNoteNumber") or "").lower()
            doc = next((d for d in lookup.documents_numbered(org, CREDIT_NOTE, number)
                        if number and (d.get("CreditNoteNumber") or "").lower() == number),
                       None)
        return doc, False, None if doc else "Credit note could not be found"
    return None, True, "An Invoice or CreditNote must be specified for the payment"


def _bank_account(org: Org, ref) -> dict | None:
    if not isinstance(ref, dict):
        return None
    account = org.account_by_id(ref["AccountID"]) if ref.get("AccountID") else \
        org.account_by_code(str(ref.get("Code") or ""))
    if account and (account["Type"] == "BANK" or account["EnablePaymentsToAccount"]):
        return account
    return None


def outstanding(doc: dict, is_invoice: bool) -> Decimal:
    return doc["AmountDue"] if is_invoice else doc["RemainingCredit"]


def _apply(doc: dict, is_invoice: bool, amount: Decimal, when, now: datetime) -> None:
    """Move `amount` (negative to reverse) off what is outstanding on the document."""
    key = "AmountDue" if is_invoice else "RemainingCredit"
    doc[key] = money(doc[key] - amount)
    if doc[key] == 0 and doc["Status"] == "AUTHORISED":
        doc["Status"] = "PAID"
        doc["FullyPaidOnDate"] = when
    elif doc[key] > 0 and doc["Status"] == "PAID":
        doc["Status"] = "AUTHORISED"
        doc.pop("FullyPaidOnDate", None)
    doc["UpdatedDateUTC"] = now


def create(org: Org, raw: dict, now: datetime, new_id):
    """(payment or None, errors, echo) for one element of PUT /Payments."""
    if not isinstance(raw, dict):
        return None, ["Each Payment must be an object."], {}
    errors = []
    doc, is_invoice, problem = _find_document(org, raw)
    if problem:
        errors.append(problem)
    elif doc["Status"] != "AUTHORISED":
        errors.append("Payment cannot be made against a document that is not AUTHORISED.")
    account = _bank_account(org, raw.get("Account"))
    if account is None:
        errors.append("A valid bank account (or an account with payments enabled) must be "
                      "specified for the payment.")
    amount = _decimal(raw.get("Amount"))
    if amount is None or amount <= 0:
        errors.append("Payment amount must be greater than zero.")
    elif doc is not None and not problem and money(amount) > outstanding(doc, is_invoice):
        errors.append("Payment amount exceeds the amount outstanding on this document.")
    when = parse_date(raw.get("Date")) if raw.get("Date") else now.date()
    if when is None:
        errors.append("Date is not a valid date.")
    if errors:
        return None, errors, raw
    amount = money(amount)
    rate = _decimal(raw.get("CurrencyRate")) or doc["CurrencyRate"]
    payment = {"PaymentID": new_id(), "Date": when, "Amount": amount,
               "Reference": str(raw.get("Reference") or ""), "CurrencyRate": rate,
               "PaymentType": PAYMENT_TYPES[doc["Type"]], "Status": "AUTHORISED",
               "UpdatedDateUTC": now, "_account_id": account["AccountID"]}
    payment["_invoice_id" if is_invoice else "_credit_note_id"] = \
        doc["InvoiceID" if is_invoice else "CreditNoteID"]
    org.payments[payment["PaymentID"]] = payment
    doc["_payments"] = doc.get("_payments", []) + [payment["PaymentID"]]
    if is_invoice:
        doc["AmountPaid"] = money(doc["AmountPaid"] + amount)
    _apply(doc, is_invoice, amount, when, now)
    return payment, [], payment


def delete(org: Org, payment: dict, now: datetime) -> list[str]:
    """Reverse a payment; errors if it cannot be."""
    if payment["Status"] == "DELETED":
        return ["This payment has already been deleted."]
    payment["Status"] = "DELETED"
    payment["UpdatedDateUTC"] = now
    if payment.get("_invoice_id"):
        doc, is_invoice = org.invoices[payment["_invoice_id"]], True
        doc["AmountPaid"] = money(doc["AmountPaid"] - payment["Amount"])
    else:
        doc, is_invoice = org.credit_notes[payment["_credit_note_id"]], False
    _apply(doc, is_invoice, -payment["Amount"], None, now)
    return []


def allocate(org: Org, note: dict, raw: dict, now: datetime, new_id):
    """(allocation or None, errors) for one element of PUT /CreditNotes/{id}/Allocations."""
    if not isinstance(raw, dict):
        return None, ["Each Allocation must be an object."]
    errors = []
    if note["Status"] != "AUTHORISED":
        errors.append("Only AUTHORISED credit notes can be allocated.")
    ref = raw.get("Invoice") if isinstance(raw.get("Invoice"), dict) else {}
    invoice = org.invoices.get(str(ref.get("InvoiceID") or "").lower())
    if invoice is None:
        errors.append("Invoice could not be found")
    elif invoice["Status"] != "AUTHORISED":
        errors.append("Credit can only be allocated to an AUTHORISED invoice.")
    elif invoice["Type"] != {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}[note["Type"]]:
        errors.append("The credit note and the invoice must be of the same kind (sales or purchases).")
    elif invoice["CurrencyCode"] != note["CurrencyCode"]:
        errors.append("The credit note and the invoice must be in the same currency.")
    elif invoice.get("_contact_id") != note.get("_contact_id"):
        # FIDELITY.md 3.5: a credit note is allocated to an invoice of its own contact.
        errors.append("The credit note and the invoice must be for the same contact.")
    amount = _decimal(raw.get("Amount"))
    # Date is required on an Allocation (the spec's `required`; FIDELITY.md 3.5).
    if not raw.get("Date"):
        errors.append("The Date field must be specified.")
    when = parse_date(raw.get("Date")) if raw.get("Date") else now.date()
    if amount is None or amount <= 0:
        errors.append("Allocation amount must be greater than zero.")
    elif not errors:
        amount = money(amount)
        if amount > note["RemainingCredit"]:
            errors.append("The amount being allocated exceeds the remaining credit on the credit note.")
        if amount > invoice["AmountDue"]:
            errors.append("The amount being allocated exceeds the amount due on the invoice.")
    if when is None:
        errors.append("Date is not a valid date.")
    if errors:
        return None, errors
    allocation = {"AllocationID": new_id(), "Amount": amount, "Date": when,
                  "_invoice_id": invoice["InvoiceID"], "_credit_note_id": note["CreditNoteID"]}
    note["_allocations"] = note.get("_allocations", []) + [allocation]
    invoice["_credits"] = invoice.get("_credits", []) + [allocation]
    invoice["AmountCredited"] = money(invoice["AmountCredited"] + amount)
    _apply(invoice, True, amount, when, now)
    _apply(note, False, amount, when, now)
    return allocation, []


def overpay(org: Org, invoice: dict, amount: Decimal, when, now: datetime, new_id) -> dict:
    """Money received beyond what was due: Xero keeps it as an overpayment on the contact."""
    overpayment = {
        "OverpaymentID": new_id(), "Type": "RECEIVE-OVERPAYMENT" if invoice["Type"] == "ACCREC"
        else "SPEND-OVERPAYMENT", "Date": when, "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax", "SubTotal": amount, "TotalTax": Decimal("0.00"),
        "Total": amount, "RemainingCredit": amount, "CurrencyCode": invoice["CurrencyCode"],
        "CurrencyRate": invoice["CurrencyRate"], "UpdatedDateUTC": now, "Allocations": [],
        "Payments": [], "HasAttachments": False, "AppliedAmount": Decimal("0.00"),
        "LineItems": [{"LineItemID": new_id(), "Description": "Overpayment",
                       "Quantity": Decimal("1.0000"), "UnitAmount": amount,
                       "LineAmount": amount, "TaxAmount": Decimal("0.00"),
                       "AccountCode": "610" if invoice["Type"] == "ACCREC" else "800",
                       "Tracking": []}],
        "_contact_id": invoice["_contact_id"],
    }
    org.overpayments[overpayment["OverpaymentID"]] = overpayment
    return overpayment


def prepay(org: Org, contact_id: str, amount: Decimal, when, now: datetime, new_id,
           currency: str = "AUD", rate: Decimal = Decimal("1")) -> dict:
    """Money received before any invoice (a RECEIVE-PREPAYMENT bank transaction)."""
    prepayment = {
        "PrepaymentID": new_id(), "Type": "RECEIVE-PREPAYMENT", "Date": when,
        "Status": "AUTHORISED", "LineAmountTypes": "NoTax", "SubTotal": amount,
        "TotalTax": Decimal("0.00"), "Total": amount, "RemainingCredit": amount,
        "CurrencyCode": currency, "CurrencyRate": rate, "UpdatedDateUTC": now,
        "Allocations": [], "Payments": [], "HasAttachments": False,
        "AppliedAmount": Decimal("0.00"), "Reference": "",
        "LineItems": [{"LineItemID": new_id(), "Description": "Prepayment",
                       "Quantity": Decimal("1.0000"), "UnitAmount": amount,
                       "LineAmount": amount, "TaxAmount": Decimal("0.00"),
                       "AccountCode": "200", "Tracking": []}],
        "_contact_id": contact_id,
    }
    org.prepayments[prepayment["PrepaymentID"]] = prepayment
    return prepayment


def allocate_received(org: Org, kind: str, source: dict, raw: dict, now: datetime,
                      new_id):
    """(allocation or None, errors) for PUT /Overpayments|Prepayments/{id}/Allocations:
    `kind` is "Overpayment" or "Prepayment"."""
    if not isinstance(raw, dict):
        return None, ["Each Allocation must be an object."]
    errors = []
    if source["Status"] != "AUTHORISED":
        errors.append(f"Only AUTHORISED {kind.lower()}s can be allocated.")
    ref = raw.get("Invoice") if isinstance(raw.get("Invoice"), dict) else {}
    invoice = org.invoices.get(str(ref.get("InvoiceID") or "").lower())
    if invoice is None:
        errors.append("Invoice could not be found")
    elif invoice["Status"] != "AUTHORISED":
        errors.append(f"{kind}s can only be allocated to an AUTHORISED invoice.")
    elif invoice["CurrencyCode"] != source["CurrencyCode"]:
        errors.append(f"The {kind.lower()} and the invoice must be in the same currency.")
    amount = _decimal(raw.get("Amount"))
    when = parse_date(raw.get("Date")) if raw.get("Date") else now.date()
    if amount is None or amount <= 0:
        errors.append("Allocation amount must be greater than zero.")
    elif not errors:
        amount = money(amount)
        if amount > source["RemainingCredit"]:
            errors.append(f"The amount being allocated exceeds the remaining credit on "
                          f"the {kind.lower()}.")
        if amount > invoice["AmountDue"]:
            errors.append("The amount being allocated exceeds the amount due on the invoice.")
    if when is None:
        errors.append("Date is not a valid date.")
    if errors:
        return None, errors
    allocation = {"AllocationID": new_id(), "Amount": amount, "Date": when,
                  "_invoice_id": invoice["InvoiceID"], "_kind": kind,
                  "_source_id": source[f"{kind}ID"]}
    source["Allocations"] = source.get("Allocations", []) + [allocation]
    source["AppliedAmount"] = money(source.get("AppliedAmount", 0) + amount)
    source["RemainingCredit"] = money(source["RemainingCredit"] - amount)
    if source["RemainingCredit"] == 0:
        source["Status"] = "PAID"
    source["UpdatedDateUTC"] = now
    invoice["_received"] = invoice.get("_received", []) + [allocation]
    invoice["AmountCredited"] = money(invoice["AmountCredited"] + amount)
    _apply(invoice, True, amount, when, now)
    return allocation, []
