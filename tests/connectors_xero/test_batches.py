"""Batch writes: 50-element and 3.5 MB chunks, per-element results, idempotency keys."""
from decimal import Decimal

from connectors.audit import ListSink
from connectors.transport import RetryPolicy
from connectors.xero import open_client
from connectors.xero_batches import MAX_BYTES, chunks, idempotency_key
from connectors.xero_governor import Governor
from connectors.xero_oauth import TokenKeeper
from models import Connection
from tests.connectors_xero.conftest import REDIS_PREFIX


def xero_client(xero_app, redis_client):
    connection = Connection.select().where(Connection.kind == "xero").first()
    return open_client(xero_app, connection, sink=ListSink(),
                       governor=Governor(redis_client, prefix=REDIS_PREFIX),
                       tokens=TokenKeeper(xero_app, redis=redis_client),
                       retry=RetryPolicy(base_delay=0.01))


def invoice(number: str, contact: dict, amount: str = "120.00") -> dict:
    return {"Type": "ACCREC", "Contact": contact, "InvoiceNumber": number,
            "Date": "2026-03-02", "DueDate": "2026-04-01", "Status": "AUTHORISED",
            "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": "Managed services, March", "Quantity": Decimal("1"),
                           "UnitAmount": Decimal(amount), "AccountCode": "260",
                           "TaxType": "OUTPUT"}]}


def test_fifty_elements_make_one_batch_and_fifty_one_make_two():
    items = [{"Name": f"Customer {i}"} for i in range(51)]
    assert [len(c) for _, c in chunks(items[:50], "Contacts")] == [50]
    assert [(o, len(c)) for o, c in chunks(items, "Contacts")] == [(0, 50), (50, 1)]


def test_batches_stay_under_three_and_a_half_megabytes():
    big = [{"Name": f"C{i}", "Notes": "x" * 400_000} for i in range(20)]
    sizes = [len(c) for _, c in chunks(big, "Contacts")]
    assert sum(sizes) == 20 and max(sizes) == 8       # 8 × ~400 KB fit, a 9th would not
    assert all(s * 400_000 < MAX_BYTES for s in sizes)


def test_idempotency_key_follows_what_is_written():
    body = b'{"Invoices": [{"InvoiceNumber": "INV-1"}]}'
    key = idempotency_key("T1", "PUT", "/Invoices", {"summarizeErrors": "false"}, body)
    assert key == idempotency_key("T1", "PUT", "/Invoices", {"summarizeErrors": "false"}, body)
    assert len(key) <= 128
    assert key != idempotency_key("T1", "PUT", "/Invoices", {"summarizeErrors": "false"},
                                  body.replace(b"INV-1", b"INV-2"))
    assert key != idempotency_key("T2", "PUT", "/Invoices", {"summarizeErrors": "false"}, body)
    assert key != idempotency_key("T1", "POST", "/Invoices", {"summarizeErrors": "false"}, body)


def test_fifty_one_contacts_go_in_two_calls_each_with_its_own_result(
        sandbox, xero_app, grant, redis_client):
    client = xero_client(xero_app, redis_client)
    contacts = [{"Name": f"Batch Customer {i:02d}", "ContactNumber": f"BATCH{i:02d}"}
                for i in range(51)]
    results = client.save_contacts(contacts)
    writes = sandbox.journal(method="POST", path="/api.xro/2.0/Contacts")
    assert [len(w["body"]["Contacts"]) for w in writes] == [50, 1]
    assert all("summarizeErrors=false" in w["query"] for w in writes)
    assert all(w["headers"]["Idempotency-Key"].startswith("ferry-") for w in writes)
    assert [r.index for r in results] == list(range(51))
    assert all(r.ok and r.id for r in results)
    found = client.contacts_by_numbers(["BATCH00", "BATCH50"])
    assert {c["ContactID"] for c in found} == {results[0].id, results[50].id}


def test_one_bad_invoice_does_not_hide_the_good_ones(sandbox, xero_app, grant, redis_client):
    client = xero_client(xero_app, redis_client)
    customer = client.save_contacts([{"Name": "Acme Pty Ltd", "ContactNumber": "ACME"}])[0]
    bad = invoice("FERRY-2", {"ContactID": customer.id})
    bad["LineItems"][0]["AccountCode"] = "NOSUCH"
    results = client.save_invoices([invoice("FERRY-1", {"ContactID": customer.id}), bad,
                                    invoice("FERRY-3", {"ContactID": customer.id})],
                                   create_only=True)
    assert [r.status for r in results] == ["OK", "ERROR", "OK"]
    assert results[1].errors and all(e.endswith(".") for e in results[1].errors)
    assert results[1].id is None
    stored = client.invoices_by_ids([results[0].id, results[2].id])
    assert sorted(i["InvoiceNumber"] for i in stored) == ["FERRY-1", "FERRY-3"]
    assert stored[0]["Total"] == Decimal("132.00")           # money comes back as Decimal


def test_a_write_whose_answer_was_lost_is_retried_and_made_once(
        sandbox, xero_app, grant, redis_client):
    client = xero_client(xero_app, redis_client)
    customer = client.save_contacts([{"Name": "Lost Answer Ltd", "ContactNumber": "LOST"}])[0]
    sandbox.fault(kind="lost_response", path="/api.xro/2.0/Invoices", method="PUT", nth=1)
    results = client.save_invoices([invoice("FERRY-LOST", {"ContactID": customer.id})],
                                   create_only=True)
    assert results[0].ok
    puts = sandbox.journal(method="PUT", path="/api.xro/2.0/Invoices")
    assert len(puts) == 2
    assert puts[0]["headers"]["Idempotency-Key"] == puts[1]["headers"]["Idempotency-Key"]
    assert len(client.invoices_by_numbers(["FERRY-LOST"])) == 1


def test_an_answer_missing_elements_is_read_by_number_never_by_position(
        sandbox, xero_app, grant, redis_client):
    """Xero saved all four but answered with two: each answer goes to the invoice with
    its number, and the two left out are unknown (looked up before writing again), never
    given a neighbour's id."""
    import httpx2
    client = xero_client(xero_app, redis_client)
    customer = client.save_contacts([{"Name": "Gap Pty Ltd", "ContactNumber": "GAP"}])[0]
    httpx2.post(f"{sandbox.url}/_sandbox/faults", json={
        "kind": "elements-missing", "method": "PUT", "path": "/api.xro/2.0/Invoices",
        "nth": 1}).raise_for_status()
    sent = [invoice(f"GAP-{i}", {"ContactID": customer.id}) for i in range(4)]
    results = client.save_invoices(sent, create_only=True)
    assert [r.unknown for r in results] == [False, True, False, True]
    assert [r.number for r in results if not r.unknown] == ["GAP-0", "GAP-2"]
    held = {d["InvoiceNumber"]: d["InvoiceID"]
            for d in client.invoices_by_numbers([f"GAP-{i}" for i in range(4)])}
    assert len(held) == 4                              # Xero has all four
    assert all(held[r.number] == r.id for r in results if not r.unknown)
