"""CW company (+ billing contact) -> Xero contact, change detection, and clash checks.

Ferry's key for a contact is ContactNumber = the CW company identifier. A Xero contact
with the same name but another ContactNumber is someone else's record (a legacy import,
another system): Ferry never merges into it silently, it raises an exception the user
resolves by linking the two in Mappings or renaming one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

CONTACT_NUMBER_LIMIT = 50
# Fields Ferry owns on a Xero contact; the rest (payment terms, bank details...) stay
# as the user set them in Xero.
_COMPARED = ("Name", "ContactNumber", "AccountNumber", "FirstName", "LastName",
             "EmailAddress")


def contact_payload(company: Mapping, billing_contact: Mapping | None = None) -> dict:
    """The Xero Contact for a CW Company. IsCustomer/IsSupplier are left out: Xero sets
    them itself from the documents and refuses them on PUT and POST (its spec says so),
    so the same payload serves a customer and a supplier."""
    identifier = (company.get("identifier") or "").strip()
    if not identifier or len(identifier) > CONTACT_NUMBER_LIMIT:
        raise ValueError(f"CW company identifier {identifier!r} cannot be a Xero "
                         f"ContactNumber (1 to {CONTACT_NUMBER_LIMIT} characters)")
    payload: dict = {"Name": _clean(company.get("name"), 255),
                     "ContactNumber": identifier}
    if company.get("accountNumber"):
        payload["AccountNumber"] = _clean(company["accountNumber"], 50)
    if billing_contact:
        for key, cw_key in (("FirstName", "firstName"), ("LastName", "lastName")):
            if billing_contact.get(cw_key):
                payload[key] = _clean(billing_contact[cw_key], 255)
    email = _email(billing_contact) or company.get("invoiceToEmailAddress")
    if email:
        payload["EmailAddress"] = _clean(email, 255)
    address = _address(company)
    if address:
        payload["Addresses"] = [{"AddressType": "POBOX", **address},
                                {"AddressType": "STREET", **address}]
    phones = _phones(company, billing_contact)
    if phones:
        payload["Phones"] = phones
    return payload


def changed_fields(wanted: Mapping, xero: Mapping) -> list[str]:
    """The fields of `wanted` that the Xero contact does not already hold (empty list:
    send no update). Xero lists every address and phone type, empty ones included, and
    may split a number into area code and number, so those compare by content."""
    changed = [key for key in _COMPARED
               if _norm(wanted.get(key)) != _norm(xero.get(key))]
    if _addresses(wanted) != _addresses(xero):
        changed.append("Addresses")
    if _phone_numbers(wanted) != _phone_numbers(xero):
        changed.append("Phones")
    return changed


def update_payload(wanted: Mapping, xero: Mapping) -> dict | None:
    """What to POST to bring the Xero contact in line, or None when nothing differs."""
    if not changed_fields(wanted, xero):
        return None
    return {"ContactID": xero["ContactID"], **wanted}


@dataclass(frozen=True)
class ContactDecision:
    """`action` is "use" (contact_id names the Xero contact), "create" or "clash"
    (sentence says why nothing was merged)."""
    action: str
    contact_id: str | None = None
    sentence: str | None = None


def resolve_contact(company: Mapping, candidates: Iterable[Mapping], org_name: str,
                    linked_contact_id: str | None = None) -> ContactDecision:
    """Which Xero contact a CW company is, among the candidates the caller fetched
    (by ContactNumber and by name). A link the user made in Mappings wins; then the
    same ContactNumber; then the same name (case-insensitive, trimmed) only if that
    contact has no ContactNumber or the same one."""
    if linked_contact_id:
        return ContactDecision("use", linked_contact_id)
    identifier = (company.get("identifier") or "").strip()
    name = _fold(company.get("name"))
    candidates = list(candidates)
    for contact in candidates:
        if (contact.get("ContactNumber") or "").strip() == identifier:
            if contact.get("ContactStatus", "ACTIVE") == "ARCHIVED":
                return ContactDecision("archived", contact["ContactID"], archived_sentence(
                    contact.get("Name") or identifier, company.get("name") or identifier,
                    org_name))
            return ContactDecision("use", contact["ContactID"])
    for contact in candidates:
        if contact.get("ContactStatus", "ACTIVE") != "ACTIVE" or _fold(contact.get("Name")) != name:
            continue
        number = (contact.get("ContactNumber") or "").strip()
        if not number:
            return ContactDecision("use", contact["ContactID"])
        return ContactDecision("clash", sentence=(
            f"A Xero contact named {contact.get('Name', '').strip()} already exists in org "
            f"{org_name} with contact number {number}; ConnectWise company {identifier} "
            "was not merged. Link it in Mappings or rename one of them."))
    return ContactDecision("create")


def archived_sentence(contact_name: str, company_name: str, org_name: str) -> str:
    """Xero accepts no new invoice or credit note for an ARCHIVED contact ("The contact
    must be un-archived before creating new invoices or credit notes."; sandbox/
    FIDELITY.md 3.4). Restoring it is a person's decision in Xero, never Ferry's."""
    return (f"The Xero contact {contact_name} in org {org_name}, which is ConnectWise "
            f"company {company_name}, is archived, and Xero takes no new invoices, bills "
            "or credit notes for an archived contact. Restore the contact in Xero "
            "(Contacts, Archived), or link the company to another contact in Mappings; "
            "Ferry writes it on the next cycle.")


def contact_ref(contact_id: str | None, company: Mapping) -> dict:
    """How a document names its contact: by ContactID once known, else by the CW
    identifier Ferry set as ContactNumber."""
    if contact_id:
        return {"ContactID": contact_id}
    return {"ContactNumber": (company.get("identifier") or "").strip()}


def _clean(value, limit: int) -> str:
    return str(value).strip()[:limit]


def _fold(value) -> str:
    return " ".join(str(value or "").split()).casefold()


def _norm(value) -> str:
    return str(value or "").strip()


def _email(contact: Mapping | None) -> str | None:
    if not contact:
        return None
    emails = [c for c in contact.get("communicationItems") or ()
              if c.get("communicationType") == "Email" and c.get("value")]
    emails.sort(key=lambda c: not c.get("defaultFlag"))
    return emails[0]["value"] if emails else None


def _address(company: Mapping) -> dict:
    fields = {"AddressLine1": (company.get("addressLine1"), 500),
              "AddressLine2": (company.get("addressLine2"), 500),
              "City": (company.get("city"), 255), "Region": (company.get("state"), 255),
              "PostalCode": (company.get("zip"), 50),
              "Country": ((company.get("country") or {}).get("name"), 50)}
    return {key: _clean(value, limit) for key, (value, limit) in fields.items() if value}


def _phones(company: Mapping, contact: Mapping | None) -> list[dict]:
    phones = []
    if company.get("phoneNumber"):
        phones.append({"PhoneType": "DEFAULT", "PhoneNumber": _clean(company["phoneNumber"], 50)})
    if company.get("faxNumber"):
        phones.append({"PhoneType": "FAX", "PhoneNumber": _clean(company["faxNumber"], 50)})
    if contact:
        direct = contact.get("defaultPhoneNbr")
        mobile = next((c["value"] for c in contact.get("communicationItems") or ()
                       if c.get("communicationType") == "Phone" and c.get("value")
                       and "mobile" in ((c.get("type") or {}).get("name") or "").lower()), None)
        if direct:
            phones.append({"PhoneType": "DDI", "PhoneNumber": _clean(direct, 50)})
        if mobile:
            phones.append({"PhoneType": "MOBILE", "PhoneNumber": _clean(mobile, 50)})
    return phones


def _addresses(contact: Mapping) -> dict:
    out = {}
    for address in contact.get("Addresses") or ():
        content = tuple((key, _norm(address.get(key))) for key in
                        ("AddressLine1", "AddressLine2", "City", "Region", "PostalCode",
                         "Country"))
        if any(value for _key, value in content):
            out[address.get("AddressType")] = content
    return out


def _phone_numbers(contact: Mapping) -> dict:
    out = {}
    for phone in contact.get("Phones") or ():
        digits = re.sub(r"\D", "", "".join(str(phone.get(key) or "") for key in
                                           ("PhoneCountryCode", "PhoneAreaCode",
                                            "PhoneNumber")))
        if digits:
            out[phone.get("PhoneType")] = digits
    return out
