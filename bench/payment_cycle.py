"""The payment back-sync at scale: API calls for a first payment cycle over a synced
MSP, for a cycle after N payments in Xero, and for an idle cycle.

    .venv/bin/python bench/payment_cycle.py --scale 5 --payments 200

Both sandboxes run in child processes. After a first invoice and credit-note cycle, N invoices are paid
in Xero (a third in part), then the payment cycle runs three times: the first reads every
sales invoice once (nothing to apply for the unpaid ones), the second after N more
payments, the third with nothing changed. The floor for N changed invoices is 2 CW calls
each (read the invoice and its payments) + 1 write, plus the paged Xero reads.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_instance  # noqa: E402
from bench.sync_cycle import MovedClock, serve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=5)
    parser.add_argument("--payments", type=int, default=200)
    options = parser.parse_args()
    workdir = scratch_instance()
    os.environ.setdefault("FERRY_SECRET_KEY", secrets.token_urlsafe(48))

    import migrations
    from app import create_app, open_database
    from jobs.cycle import Pacing, run_cycle
    from jobs.cycle_payments import run_payment_cycle
    from jobs.demo import connect_sandboxes, seed_mappings_from_catalog
    from jobs.queue import get_redis
    from models import Connection, PaymentLedger, SyncRecord, db

    url = f"sqlite:///{workdir / 'bench.db'}"
    database = open_database(url)
    with database.connection_context():
        migrations.upgrade(database)
    database.close()
    cw, cw_url = serve("connectwise", f"seed=1, scale={options.scale}")
    xero, xero_url = serve("xero", "seed=1, minute_limit=10**6, day_limit=10**6")
    app = create_app({"DATABASE_URL": url})
    moved = MovedClock()
    pacing = Pacing(moved.sleep, moved.clock)
    try:
        with app.app_context(), db.connection_context():
            connect_sandboxes(cw_url, xero_url)
            seed_mappings_from_catalog()
            run_cycle("invoice", pacing=pacing)
            run_cycle("credit_note", pacing=pacing)
            orgs = {c.id: c.name for c in Connection.select().where(Connection.kind == "xero")}
            records = list(SyncRecord.select().where((SyncRecord.record_type == "invoice") &
                                                     (SyncRecord.state == "synced"))
                           .order_by(SyncRecord.cw_id))
            first = run_payment_cycle(pacing=pacing)
            paid = 0
            for i, record in enumerate(records):
                if paid == options.payments:
                    break
                answer = httpx2.post(f"{xero_url}/_sandbox/xero/pay", json={
                    "org": orgs[record.org_id], "invoice_id": record.xero_id,
                    "amount": "10.00" if i % 3 == 0 else "full"})
                paid += answer.status_code == 200
            cpu, wall = time.process_time(), time.monotonic()
            second = run_payment_cycle(pacing=pacing)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            idle = run_payment_cycle(pacing=pacing)
            applied = PaymentLedger.select().count()
            applied_total = sum((r.applied for r in PaymentLedger.select()), Decimal(0))
    finally:
        cw.terminate()
        xero.terminate()
        if not os.environ.get("REDIS_URL"):
            get_redis().shutdown(nosave=True)
    print(f"{len(records)} synced invoices in {len(orgs)} orgs; {paid} paid in Xero")
    print(f"first payment cycle (reads every sales invoice once): Xero {first.xero_calls}, "
          f"ConnectWise {first.cw_calls}, written {first.written}")
    print(f"after {paid} payments: Xero {second.xero_calls}, ConnectWise {second.cw_calls} "
          f"({second.cw_calls / max(paid, 1):.2f} per paid invoice; floor 3), written "
          f"{second.written}, exceptions {second.exceptions}; {wall:.1f} s wall, "
          f"{cpu:.2f} s Ferry CPU")
    print(f"idle cycle: Xero {idle.xero_calls} ({idle.xero_calls / len(orgs):.0f} per org), "
          f"ConnectWise {idle.cw_calls}, written {idle.written}")
    print(f"ledger: {applied} invoices, {applied_total:,.2f} applied in ConnectWise")


if __name__ == "__main__":
    main()
