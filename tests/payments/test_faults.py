"""Faults on the way to ConnectWise and Xero: whatever happens, no payment is applied
twice, and the next cycle ends where Xero says."""
from decimal import Decimal

import pytest

from jobs.cycle import Pacing
from jobs.cycle_payments import run_payment_cycle
from models import PaymentLedger
from tests.processes import kill_mid_call

from .helpers import assert_converged, cw_payments, fault, pay, synced_invoices

CW_PAYMENTS = "*/finance/invoices/*/payments*"


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_lost_answer_on_the_cw_write_never_applies_twice(synced, cw, xero, method):
    (record,) = synced_invoices(cw=cw)
    pay(xero, record, "100.00")
    if method == "PATCH":
        run_payment_cycle()
        pay(xero, record, "20.00")
    fault(cw, kind="lost_response", method=method, path=CW_PAYMENTS, nth=1)
    run = run_payment_cycle()
    assert run.status == "done", run.message
    (only,) = cw_payments(cw, record.cw_id)
    assert only["amount"] == (Decimal("100.00") if method == "POST" else Decimal("120.00"))
    assert_converged(cw, xero)
    assert run_payment_cycle().written == 0


@pytest.mark.parametrize("kind", ["429", "500", "503", "reset"])
def test_cw_refusing_or_failing_the_write_is_settled_by_a_later_cycle(synced, cw, xero,
                                                                      clock, kind):
    (record,) = synced_invoices(cw=cw)
    pay(xero, record, "80.00")
    fault(cw, kind=kind, method="POST", path=CW_PAYMENTS, nth=1)
    pacing = Pacing(clock.sleep, clock.clock)
    first = run_payment_cycle(pacing=pacing)
    if first.status != "done":
        assert first.status == "stopped" and first.message
        second = run_payment_cycle(pacing=pacing)
        assert second.status == "done", second.message
    (only,) = cw_payments(cw, record.cw_id)
    assert only["amount"] == Decimal("80.00")
    assert_converged(cw, xero)


@pytest.mark.parametrize("kind", ["429-minute", "503"])
def test_xero_faults_on_the_read_stop_or_wait_and_nothing_is_lost(synced, cw, xero, clock,
                                                                  kind):
    (record,) = synced_invoices(cw=cw)
    pay(xero, record, "55.00")
    fault(xero, kind=kind, method="GET", path="/api.xro/2.0/Invoices", nth=1)
    pacing = Pacing(clock.sleep, clock.clock)
    if run_payment_cycle(pacing=pacing).status != "done":
        assert run_payment_cycle(pacing=pacing).status == "done"
    assert cw_payments(cw, record.cw_id)[0]["amount"] == Decimal("55.00")
    assert_converged(cw, xero)


def test_a_worker_killed_between_the_cw_write_and_the_ledger_applies_once(synced, cw, xero):
    (record,) = synced_invoices(cw=cw)
    pay(xero, record, "90.00")
    # CW holds the POST 3 s; the worker dies waiting; CW still applies the payment. The
    # ledger has the intent but not the outcome: the next cycle must find it in CW.
    fault(cw, kind="slow", method="POST", path=CW_PAYMENTS, nth=1, delay=3)
    kill_mid_call("jobs.cycle_payments:run_payment_cycle()", synced.config["DATABASE_URL"], cw.app.kit.faults)
    ledger = PaymentLedger.get(PaymentLedger.cw_invoice_id == record.cw_id)
    assert ledger.intent == Decimal("90.00") and ledger.cw_payment_id is None
    assert len(cw_payments(cw, record.cw_id)) == 1
    run = run_payment_cycle()
    assert run.status == "done" and run.written == 0
    (only,) = cw_payments(cw, record.cw_id)
    assert only["amount"] == Decimal("90.00")
    ledger = PaymentLedger.get(PaymentLedger.cw_invoice_id == record.cw_id)
    assert ledger.intent is None and ledger.cw_payment_id == only["id"]
    assert_converged(cw, xero)
