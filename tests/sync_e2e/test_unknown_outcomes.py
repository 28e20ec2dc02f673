"""A write whose answer never came is resolved before anything else happens to its
record, whatever its current version in ConnectWise maps to (issue 20 item 1, chaos
seed 2: credit note 11267 left in Xero with no record holding it).

Xero commits a batch but every answer to it is lost; then the record is changed in
ConnectWise so that it no longer maps, or deleted there. A cycle inside the grace says
the record waits for Xero's answer; a cycle after it finds the document in Xero and
adopts it (no duplicate, the record holds it), and the exception names the Xero
document and its organisation, to void if ConnectWise no longer wants it.
"""
from __future__ import annotations

import pytest

from jobs.cycle import Pacing, run_cycle
from models import RecordEvent, SyncRecord

from .conftest import FakeClock
from .helpers import action, duplicates, fault, orgs

PATHS = {"invoice": "/api.xro/2.0/Invoices", "credit_note": "/api.xro/2.0/CreditNotes",
         "bill": "/api.xro/2.0/Invoices"}
# A change in CW that makes the record's current version unmappable.
UNMAPPABLE = {"invoice": "-9000.00", "credit_note": "9000.00"}


def _lost_writes(ferry, xero, record_type) -> list[SyncRecord]:
    """A cycle whose first batch Xero commits but whose every answer is lost."""
    fault(xero, kind="lost_response", method="PUT", path=PATHS[record_type], rate=1.0,
          times=4)
    clock = FakeClock()
    run = run_cycle(record_type, pacing=Pacing(clock.sleep, clock.clock))
    assert run.status == "stopped", run.message
    unknown = list(SyncRecord.select().where(
        (SyncRecord.record_type == record_type) & SyncRecord.unknown_since.is_null(False))
        .order_by(SyncRecord.cw_id))
    assert unknown and all(r.xero_id is None for r in unknown)
    return unknown


def _in_xero(xero, record: SyncRecord) -> list[dict]:
    """The live Xero documents of the record's number in its org."""
    org = next(o for o in orgs(xero).values() if o.name == record.org.name)
    docs = (list(org.credit_notes.values()) if record.record_type == "credit_note"
            else list(org.invoices.values()))
    number = record.cw_number
    return [d for d in docs if d.get("Status") not in ("DELETED", "VOIDED") and (
        d.get("CreditNoteNumber") == number or d.get("InvoiceNumber") == number
        or (record.record_type == "bill" and number in (d.get("InvoiceNumber") or "")))]


def _delete_in_cw(cw, record: SyncRecord) -> None:
    """What deleting the record in ConnectWise leaves: no invoice, no unposted row (for a
    bill, no unposted receipt of its purchase order)."""
    store = cw.app.sandbox.store
    with store.lock:
        if record.record_type == "bill":
            po = record.cw_number.split(" ", 1)[1].split(" slip ", 1)[0]
            rows = store.unposted.get("procurement", {})
            for row_id in [i for i, r in rows.items()
                           if str(r["purchaseOrder"]["name"]) == po]:
                del rows[row_id]
        else:
            store.table("finance/invoices").pop(record.cw_id, None)
            store.unposted.get("invoices", {}).pop(record.cw_id, None)


def _later(minutes: float) -> Pacing:
    clock = FakeClock()
    clock.offset = minutes * 60
    return Pacing(clock.sleep, clock.clock)


def _change(cw, record, change):
    if change == "deleted":
        _delete_in_cw(cw, record)
    else:
        action(cw, f"invoices/{record.cw_id}/edit",
               {"line": 0, "itemPrice": UNMAPPABLE[record.record_type]})


CASES = [("invoice", "unmappable"), ("credit_note", "unmappable"), ("invoice", "deleted"),
         ("credit_note", "deleted"), ("bill", "deleted")]


@pytest.mark.parametrize("record_type,change", CASES)
def test_an_unanswered_write_is_looked_up_whatever_the_record_now_maps_to(
        ferry, cw, xero, record_type, change):
    unknown = _lost_writes(ferry, xero, record_type)
    record = unknown[0]
    assert len(_in_xero(xero, record)) == 1          # Xero committed the lost batch
    _change(cw, record, change)

    # Inside the grace: Xero may still be writing it; the record says it waits.
    run_cycle(record_type)
    waiting = SyncRecord.get_by_id(record.id)
    assert waiting.state == "exception"
    assert waiting.xero_id is None
    assert "no answer came back; Xero may still be writing it" in waiting.problems[0], \
        waiting.problems

    # After the grace: looked up, found, adopted, and never written a second time.
    run = run_cycle(record_type, pacing=_later(6))
    assert run.status == "done", run.message
    after = SyncRecord.get_by_id(record.id)
    docs = _in_xero(xero, after)
    assert len(docs) == 1
    doc_id = docs[0].get("CreditNoteID") or docs[0].get("InvoiceID")
    assert after.xero_id and after.xero_id.lower() == doc_id.lower()
    assert after.unknown_since is None
    assert after.state == "exception"
    text = " ".join(after.problems)
    noun = {"invoice": "invoice", "credit_note": "credit note", "bill": "bill"}[record_type]
    assert f"{noun} " in text and record.cw_number in text, text
    assert after.org.name in text and "void" in text, text
    assert RecordEvent.select().where((RecordEvent.record == record.id) &
                                      (RecordEvent.kind == "found")).exists()
    # The rest of the lost batch is adopted too; no document is in Xero twice.
    for other in unknown[1:]:
        other = SyncRecord.get_by_id(other.id)
        assert other.xero_id is not None, (other.cw_number, other.state, other.problems)
    assert all(duplicates(o) == {} for o in orgs(xero).values())
    # A later cycle changes nothing: no second document, the exception stays.
    run_cycle(record_type, pacing=_later(12))
    assert len(_in_xero(xero, after)) == 1
    assert SyncRecord.get_by_id(record.id).xero_id == after.xero_id


def test_an_unanswered_write_of_an_unchanged_record_is_adopted_as_synced(ferry, cw, xero):
    unknown = _lost_writes(ferry, xero, "credit_note")
    run = run_cycle("credit_note", pacing=_later(6))
    assert run.status == "done", run.message
    for record in unknown:
        record = SyncRecord.get_by_id(record.id)
        assert record.state == "synced" and record.xero_id, (record.state, record.problems)
        assert len(_in_xero(xero, record)) == 1
    assert all(duplicates(o) == {} for o in orgs(xero).values())
