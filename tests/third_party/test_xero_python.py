"""Xero's official Python SDK (xero-python, generated from the same OpenAPI spec) against
the Xero sandbox over HTTP: the calls a sync makes, deserialised by the SDK's own models.

Pointing the SDK at the sandbox needs no patching of the API classes: `AccountingApi`
and `IdentityApi` take `base_url`. Only the token refresh/revoke URLs are class
attributes of `TokenApi` (identity.xero.com); the refresh test sets them on a subclass.

Client quirks that are not sandbox bugs:
- enum fields (LineAmountTypes, CurrencyCode) must be the SDK's enums: a plain string
  raises "Can't serialize value type 'str' to explicit type ..." before any request;
- the SDK sends dates as `/Date(ms)/` and Decimals as floats;
- `get_tax_rates` has no `tax_type` argument (use `where`).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

REASON = "xero-python is not installed (a third-party client, not a Ferry dependency)"
xero_python = pytest.importorskip("xero_python", reason=REASON)
api_client_mod = pytest.importorskip("xero_python.api_client", reason=REASON)
oauth2 = pytest.importorskip("xero_python.api_client.oauth2", reason=REASON)
accounting = pytest.importorskip("xero_python.accounting", reason=REASON)
identity = pytest.importorskip("xero_python.identity", reason=REASON)
exceptions = pytest.importorskip("xero_python.exceptions", reason=REASON)

CLIENT_ID = "FERRYSANDBOXCLIENT0000000000000"
CLIENT_SECRET = "ferry-sandbox-secret-not-for-production"
REDIRECT = "http://127.0.0.1:5000/settings/xero/callback"
SCOPE = ("openid profile email offline_access accounting.settings accounting.contacts "
         "accounting.transactions")

# urllib3 2 deprecates HTTPResponse.getheaders(), which the SDK's exceptions call.
pytestmark = pytest.mark.filterwarnings(
    "ignore:HTTPResponse.getheaders\\(\\) is deprecated:DeprecationWarning")


def _login(base: str) -> dict:
    """The sandbox's authorization-code flow with PKCE and auto consent."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    with httpx2.Client(base_url=base, timeout=10) as http:
        answer = http.get("/identity/connect/authorize", params={
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
            "scope": SCOPE, "state": "tp", "code_challenge": challenge,
            "code_challenge_method": "S256", "auto_consent": "1"})
        assert answer.status_code == 302, answer.text
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        token = http.post("/connect/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "client_id": CLIENT_ID, "code_verifier": verifier})
        assert token.status_code == 200, token.text
        return token.json()


class Sdk:
    def __init__(self, base: str):
        self.base = base
        self.token = _login(base)
        self.token["scope"] = self.token["scope"].split()
        config = api_client_mod.Configuration(oauth2_token=oauth2.OAuth2Token(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET))
        self.client = api_client_mod.ApiClient(
            config, oauth2_token_saver=self._save, oauth2_token_getter=lambda: self.token)
        self.identity = identity.IdentityApi(self.client, base_url=base)
        self.api = accounting.AccountingApi(self.client, base_url=base + "/api.xro/2.0")
        self.tenant = next(c.tenant_id for c in self.identity.get_connections()
                           if c.tenant_name.startswith("Adelaide"))

    def _save(self, token):
        self.token = token


@pytest.fixture(scope="module")
def sdk(xero_url):
    return Sdk(xero_url)


@pytest.fixture(scope="module")
def contact(sdk):
    made = sdk.api.create_contacts(sdk.tenant, accounting.Contacts(contacts=[accounting.Contact(
        name="Third Party Client Pty Ltd", contact_number="TP-0001",
        email_address="ap@thirdparty.example")]), summarize_errors=False)
    return made.contacts[0]


def _line(amount="10.1234", account="200", tax="OUTPUT", **extra):
    return accounting.LineItem(description="Managed services", quantity=Decimal("2"),
                               unit_amount=Decimal(amount), account_code=account,
                               tax_type=tax, **extra)


def _invoice(contact_id, number=None, **extra):
    fields = dict(type="ACCREC", contact=accounting.Contact(contact_id=contact_id),
                  date=dt.date(2026, 1, 5), due_date=dt.date(2026, 2, 4),
                  line_amount_types=accounting.LineAmountTypes.EXCLUSIVE,
                  currency_code=accounting.CurrencyCode.AUD, status="AUTHORISED",
                  invoice_number=number or "TP-" + secrets.token_hex(3), line_items=[_line()])
    fields.update(extra)
    return accounting.Invoice(**fields)


def test_connections_and_settings_deserialise(sdk):
    connections = sdk.identity.get_connections()
    assert {c.tenant_type for c in connections} == {"ORGANISATION"}
    assert all(isinstance(c.created_date_utc, dt.datetime) for c in connections)
    org = sdk.api.get_organisations(sdk.tenant).organisations[0]
    assert (org.name, org.base_currency, org.country_code.value) == (
        "Adelaide IT Services Pty Ltd", accounting.CurrencyCode.AUD, "AU")
    accounts = sdk.api.get_accounts(sdk.tenant).accounts
    assert {"200", "090"} <= {a.code for a in accounts}
    revenue = sdk.api.get_accounts(sdk.tenant, where='Type=="REVENUE"', order="Code").accounts
    assert revenue and [a.code for a in revenue] == sorted(a.code for a in revenue)
    rates = sdk.api.get_tax_rates(sdk.tenant, where='Status=="ACTIVE"').tax_rates
    assert {"OUTPUT", "INPUT"} <= {r.tax_type for r in rates}
    output = next(r for r in rates if r.tax_type == "OUTPUT")
    assert output.effective_rate == Decimal("10")
    tracking = sdk.api.get_tracking_categories(sdk.tenant).tracking_categories
    assert {t.name for t in tracking} == {"Office", "Department"}
    assert all(t.options for t in tracking)
    codes = {c.code for c in sdk.api.get_currencies(sdk.tenant).currencies}
    assert accounting.CurrencyCode.AUD in codes


def test_contacts_read_filter_page_and_write(sdk, contact):
    assert contact.status_attribute_string == "OK" and contact.contact_id
    page = sdk.api.get_contacts(sdk.tenant, page=1, page_size=2)
    assert len(page.contacts) == 2 and page.pagination.page_size == 2
    assert page.pagination.item_count >= 3
    by_number = sdk.api.get_contacts(sdk.tenant, where='ContactNumber=="TP-0001"',
                                     summary_only=True).contacts
    assert [c.contact_id for c in by_number] == [contact.contact_id]
    by_guid = sdk.api.get_contacts(
        sdk.tenant, where=f'ContactID==guid("{contact.contact_id}")').contacts
    assert [c.name for c in by_guid] == ["Third Party Client Pty Ltd"]
    by_id = sdk.api.get_contacts(sdk.tenant, i_ds=[contact.contact_id]).contacts
    assert by_id[0].email_address == "ap@thirdparty.example"
    clash = sdk.api.create_contacts(sdk.tenant, accounting.Contacts(contacts=[
        accounting.Contact(name="Third Party Client Pty Ltd")]), summarize_errors=False)
    element = clash.contacts[0]
    assert element.has_validation_errors and element.status_attribute_string == "ERROR"
    assert "already assigned" in element.validation_errors[0].message
    updated = sdk.api.update_or_create_contacts(sdk.tenant, accounting.Contacts(contacts=[
        accounting.Contact(contact_id=contact.contact_id, email_address="ar@thirdparty.example"),
        accounting.Contact(name="")]), summarize_errors=False).contacts
    assert [c.status_attribute_string for c in updated] == ["OK", "ERROR"]
    assert updated[0].email_address == "ar@thirdparty.example"


def test_invoices_write_read_and_filter(sdk, contact):
    made = sdk.api.create_invoices(sdk.tenant, accounting.Invoices(invoices=[
        _invoice(contact.contact_id, "TP-INV-1")]), summarize_errors=False, unitdp=4)
    inv = made.invoices[0]
    assert inv.status_attribute_string == "OK" and not inv.has_errors
    assert inv.line_items[0].unit_amount == Decimal("10.1234")
    assert (inv.sub_total, inv.total_tax, inv.total) == (
        Decimal("20.25"), Decimal("2.03"), Decimal("22.28"))
    assert inv.date == dt.date(2026, 1, 5) and inv.status == "AUTHORISED"
    assert inv.line_amount_types == accounting.LineAmountTypes.EXCLUSIVE
    again = sdk.api.update_or_create_invoices(sdk.tenant, accounting.Invoices(invoices=[
        accounting.Invoice(invoice_id=inv.invoice_id, reference="CW 11001"),
        accounting.Invoice(type="ACCREC", contact=accounting.Contact(contact_id=contact.contact_id),
                           line_items=[_line(account="NOPE")])]),
        summarize_errors=False, unitdp=4).invoices
    assert [i.status_attribute_string for i in again] == ["OK", "ERROR"]
    assert again[0].reference == "CW 11001" and again[1].has_errors
    two_dp = sdk.api.get_invoice(sdk.tenant, inv.invoice_id).invoices[0]
    assert two_dp.line_items[0].unit_amount == Decimal("10.12")
    assert sdk.api.get_invoice(sdk.tenant, inv.invoice_id, unitdp=4).invoices[0] \
        .line_items[0].unit_amount == Decimal("10.1234")
    by_number = sdk.api.get_invoices(sdk.tenant, invoice_numbers=["TP-INV-1"]).invoices
    assert [i.invoice_id for i in by_number] == [inv.invoice_id]
    paged = sdk.api.get_invoices(sdk.tenant, statuses=["AUTHORISED"], page=1, page_size=1)
    assert paged.pagination.page_size == 1 and len(paged.invoices) == 1
    where = sdk.api.get_invoices(sdk.tenant, where=(
        f'Type=="ACCREC" AND Contact.ContactID==guid("{contact.contact_id}") '
        'AND Date>=DateTime(2026,01,01)')).invoices
    assert inv.invoice_id in {i.invoice_id for i in where}
    since = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3650)
    assert sdk.api.get_invoices(sdk.tenant, if_modified_since=since).invoices == []
    recent = sdk.api.get_invoices(sdk.tenant, if_modified_since=dt.datetime(2020, 1, 1),
                                  contact_i_ds=[contact.contact_id])
    assert inv.invoice_id in {i.invoice_id for i in recent.invoices}
    customer = sdk.api.get_contact(sdk.tenant, contact.contact_id).contacts[0]
    assert customer.is_customer is True


