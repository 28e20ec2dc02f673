"""Faults on the way to Xero: whatever happens, no document twice and none lost."""

import pytest

from jobs.cycle import Pacing, run_cycle
from models import RecordEvent, SyncRecord
from tests.processes import kill_mid_call

from .conftest import FakeClock
from .helpers import duplicates, fault, orgs

INVOICES = "/api.xro/2.0/Invoices"


def assert_settled_once(xero):
    """Every record synced or in exception, and Xero holds each synced one once."""
    states = {r.state for r in SyncRecord.select()}
    assert states <= {"synced", "exception"}, states
    in_xero = sum(len(o.invoices) for o in orgs(xero).values())
    assert in_xero == SyncRecord.select().where(SyncRecord.state == "synced").count()
    assert all(duplicates(o) == {} for o in orgs(xero).values())


@pytest.mark.parametrize("kind", ["lost_response", "reset", "500", "503"])
def test_a_failed_batch_write_is_never_duplicated_nor_lost(ferry, cw, xero, clock, kind):
    fault(xero, kind=kind, method="PUT", path=INVOICES, nth=2)
    pacing = Pacing(clock.sleep, clock.clock)
    first = run_cycle("invoice", pacing=pacing)
    if first.status != "done":           # 500 is not retried: the cycle stops and says why
        assert "Xero answered HTTP 500" in first.message
        assert run_cycle("invoice", pacing=pacing).status == "done"
    assert_settled_once(xero)


def test_minute_limit_waits_as_xero_asks_and_carries_on(ferry, cw, xero, clock):
    fault(xero, kind="429-minute", method="PUT", path=INVOICES, nth=1)
    run = run_cycle("invoice", pacing=Pacing(clock.sleep, clock.clock))
    assert run.status == "done"
    assert 60 in clock.slept
    assert_settled_once(xero)


def test_day_limit_stops_the_cycle_cleanly_and_it_resumes_next_day(ferry, cw, xero, clock):
    fault(xero, kind="429-day", method="PUT", path=INVOICES, nth=1)
    pacing = Pacing(clock.sleep, clock.clock)
    stopped = run_cycle("invoice", pacing=pacing)
    assert stopped.status == "stopped"
    assert "used all of today's API calls" in stopped.message
    assert run_cycle("invoice", pacing=pacing).status == "stopped"   # still today
    clock.offset += 12 * 3600 + 1
    assert run_cycle("invoice", pacing=pacing).status == "done"
    assert_settled_once(xero)


def test_a_worker_killed_mid_batch_resumes_without_duplicates(ferry, cw, xero):
    # The second batch PUT is held 3 s by Xero; the worker dies while waiting, Xero
    # still commits the batch; the next run must find those invoices, not re-create them.
    fault(xero, kind="slow", method="PUT", path=INVOICES, nth=2, delay=3)
    kill_mid_call("jobs.cycle:run_cycle('invoice')", ferry.config["DATABASE_URL"], xero.app.xero.kit.faults)
    assert SyncRecord.select().where(SyncRecord.state == "in_flight").count() > 0
    later = FakeClock()
    later.offset = 6 * 60          # past the grace a write whose answer never came gets
    run = run_cycle("invoice", pacing=Pacing(later.sleep, later.clock))
    assert run.status == "done"
    assert RecordEvent.select().where(RecordEvent.kind == "found").count() > 0
    assert_settled_once(xero)


def test_a_write_still_held_by_xero_is_not_looked_up_too_early(ferry, cw, xero):
    """A worker dies while Xero still holds its batch; a cycle right after must not look
    the invoices up before Xero has finished (it would not find them and write them
    again): they wait, saying so, and are adopted once the grace has passed."""
    fault(xero, kind="slow", method="PUT", path=INVOICES, nth=2, delay=6)
    kill_mid_call("jobs.cycle:run_cycle('invoice')", ferry.config["DATABASE_URL"],
                  xero.app.xero.kit.faults, settle=0)
    held = [r.id for r in SyncRecord.select().where(SyncRecord.state == "in_flight")]
    assert held
    now = run_cycle("invoice")                   # at once: Xero is still writing them
    assert now.status == "done"
    waiting = SyncRecord.select().where(SyncRecord.id.in_(held))
    assert {r.state for r in waiting} == {"exception"}
    assert all("no answer came back; Xero may still be writing it" in r.problems[0]
               for r in waiting)
    import time
    time.sleep(7)                                # Xero finishes the held batch
    later = FakeClock()
    later.offset = 6 * 60
    run_cycle("invoice", pacing=Pacing(later.sleep, later.clock))
    assert {r.state for r in SyncRecord.select().where(SyncRecord.id.in_(held))} == {"synced"}
    assert RecordEvent.select().where(RecordEvent.kind == "found").count() >= len(held)
    assert_settled_once(xero)
