"""ConnectWise's failures as a finance person meets them: typed errors with sentences,
retries through faults, writes that are never sent twice, and "Test connection"."""
from decimal import Decimal

import pytest

from connectors.audit import ListSink
from connectors.connectwise import ConnectWise, CWSettings
from connectors.errors import (
    AuthenticationFailed, BadRequest, MalformedResponse, NotFound, ObjectExists,
    OutcomeUnknown, PermissionDenied, RateLimited, TimedOut,
)
from connectors.transport import RetryPolicy
from sandbox.connectwise import READONLY
from tests.connectors_cw.echo_server import EchoServer


def open_invoice(client):
    return next(i for i in client.invoices_changed_since(None) if i["balance"] > 10)


@pytest.mark.parametrize("kind", ["429", "502", "503", "504", "reset"])
def test_reads_ride_through_every_retryable_fault(cw, kind):
    client = cw.client()
    client.codebase  # discovered before the fault is set
    cw.fault(kind=kind, path="*/finance/invoices", nth=1, times=2)
    assert len(list(client.invoices_changed_since(None))) > 0
    if kind == "429":
        assert cw.slept[:2] == [2.0, 2.0]   # the sandbox's Retry-After
    assert [c.status for c in client.transport.sink.records[1:4]][-1] == 200


def test_a_slow_answer_times_out_and_says_so(cw):
    client = cw.client(timeout=0.3)
    client.codebase
    cw.fault(kind="timeout", path="*/finance/taxCodes", rate=1.0, delay=1.0)
    with pytest.raises(TimedOut) as caught:
        list(client.tax_codes())
    assert "did not answer within 0.3 seconds" in caught.value.sentence
    assert len(cw.slept) == 3


def test_a_lost_payment_response_is_not_sent_again(cw):
    client = cw.client()
    invoice = open_invoice(client)
    cw.fault(kind="lost_response", path=f"*/finance/invoices/{invoice['id']}/payments",
             method="POST", nth=1)
    payment = {"type": "Payment", "amount": Decimal("10.00"),
               "paymentDate": "2026-02-01T00:00:00Z"}
    with pytest.raises(OutcomeUnknown):
        client.create_invoice_payment(invoice["id"], payment)
    applied = client.invoice_payments(invoice["id"])
    assert len(applied) == 1 and applied[0]["amount"] == Decimal("10.00")
    with pytest.raises(ObjectExists) as caught:   # a second send is refused, not doubled
        client.create_invoice_payment(invoice["id"], payment)
    assert "already has this record" in caught.value.sentence


def test_rate_limited_beyond_patience_is_a_typed_error(cw):
    client = ConnectWise(cw.settings(), sink=cw.client().transport.sink,
                         retry=RetryPolicy(attempts=2, base_delay=0), sleep=lambda s: None)
    client.codebase
    cw.fault(kind="429", path="*/finance/currencies", rate=1.0)
    with pytest.raises(RateLimited) as caught:
        list(client.currencies())
    assert caught.value.retry_after == 2.0 and "slow down" in caught.value.sentence


def test_bad_keys(cw):
    with pytest.raises(AuthenticationFailed) as caught:
        list(cw.client(private_key="wrong").tax_codes())
    assert "refused the API keys for company 'ferrydemo'" in caught.value.sentence


def test_no_finance_rights(cw):
    client = cw.client(public_key=READONLY[0], private_key=READONLY[1])
    with pytest.raises(PermissionDenied) as caught:
        list(client.unposted_invoices())
    assert "Finance > Accounting Interface" in caught.value.sentence
    assert list(client.companies())  # what it may read still works


def test_missing_record_and_refused_write(cw):
    client = cw.client()
    with pytest.raises(NotFound) as caught:
        client.invoice(987654321)
    assert "ConnectWise has no finance/invoices/987654321" in caught.value.sentence
    invoice = open_invoice(client)
    with pytest.raises(BadRequest) as caught:
        client.create_invoice_payment(invoice["id"], {"amount": invoice["balance"] + 1000})
    assert "is more than the balance" in caught.value.sentence


def test_unknown_company(cw):
    with pytest.raises(NotFound) as caught:
        list(cw.client(company_id="nosuchco").tax_codes())
    assert "has no company 'nosuchco'" in caught.value.sentence


def test_a_server_that_is_not_connectwise():
    server = EchoServer()
    try:
        client = ConnectWise(CWSettings(server.url, "co", "pub", "priv", "cid"), sink=ListSink())
        with pytest.raises(MalformedResponse) as caught:
            client.codebase
        assert "Check the site address" in caught.value.sentence
        result = client.test_connection()
        assert not result.ok and "not like a ConnectWise server" in result.checks[0].sentence
    finally:
        server.stop()


def sentences(result):
    return {c.subject: (c.ok, c.sentence) for c in result.checks}


def test_connection_all_good(cw):
    result = cw.client().test_connection()
    assert result.ok, result.checks
    assert [c.subject for c in result.checks] == [
        "Site", "Companies", "Invoices", "Accounting interface", "Purchase orders", "Expenses"]


@pytest.mark.parametrize("overrides, subject, words", [
    ({"site": "http://127.0.0.1:9"}, "Site", "could not reach http://127.0.0.1:9"),
    ({"company_id": "nosuchco"}, "Company", "has no company 'nosuchco'"),
    ({"private_key": "wrong"}, "API keys", "refused the API keys"),
    ({"client_id": ""}, "Settings", "Enter the client id"),
    ({"client_id": " ", "public_key": ""}, "Settings", "Enter the public key, the client id"),
])
def test_connection_tells_each_problem_apart(cw, overrides, subject, words):
    result = cw.client(**overrides).test_connection()
    assert not result.ok
    ok, sentence = sentences(result)[subject]
    assert not ok and words in sentence


def test_connection_names_each_missing_permission(cw):
    result = cw.client(public_key=READONLY[0], private_key=READONLY[1]).test_connection()
    got = sentences(result)
    assert got["Companies"][0] is True
    for subject, role in [("Invoices", "Finance > Invoicing"),
                          ("Accounting interface", "Finance > Accounting Interface"),
                          ("Purchase orders", "Procurement > Purchasing"),
                          ("Expenses", "Time & Expense > Expense Entries")]:
        ok, sentence = got[subject]
        assert not ok and role in sentence and "security role" in sentence
