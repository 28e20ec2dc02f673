"""The shared HTTP core over real loopback HTTP: retries, what is never retried, the
audit record of every attempt, exact decimals."""
from decimal import Decimal

import pytest

from connectors.audit import ListSink
from connectors.errors import ConnectionFailed, MalformedResponse, OutcomeUnknown, TimedOut
from connectors.transport import RetryPolicy, Transport, decode_json
from tests.connectors_cw.echo_server import EchoServer


@pytest.fixture(scope="module")
def server():
    s = EchoServer()
    yield s
    s.stop()


@pytest.fixture
def echo(server):
    server.kit.faults.clear()
    server.writes.clear()
    return server


def make(url, **kw):
    sink = ListSink()
    slept = []
    kw.setdefault("retry", RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05))
    transport = Transport("connectwise", url, sink=sink, sleep=slept.append, **kw)
    return transport, sink, slept


@pytest.mark.parametrize("kind", ["502", "503", "504", "reset"])
def test_get_is_retried_through_transient_faults(echo, kind):
    echo.fault(kind=kind, path="/things", nth=1, times=2)
    transport, sink, slept = make(echo.url)
    response = transport.request("GET", "/things", params={"q": "x"})
    assert response.status_code == 200
    assert [c.status for c in sink.records][-1] == 200
    assert len(sink.records) == 3 and len(slept) == 2
    first = sink.records[0]
    if kind == "reset":
        assert first.status is None and "dropped" in first.error
    else:
        assert first.status == int(kind) and first.error.startswith(f"HTTP {kind}")


def test_429_waits_as_long_as_retry_after_says_even_for_a_post(echo):
    echo.throttle("7", path="/things", nth=1)
    transport, sink, slept = make(echo.url)
    response = transport.request("POST", "/things", json={"n": 1})
    assert response.status_code == 201
    assert slept == [7.0]
    assert len(echo.writes) == 1  # refused once, written once


def test_long_retry_after_is_handed_back_not_slept(echo):
    echo.throttle("3600", path="/things", nth=1)
    transport, sink, slept = make(echo.url)
    assert transport.request("GET", "/things").status_code == 429
    assert slept == []


def test_timeout_with_short_client_timeout_is_retried_then_raised(echo):
    echo.fault(kind="timeout", path="/things", rate=1.0, delay=0.6)
    transport, sink, slept = make(echo.url, timeout=0.2,
                                  retry=RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(TimedOut) as caught:
        transport.request("GET", "/things")
    assert "did not answer within 0.2 seconds" in str(caught.value)
    assert [c.status for c in sink.records] == [None, None]
    assert all("no answer within 0.2 seconds" in c.error for c in sink.records)


def test_lost_response_on_post_is_not_retried_blindly(echo):
    echo.fault(kind="lost_response", path="/things", method="POST", nth=1)
    transport, sink, slept = make(echo.url)
    with pytest.raises(OutcomeUnknown) as caught:
        transport.request("POST", "/things", json={"invoice": 1})
    assert len(echo.writes) == 1          # it happened on the server, exactly once
    assert len(sink.records) == 1 and slept == []
    assert "cannot tell whether that change was made" in caught.value.sentence


def test_idempotent_post_is_retried_after_a_lost_response(echo):
    echo.fault(kind="lost_response", path="/things", method="POST", nth=1)
    transport, sink, slept = make(echo.url)
    response = transport.request("POST", "/things", json={"n": 2}, idempotent=True)
    assert response.status_code == 201 and len(sink.records) == 2


def test_503_on_plain_post_is_returned_not_retried(echo):
    echo.fault(kind="503", path="/things", method="POST", nth=1)
    transport, sink, slept = make(echo.url)
    assert transport.request("POST", "/things", json={"n": 3}).status_code == 503
    assert len(sink.records) == 1 and echo.writes == []


def test_nothing_listening_is_a_connection_failure(echo):
    transport, sink, slept = make("http://127.0.0.1:9", retry=RetryPolicy(attempts=2, base_delay=0))
    with pytest.raises(ConnectionFailed) as caught:
        transport.request("POST", "/things", json={})
    assert "could not reach ConnectWise at 127.0.0.1" in caught.value.sentence
    assert len(sink.records) == 2  # connecting failed: nothing was sent, so a retry is safe


def test_decimals_go_out_and_come_back_exactly(echo):
    transport, sink, _ = make(echo.url)
    amount = Decimal("1234567890.1234567890123")
    response = transport.request("PUT", "/things", json={"amount": amount, "n": [Decimal("0.10")]})
    assert echo.writes[-1] is not None
    assert decode_json(response) == {"amount": amount, "n": [Decimal("0.10")]}
    assert isinstance(decode_json(transport.request("GET", "/things"))["amount"], Decimal)


def test_html_answer_is_a_malformed_response(echo):
    transport, _, _ = make(echo.url)
    with pytest.raises(MalformedResponse) as caught:
        decode_json(transport.request("GET", "/html"), "connectwise")
    assert "not JSON" in str(caught.value) and "text/html" in str(caught.value)


def test_context_is_copied_into_every_record(echo):
    transport, sink, _ = make(echo.url, context={"connection_id": 4})
    with transport.bind(run_id=17, record_ref="invoice:12"):
        transport.request("GET", "/things")
        transport.request("GET", "/things", context={"record_ref": "invoice:13"})
    transport.request("GET", "/things")
    got = [(c.connection_id, c.run_id, c.record_ref) for c in sink.records]
    assert got == [(4, 17, "invoice:12"), (4, 17, "invoice:13"), (4, None, None)]
    assert sink.records[0].started_at.tzinfo is not None
