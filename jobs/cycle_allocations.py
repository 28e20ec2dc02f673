"""Credit notes allocated to the invoice CW says they credit: right after they are
written, and on a later cycle when that did not happen (the worker died between the two
calls, Xero failed the allocation, or the invoice was not approved in Xero yet).

A credit note's history says when its allocation is settled: "allocated", or
"unallocated" when there is nothing to allocate. Until then cycles of credit notes read
it again and try (see awaiting_ids for how often); Xero's own RemainingCredit and
Allocations are checked first, so an allocation that reached Xero is never made twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from models import RecordEvent, Setting, SyncRecord, utcnow
from sync.credit_notes import allocation

SETTLED = ("allocated", "unallocated")


def awaiting_ids() -> list[int]:
    """CW ids of synced credit notes whose allocation is not settled yet. One whose last
    try left a note (its invoice not synced to that org, or not approved in Xero) is
    tried again once a day, or as soon as any invoice has been synced since the last
    try: an idle cycle then spends no call on it. One whose try failed or never ran
    (the worker died, Xero failed) is tried every cycle."""
    settled = RecordEvent.select(RecordEvent.record).where(RecordEvent.kind.in_(SETTLED))
    awaiting = {r.id: r.cw_id for r in SyncRecord.select(SyncRecord.id, SyncRecord.cw_id).where(
        (SyncRecord.record_type == "credit_note") & (SyncRecord.state == "synced") &
        SyncRecord.xero_id.is_null(False) & SyncRecord.id.not_in(settled))}
    if not awaiting:
        return []
    last_kind = {}
    for event in (RecordEvent.select(RecordEvent.record, RecordEvent.kind)
                  .where(RecordEvent.record.in_(list(awaiting)))
                  .order_by(RecordEvent.id)):
        last_kind[event.record_id] = event.kind
    noted = {i for i in awaiting if last_kind.get(i) == "note"}
    if noted and not _noted_due():
        return [cw_id for i, cw_id in awaiting.items() if i not in noted]
    if noted:
        Setting.set_value(NOTED_TRIED, utcnow().isoformat())
    return list(awaiting.values())


NOTED_TRIED = "sync.allocations_noted_tried"
NOTED_EVERY = timedelta(hours=24)


def _noted_due() -> bool:
    try:
        tried = datetime.fromisoformat(Setting.get_value(NOTED_TRIED) or "")
    except ValueError:
        return True
    if utcnow() - tried >= NOTED_EVERY:
        return True
    return SyncRecord.select().where(
        (SyncRecord.record_type == "invoice") & (SyncRecord.state == "synced") &
        (SyncRecord.updated_at > tried)).exists()


def unsettled(records: list[SyncRecord]) -> list[SyncRecord]:
    ids = [r.id for r in records]
    if not ids:
        return []
    settled = {e.record_id for e in RecordEvent.select(RecordEvent.record).where(
        RecordEvent.record.in_(ids) & RecordEvent.kind.in_(SETTLED))}
    return [r for r in records if r.id not in settled]


def allocate(writer, items: list[tuple]) -> None:
    """`items`: (candidate, record, the credit note as Xero just returned it, or None to
    read it from Xero)."""
    if not items:
        return
    client, org = writer.client, writer.org
    unread = [r.xero_id for _c, r, note in items if note is None]
    read = {d["CreditNoteID"]: d for d in client.credit_notes_by_ids(unread)} if unread else {}
    invoices = {r.cw_id: r for r in SyncRecord.select().where(
        (SyncRecord.record_type == "invoice") &
        SyncRecord.cw_id.in_([c.apply_to_id for c, _r, _n in items if c.apply_to_id]))}
    ids = [r.xero_id for r in invoices.values()
           if r.xero_id and r.org_id == org.id and r.state == "synced"]
    docs = {d["InvoiceID"]: d for d in client.invoices_by_ids(ids)} if ids else {}
    for cand, record, note in items:
        note = note if note is not None else read.get(record.xero_id)
        invoice = invoices.get(cand.apply_to_id) if cand.apply_to_id else None
        doc = docs.get(invoice.xero_id) if invoice is not None else None
        kind, message = _outcome(client, cand, record, note, invoice, doc)
        if kind in SETTLED:
            writer.event(record, kind, message)
        else:
            _note_once(writer, record, message)


def _outcome(client, cand, record, note, invoice, doc) -> tuple[str, str]:
    if not cand.apply_to_id:
        return "unallocated", ("ConnectWise names no invoice for this credit memo; its "
                               "credit waits in Xero to be allocated by hand.")
    if note is None or doc is None:
        return "note", ("Credit not allocated yet: the invoice it credits is not synced to "
                        "this Xero organisation; Ferry allocates it once it is.")
    if any((a.get("Invoice") or {}).get("InvoiceID") == doc["InvoiceID"]
           for a in note.get("Allocations") or ()):
        return "allocated", (f"Found allocated to invoice {invoice.cw_number} in Xero; "
                             "not allocated again.")
    if doc.get("Status") != "AUTHORISED" or note.get("Status") != "AUTHORISED":
        return "note", (f"Credit not allocated yet: the invoice is "
                        f"{str(doc.get('Status')).lower()} and the credit note "
                        f"{str(note.get('Status')).lower()} in Xero; only approved documents "
                        "can be allocated, so Ferry tries again once a day and whenever an "
                        "invoice is synced.")
    remaining = Decimal(str(note.get("RemainingCredit", note.get("Total", 0))))
    if remaining <= 0:
        return "unallocated", "Credit left unallocated: none of it remains in Xero."
    body = allocation(remaining, doc["InvoiceID"], Decimal(str(doc.get("AmountDue", 0))),
                      cand.date or utcnow().date())
    if body is None:
        return "unallocated", ("Credit left unallocated: the invoice it credits has "
                               "nothing left to pay.")
    results = client.allocate_credit_note(record.xero_id, [body])
    if all(r.ok for r in results):
        return "allocated", f"Allocated {body['Amount']} to invoice {invoice.cw_number}."
    return "note", ("Credit not allocated yet: Xero refused the allocation: "
                    + " ".join(e for r in results for e in r.errors))


def _note_once(writer, record: SyncRecord, message: str) -> None:
    """A pending allocation is retried every cycle; its history says why only once."""
    last = record.events.order_by(RecordEvent.id.desc()).first()
    if last is None or last.message != message:
        writer.event(record, "note", message)
