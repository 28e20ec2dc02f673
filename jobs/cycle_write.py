"""Writing one org's share of a cycle to Xero, never twice and never lost.

Per record: map it, compare its version with what Xero last accepted, and either skip
it, create it, update it, or raise an exception. Before each batch goes out its records
are marked in flight (committed first); a record still in flight at the start of a
later cycle may or may not have reached Xero, so it is looked up there (ACCREC and
credit notes by number, bills by the key in their InvoiceNumber) and adopted if found, never
created a second time. Records never in flight are new to Xero, so a first sync costs
no look-ups; a duplicate ACCREC number would be refused by Xero anyway.

Unknown outcomes: an element missing from Xero's batch answer, a timeout, a reset or a
lost answer leave the record's `unknown_since` set (and it shows as an exception that
says so). Such a record is looked up in Xero before anything is created again: right
after its batch when Xero answered the batch, otherwise by the first cycle that starts
ANSWER_GRACE after the write went out (Xero may still be finishing it), and then at
every later cycle until the look-up settles it. A
create Xero refuses because the number is taken ("must be unique") is looked up the
same way and adopted, never left stuck. Each record is built in its own guard: one that
cannot be mapped becomes its exception and the batch goes on.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from connectors.errors import ApiUnavailable
from connectors.xero_batches import MAX_ELEMENTS
from jobs.audit import calls_ref
from jobs import cycle_allocations, problem_keys, reference_cache, record_facts
from jobs.cycle_records import Candidate, bulk_set, insert_rows
from models import MeteredVersion, RecordEvent, SyncRecord, db, utcnow
from sync.contacts import contact_ref
from sync.refusals import refusal_sentence
from sync.documents import Mapped, Unmapped
from sync.updates import StoredState, XeroState, as_update, decide
from sync.versions import version_hash


@dataclass(frozen=True)
class DocKind:
    id_key: str
    save: str
    by_ids: str


DOC_KINDS = {"invoice": DocKind("InvoiceID", "save_invoices", "invoices_by_ids"),
             "credit_note": DocKind("CreditNoteID", "save_credit_notes",
                                    "credit_notes_by_ids"),
             "bill": DocKind("InvoiceID", "save_invoices", "invoices_by_ids")}


@dataclass
class Counts:
    written: int = 0
    skipped: int = 0
    exceptions: int = 0
    waiting: int = 0
    excluded: int = 0


UNKNOWN = ("Ferry sent {label} to Xero but Xero's answer did not say what became of it; "
           "Ferry looks it up in Xero before writing it again (nothing to do unless this "
           "stays).")
_TAKEN = ("must be unique", "already exists", "already been used", "is already")


@dataclass
class Work:
    candidate: Candidate
    record: SyncRecord
    mapped: Mapped
    version: str


# A write whose answer never came may still be running in Xero: Xero holds a request for
# up to the client's 30 s timeout and more. Looked up before this has passed since it went
# out, it would not be found yet and be created a second time.
ANSWER_GRACE = timedelta(minutes=5)
WAITING_ANSWER = ("{label} was sent to Xero at {at} UTC and no answer came back; Xero may "
                  "still be writing it. Ferry looks it up after {after} UTC (the next cycle "
                  "from then) and writes it only if Xero does not have it.")


class OrgWriter:
    def __init__(self, run, client, org, mappings, counts: Counts, forced: bool,
                 after_batch=lambda: None, clock=time.time):
        self.run, self.client, self.org, self.mappings = run, client, org, mappings
        self.clock = clock        # the cycle's clock (tests move it)
        self.counts, self.forced, self.after_batch = counts, forced, after_batch
        self.allocated: set[int] = set()      # records whose allocation this cycle tried
        self.stale_reference: set[str] = set()   # cached Xero lists an exception rests on
        self._deferred = None     # while a batch's answers are recorded: saved together

    # -- the steps -----------------------------------------------------------------------
    def sync(self, candidates: list[Candidate], contacts: dict, records: dict,
             hold_partial: bool = False) -> list[Candidate]:
        """Write what the candidates need. With `hold_partial`, new documents that
        would go out in a part-filled last batch are not written: they are returned,
        untouched (still pending), for the org's next write to carry."""
        creates, lookups, checks = [], [], []
        for cand in candidates:
            record = records[cand.cw_id]
            outcome = contacts.get(cand.company.record.get("id"))
            if outcome is not None and outcome.sentence:
                company = cand.company.record
                self.exception(record, [outcome.sentence], keys=[problem_keys.Key(
                    "contact", str(company.get("id")), company.get("name"))],
                    unwritable=True)
                continue
            try:
                result = cand.build(contact_ref(outcome.contact_id if outcome else None,
                                                cand.company.record), self.mappings)
            except Exception as exc:       # one malformed record, not the whole batch
                self.exception(record, [f"{cand.label} could not be mapped: "
                                        f"{_what_failed(exc)}. Correct it in ConnectWise; "
                                        "Ferry tries it again when it changes."],
                               version=None, unwritable=True)
                continue
            if isinstance(result, Unmapped):
                self.exception(record, result.sentences, version=None,
                               keys=result.problems, total=result.cw_total,
                               unwritable=True)
                continue
            work = Work(cand, record, result, version_hash(result.payload))
            if not record.xero_id and (record.state == "in_flight"
                                       or record.unknown_since is not None):
                lookups.append(work)
            elif not record.xero_id:
                creates.append(work)
            elif (not self.forced and record.state == "synced"
                  and work.version == record.synced_hash):
                self.counts.skipped += 1
            elif (not self.forced and record.state == "pending"
                  and work.version == record.synced_hash):
                # Adopted from Xero by the look-up of an unanswered write
                # (jobs/cycle_unknown.py): Xero has this very version.
                self.synced(work, "note", f"{cand.label} is in Xero as this version.",
                            count=False)
                self.counts.skipped += 1
            elif (not self.forced and record.state == "exception"
                  and record.version_hash == work.version
                  and record.version_hash != record.synced_hash):
                self.counts.skipped += 1      # Xero refused this very version before
            else:
                checks.append(work)
        held = []
        found_none = self.look_up(lookups, checks)
        if hold_partial:
            spare = min((len(creates) + len(found_none)) % MAX_ELEMENTS, len(creates))
            if spare:
                creates, held = creates[:-spare], creates[-spare:]
        updates = self.check(checks)
        self.write(found_none + creates, create_only=True)
        self.write(updates, create_only=False)
        held_ids = {w.candidate.cw_id for w in held}
        self.allocate_leftovers([c for c in candidates if c.cw_id not in held_ids], records)
        return [w.candidate for w in held]

    def allocate_leftovers(self, candidates: list[Candidate], records: dict) -> None:
        """Credit notes written earlier whose allocation is still not settled."""
        due = [records[c.cw_id] for c in candidates if c.record_type == "credit_note"
               and records[c.cw_id].state == "synced" and records[c.cw_id].xero_id
               and records[c.cw_id].id not in self.allocated]
        by_id = {c.cw_id: c for c in candidates}
        cycle_allocations.allocate(self, [(by_id[r.cw_id], r, None)
                                          for r in cycle_allocations.unsettled(due)])

    def look_up(self, lookups: list[Work], checks: list[Work]) -> list[Work]:
        """Records whose last write may have reached Xero: adopt what Xero has. One
        whose write went out less than ANSWER_GRACE ago may still be finishing in Xero
        (a worker killed while Xero held its batch; a timeout): it waits, as an
        exception that says so, rather than be looked up too early and made twice."""
        now = datetime.fromtimestamp(self.clock(), timezone.utc).replace(tzinfo=None)
        early = [w for w in lookups if w.record.sent_at and w.record.sent_at > now - ANSWER_GRACE]
        if early:
            self.mark_unknown(early)
            for work in early:
                after = work.record.sent_at + ANSWER_GRACE
                self.exception(work.record, [WAITING_ANSWER.format(
                    label=work.candidate.label, at=f"{work.record.sent_at:%H:%M}",
                    after=f"{after:%H:%M}")])
            lookups = [w for w in lookups if w not in early]
        if not lookups:
            return []
        with self.about([w.record for w in lookups]):
            found = self.find_existing([w.candidate for w in lookups])
        creates = []
        for work in lookups:
            doc = found.get(work.candidate.number)
            if doc is None:
                creates.append(work)
                continue
            record = work.record
            record.xero_id = doc[DOC_KINDS[record.record_type].id_key]
            record.unknown_since = None
            if record.version_hash == work.version:
                self.synced(work, "found", "Found in Xero after an interrupted write; "
                            "adopted, not written again.", count=False)
                self.counts.skipped += 1
            else:
                record.save()
                checks.append(work)
        return creates

    def check(self, checks: list[Work]) -> list[tuple[Work, dict]]:
        """Changed records already in Xero: update what Xero still allows."""
        if not checks:
            return []
        kind = DOC_KINDS[checks[0].record.record_type]
        ids = [w.record.xero_id for w in checks]
        with self.about([w.record for w in checks]):
            docs = {d[kind.id_key]: d for d in getattr(self.client, kind.by_ids)(ids)}
        updates = []
        for work in checks:
            doc = docs.get(work.record.xero_id)
            record_facts.note_xero(work.record, doc)
            state = None if doc is None else XeroState(
                doc.get("Status", ""), Decimal(str(doc.get("AmountPaid") or 0)),
                Decimal(str(doc.get("AmountCredited") or 0)),
                bool(doc.get("Allocations") or doc.get("Payments")))
            stored = StoredState(work.record.xero_id, work.record.synced_hash)
            decision = decide(work.candidate.label, work.version, stored, state, self.forced)
            if decision.action == "update":
                payload = as_update(work.mapped.payload, kind.id_key, work.record.xero_id,
                                    doc.get("LineItems") or ())
                updates.append((work, payload))
            elif decision.action == "skip":
                self.counts.skipped += 1
                if work.record.state != "synced":
                    self.synced(work, "note", decision.sentence, count=False)
            else:
                self.exception(work.record, [decision.sentence], version=work.version,
                               total=work.mapped.cw_total)
        return updates

    def write(self, items, create_only: bool) -> None:
        if not items:
            return
        items = [(w, w.mapped.payload) if isinstance(w, Work) else w for w in items]
        kind = DOC_KINDS[items[0][0].record.record_type]
        save = getattr(self.client, kind.save)
        for start in range(0, len(items), MAX_ELEMENTS):
            batch = items[start:start + MAX_ELEMENTS]
            self.mark_in_flight(batch)        # committed before the call goes out
            try:
                with self.about([w.record for w, _p in batch]):
                    results = save([payload for _w, payload in batch],
                                   create_only=create_only)
            except ApiUnavailable:
                # Timeout, reset, lost answer, 5xx: it may have reached Xero. Each record
                # is looked up before any create; the cycle stops and says why.
                self.mark_unknown([w for w, _p in batch])
                raise
            allocations, unknown, taken, refused_reference = [], [], [], False
            with db.atomic(), self.together():
                for (work, _payload), result in zip(batch, results):
                    if result.unknown:
                        unknown.append(work)
                    elif create_only and not result.ok and _taken(result):
                        taken.append(work)
                    elif result.ok:
                        work.record.xero_id = result.id
                        record_facts.note_xero(work.record, result.element)
                        self.synced(work, "created" if create_only else "updated",
                                    ("Written to Xero." if create_only else
                                     "Changed in ConnectWise; Xero updated."))
                        for note in work.mapped.notes:
                            self.event(work.record, "note", note)
                        if create_only and work.record.record_type == "credit_note":
                            self.allocated.add(work.record.id)
                            allocations.append((work.candidate, work.record,
                                                result.element or None))
                    else:
                        refused_reference |= reference_cache.refused_for_reference(
                            result.errors)
                        self.exception(work.record, [
                            refusal_sentence(work.candidate.label, result.errors)],
                            version=work.version, total=work.mapped.cw_total)
            if unknown or taken:
                again = self.settle_unknown(unknown, taken)
                self.write(self.check(again), create_only=False)
            if refused_reference and self.org is not None:
                reference_cache.invalidate(self.org.id)    # read Xero's lists afresh
            cycle_allocations.allocate(self, allocations)
            self.after_batch()

    def mark_in_flight(self, batch) -> None:
        """One transaction, committed before the batch goes out."""
        now = utcnow()
        run_id = self.run.id if self.run is not None else None
        rows = {}       # by id: a record twice in a batch keeps its last version, as before
        for work, _payload in batch:
            work.record.state, work.record.version_hash = "in_flight", work.version
            # Rows apart from the records: only these columns change, and the record
            # keeps its last_run in memory, so a later save() writes what it did before.
            work.record.sent_at = now
            rows[work.record.id] = _InFlight(work.record.id, "in_flight", work.version,
                                             run_id, now, now)
        with db.atomic():
            bulk_set(SyncRecord, list(rows.values()), _IN_FLIGHT_FIELDS)

    def mark_unknown(self, works: list[Work]) -> None:
        now = utcnow()
        with db.atomic():
            SyncRecord.update(unknown_since=now, updated_at=now).where(
                SyncRecord.id.in_([w.record.id for w in works]) &
                SyncRecord.unknown_since.is_null()).execute()
            for work in works:
                work.record.unknown_since = work.record.unknown_since or now

    def settle_unknown(self, unknown: list[Work], taken: list[Work]) -> list[Work]:
        """Records Xero may hold although its answer did not say so (left out of the
        answer, or refused as a number already taken): look them up now and adopt what
        Xero has; what is not found stays an exception that is looked up again before
        any later create. Returns the adopted ones that must be compared with Xero's
        copy (a number taken by an earlier version of the record)."""
        works = unknown + taken
        self.mark_unknown(works)
        try:
            with self.about([w.record for w in works]):
                found = self.find_existing([w.candidate for w in works])
        except ApiUnavailable:
            found = {}
        again = []
        for work in works:
            doc = found.get(work.candidate.number)
            record = work.record
            if doc is None:
                self.exception(record, [UNKNOWN.format(label=work.candidate.label)],
                               version=work.version)
                continue
            record.xero_id = doc[DOC_KINDS[record.record_type].id_key]
            record.unknown_since = None
            if any(w is work for w in unknown):     # this very version was just sent
                self.synced(work, "found", "Xero's answer left it out, but Xero has it: "
                            "adopted, not written again.")
            else:
                record.save()
                self.event(record, "found", "Xero already had this number: adopted, not "
                           "written again.")
                again.append(work)
        return again

    def about(self, records: list[SyncRecord]):
        """Tag the calls made for these records with them ("invoice:1377", or for a batch
        "invoice:1377,1378,…"), for the audit log's Record column and the record page's
        calls."""
        if not records or self.client is None:
            return nullcontext()
        return self.client.transport.bind(record_ref=calls_ref(
            records[0].record_type, [r.cw_id for r in records]))

    # -- Xero look-ups -------------------------------------------------------------------
    def find_existing(self, candidates: list[Candidate]) -> dict[str, dict]:
        record_type = candidates[0].record_type
        numbers = [c.number for c in candidates]
        if record_type == "invoice":
            docs = [d for d in self.client.invoices_by_numbers(numbers)
                    if d.get("Type") == "ACCREC"]
            return {d["InvoiceNumber"]: d for d in docs}
        if record_type == "credit_note":
            return {d["CreditNoteNumber"]: d
                    for d in self.client.credit_notes_by_numbers(numbers)}
        # ACCPAY: Xero drops Reference on bills and keeps InvoiceNumber (shown as the
        # bill's reference), which Ferry makes unique per bill key (sync/bills.py).
        from sync.bills import is_bill_number_for
        found = {}
        for key in numbers:
            quoted = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
            docs = [d for d in self.client.invoices(
                        where=f'Type=="ACCPAY" AND InvoiceNumber.Contains({quoted})')
                    if is_bill_number_for(d.get("InvoiceNumber"), key)]
            docs.sort(key=lambda d: d.get("Status") in ("DELETED", "VOIDED"))
            if docs:
                found[key] = docs[0]
        return found

    # -- outcomes ------------------------------------------------------------------------
    @contextmanager
    def together(self):
        """Inside: synced records, their history and metering are kept and written at
        the end in one statement each (a batch's answers: no save() per record)."""
        self._deferred = ({}, [], [])
        try:
            yield
            records, events, metered = self._deferred
            if records:
                bulk_set(SyncRecord, list(records.values()), SYNCED_FIELDS)
            if events:
                insert_rows(RecordEvent, events)
            if metered:
                insert_rows(MeteredVersion, metered, ignore_conflicts=True)
        finally:
            self._deferred = None

    def synced(self, work: Work, kind: str, message: str, count: bool = True) -> None:
        record = work.record
        record.state, record.problems, record.unknown_since = "synced", None, None
        record.exception_since = None       # saved in bulk below, past save()
        record.version_hash = record.synced_hash = work.version
        record.cw_total, record.rounding = work.mapped.cw_total, work.mapped.rounding
        record.last_run = self.run
        metered = {"record_type": record.record_type, "cw_id": record.cw_id,
                   "version_hash": work.version, "month": utcnow().strftime("%Y-%m")}
        if self._deferred is not None:
            records, events, rows = self._deferred
            record.updated_at = utcnow()
            records[record.id] = record
            rows.append(metered)
            self.event(record, kind, message)
        else:
            record.save()
            self.event(record, kind, message)
            MeteredVersion.insert(**metered).on_conflict_ignore().execute()
        if count:
            self.counts.written += 1

    def exception(self, record: SyncRecord, sentences: list[str], version="keep",
                  keys=(), total=None, unwritable: bool = False) -> None:
        """`keys`: what the exception is keyed on (jobs/problem_keys.py), for the
        Unmapped view and re-syncing what a mapping change fixes. `unwritable`: the
        record's current version in CW cannot go to Xero (unmappable, unreadable,
        deleted): when a document Ferry wrote for it is in Xero, the exception names it,
        to void if CW no longer wants it."""
        self.counts.exceptions += 1
        if unwritable:
            from jobs.cycle_unknown import held_sentence
            held = held_sentence(record)
            if held and held not in sentences:
                sentences = list(sentences) + [held]
        for key in keys or ():
            kind = reference_cache.KEY_KINDS.get(getattr(key, "kind", None))
            if kind:
                self.stale_reference.add(kind)
        if version != "keep":
            record.version_hash = version
        # A NUL from ConnectWise quoted in a sentence: shown, never stored (PostgreSQL
        # refuses it in text).
        sentences = [s.replace("\x00", "␀") for s in sentences]
        if total is not None:
            record.cw_total = total         # what the exception holds back, for the pages
        changed = record.state != "exception" or record.problems != sentences
        record.state, record.problems, record.last_run = "exception", sentences, self.run
        record.save()
        problem_keys.store(record, self.org.id if self.org else record.org_id, keys, total)
        if changed:
            self.event(record, "exception", " ".join(sentences))

    def event(self, record: SyncRecord, kind: str, message: str) -> None:
        if self._deferred is not None:
            self._deferred[1].append({"record": record.id, "run": self.run.id, "kind": kind,
                                      "message": message, "at": utcnow()})
            return
        RecordEvent.create(record=record, run=self.run, kind=kind, message=message)


@dataclass
class _InFlight:
    """The columns mark_in_flight sets on one record, as bulk_set reads them."""
    id: int
    state: str
    version_hash: str
    last_run_id: int | None
    updated_at: datetime
    sent_at: datetime


_IN_FLIGHT_FIELDS = ("state", "version_hash", "last_run", "updated_at", "sent_at")

SYNCED_FIELDS = ("state", "problems", "unknown_since", "version_hash", "synced_hash",
                 "cw_total", "rounding", "last_run", "xero_id", "xero_status", "amount_due",
                 "amount_paid", "updated_at", "exception_since")


def _taken(result) -> bool:
    text = " ".join(result.errors).lower()
    return any(words in text for words in _TAKEN)


def _what_failed(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"its field {exc.args[0]!r} is missing"
    if isinstance(exc, ValueError) and str(exc).startswith("its "):
        return str(exc)             # the mapping named the field
    if isinstance(exc, (ValueError, ArithmeticError)):
        return f"a value in it could not be read ({exc})"
    if isinstance(exc, (TypeError, AttributeError)):
        return f"a field in it is not what ConnectWise documents ({exc})"
    return f"{type(exc).__name__}: {exc}"
