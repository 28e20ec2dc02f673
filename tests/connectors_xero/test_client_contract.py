"""Ferry's own Xero client, held to Xero's OpenAPI description: every request it sends
and every answer it gets, as the sandbox's journal saw them on the wire, checked by the
same contract checker that keeps the sandbox honest (unknown keys rejected)."""
import json
from decimal import Decimal

from werkzeug.datastructures import Headers

from tests.connectors_xero.test_batches import invoice, xero_client
from tests.sandbox_xero.contract import check_api_exchange


def _raw(body) -> bytes | None:
    return None if body is None else json.dumps(body).encode()


def test_every_client_exchange_matches_the_spec(sandbox, xero_app, grant, redis_client):
    client = xero_client(xero_app, redis_client)
    org = client.organisation()["Name"]
    client.accounts()
    client.tax_rates()
    client.tracking_categories()
    client.currencies()
    customer = client.save_contacts([{"Name": "Acme Pty Ltd", "ContactNumber": "ACME",
                                      "EmailAddress": "accounts@acme.example"}])[0]
    client.contacts_by_numbers(["ACME", "NOBODY"])
    client.contacts_by_name("Acme Pty Ltd")
    client.search_contacts("acme")
    written = client.save_invoices([invoice("CT-1", {"ContactID": customer.id}),
                                    invoice("CT-2", {"ContactID": customer.id}, "10.0050")],
                                   create_only=True)
    assert all(r.ok for r in written)
    client.invoices_by_numbers(["CT-1", "CT-2"])
    client.invoices_by_ids([written[0].id])
    list(client.invoices(where='Type=="ACCREC"', statuses=["AUTHORISED"]))
    note = {"Type": "ACCRECCREDIT", "Contact": {"ContactID": customer.id},
            "CreditNoteNumber": "CN-CT-1", "Date": "2026-03-05", "Status": "AUTHORISED",
            "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": "Credit for March outage", "Quantity": Decimal("1"),
                           "UnitAmount": Decimal("20.00"), "AccountCode": "260",
                           "TaxType": "OUTPUT"}]}
    credited = client.save_credit_notes([note], create_only=True)[0]
    assert credited.ok
    client.credit_notes_by_numbers(["CN-CT-1"])
    client.allocate_credit_note(credited.id, [{"Amount": Decimal("22.00"),
                                               "Invoice": {"InvoiceID": written[0].id},
                                               "Date": "2026-03-06"}])
    sandbox.http.post("/_sandbox/xero/pay", json={"org": org, "invoice_number": "CT-2",
                                                  "amount": "full"}).raise_for_status()
    list(client.payments())

    exchanges = sandbox.journal(path="/api.xro/2.0/*")
    assert len(exchanges) == 17
    for e in exchanges:
        url = f"{sandbox.url}{e['path']}" + (f"?{e['query']}" if e["query"] else "")
        check_api_exchange(e["method"], url, e["headers"], _raw(e["body"]), e["status"],
                           Headers(e.get("response_headers", {})),
                           _raw(e["response"]) or b"{}")
