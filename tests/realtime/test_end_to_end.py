"""Done when: with the web app, a worker and the sandboxes running, an invoice closed in
ConnectWise is in Xero within 15 s and a Xero payment is applied in ConnectWise within
15 s, with no cycle due; a badly signed event changes nothing and gets 401; a lost event
is caught by the next scheduled cycle; duplicated events write nothing twice."""
import json
import time

import httpx2

from jobs.cycle import run_cycle
from models import MeteredVersion, SyncRecord, SyncRun
from tests.payments.helpers import cw_payments, pay, synced_invoices
from tests.sync_e2e.helpers import action, duplicates, orgs

LIMIT = 15.0


def open_invoices(cw, n=1, skip=()):
    """Open (not yet closed) standard invoices of customers the catalogue maps."""
    store = cw.app.sandbox.store
    found = []
    for invoice in sorted(store.table("finance/invoices").values(), key=lambda i: -i["id"]):
        if invoice["status"]["name"] != "Closed" and invoice["type"] == "Standard" \
                and invoice["id"] not in skip and invoice["total"] > 0:
            found.append(invoice["id"])
        if len(found) == n:
            break
    assert len(found) == n, "the sandbox has no open invoice left"
    return found


def wait_for(check, limit=LIMIT):
    started = time.monotonic()
    while time.monotonic() - started < limit:
        got = check()
        if got:
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def synced(cw_id):
    def check():
        record = SyncRecord.get_or_none((SyncRecord.record_type == "invoice") &
                                        (SyncRecord.cw_id == cw_id))
        return record is not None and record.state in ("synced", "exception")
    return check


def in_xero(xero, number):
    return [d for org in orgs(xero).values() for d in org.invoices.values()
            if d.get("InvoiceNumber") == number and d.get("Status") not in ("DELETED",)]


def test_an_invoice_closed_in_cw_is_in_xero_within_15_s(live, cw, xero):
    (cw_id,) = open_invoices(cw)
    runs_before = SyncRun.select().count()
    closed = action(cw, f"invoices/{cw_id}/close")
    took = wait_for(synced(cw_id))
    assert took is not None, "not synced within 15 s"
    record = SyncRecord.get((SyncRecord.record_type == "invoice") & (SyncRecord.cw_id == cw_id))
    assert record.state == "synced", record.problems
    assert len(in_xero(xero, closed["invoiceNumber"])) == 1
    runs = list(SyncRun.select().where(SyncRun.id > 0).order_by(SyncRun.id))[runs_before:]
    assert {r.trigger for r in runs} == {"realtime"}
    print(f"closed invoice {cw_id} in Xero after {took:.1f} s")


def test_a_xero_payment_is_applied_in_cw_within_15_s(live, cw, xero):
    (record,) = synced_invoices(cw=cw)
    pay(xero, record, "full")
    took = wait_for(lambda: cw_payments(cw, record.cw_id))
    assert took is not None, "payment not applied within 15 s"
    time.sleep(2)
    assert len(cw_payments(cw, record.cw_id)) == 1
    print(f"payment on CW invoice {record.cw_id} applied after {took:.1f} s")


def test_a_badly_signed_event_changes_nothing_and_gets_401(live, cw, xero, web):
    (record,) = synced_invoices(cw=cw)
    body = json.dumps({"events": [{
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{record.xero_id}",
        "resourceId": record.xero_id, "eventDateUtc": "2026-01-05T01:15:39.902",
        "eventType": "UPDATE", "eventCategory": "INVOICE", "tenantId": record.org.tenant_id,
        "tenantType": "ORGANISATION"}], "firstEventSequence": 1, "lastEventSequence": 1,
        "entropy": "ABC"}).encode()
    runs = SyncRun.select().count()
    answer = httpx2.post(web.url + "/hooks/xero", content=body, headers={
        "Content-Type": "application/json", "x-xero-signature": "bm90IHRoZSBzaWduYXR1cmU="})
    assert answer.status_code == 401
    time.sleep(3)
    assert SyncRun.select().count() == runs


def test_a_lost_callback_is_caught_by_the_next_scheduled_cycle(live, cw, xero):
    httpx2.post(cw.url + "/_sandbox/callbacks/faults", json={"lose": 1}).raise_for_status()
    (cw_id,) = open_invoices(cw)
    closed = action(cw, f"invoices/{cw_id}/close")
    assert wait_for(synced(cw_id), limit=5) is None      # nothing came
    deliveries = httpx2.get(cw.url + "/_sandbox/callbacks/deliveries").json()["deliveries"]
    assert deliveries and deliveries[-1]["fault"] == "lost"
    assert run_cycle("invoice").status == "done"          # the schedule's cycle
    assert synced(cw_id)()
    assert len(in_xero(xero, closed["invoiceNumber"])) == 1


def test_duplicated_and_delayed_events_write_nothing_twice(live, cw, xero):
    httpx2.post(cw.url + "/_sandbox/callbacks/faults",
                json={"duplicate": 1, "delay": 0.5, "delay_seconds": 2}).raise_for_status()
    action(xero, "xero/webhooks", {"duplicate": 1})
    ids = open_invoices(cw, n=3)
    numbers = [action(cw, f"invoices/{i}/close")["invoiceNumber"] for i in ids]
    for cw_id in ids:
        assert wait_for(synced(cw_id)) is not None
    (record,) = synced_invoices(cw=cw)
    pay(xero, record, "10.00")
    assert wait_for(lambda: cw_payments(cw, record.cw_id)) is not None
    time.sleep(4)                                          # the late copies arrive
    for number in numbers:
        assert len(in_xero(xero, number)) == 1
    for org in orgs(xero).values():
        assert duplicates(org) == {}
    assert len(cw_payments(cw, record.cw_id)) == 1
    for cw_id in ids:
        assert MeteredVersion.select().where((MeteredVersion.record_type == "invoice") &
                                             (MeteredVersion.cw_id == cw_id)).count() == 1
