"""Issue 9's five cases, as a finance person would notice them: no second document when
Xero's answer leaves one out, one malformed record never stops the rest, cycles get the
time and the lock they need, a dead worker's run says it was interrupted, and nothing
read from ConnectWise vanishes without a trace."""
import time
from datetime import timedelta

from jobs import reference_cache
from jobs.cycle import Pacing, mark_interrupted, run_cycle
from jobs.cycle_lock import CycleBusy, CycleLock, Heartbeat
from jobs.queue import get_redis
from models import AuditEntry, RecordEvent, SyncRecord, SyncRun, XeroReference, utcnow

from .helpers import action, documents, duplicates, fault, orgs

INVOICES = "/api.xro/2.0/Invoices"


def _bills(xero):
    return [d for o in orgs(xero).values() for d in o.invoices.values()
            if d.get("Type") == "ACCPAY"]


def test_elements_missing_from_a_batch_answer_are_looked_up_never_written_twice(
        ferry, cw, xero, clock):
    pacing = Pacing(clock.sleep, clock.clock)
    fault(xero, kind="elements-missing", method="PUT", path=INVOICES, nth=1, times=3)
    first = run_cycle("invoice", pacing=pacing)
    assert first.status == "done"
    # Xero's answer left them out, but Xero has them: adopted in the same cycle.
    found = RecordEvent.select().where(RecordEvent.kind == "found").count()
    assert found > 0
    assert all(duplicates(o) == {} for o in orgs(xero).values())
    again = run_cycle("invoice", pacing=pacing)
    assert again.written == 0
    assert all(duplicates(o) == {} for o in orgs(xero).values())
    stuck = [r for r in SyncRecord.select() if r.problems and
             any("must be unique" in p for p in r.problems)]
    assert stuck == []

    fault(xero, kind="elements-missing", method="PUT", path=INVOICES, nth=1, times=3)
    bills = run_cycle("bill", pacing=pacing)
    assert bills.status == "done"
    run_cycle("bill", pacing=pacing)
    assert all(duplicates(o) == {} for o in orgs(xero).values())
    assert len(_bills(xero)) == SyncRecord.select().where(
        (SyncRecord.record_type == "bill") & SyncRecord.xero_id.is_null(False)).count()


def test_a_number_xero_already_holds_is_adopted_not_left_stuck(ferry, cw, xero, clock):
    """The worker died after Xero took the batch and before Ferry noted anything: the
    records look new, Xero says "must be unique"; Ferry looks them up and adopts them."""
    pacing = Pacing(clock.sleep, clock.clock)
    run_cycle("invoice", pacing=pacing)
    adopted = SyncRecord.select().where((SyncRecord.record_type == "invoice") &
                                        (SyncRecord.state == "synced")).limit(3)
    ids = [r.id for r in adopted]
    SyncRecord.update(xero_id=None, state="pending", unknown_since=None,
                      synced_hash=None).where(SyncRecord.id.in_(ids)).execute()
    run = run_cycle("invoice", pacing=pacing, only_ids=[SyncRecord.get_by_id(i).cw_id
                                                         for i in ids])
    assert run.status == "done"
    assert {SyncRecord.get_by_id(i).state for i in ids} == {"synced"}
    assert all(SyncRecord.get_by_id(i).xero_id for i in ids)
    assert all(duplicates(o) == {} for o in orgs(xero).values())


def test_one_malformed_record_is_its_own_exception_and_the_rest_is_written(
        ferry, cw, xero, clock):
    store = cw.app.sandbox.store
    invoice_id = sorted(i for i in store.unposted["invoices"]
                        if store.table("finance/invoices")[i]["type"] != "CreditMemo")[0]
    invoice = store.table("finance/invoices")[invoice_id]
    invoice["date"] = "31/12/2026"                     # not a date CW would send
    run = run_cycle("invoice", pacing=Pacing(clock.sleep, clock.clock))
    assert run.status == "done"
    record = SyncRecord.get(SyncRecord.cw_id == invoice_id)
    assert record.state == "exception"                 # its own, naming it
    assert str(invoice["invoiceNumber"]) in " ".join(record.problems)
    assert "“31/12/2026” is not a date" in " ".join(record.problems)   # and the value
    assert run.written > 100                           # the rest went on


def test_ids_that_give_no_record_become_exceptions_never_vanish(ferry, cw, xero, clock):
    run = run_cycle("invoice", pacing=Pacing(clock.sleep, clock.clock),
                    only_ids=[99999991])
    record = SyncRecord.get(SyncRecord.cw_id == 99999991)
    assert record.state == "exception"
    assert "ConnectWise gave no invoice" in record.problems[0]
    assert run.read == 1 and run.exceptions == 1


def test_the_heartbeat_keeps_the_lock_past_its_ttl_and_it_expires_when_the_cycle_dies(
        ferry):
    redis = get_redis()
    run = SyncRun.create(record_type="invoice", started_at=utcnow())
    lock = CycleLock(redis, "invoice", ttl=1)
    lock.acquire()
    beat = Heartbeat(lock, run.id, every=0.3).start()
    time.sleep(1.6)                                    # longer than the ttl
    try:
        CycleLock(redis, "invoice", ttl=1).acquire()
        raise AssertionError("a second cycle got the lock while the first lived")
    except CycleBusy:
        pass
    assert SyncRun.get_by_id(run.id).heartbeat_at is not None
    beat.stop()                                        # as if the worker died
    time.sleep(1.3)
    CycleLock(redis, "invoice", ttl=1).acquire()       # expired: free again


