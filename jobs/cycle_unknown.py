"""Writes of unknown outcome, resolved before anything else happens to their records.

A record whose last write went out and whose answer never said what became of it (a
worker killed while Xero held the batch, a timeout, a reset, an element missing from
the answer) may have a document in Xero that no record holds. Whatever ConnectWise now
says of the record (changed so that it no longer maps, deleted, posted, routed
elsewhere), that outcome is settled first, at the start of every cycle of its type, for
invoices, credit notes and bills alike:

- inside ANSWER_GRACE of when the write went out, Xero may still be writing it: the
  record waits, as an exception that says so, and nothing else is done with it in this
  cycle (it is not mapped, written or reported on any other ground);
- after it, the record is looked up in the org it was written to: a document found is
  adopted (the record holds it, Xero accepted the version sent), then the cycle goes on
  with what ConnectWise says now: unchanged, it is synced; changed, Xero is updated; no
  longer wanted (unmappable, deleted), its exception names the Xero document to void;
- a document not found means the write never landed: the record is new to Xero again.

A look-up Xero does not answer stops the cycle (it says why), so no record of unknown
outcome is ever handled before its outcome is known.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from jobs.cycle_write import ANSWER_GRACE, DOC_KINDS, WAITING_ANSWER, OrgWriter
from jobs import record_facts
from models import Connection, RecordEvent, SyncRecord, db

LABELS = {"invoice": "Invoice {}", "credit_note": "Credit memo {}", "bill": "Bill for {}"}


@dataclass
class Resolved:
    """What the cycle must know of this step: the records that wait for Xero's answer
    (left out of everything else this cycle) and those whose outcome it settled."""
    waiting: set[int] = field(default_factory=set)        # cw ids
    settled: set[int] = field(default_factory=set)        # cw ids


@dataclass
class _Probe:
    """What OrgWriter.find_existing reads of a candidate."""
    record_type: str
    number: str


def unresolved(record_type: str, only_ids=None):
    """Records of this type with a write of unknown outcome and no document held."""
    query = SyncRecord.select().where(
        (SyncRecord.record_type == record_type) & SyncRecord.xero_id.is_null() &
        ((SyncRecord.state == "in_flight") | SyncRecord.unknown_since.is_null(False)))
    if only_ids is not None:
        query = query.where(SyncRecord.cw_id.in_(sorted(set(only_ids)) or [0]))
    return query


def resolve(run, record_type: str, only_ids, counts, clock, open_xero) -> Resolved:
    """Settle every unresolved record of the type (of `only_ids` when given).
    `open_xero(org)` is a context manager giving that org's Xero client; `clock` is the
    cycle's (tests move it)."""
    out = Resolved()
    records = list(unresolved(record_type, only_ids))
    if not records:
        return out
    now = datetime.fromtimestamp(clock(), timezone.utc).replace(tzinfo=None)
    by_org: dict[int, list[SyncRecord]] = {}
    for record in records:
        if record.sent_at and record.sent_at > now - ANSWER_GRACE:
            _wait(run, record, counts)
            out.waiting.add(record.cw_id)
        elif record.cw_number and record.org_id is not None:
            by_org.setdefault(record.org_id, []).append(record)
        # A record never routed to an org cannot have been written: nothing to resolve.
    for org_id, group in by_org.items():
        org = Connection.get_or_none(Connection.id == org_id)
        if org is None or org.status != "active":
            continue        # looked up once the org is connected again (OrgWriter.sync)
        with open_xero(org) as client:
            writer = OrgWriter(run, client, org, None, counts, False, clock=clock)
            with writer.about(group):
                found = writer.find_existing([_Probe(record_type, r.cw_number)
                                              for r in group])
            for record in group:
                _settle(run, org, record, found.get(record.cw_number))
                out.settled.add(record.cw_id)
    return out


def _wait(run, record: SyncRecord, counts) -> None:
    after = record.sent_at + ANSWER_GRACE
    writer = OrgWriter(run, None, None, None, counts, False)
    if record.unknown_since is None:
        record.unknown_since = record.sent_at
    writer.exception(record, [WAITING_ANSWER.format(
        label=LABELS[record.record_type].format(record.cw_number or record.cw_id),
        at=f"{record.sent_at:%H:%M}", after=f"{after:%H:%M}")])


def _settle(run, org, record: SyncRecord, doc: dict | None) -> None:
    """Adopt what Xero has, or free the record to be written: either way it is pending
    (read, mapped and decided by the rest of the cycle) and its outcome is known."""
    with db.atomic():
        record.state, record.unknown_since = "pending", None
        if doc is None:
            record.save()
            RecordEvent.create(record=record, run=run, kind="note", message=(
                "Looked up in Xero after a write whose answer never came: Xero does not "
                "have it, so it is written as new."))
            return
        record.xero_id = doc[DOC_KINDS[record.record_type].id_key]
        record.synced_hash = record.version_hash      # the version Xero took
        record_facts.note_xero(record, doc)
        record.save()
        RecordEvent.create(record=record, run=run, kind="found", message=(
            f"Found in Xero ({document_name(record, org)}) after a write whose answer "
            "never came; adopted, not written again."))


def document_name(record: SyncRecord, org=None) -> str:
    """"credit note 11267 in Adelaide IT Services Pty Ltd": the Xero document a record
    holds, as a person finds it in Xero."""
    org = org if org is not None else (Connection.get_or_none(Connection.id == record.org_id)
                                       if record.org_id is not None else None)
    number = record.cw_number or str(record.cw_id)
    noun = {"invoice": f"invoice {number}", "credit_note": f"credit note {number}",
            "bill": f"the bill for {number}"}.get(
        record.record_type, f"{record.record_type} {number}")
    return noun + (f" in {org.name}" if org is not None else "")


def held_sentence(record: SyncRecord) -> str | None:
    """Said with an exception that keeps a record's current version out of Xero while a
    document Ferry wrote for it is there: which document, where, and what to do."""
    if not record.xero_id:
        return None
    return (f"Xero has {document_name(record)}, which Ferry wrote for this record; Ferry "
            "leaves it as it is. If ConnectWise no longer wants it, void it in Xero; "
            "otherwise correct the record in ConnectWise and Ferry updates it.")
