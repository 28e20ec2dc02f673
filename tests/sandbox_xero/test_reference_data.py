"""The settings Ferry's mapping screens read, and contacts, as Xero shapes them."""
from decimal import Decimal

from sandbox import catalog

from .conftest import decimals


def test_organisation_accounts_tax_rates_tracking_and_currencies(adelaide):
    org = adelaide.get("/Organisation").json()["Organisations"][0]
    assert (org["Name"], org["BaseCurrency"], org["CountryCode"]) == (
        "Adelaide IT Services Pty Ltd", "AUD", "AU")
    codes = {a["Code"]: a for a in adelaide.get("/Accounts").json()["Accounts"]}
    for _, _, _, code, name, kind in catalog.GL_ACCOUNTS:
        if code:
            assert (codes[code]["Name"], codes[code]["Type"]) == (name, kind)
    assert codes["090"]["Type"] == "BANK"
    rates = {t["TaxType"]: t for t in decimals(adelaide.get("/TaxRates"))["TaxRates"]}
    assert set(rates) >= {"OUTPUT", "INPUT", "EXEMPTOUTPUT", "EXEMPTEXPENSES", "BASEXCLUDED",
                          "GSTONIMPORTS", "CAPEXINPUT", "EXEMPTEXPORT", "INPUTTAXED"}
    assert rates["OUTPUT"]["EffectiveRate"] == Decimal("10")
    assert rates["OUTPUT"]["TaxComponents"][0]["Name"] == "GST"
    tracking = adelaide.get("/TrackingCategories").json()["TrackingCategories"]
    assert {c["Name"]: [o["Name"] for o in c["Options"]] for c in tracking} == catalog.TRACKING
    assert [c["Code"] for c in adelaide.get("/Currencies").json()["Currencies"]] == ["AUD", "NZD", "USD"]


def test_where_filters_accounts_and_bad_where_is_a_query_parse_exception(adelaide):
    revenue = adelaide.get("/Accounts", params={"where": 'Type=="REVENUE" AND Code.StartsWith("2")'})
    assert {a["Code"] for a in revenue.json()["Accounts"]} == {"200", "210", "220", "230", "260", "270"}
    bad = adelaide.get("/Accounts", params={"where": 'Colour=="red"'}, check=False)
    assert bad.status_code == 400
    assert bad.json()["Type"] == "QueryParseException"


def test_clash_contact_is_in_sydney_only(adelaide, sydney):
    clash = catalog.CLASH_COMPANY
    found = sydney.get("/Contacts", params={"where": f'Name=="{clash["name"]}"'}).json()["Contacts"]
    assert [c["ContactNumber"] for c in found] == [clash["xero_contact_number"]]
    assert adelaide.get("/Contacts", params={"searchTerm": "harbour"}).json()["Contacts"] == []


def test_contact_names_are_unique_among_active_contacts(sydney):
    answer = sydney.put("/Contacts", {"Contacts": [
        {"Name": "Harbour Dental Group", "ContactNumber": "HarbourDental"}]})
    assert answer.status_code == 400
    body = answer.json()
    assert (body["ErrorNumber"], body["Type"]) == (10, "ValidationException")
    message = body["Elements"][0]["ValidationErrors"][0]["Message"]
    assert "already assigned to another contact" in message


def test_contact_number_longer_than_50_is_refused(adelaide):
    # The spec itself says maxLength 50, so this request is deliberately off-contract.
    answer = adelaide.put("/Contacts", {"Contacts": [{"Name": "Long", "ContactNumber": "X" * 51}]},
                          params={"summarizeErrors": "false"}, check=False)
    element = answer.json()["Contacts"][0]
    assert (answer.status_code, element["StatusAttributeString"]) == (200, "ERROR")


def test_contacts_by_number_page_ids_and_archived(adelaide, customer):
    by_number = adelaide.get("/Contacts/BarossaWines").json()["Contacts"][0]
    assert by_number["ContactID"] == customer["ContactID"]
    by_ids = adelaide.get("/Contacts", params={"IDs": customer["ContactID"]}).json()["Contacts"]
    assert [c["Name"] for c in by_ids] == ["Barossa Wines Pty Ltd"]
    page = adelaide.get("/Contacts", params={"page": "1"}).json()
    assert page["pagination"]["itemCount"] == len(page["Contacts"])
    assert all(c["ContactStatus"] == "ACTIVE" for c in page["Contacts"])
    archived = adelaide.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"]
    assert any(c["ContactStatus"] == "ARCHIVED" for c in archived)


def test_post_updates_a_contact_and_moves_its_updated_date(xero, adelaide, customer):
    xero.advance(120)
    answer = adelaide.post(f"/Contacts/{customer['ContactID']}",
                           {"Contacts": [{"EmailAddress": "new@barossa.example"}]})
    updated = answer.json()["Contacts"][0]
    assert updated["EmailAddress"] == "new@barossa.example"
    assert updated["UpdatedDateUTC"] > customer["UpdatedDateUTC"]