def test_a_run_whose_worker_died_is_marked_interrupted_with_the_time(ferry):
    last = utcnow() - timedelta(minutes=10)
    dead = SyncRun.create(record_type="bill", started_at=last, heartbeat_at=last)
    alive = SyncRun.create(record_type="invoice", started_at=last, heartbeat_at=utcnow())
    assert mark_interrupted() == 1
    dead = SyncRun.get_by_id(dead.id)
    assert dead.status == "interrupted" and dead.finished_at == last
    assert f"{last:%Y-%m-%d %H:%M} UTC" in dead.message
    assert SyncRun.get_by_id(alive.id).status == "running"
    SyncRun.update(status="done").where(SyncRun.id == alive.id).execute()


def test_an_idle_cycle_makes_no_xero_call_and_a_stale_cache_is_read_again(
        ferry, cw, xero, clock):
    pacing = Pacing(clock.sleep, clock.clock)
    run_cycle("invoice", pacing=pacing)
    run_cycle("invoice", pacing=pacing)
    idle = run_cycle("invoice", pacing=pacing)
    assert idle.xero_calls == 0 and idle.written == 0
    assert XeroReference.select().count() > 0
    reference_cache.invalidate(None)                   # "refresh choices"
    assert XeroReference.select().count() == 0
    again = run_cycle("invoice", pacing=pacing)        # exceptions retried, lists re-read
    assert again.read > idle.read and again.xero_calls > 0


def test_calls_made_for_one_record_name_it_in_the_audit_log(ferry, cw, xero, clock):
    run_cycle("invoice", pacing=Pacing(clock.sleep, clock.clock))
    record = SyncRecord.select().where(SyncRecord.state == "synced").first()
    run_cycle("invoice", pacing=Pacing(clock.sleep, clock.clock), only_ids=[record.cw_id])
    refs = {e.record_ref for e in AuditEntry.select().where(
        AuditEntry.record_ref == f"invoice:{record.cw_id}")}
    assert refs == {f"invoice:{record.cw_id}"}


def test_an_idle_bill_cycle_makes_one_connectwise_call_and_a_new_receipt_is_written(
        ferry, cw, xero, clock):
    pacing = Pacing(clock.sleep, clock.clock)
    for _ in range(2):                                  # first sync, then settled
        run_cycle("bill", pacing=pacing)
    idle = run_cycle("bill", pacing=pacing)
    assert (idle.read, idle.written, idle.cw_calls, idle.xero_calls) == (0, 0, 1, 0)
    store = cw.app.sandbox.store
    po, line = next((po, x) for po in store.table("procurement/purchaseorders").values()
                    for x in store.po_lines[po["id"]]
                    if x["receivedQuantity"] == 0 and int(x["quantity"]) >= 1)
    action(cw, f"purchaseorders/{po['id']}/lineitems/{line['id']}/receive",
           {"quantity": 1, "packingSlip": "SLIP-IDLE-1"})
    later = run_cycle("bill", pacing=pacing)
    assert later.status == "done" and later.cw_calls > 1
    record = SyncRecord.get(SyncRecord.cw_number == f"PO {po['poNumber']} slip SLIP-IDLE-1")
    assert record.state in ("synced", "exception"), record.problems
    bills = [d for o in orgs(xero).values() for d in documents(o, "ACCPAY")]
    assert (record.state == "synced") == any(
        "SLIP-IDLE-1" in (d.get("InvoiceNumber") or "") for d in bills)
    assert all(duplicates(o) == {} for o in orgs(xero).values())


def test_a_killed_run_is_interrupted_when_the_next_one_starts_not_minutes_later(ferry, xero):
    from tests.processes import kill_mid_call
    fault(xero, kind="slow", method="PUT", path=INVOICES, nth=1, delay=3)
    kill_mid_call("jobs.cycle:run_cycle('invoice')", ferry.config["DATABASE_URL"],
                  xero.app.xero.kit.faults)
    dead = SyncRun.get(SyncRun.record_type == "invoice")
    assert dead.status == "running" and utcnow() - dead.heartbeat_at < timedelta(seconds=60)
    assert run_cycle("invoice").status == "done"
    dead = SyncRun.get_by_id(dead.id)
    assert dead.status == "interrupted" and "stopped responding at" in dead.message


def test_a_run_is_alive_only_while_its_lock_is_held(ferry):
    redis, now = get_redis(), utcnow()
    # Another host's worker holds the invoice lock for a newer run: the older is dead.
    older = SyncRun.create(record_type="invoice", started_at=now, heartbeat_at=now)
    newer = SyncRun.create(record_type="invoice", started_at=now, heartbeat_at=now)
    redis.set("ferry:cycle-lock:invoice", "elsewhere:1:x", ex=30)
    # The credit-note lock expired 90 s after the last beat: its run is dead...
    quiet = SyncRun.create(record_type="credit_note", started_at=now,
                           heartbeat_at=now - timedelta(seconds=90))
    # ...but a lock free for a moment (Redis restarted) while the run beats is not.
    beating = SyncRun.create(record_type="bill", started_at=now,
                             heartbeat_at=now - timedelta(seconds=10))
    # A payment run that never beat (before payments had a heartbeat) counts too.
    old_payment = SyncRun.create(record_type="payment", started_at=now - timedelta(hours=1))
    try:
        assert mark_interrupted() == 3
        status = {r.id: r.status for r in SyncRun.select()}
        assert status[older.id] == status[quiet.id] == status[old_payment.id] == "interrupted"
        assert status[newer.id] == status[beating.id] == "running"
    finally:
        redis.delete("ferry:cycle-lock:invoice")
        SyncRun.update(status="done").where(SyncRun.status == "running").execute()
