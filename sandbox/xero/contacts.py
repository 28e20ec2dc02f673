"""Contact writes and look-ups, with Xero's rules: a name is unique among active
contacts, ContactNumber is at most 50 characters, POST with a ContactID updates, and a
document may name its contact by ContactID, ContactNumber or Name (an unknown name
creates the contact, as Xero does)."""
from __future__ import annotations

from datetime import datetime

from . import lookup
from .orgs import Org

# Fields a client may set on a contact (the rest are Xero's to compute).
SETTABLE = {"ContactNumber", "AccountNumber", "ContactStatus", "Name", "FirstName",
            "LastName", "CompanyNumber", "EmailAddress", "ContactPersons",
            "BankAccountDetails", "TaxNumber", "AccountsReceivableTaxType",
            "AccountsPayableTaxType", "Addresses", "Phones", "IsSupplier", "IsCustomer",
            "DefaultCurrency", "Website", "PaymentTerms", "SalesDefaultAccountCode",
            "PurchasesDefaultAccountCode"}


def find_by_id(org: Org, contact_id) -> dict | None:
    return org.contacts.get(str(contact_id or "").strip().lower())


def find_by_number(org: Org, number) -> dict | None:
    number = str(number or "").strip()
    if not number:
        return None
    return next((c for c in lookup.contacts_numbered(org, number)
                 if c.get("ContactNumber") == number), None)


def find_active_by_name(org: Org, name) -> dict | None:
    wanted = str(name or "").strip().lower()
    return next((c for c in lookup.contacts_named(org, wanted)
                 if c["ContactStatus"] == "ACTIVE" and c["Name"].strip().lower() == wanted), None)


def _problems(org: Org, record: dict) -> list[str]:
    problems = []
    name = (record.get("Name") or "").strip()
    if not name:
        problems.append("The contact name must be specified.")
    elif record.get("ContactStatus", "ACTIVE") == "ACTIVE":
        other = find_active_by_name(org, name)
        if other is not None and other["ContactID"] != record.get("ContactID"):
            problems.append(f"The contact name {name} is already assigned to another contact. "
                            "The contact name must be unique across all active contacts.")
    if len(record.get("ContactNumber") or "") > 50:
        problems.append("The ContactNumber field cannot be more than 50 characters long.")
    if record.get("ContactStatus") not in {None, "ACTIVE", "ARCHIVED"}:
        problems.append(f"'{record['ContactStatus']}' is not a valid ContactStatus.")
    return problems


def write(org: Org, raw: dict, method: str, now: datetime, new_id, path_id: str | None = None):
    """Create or update one contact. Returns (record, errors, echo) where echo is what to
    send back for a failed element."""
    contact_id = path_id or raw.get("ContactID")
    existing = find_by_id(org, contact_id) if contact_id else None
    if contact_id and existing is None:
        return None, [f"Contact with ContactID '{contact_id}' could not be found."], raw
    if existing is not None and method == "PUT":
        return None, ["A contact with this ContactID already exists; use POST to update it."], raw
    changes = {k: v for k, v in raw.items() if k in SETTABLE}
    if "Name" in changes and isinstance(changes["Name"], str):
        changes["Name"] = changes["Name"].strip()
    candidate = dict(existing or {"ContactStatus": "ACTIVE", "Addresses": [], "Phones": [],
                                  "ContactPersons": [], "ContactGroups": [],
                                  "IsSupplier": False, "IsCustomer": False,
                                  "HasAttachments": False, "EmailAddress": "",
                                  "FirstName": "", "LastName": ""})
    candidate.update(changes)
    problems = _problems(org, candidate)
    if problems:
        echo = dict(candidate)
        echo.pop("UpdatedDateUTC", None)
        return None, problems, echo
    if existing is None:
        candidate["ContactID"] = new_id()
    candidate["UpdatedDateUTC"] = now
    org.contacts[candidate["ContactID"]] = candidate
    lookup.contact_stored(org, candidate["ContactID"])
    return candidate, [], candidate


def resolve_for_document(org: Org, ref, now: datetime, new_id, *, create: bool):
    """(contact, error) for a document's Contact element."""
    if not isinstance(ref, dict) or not any(ref.get(k) for k in ("ContactID", "ContactNumber", "Name")):
        return None, "A Contact must be specified for this type of transaction"
    if ref.get("ContactID"):
        found = find_by_id(org, ref["ContactID"])
        if found is None:
            return None, f"Contact with ContactID '{ref['ContactID']}' could not be found."
        return found, None
    if ref.get("ContactNumber"):
        found = find_by_number(org, ref["ContactNumber"])
        if found is not None:
            return found, None
        if not ref.get("Name"):
            return None, f"Contact with ContactNumber '{ref['ContactNumber']}' could not be found."
    found = find_active_by_name(org, ref["Name"])
    if found is not None:
        return found, None
    if not create:
        return None, f"Contact '{ref['Name']}' could not be found."
    record, errors, _ = write(org, {k: v for k, v in ref.items() if k in SETTABLE},
                              "PUT", now, new_id)
    return (record, None) if record else (None, errors[0])
