"""The setting "post synced records as a batch in ConnectWise" (sync.post_batches): off,
ConnectWise's unposted lists are left alone; on, what Xero accepted leaves them, and what
Xero refused (or Ferry could not map) stays there to be fixed."""
from jobs.cycle import POST_BATCHES, run_cycle
from models import Setting, SyncRecord

from .helpers import orgs


def unposted(cw) -> set[int]:
    return set(cw.app.sandbox.store.unposted["invoices"])


def batches(cw) -> list[dict]:
    return list(cw.app.sandbox.store.table("finance/accounting/batches").values())


def test_off_by_default_nothing_is_posted_in_connectwise(ferry, cw, xero):
    before = unposted(cw)
    run = run_cycle("invoice")
    assert run.written > 0
    assert unposted(cw) == before and batches(cw) == []


def test_on_what_xero_accepted_is_posted_and_what_it_refused_stays_unposted(
        ferry, cw, xero):
    Setting.set_value(POST_BATCHES, True)
    for org in orgs(xero).values():           # someone archived an account in Xero
        org.account_by_code("230")["Status"] = "ARCHIVED"
    before = unposted(cw)
    run = run_cycle("invoice")
    records = list(SyncRecord.select())
    synced = {r.cw_id for r in records if r.state == "synced"}
    refused = {r.cw_id for r in records if r.state == "exception"
               and r.problems[0].startswith("Xero refused")}
    unmapped = {r.cw_id for r in records if r.state == "exception"} - refused
    assert synced and refused and unmapped
    assert all("Account code '230' is not a valid code" in SyncRecord.get(
        SyncRecord.cw_id == i).problems[0] for i in refused)
    assert unposted(cw) == before - synced
    assert refused | unmapped <= unposted(cw)
    assert [b["batchIdentifier"] for b in batches(cw)] == [f"FERRY-INVO-{run.id}"]

    again = run_cycle("invoice")                  # nothing new settled: no empty batch
    assert again.status == "done" and again.written == 0
    assert len(batches(cw)) == 1 and unposted(cw) == before - synced


def test_a_posted_invoice_read_again_stays_synced(ferry, cw, xero):
    """Once posted, an invoice leaves CW's unposted export; when CW lists it as changed
    again (a payment applied moves its lastUpdated) or a person syncs it now, it is
    already in Xero: it stays synced and counts as skipped, never an exception."""
    Setting.set_value(POST_BATCHES, True)
    run_cycle("invoice")
    posted = next(r for r in SyncRecord.select().where(SyncRecord.state == "synced")
                  if r.cw_id not in unposted(cw))
    again = run_cycle("invoice", trigger="force", only_ids=[posted.cw_id], forced=True)
    assert again.status == "done" and (again.skipped, again.exceptions) == (1, 0)
    record = SyncRecord.get_by_id(posted.id)
    assert record.state == "synced" and record.xero_id == posted.xero_id