def test_validation_error_without_summarize_is_the_sdk_s_bad_request(sdk, contact):
    with pytest.raises(exceptions.ApiException) as raised:
        sdk.api.create_invoices(sdk.tenant, accounting.Invoices(invoices=[
            _invoice(contact.contact_id, line_items=[_line(account="NOPE")])]))
    assert raised.value.status == 400
    assert raised.value.error_data["Type"] == "ValidationException"
    assert "NOPE" in raised.value.reason
    with pytest.raises(exceptions.ApiException) as missing:
        sdk.api.get_invoice(sdk.tenant, "00000000-0000-0000-0000-000000000000")
    assert missing.value.status == 404


def test_credit_note_allocation_and_payments(sdk, contact):
    inv = sdk.api.create_invoices(sdk.tenant, accounting.Invoices(invoices=[
        _invoice(contact.contact_id)]), unitdp=4).invoices[0]
    note = sdk.api.create_credit_notes(sdk.tenant, accounting.CreditNotes(credit_notes=[
        accounting.CreditNote(type="ACCRECCREDIT",
                              contact=accounting.Contact(contact_id=contact.contact_id),
                              date=dt.date(2026, 1, 6), status="AUTHORISED",
                              line_amount_types=accounting.LineAmountTypes.EXCLUSIVE,
                              credit_note_number="TP-CN-1",
                              line_items=[accounting.LineItem(
                                  description="Credit", quantity=1, unit_amount=Decimal("5"),
                                  account_code="200", tax_type="OUTPUT")])]),
        summarize_errors=False).credit_notes[0]
    assert note.status_attribute_string == "OK" and note.total == Decimal("5.50")
    allocated = sdk.api.create_credit_note_allocation(
        sdk.tenant, note.credit_note_id, accounting.Allocations(allocations=[
            accounting.Allocation(amount=Decimal("5.50"), date=dt.date(2026, 1, 7),
                                  invoice=accounting.Invoice(invoice_id=inv.invoice_id))]))
    assert allocated.allocations[0].amount == Decimal("5.50")
    assert sdk.api.get_credit_note(sdk.tenant, note.credit_note_id).credit_notes[0] \
        .remaining_credit == Decimal("0.00")
    bank = sdk.api.get_accounts(sdk.tenant, where='Type=="BANK"').accounts[0]
    # create_payment POSTs one Payment (the spec's createPayment).
    one = sdk.api.create_payment(sdk.tenant, accounting.Payment(
        invoice=accounting.Invoice(invoice_id=inv.invoice_id),
        account=accounting.Account(account_id=bank.account_id), amount=Decimal("6.78"),
        date=dt.date(2026, 1, 8), reference="EFT 1")).payments[0]
    assert one.status == "AUTHORISED" and one.amount == Decimal("6.78")
    # create_payments PUTs the wrapper.
    two = sdk.api.create_payments(sdk.tenant, accounting.Payments(payments=[accounting.Payment(
        invoice=accounting.Invoice(invoice_id=inv.invoice_id),
        account=accounting.Account(code=bank.code), amount=Decimal("10.00"),
        date=dt.date(2026, 1, 9))]), summarize_errors=False).payments[0]
    assert two.status_attribute_string == "OK"
    paid = sdk.api.get_invoice(sdk.tenant, inv.invoice_id).invoices[0]
    assert (paid.amount_due, paid.amount_credited, paid.status) == (
        Decimal("0.00"), Decimal("5.50"), "PAID")
    listed = sdk.api.get_payments(sdk.tenant, where='PaymentType=="ACCRECPAYMENT"', page=1,
                                  order="UpdatedDateUTC")
    assert {one.payment_id, two.payment_id} <= {p.payment_id for p in listed.payments}
    assert sdk.api.get_payment(sdk.tenant, one.payment_id).payments[0].invoice.invoice_id \
        == inv.invoice_id
    changed = sdk.api.get_payments(sdk.tenant, if_modified_since=dt.datetime(2020, 1, 1))
    assert len(changed.payments) >= 2


