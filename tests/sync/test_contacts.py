"""CW company -> Xero contact; change detection; clash resolution."""
import pytest

from sync.contacts import (ContactDecision, changed_fields, contact_payload, contact_ref,
                           resolve_contact, update_payload)

from .cw import ORG

COMPANY = {"id": 251, "identifier": "HarbourDental", "name": "Harbour Dental Group",
           "accountNumber": "C00251", "addressLine1": "12 Wharf Street",
           "addressLine2": "Level 2", "city": "Sydney", "state": "NSW", "zip": "2000",
           "country": {"id": 14, "identifier": "AU", "name": "Australia"},
           "phoneNumber": "02 9123 4567", "faxNumber": "02 9123 4568",
           "invoiceToEmailAddress": "accounts@harbourdental.example"}
BILLING = {"id": 1001, "firstName": "Olivia", "lastName": "Nguyen",
           "defaultPhoneNbr": "02 9123 4500",
           "communicationItems": [
               {"communicationType": "Email", "value": "old@harbourdental.example",
                "defaultFlag": False},
               {"communicationType": "Email", "value": "olivia@harbourdental.example",
                "defaultFlag": True},
               {"communicationType": "Phone", "value": "0412 345 678",
                "type": {"id": 4, "name": "Mobile"}}]}
ADDRESS = {"AddressLine1": "12 Wharf Street", "AddressLine2": "Level 2", "City": "Sydney",
           "Region": "NSW", "PostalCode": "2000", "Country": "Australia"}


def test_company_and_billing_contact_make_an_exact_contact():
    assert contact_payload(COMPANY, BILLING) == {
        "Name": "Harbour Dental Group", "ContactNumber": "HarbourDental",
        "AccountNumber": "C00251", "FirstName": "Olivia", "LastName": "Nguyen",
        "EmailAddress": "olivia@harbourdental.example",
        "Addresses": [{"AddressType": "POBOX", **ADDRESS},
                      {"AddressType": "STREET", **ADDRESS}],
        "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "02 9123 4567"},
                   {"PhoneType": "FAX", "PhoneNumber": "02 9123 4568"},
                   {"PhoneType": "DDI", "PhoneNumber": "02 9123 4500"},
                   {"PhoneType": "MOBILE", "PhoneNumber": "0412 345 678"}]}


def test_company_email_fallback_and_no_customer_or_supplier_flags():
    # Xero sets IsCustomer/IsSupplier itself and refuses them on PUT and POST.
    payload = contact_payload({"identifier": "IngramMicro", "name": " Ingram Micro ",
                               "invoiceToEmailAddress": "ap@ingram.example"}, None)
    assert payload == {"Name": "Ingram Micro", "ContactNumber": "IngramMicro",
                       "EmailAddress": "ap@ingram.example"}


def test_identifier_longer_than_xero_allows_is_refused():
    with pytest.raises(ValueError):
        contact_payload({"identifier": "X" * 51, "name": "Long"})


def xero_view(payload):
    """The contact as Xero returns it: every phone and address type listed, numbers
    split, ids and derived flags added."""
    view = {k: v for k, v in payload.items() if k not in ("Phones", "Addresses")}
    view.update({"ContactID": "c-1", "ContactStatus": "ACTIVE", "IsCustomer": False,
                 "Addresses": payload["Addresses"] + [],
                 "Phones": [{"PhoneType": "DEFAULT", "PhoneAreaCode": "02",
                             "PhoneNumber": "9123 4567"},
                            {"PhoneType": "FAX", "PhoneNumber": "(02) 9123-4568"},
                            {"PhoneType": "DDI", "PhoneNumber": "02 9123 4500"},
                            {"PhoneType": "MOBILE", "PhoneNumber": "0412345678"}]})
    return view


def test_an_unchanged_contact_needs_no_update():
    wanted = contact_payload(COMPANY, BILLING)
    assert changed_fields(wanted, xero_view(wanted)) == []
    assert update_payload(wanted, xero_view(wanted)) is None


def test_a_changed_field_is_sent_with_the_contact_id():
    wanted = contact_payload(COMPANY, BILLING)
    xero = xero_view(wanted)
    xero["EmailAddress"] = "someone@else.example"
    xero["Addresses"] = [{"AddressType": "POBOX", **ADDRESS, "City": "Parramatta"},
                         {"AddressType": "STREET", **ADDRESS}]
    assert changed_fields(wanted, xero) == ["EmailAddress", "Addresses"]
    assert update_payload(wanted, xero) == {"ContactID": "c-1", **wanted}


def test_match_by_contact_number_first():
    candidates = [{"ContactID": "by-name", "Name": "Harbour Dental Group"},
                  {"ContactID": "by-number", "Name": "HDG (old name)",
                   "ContactNumber": "HarbourDental"}]
    assert resolve_contact(COMPANY, candidates, ORG) == ContactDecision("use", "by-number")


def test_match_by_name_only_when_it_has_no_other_number():
    candidates = [{"ContactID": "c-9", "Name": "  harbour dental group ",
                   "ContactStatus": "ACTIVE"}]
    assert resolve_contact(COMPANY, candidates, ORG) == ContactDecision("use", "c-9")


def test_same_name_with_another_number_is_a_clash_never_a_merge():
    candidates = [{"ContactID": "c-9", "Name": "Harbour Dental Group",
                   "ContactNumber": "HDG-LEGACY-01", "ContactStatus": "ACTIVE"}]
    decision = resolve_contact(COMPANY, candidates, ORG)
    assert decision == ContactDecision("clash", sentence=(
        f"A Xero contact named Harbour Dental Group already exists in org {ORG} with "
        "contact number HDG-LEGACY-01; ConnectWise company HarbourDental was not merged. "
        "Link it in Mappings or rename one of them."))


def test_a_link_made_in_mappings_wins():
    candidates = [{"ContactID": "c-9", "Name": "Harbour Dental Group",
                   "ContactNumber": "HDG-LEGACY-01"}]
    assert resolve_contact(COMPANY, candidates, ORG, linked_contact_id="c-9") == \
        ContactDecision("use", "c-9")


def test_archived_namesake_does_not_block_and_nothing_found_means_create():
    candidates = [{"ContactID": "c-3", "Name": "Harbour Dental Group",
                   "ContactNumber": "OLD", "ContactStatus": "ARCHIVED"}]
    assert resolve_contact(COMPANY, candidates, ORG) == ContactDecision("create")
    assert resolve_contact(COMPANY, [], ORG).action == "create"


def test_an_archived_contact_of_the_company_is_never_written_to_nor_doubled():
    """Xero takes no new documents for an ARCHIVED contact (FIDELITY.md 3.4): the
    company's own contact, found by its number, is an exception saying to restore it,
    never used and never replaced by a second contact."""
    candidates = [{"ContactID": "c-4", "Name": "Harbour Dental Group",
                   "ContactNumber": "HarbourDental", "ContactStatus": "ARCHIVED"}]
    decision = resolve_contact(COMPANY, candidates, ORG)
    assert decision.action == "archived"
    assert decision.sentence == (
        f"The Xero contact Harbour Dental Group in org {ORG}, which is ConnectWise company "
        "Harbour Dental Group, is archived, and Xero takes no new invoices, bills or credit "
        "notes for an archived contact. Restore the contact in Xero (Contacts, Archived), "
        "or link the company to another contact in Mappings; Ferry writes it on the next "
        "cycle.")


def test_contact_reference_for_documents():
    assert contact_ref("c-1", COMPANY) == {"ContactID": "c-1"}
    assert contact_ref(None, COMPANY) == {"ContactNumber": "HarbourDental"}
