"""Chaos for the payment back-sync: many payment cycles while people pay, part-pay,
overpay and delete payments in Xero at random (from a seed), with faults on ConnectWise's
payment writes (lost answers, 5xx, resets, 429) and on Xero's reads, and workers killed
between the CW write and Ferry's ledger. Then the faults stop, the cycles run until
settled, and the finance person's check holds: each CW invoice has at most one payment,
equal to what Xero received on it (up to what CW lets be paid), its balance equals
Xero's amount due, no ledger entry is left unconfirmed, and every unallocated
overpayment is an exception.

FERRY_CHAOS_SEEDS (default "1,2") and FERRY_CHAOS_PAYMENT_STEPS (default 10) size it.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal

import httpx2
import pytest

from jobs.cycle import Pacing, run_cycle
from jobs.cycle_payments import run_payment_cycle
from models import PaymentLedger, SyncRecord
from tests.payments.helpers import (
    assert_converged, cw_payments, delete_payment, fault, org_of, pay, synced_invoices,
    xero_doc,
)

SEEDS = [int(s) for s in os.environ.get("FERRY_CHAOS_SEEDS", "1,2").split(",") if s.strip()]
STEPS = int(os.environ.get("FERRY_CHAOS_PAYMENT_STEPS", "10"))
CW_WRITES = "*/finance/invoices/*/payments*"
CW_FAULTS = ("lost_response", "500", "503", "reset", "429")
XERO_FAULTS = ("429-minute", "500", "503", "reset", "lost_response")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PaymentChaos:
    def __init__(self, ferry, cw, xero, clock, rng):
        self.ferry, self.cw, self.xero, self.rng = ferry, cw, xero, rng
        self.pacing = Pacing(clock.sleep, clock.clock)
        self.counts = Counter()
        self.invoices = synced_invoices(cw=cw, n=16)

    def people_in_xero(self) -> None:
        for _ in range(self.rng.randint(1, 4)):
            record = self.rng.choice(self.invoices)
            doc = xero_doc(self.xero, record)
            live = [p for p in doc["_payments"]
                    if org_of(self.xero, record).payments[p]["Status"] == "AUTHORISED"]
            roll = self.rng.random()
            if roll < 0.25 and live:
                delete_payment(self.xero, record, self.rng.choice(live))
                self.counts["payment deleted"] += 1
            elif doc["Status"] != "AUTHORISED" or doc["AmountDue"] <= 0:
                continue
            elif roll < 0.6:
                cents = self.rng.randint(1, int(doc["AmountDue"] * 100))
                pay(self.xero, record, str(Decimal(cents) / 100))
                self.counts["part payment"] += 1
            elif roll < 0.9:
                pay(self.xero, record)
                self.counts["full payment"] += 1
            else:
                pay(self.xero, record, str(doc["AmountDue"] + Decimal("5.00")))
                self.counts["overpayment"] += 1

    def faults(self) -> None:
        if self.rng.random() < 0.5:
            kind = self.rng.choice(CW_FAULTS)
            fault(self.cw, kind=kind, method=self.rng.choice(["POST", "PATCH", "DELETE"]),
                  path=CW_WRITES, nth=self.rng.randint(1, 2))
            self.counts[f"cw {kind}"] += 1
        if self.rng.random() < 0.3:
            kind = self.rng.choice(XERO_FAULTS)
            fault(self.xero, kind=kind, method="GET", path="/api.xro/2.0/*",
                  nth=self.rng.randint(1, 2))
            self.counts[f"xero {kind}"] += 1

    def cycle(self) -> None:
        if self.rng.random() < 0.15:
            self.kill_between_writes()
            return
        run = run_payment_cycle(pacing=self.pacing)
        self.counts[f"cycle {run.status}"] += 1

    def kill_between_writes(self) -> None:
        """CW holds the payment write; the worker dies; CW commits it anyway."""
        fault(self.cw, kind="slow", method="*", path=CW_WRITES, nth=1, delay=2)
        code = ("from jobs.context import job_context\n"
                "from jobs.cycle_payments import run_payment_cycle\n"
                "with job_context():\n    run_payment_cycle()\n")
        worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                                  env={**os.environ,
                                       "DATABASE_URL": self.ferry.config["DATABASE_URL"]},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rules = self.cw.app.kit.faults
        deadline = time.monotonic() + 60
        while any(r["kind"] == "slow" and r["fired"] == 0 for r in rules.rules()) and \
                worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.kill()
        worker.wait()
        time.sleep(2.2)
        httpx2.delete(f"{self.cw.url}/_sandbox/faults")
        self.counts["worker killed mid-write"] += 1

    def settle(self) -> None:
        httpx2.delete(f"{self.xero.url}/_sandbox/faults")
        httpx2.delete(f"{self.cw.url}/_sandbox/faults")
        for _ in range(4):
            run = run_payment_cycle(pacing=self.pacing)
            if run.status == "done" and run.written == 0:
                return
        raise AssertionError(f"payments did not settle: last run {run.status} "
                             f"{run.message}")


@pytest.mark.parametrize("seed", SEEDS)
def test_payment_chaos_never_twice_always_converged(ferry, cw, xero, clock, seed):
    if "postgres" in ferry.config["DATABASE_URL"] and \
            not os.environ.get("FERRY_CHAOS_POSTGRES"):
        pytest.skip("chaos runs on SQLite unless FERRY_CHAOS_POSTGRES=1 (time)")
    assert run_cycle("invoice").status == "done"
    assert run_cycle("credit_note").status == "done"
    chaos = PaymentChaos(ferry, cw, xero, clock, random.Random(seed))
    for _ in range(STEPS):
        chaos.people_in_xero()
        chaos.faults()
        chaos.cycle()
    chaos.settle()
    print(f"payment chaos seed {seed}: " +
          ", ".join(f"{k} {n}" for k, n in sorted(chaos.counts.items())))
    assert_converged(cw, xero)
    for record in chaos.invoices:
        assert len(cw_payments(cw, record.cw_id)) <= 1
    assert PaymentLedger.select().where(PaymentLedger.intent.is_null(False)).count() == 0
    open_over = sum(1 for o in _all_overpayments(xero) if o["RemainingCredit"] > 0)
    flagged = SyncRecord.select().where((SyncRecord.record_type == "payment") &
                                        (SyncRecord.state == "exception") &
                                        (SyncRecord.cw_id < 0)).count()
    assert flagged == open_over


def _all_overpayments(xero):
    from tests.sync_e2e.helpers import orgs
    return [o for org in orgs(xero).values() for o in org.overpayments.values()]