@pytest.fixture
def own_xero_url():
    """A sandbox of its own: disconnecting is not something to share."""
    from sandbox.kit import serve_in_thread
    from sandbox.xero import create_app
    server = serve_in_thread(create_app(seed=1))
    yield server.url
    server.stop()


def test_token_refresh_and_disconnect(own_xero_url):
    xero_url = own_xero_url
    sdk = Sdk(xero_url)

    class SandboxTokenApi(oauth2.TokenApi):
        refresh_token_url = xero_url + "/connect/token"
        revoke_token_url = xero_url + "/connect/revocation"

    old = sdk.token["access_token"]
    original = oauth2.TokenApi
    oauth2.TokenApi = SandboxTokenApi
    try:
        fresh = sdk.client.refresh_oauth2_token()
    finally:
        oauth2.TokenApi = original
    assert fresh["access_token"] != old and fresh["refresh_token"]
    assert sdk.api.get_organisations(sdk.tenant).organisations
    connection = next(c for c in sdk.identity.get_connections() if c.tenant_id == sdk.tenant)
    sdk.identity.delete_connection(connection.id)
    assert sdk.tenant not in {c.tenant_id for c in sdk.identity.get_connections()}
    with pytest.raises(exceptions.ApiException) as raised:
        sdk.api.get_organisations(sdk.tenant)
    assert raised.value.status == 403
