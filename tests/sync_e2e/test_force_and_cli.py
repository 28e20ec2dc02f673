"""Force-sync and `flask sync TYPE`: the same cycle, limited or in the foreground."""
from jobs.cycle import run_cycle
from models import MeteredVersion, SyncRecord, SyncRun

from .helpers import action, duplicates, orgs


def test_force_sync_of_an_unchanged_record_sends_and_meters_nothing(ferry, cw, xero):
    run_cycle("invoice")
    record = SyncRecord.get(SyncRecord.state == "synced")
    metered = MeteredVersion.select().count()
    forced = run_cycle("invoice", trigger="force", only_ids=[record.cw_id], forced=True)
    assert (forced.read, forced.written, forced.skipped) == (1, 0, 1)
    assert MeteredVersion.select().count() == metered
    action(cw, f"invoices/{record.cw_id}/edit", {"line": 0, "quantity": "3"})
    forced = run_cycle("invoice", trigger="force", only_ids=[record.cw_id], forced=True)
    assert (forced.read, forced.written) == (1, 1)
    assert MeteredVersion.select().count() == metered + 1
    assert all(duplicates(o) == {} for o in orgs(xero).values())


def test_flask_sync_runs_one_cycle_and_prints_its_counts(ferry, cw, xero):
    result = ferry.test_cli_runner().invoke(args=["sync", "credit_note"])
    run = SyncRun.get()
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"credit_note cycle {run.id} done: read {run.read}, written {run.written}, "
        f"skipped 0, exceptions {run.exceptions}; API calls: ConnectWise {run.cw_calls}, "
        f"Xero {run.xero_calls};")
    assert run.written > 0 and run.trigger == "cli"
