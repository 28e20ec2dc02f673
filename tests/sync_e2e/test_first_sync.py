"""A first full sync of the synthetic MSP into its two Xero orgs, then a second cycle."""
from collections import defaultdict
from decimal import Decimal

from jobs.cycle import run_cycle
from models import SyncRecord
from sandbox import catalog

from .helpers import documents, duplicates, money, orgs


def test_smoke(ferry, cw, xero):
    run = run_cycle("invoice")
    print(run.status, run.message, run.read, run.written, run.skipped, run.exceptions, run.cw_calls, run.xero_calls)
    for r in SyncRecord.select().where(SyncRecord.state == "exception"):
        print(r.cw_number, r.problems)
    assert run.status == "done"
