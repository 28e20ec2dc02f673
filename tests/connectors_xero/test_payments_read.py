"""Reading payments back from Xero: what was paid (in part, in full, over), as Decimal,
and only what changed since the last look (If-Modified-Since)."""
from datetime import timedelta
from decimal import Decimal

from tests.connectors_xero.test_batches import invoice, xero_client


def _pay(sandbox, org, number, amount):
    answer = sandbox.http.post("/_sandbox/xero/pay", json={
        "org": org, "invoice_number": number, "amount": amount})
    answer.raise_for_status()


def test_payments_read_with_amounts_and_since(sandbox, xero_app, grant, redis_client):
    client = xero_client(xero_app, redis_client)
    org = client.organisation()["Name"]
    customer = client.save_contacts([{"Name": "Acme Pty Ltd", "ContactNumber": "ACME"}])[0]
    results = client.save_invoices([invoice("PAY-1", {"ContactID": customer.id}),
                                    invoice("PAY-2", {"ContactID": customer.id})],
                                   create_only=True)
    assert all(r.ok for r in results)
    _pay(sandbox, org, "PAY-1", "50.00")          # part of 132.00
    paid = list(client.payments())
    assert [(p["Invoice"]["InvoiceNumber"], p["Amount"]) for p in paid] == [
        ("PAY-1", Decimal("50.00"))]
    assert paid[0]["Status"] == "AUTHORISED"
    looked_at = paid[0]["UpdatedDateUTC"]

    sandbox.advance(60)
    _pay(sandbox, org, "PAY-2", "full")
    since = list(client.payments(modified_since=looked_at + timedelta(seconds=1)))
    assert [(p["Invoice"]["InvoiceNumber"], p["Amount"]) for p in since] == [
        ("PAY-2", Decimal("132.00"))]
    assert client.invoices_by_ids([results[1].id])[0]["Status"] == "PAID"
