"""The sync cycle: one RQ job per record type (invoice, credit_note, bill).

read what changed in CW since the watermark (less an overlap window), plus the records
an earlier cycle left unsettled -> route each to a Xero org -> make sure its contact
exists -> map -> write in batches of 50 -> record each outcome -> move the watermark
past what is settled. Scheduled runs, force-syncs and the command line all come through
`run_cycle`; two cycles of one type never overlap (CycleLock, kept by a Heartbeat).

The cycle streams: the ids to do are read first (small), then read and routed a page of
`PAGE` records at a time; each org's share waits in its queue until it holds `FLUSH_AT`
records, then is mapped, written and recorded (OrgQueues), so memory is bounded by the
page and the queues, not by the backlog, and Xero's batches stay full. Each record is read, routed and built in its own guard: a malformed
one becomes its own exception, naming the record and the field, and the rest goes on.
Every id read ends in a state a person can see (synced, exception, waiting, excluded):
the run keeps read = written + skipped + exceptions + waiting + excluded.

Records in exception are read again only when something that could fix them moved
(a mapping or Xero's reference data: reference_cache's generation), or they changed in
CW (then the watermark finds them), or a write of theirs may have reached Xero
(`unknown_since`): so an idle cycle costs one CW call per record type and no Xero call.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from connectors import cw_conditions as cond
from connectors.connectwise import ConnectWise, CWSettings
from connectors.errors import ApiError
from connectors.xero import open_client
from connectors.xero_batches import MAX_ELEMENTS
from connectors.xero_governor import DayLimitReached, Governor
from connectors.xero_oauth import TokenKeeper, XeroAuthError, load_app
from jobs import (
    cycle_allocations, cycle_bills, cycle_sales, cycle_storable, cycle_unknown, cycle_waiting,
    problem_keys, record_facts, reference_cache,
)
from jobs.audit import DatabaseAuditSink
from jobs.context import in_job_context
from jobs.cycle_contacts import ensure_contacts
from jobs.cycle_lock import CycleLock, Heartbeat
from jobs.cycle_log import cycle_finished
from jobs.cycle_mappings import default_org, org_mappings, routing_rules
from jobs.cycle_records import bulk_set
from jobs.cycle_write import Counts, OrgWriter, _what_failed
from jobs.queue import get_redis
from models import Connection, ContactLink, Setting, SyncRecord, SyncRun, db, utcnow
from sync.routing import Unroutable, route

log = logging.getLogger("ferry.cycle")

RECORD_TYPES = ("invoice", "credit_note", "bill")
WATERMARK = "sync.watermark.{}"
OVERLAP_MINUTES = "sync.watermark_overlap_minutes"
INTERVAL_HOURS = "sync.interval_hours.{}"
POST_BATCHES = "sync.post_batches"
DEFAULT_OVERLAP_MINUTES = 10
DEFAULT_INTERVAL_HOURS = 6
UNSETTLED = ("pending", "in_flight", "waiting")
HOLD_WATERMARK = ("pending", "in_flight")
# Records read from CW and routed per step (a GL export reads 200 at a time).
PAGE = 1000
# Records an org's queue gathers before they are written (OrgQueues): each write ends
# with at most one part-filled batch of documents and one of new contacts, so 500 keeps
# Xero's calls within ~1.05x their floor while memory stays flat in the backlog.
FLUSH_AT = 500
RETRY_GENERATION = "sync.retry_generation.{}"
CODEBASE = "cw.codebase.{}"
OVERLAP_READ = "sync.overlap_read.{}"
CONTACTS_CHECK = "sync.contacts_checked"
CONTACTS_CHECK_EVERY = timedelta(hours=24)
# A run whose heartbeat (every 30 s) is older than this lost its worker.
STALE_AFTER = timedelta(seconds=120)
# A run whose lock is free has lost its worker once it missed a beat (a Redis restart
# empties the key of a live run too, until its next beat takes it back).
LOCK_GRACE = timedelta(seconds=60)
# RQ job timeout of a cycle, scheduled or forced: a first sync of 10,000 invoices is
# ~200 batch writes plus look-ups under Xero's 60 calls a minute (about 10 minutes of
# Xero's quota) and 10,000 CW reads; a day limit stops the run cleanly long before.
JOB_TIMEOUT = 6 * 3600


@dataclass
class Pacing:
    """How the cycle waits (Retry-After, the minute window): real time unless a test or
    a benchmark moves its own clock."""
    sleep: object = time.sleep
    clock: object = time.time


class CountingSink:
    """Passes each call to the audit trail, tagged with the run, and counts it per API."""

    def __init__(self, inner, run_id: int):
        self.inner, self.run_id, self.calls = inner, run_id, Counter()

    def record(self, call) -> None:
        self.calls[call.api] += 1
        if call.run_id is None:
            call.run_id = self.run_id
        self.inner.record(call)


def interval_hours(record_type: str) -> int:
    try:
        hours = int(Setting.get_value(INTERVAL_HOURS.format(record_type),
                                      DEFAULT_INTERVAL_HOURS))
    except (TypeError, ValueError):
        hours = DEFAULT_INTERVAL_HOURS
    return min(24, max(1, hours))


def cycle_entries() -> list[tuple[str, str, int]]:
    """The scheduler's entries: one cycle per record type at its interval."""
    return [(f"ferry-cycle-{kind.replace('_', '-')}", f"jobs.cycle.{kind}_cycle",
             interval_hours(kind) * 3600) for kind in RECORD_TYPES]


def run_cycle(record_type: str, *, trigger: str = "schedule", only_ids=None,
              forced: bool = False, pacing: Pacing | None = None) -> SyncRun:
    """One cycle in this process; needs the app context and an open DB connection.
    `only_ids` (CW ids) limits it to those records, ignoring the watermark."""
    if record_type not in RECORD_TYPES:
        raise ValueError(f"record type is one of {', '.join(RECORD_TYPES)}")
    pacing = pacing or Pacing()
    mark_interrupted()
    lock = CycleLock(get_redis(), record_type)
    lock.acquire()
    now = utcnow()
    run = SyncRun.create(record_type=record_type, trigger=trigger, started_at=now,
                         heartbeat_at=now)
    beat = Heartbeat(lock, run.id).start()
    try:
        with DatabaseAuditSink() as audit:
            sink = CountingSink(audit, run.id)
            try:
                _cycle(run, record_type, only_ids, forced, sink, pacing, lock)
                run.status = "done"
            except DayLimitReached as exc:
                run.status, run.message = "stopped", str(exc)
            except (ApiError, XeroAuthError) as exc:
                run.status, run.message = "stopped", str(exc)
                log.warning("%s cycle %s stopped: %s", record_type, run.id, exc)
            except Exception as exc:
                run.status = "failed"
                run.message = f"The cycle failed unexpectedly ({type(exc).__name__})."
                log.exception("%s cycle %s failed", record_type, run.id)
            run.cw_calls = sink.calls["connectwise"]
            run.xero_calls = sink.calls["xero"]
            run.finished_at = run.heartbeat_at = utcnow()
            run.waiting_until = None
            left = run.read - (run.written + run.skipped + run.exceptions + run.waiting
                               + run.excluded)
            if left > 0 and run.status != "done":
                run.message = (run.message or "") + (
                    f" {left} record{'s' if left != 1 else ''} read were not reached; the "
                    "next cycle carries on with them.")
            run.save()
    finally:
        beat.stop()
        lock.release()
    cycle_finished(run)                    # the run's line in the log (jobs/cycle_log.py)
    from jobs.alerts import after_cycle    # the run's new exceptions, mailed if set so
    after_cycle(run)
    return run


def _cycle(run, record_type, only_ids, forced, sink, pacing, lock) -> None:
    cw_connection = Connection.get_or_none((Connection.kind == "connectwise") &
                                           (Connection.status == "active"))
    if cw_connection is None:
        raise ApiError("ConnectWise is not connected: fill in its settings first.")
    cw = _connectwise(cw_connection, sink, run)
    counts = Counts()
    tally = WatermarkTally()
    watermark = _watermark(record_type)
    _refresh_reference(run, sink, pacing)
    # Writes of unknown outcome first, before anything else happens to their records.
    unknown = cycle_unknown.resolve(run, record_type, only_ids, counts, pacing.clock,
                                    lambda org: _xero(org, run, sink, pacing))
    generation = _retry_fingerprint()
    retry_all = (only_ids is not None or forced or
                 Setting.get_value(RETRY_GENERATION.format(record_type)) != generation)
    post = bool(Setting.get_value(POST_BATCHES, False))
    overlap_read: dict[str, str] = {}     # unposted rows read: the next cycle skips them
    to_post: set[int] = set()         # GL entry ids only: one CW batch for the cycle
    try:
        names = LazyNames(cw)
        overlap = _overlap_minutes()
        # A forced cycle of a whole type reads everything, whatever the watermark says.
        since = (None if only_ids is not None or forced
                 else cycle_sales.overlap_start(watermark, overlap))
        queues = OrgQueues()
        contact_lists: dict = {}      # each org's contact list, read once a cycle

        def settle(ids, candidates, records, written: int) -> None:
            if post:
                to_post.update(_postable(candidates, records))
            tally.add(candidates, records)
            _tally_page(run, record_type, ids, written)

        def flush(org_id, final: bool) -> None:
            candidates, records = queues.take(org_id)
            written_before = counts.written
            held = _sync_org(run, record_type, Connection.get_by_id(org_id), candidates,
                             records, counts, forced, sink, pacing, lock, final,
                             contact_lists)
            held_ids = {c.cw_id for c in held}
            done = [c for c in candidates if c.cw_id not in held_ids]
            settle([c.cw_id for c in done], done, records, counts.written - written_before)
            if held:
                queues.add(org_id, held, records)

        for ids, candidates in _pages(cw, run, record_type, since, only_ids, names,
                                      retry_all, counts, overlap_read, unknown):
            # A record waiting for Xero's answer is read and counted, nothing more.
            candidates = [c for c in candidates if c.cw_id not in unknown.waiting]
            if lock.lost:
                raise ApiError("Another worker took over this cycle's lock; this run "
                               "stopped so the two never write the same records.")
            by_org, records = _route(run, record_type, candidates, counts)
            queued = set()
            for org_id, group in by_org.items():
                queues.add(org_id, group, records)
                queued.update(c.cw_id for c in group)
            # What needs no Xero call (exceptions, waiting, unread) is settled now.
            settle([i for i in ids if i not in queued],
                   [c for c in candidates if c.cw_id not in queued], records, 0)
            for org_id in queues.full():
                flush(org_id, final=False)
        for org_id in queues.orgs():
            flush(org_id, final=True)
        if to_post:
            _post_batch(cw, run, record_type, sorted(to_post))
        if record_type == "invoice" and since is not None and only_ids is None:
            _check_changed_contacts(cw, run, since, sink, pacing)
    finally:
        keep_codebase(cw_connection, cw)
        cw.close()
    if retry_all and only_ids is None:
        Setting.set_value(RETRY_GENERATION.format(record_type), generation)
    if only_ids is None:
        _move_watermark(record_type, tally, watermark)
        Setting.set_value(OVERLAP_READ.format(record_type), overlap_read)


def _refresh_reference(run, sink, pacing) -> None:
    """Xero reference data older than a day, or marked stale by an exception that rests
    on it: read again (a change retries the exceptions)."""
    opened = []

    def open_client(org_id):
        org = Connection.get_or_none(Connection.id == org_id)
        if org is None or org.status != "active":
            return None
        context = _xero(org, run, sink, pacing)
        opened.append(context)
        return context.__enter__()
    try:
        reference_cache.refresh_due(open_client)
    finally:
        for context in opened:
            context.__exit__(None, None, None)


def _overlap_minutes() -> int:
    return int(Setting.get_value(OVERLAP_MINUTES, DEFAULT_OVERLAP_MINUTES))


def _retry_fingerprint() -> str:
    """What could turn an exception into a write without the record changing in CW:
    the mapping tables, routing, contact links, connections and Xero's reference data
    (reference_cache's generation). Read from the database only (small tables)."""
    import hashlib
    from models import (
        AccountMapping, ItemMapping, OrgRecordSetting, RoutingRule, TaxMapping,
        TrackingMapping,
    )
    digest = hashlib.sha256(str(reference_cache.generation()).encode())
    digest.update(str(Setting.get_value("sync.default_org")).encode())
    for model in (RoutingRule, AccountMapping, TaxMapping, TrackingMapping, ItemMapping,
                  OrgRecordSetting, ContactLink, Connection):
        for row in model.select().order_by(model.id).tuples().iterator():
            digest.update(repr(row).encode())
    return digest.hexdigest()


class LazyNames(dict):
    """Location and department names, read from CW only when a record needs them (an
    idle cycle reads none)."""

    def __init__(self, cw):
        super().__init__()
        self._cw = cw

    def __missing__(self, key):
        self.update(cycle_sales.reference_names(self._cw))
        return dict.__getitem__(self, key)


class OrgQueues:
    """Routed records waiting for their org's next write, carried across pages: an org
    is written when it has FLUSH_AT records (and at the end), so its batches of 50 are
    full however pages split the backlog, and memory holds at most that many per org
    besides the page being read."""

    def __init__(self):
        self._queues: dict[int, tuple[list, dict]] = {}

    def add(self, org_id: int, candidates: list, records: dict) -> None:
        queue, held = self._queues.setdefault(org_id, ([], {}))
        queue.extend(candidates)
        held.update((c.cw_id, records[c.cw_id]) for c in candidates)

    def full(self) -> list[int]:
        return [o for o, (queue, _held) in self._queues.items() if len(queue) >= FLUSH_AT]

    def orgs(self) -> list[int]:
        return list(self._queues)

    def take(self, org_id: int) -> tuple[list, dict]:
        return self._queues.pop(org_id)


class WatermarkTally:
    """What the watermark needs of every page: the newest time read and the oldest
    time left unsettled (kept as two values, not the records)."""

    def __init__(self):
        self.newest = self.oldest_unsettled = None

    def add(self, candidates, records) -> None:
        for c in candidates:
            if not c.updated_at:
                continue
            self.newest = max(self.newest or c.updated_at, c.updated_at)
            # A waiting record is found again by its state and date, not by the
            # watermark: holding it back would re-read everything newer until its date.
            if records[c.cw_id].state in HOLD_WATERMARK:
                self.oldest_unsettled = min(self.oldest_unsettled or c.updated_at,
                                            c.updated_at)


def _tally_page(run, record_type, ids, written: int) -> None:
    """Count a finished page by the states its records are in now, so the run's counts
    are what a person sees: read = written + skipped + exceptions + waiting + excluded
    once every page is done (a record left pending or in flight breaks the sum)."""
    if not ids:
        return
    states = Counter(r.state for r in SyncRecord.select(SyncRecord.state).where(
        (SyncRecord.record_type == record_type) & SyncRecord.cw_id.in_(list(ids))))
    written = min(written, states["synced"])
    run.written += written
    run.skipped += states["synced"] - written
    run.exceptions += states["exception"]
    run.waiting += states["waiting"]
    run.excluded += states["excluded"]
    _progress(run, len(ids))


def _progress(run, done: int) -> None:
    run.done = (run.done or 0) + done
    SyncRun.update(done=run.done, written=run.written, skipped=run.skipped,
                   exceptions=run.exceptions, waiting=run.waiting, excluded=run.excluded,
                   read=run.read, total=run.total).where(SyncRun.id == run.id).execute()


def _connectwise(connection: Connection, sink, run) -> ConnectWise:
    s = connection.settings
    settings = CWSettings(s["site"], s["company_id"], s["public_key"],
                          (connection.secrets or {}).get("private_key", ""), s["client_id"])
    return ConnectWise(settings, sink=sink, codebase=_known_codebase(connection),
                       context={"connection_id": connection.id, "run_id": run.id})


def _codebase_key(connection: Connection) -> str:
    s = connection.settings
    return f"{s['site']}|{s['company_id']}"


def _known_codebase(connection: Connection) -> str | None:
    """The codebase an earlier cycle found for this site and company (companyinfo is
    asked again only when the site or company changes, or CW answers 404 under it)."""
    kept = Setting.get_value(CODEBASE.format(connection.id)) or {}
    return kept.get("codebase") if kept.get("for") == _codebase_key(connection) else None


def keep_codebase(connection: Connection, cw: ConnectWise) -> None:
    if cw.known_codebase and cw.known_codebase != _known_codebase(connection):
        Setting.set_value(CODEBASE.format(connection.id),
                          {"for": _codebase_key(connection), "codebase": cw.known_codebase})


def _pages(cw, run, record_type, since, only_ids, names, retry_all, counts,
           overlap_read: dict, unknown=None):
    """What this cycle works on, a page at a time: changed since `since` plus what an
    earlier cycle left unsettled (and, when `retry_all`, in exception); or exactly
    `only_ids`. Ids CW gives no record for become exceptions here. `overlap_read` gets
    the memo of the unposted rows read (saved once the cycle completes). `unknown`
    (cycle_unknown.Resolved): records whose write's outcome this cycle settled are read
    (one CW no longer gives becomes its exception); those waiting for Xero's answer
    are left as they are."""
    unknown = unknown or cycle_unknown.Resolved()
    states = UNSETTLED + (("exception",) if retry_all else ())
    unsettled = SyncRecord.select(SyncRecord.cw_id, SyncRecord.cw_number).where(
        (SyncRecord.record_type == record_type) &
        (SyncRecord.state.in_(states) | SyncRecord.unknown_since.is_null(False)) &
        ~cycle_waiting.not_due(SyncRecord))
    if record_type == "bill":
        retry = cycle_bills.retry_markers(unsettled) if only_ids is None else set()
        read_before = {} if since is None else (
            Setting.get_value(OVERLAP_READ.format(record_type)) or {})
        bills = _guarded_read(run, record_type, None, counts,
                              lambda: cycle_bills.read_bills(
                                  cw, since, retry, only_ids, names, read_before,
                                  overlap_read, _overlap_minutes()))
        # A bill whose write's outcome was just settled and that CW no longer gives
        # (its receipts deleted or posted) is an exception, never left pending.
        gone = sorted(unknown.settled - {c.cw_id for c in bills})
        run.read = run.total = len(bills) + len(gone)
        _progress(run, 0)
        for start in range(0, len(bills), PAGE):
            page = bills[start:start + PAGE]
            yield [c.cw_id for c in page], page
        if gone:
            _unread(run, record_type, gone, counts, None, unknown.waiting)
            yield gone, []
        return
    if only_ids is not None:
        keys, known = sorted(set(only_ids)), {}
    else:
        changed, memo = cycle_sales.changed_numbers(
            cw, record_type, since,
            {} if since is None else Setting.get_value(OVERLAP_READ.format(record_type)) or {},
            _overlap_minutes())
        overlap_read.update(memo)
        again = list(unsettled)
        if record_type == "credit_note":
            again.extend(SyncRecord.select(SyncRecord.cw_id, SyncRecord.cw_number).where(
                (SyncRecord.record_type == record_type) &
                SyncRecord.cw_id.in_(list(cycle_allocations.awaiting_ids()))))
        # Records read again are named by number too, so one read covers both lists.
        known = {r.cw_number: r.cw_id for r in again if r.cw_number}
        keys = changed + sorted(set(known) - set(changed), key=lambda n: (len(n), n)) + sorted(
            {r.cw_id for r in again if not r.cw_number})
    run.read = run.total = len(keys)
    _progress(run, 0)
    done: set[int] = set()
    for start in range(0, len(keys), PAGE):
        page, candidates = _read_page(cw, run, record_type, keys[start:start + PAGE],
                                      counts, names)
        ids = {c.cw_id for c in candidates}
        numbers = {c.number for c in candidates}
        missing = {k if isinstance(k, int) else known.get(k) for k in page
                   if k not in ids and k not in numbers}
        # A number in the unposted list that CW gives no invoice for, a record a page
        # read already, or one named twice in this page (by its new number and by its
        # id, when its number could not be kept): none is a record of its own to count.
        named = sum(1 for k in page if k in ids or k in numbers)
        gone = (len(missing & {None}) + sum(1 for c in candidates if c.cw_id in done)
                + max(0, named - len(candidates)))
        run.read, run.total = run.read - gone, run.total - gone
        candidates = [c for c in candidates if c.cw_id not in done]
        missing = sorted(missing - {None} - done)
        if missing:
            _unread(run, record_type, missing, counts, None, unknown.waiting)
        ids = sorted(({c.cw_id for c in candidates} | set(missing)) - done)
        done.update(ids)
        yield ids, candidates


def _read_page(cw, run, record_type, page: list, counts, names) -> tuple[list, list]:
    """Candidates for a page of keys (invoice numbers, or ids) and the keys they are
    for. When one malformed record breaks the page, the page is read again a record at
    a time, each by its id (numbers are looked up), so only that one becomes an
    exception that names it."""
    def read(part):
        return _read_sales(cw, record_type, part, names)
    try:
        return page, read(page)
    except ApiError:
        raise
    except Exception:
        ids = [k for k in page if isinstance(k, int)] + cycle_sales.invoice_ids(
            cw, [k for k in page if isinstance(k, str)])
        out = []
        for cw_id in ids:
            out += _guarded_read(run, record_type, [cw_id], counts, read)
        return ids, out


def _read_sales(cw, record_type, keys, names):
    if len(keys) != 1 or not isinstance(keys[0], int):
        return cycle_sales.read_sales(cw, record_type, keys, names)
    with cw.bind(record_ref=f"{record_type}:{keys[0]}"):   # one record's calls, named
        return cycle_sales.read_sales(cw, record_type, keys, names)


def _guarded_read(run, record_type, ids, counts, read):
    """`read(ids)` (or `read()` for bills); when one malformed record breaks the read
    of its page, each id is read on its own so only that one becomes an exception,
    naming the record and what in it could not be read."""
    try:
        return read(ids) if ids is not None else read()
    except ApiError:
        raise
    except Exception as exc:
        if ids is None:
            raise ApiError(f"ConnectWise's unposted purchase orders could not be read: "
                           f"{_what_failed(exc)}. Check the newest receipts in "
                           "ConnectWise.") from exc
        if len(ids) == 1:
            _unread(run, record_type, ids, counts, exc)
            return []
        out = []
        for cw_id in ids:
            out += _guarded_read(run, record_type, [cw_id], counts, read)
        return out


def _unread(run, record_type, ids, counts, exc, waiting=frozenset()) -> None:
    """Ids read from CW that yield no record to write: each becomes an exception (a
    person sees it), never skipped silently. Those in `waiting` wait for Xero's answer
    to a write of theirs (jobs/cycle_unknown.py) and are left as they are."""
    noun = {"invoice": "invoice", "credit_note": "credit memo", "bill": "bill"}[record_type]
    existing = {r.cw_id: r for r in SyncRecord.select().where(
        (SyncRecord.record_type == record_type) & SyncRecord.cw_id.in_(ids))}
    writer = OrgWriter(run, None, None, None, counts, False)
    for cw_id in ids:
        if cw_id in waiting:
            continue
        record = existing.get(cw_id)
        if exc is None and record is not None and record.state == "synced" and \
                record.xero_id:
            # Already in Xero and posted in CW since (so out of the unposted export):
            # a later change in CW (a payment Ferry applied moves lastUpdated) is not a
            # problem. It stays synced and counts as skipped.
            continue
        record = record or SyncRecord.create(
            record_type=record_type, cw_id=cw_id, state="pending", last_run=run)
        name = f"ConnectWise {noun} {record.cw_number or f'(id {cw_id})'}"
        if exc is not None:
            sentence = (f"{name} could not be read: {_what_failed(exc)}. Correct it in "
                        "ConnectWise; Ferry tries it again when it changes.")
        else:
            sentence = (f"ConnectWise gave no {noun} for {name} (it may have been deleted, "
                        "or its company is missing). Check it in ConnectWise; Ferry tries "
                        "it again when it changes.")
        writer.exception(record, [sentence], unwritable=True)


def _route(run, record_type, candidates, counts):
    """Group the candidates by org; unroutable ones become exceptions here."""
    existing = _records_for(run, record_type, candidates)
    rules, fallback = routing_rules(record_type), default_org()
    by_org: dict[int, list] = {}
    writer = OrgWriter(run, None, None, None, counts, False)
    changed: dict[int, SyncRecord] = {}       # saved together at the end, one statement
    for cand in candidates:
        record = existing[cand.cw_id]
        if record.cw_updated_at != cand.updated_at:
            record.cw_updated_at = cand.updated_at
            changed[record.id] = record
        # A value the database cannot hold (a NUL, longer than its column) is this
        # record's exception, before anything of it is stored or sent to Xero.
        unstorable = cycle_storable.unstorable(cand)
        if unstorable:
            writer.exception(record, [unstorable], unwritable=True)
            continue
        number = cycle_storable.stored_number(record_type, cand.number)
        if number and record.cw_number != number and record.xero_id is None \
                and record.state != "in_flight" and record.unknown_since is None:
            record.cw_number = number         # one kept without it (fixed in CW since)
            changed[record.id] = record
        try:
            if record_facts.note_candidate(record, cand):    # what the records page shows
                changed[record.id] = record
        except Exception as exc:         # a malformed date or amount in what CW gave
            writer.exception(record, [f"{cand.label} could not be read: "
                                      f"{_what_failed(exc)}. Correct it in ConnectWise; "
                                      "Ferry tries it again when it changes."],
                             unwritable=True)
            continue
        if cand.waiting:                  # its date has not come; read again next cycle
            cycle_waiting.mark_waiting(run, record, cand.waiting)
            continue
        if cand.problem:
            writer.exception(record, [cand.problem], unwritable=True)
            continue
        if not (cand.company and cand.company.record.get("id")):
            writer.exception(record, [f"{cand.label} names no company in ConnectWise; give "
                                      "it one there and Ferry tries it again."],
                             unwritable=True)
            continue
        try:
            routed = route(cand.facts, rules, fallback)
        except Exception as exc:
            writer.exception(record, [f"{cand.label} could not be routed to a Xero "
                                      f"organisation: {_what_failed(exc)}."],
                             unwritable=True)
            continue
        if isinstance(routed, Unroutable):
            loc = cand.facts.location
            writer.exception(record, [routed.sentence], keys=[problem_keys.Key(
                "routing", str(loc.id) if loc and loc.id is not None else "",
                loc.name if loc else None)], unwritable=True)
            continue
        org_id = int(routed.org)
        may_exist = (record.xero_id or record.state == "in_flight"
                     or record.unknown_since is not None)
        if may_exist and record.org_id not in (None, org_id):
            # A document stays in the org it was written to, and one whose write may have
            # reached Xero is looked up there first, whatever routing says now.
            org_id = record.org_id
        if record.org_id != org_id:
            record.org = org_id
            changed[record.id] = record
        by_org.setdefault(org_id, []).append(cand)
    if changed:
        now = utcnow()
        for record in changed.values():
            record.updated_at = now
        with db.atomic():
            bulk_set(SyncRecord, list(changed.values()), ROUTE_FIELDS)
    return by_org, existing


ROUTE_FIELDS = ("cw_updated_at", "party_name", "doc_date", "currency", "cw_total", "org",
                "updated_at", "cw_number")


def _records_for(run, record_type, candidates) -> dict[int, SyncRecord]:
    """The candidates' records, the new ones inserted in one statement per 100."""
    ids = [c.cw_id for c in candidates]
    if not ids:
        return {}
    query = SyncRecord.select().where((SyncRecord.record_type == record_type) &
                                      SyncRecord.cw_id.in_(ids))
    existing = {r.cw_id: r for r in query}
    now, rows, seen = utcnow(), [], set(existing)
    for cand in candidates:
        if cand.cw_id in seen:
            continue
        seen.add(cand.cw_id)
        rows.append({"record_type": record_type, "cw_id": cand.cw_id,
                     "cw_number": cycle_storable.stored_number(record_type, cand.number),
                     "state": "pending",
                     "cw_updated_at": cand.updated_at, "last_run": run.id,
                     "updated_at": now})
    if rows:
        with db.atomic():
            for start in range(0, len(rows), 100):
                SyncRecord.insert_many(rows[start:start + 100]).execute()
        existing = {r.cw_id: r for r in query.clone()}
    return existing


class LazyXero:
    """A Xero client for one org opened on first use (calling it returns the client),
    so reading what the cache holds costs no connection."""

    def __init__(self, opener):
        self._opener, self._client = opener, None

    def __call__(self):
        if self._client is None:
            self._client = self._opener()
        return self._client

    def __getattr__(self, name):
        return getattr(self(), name)

    def close(self) -> None:
        if self._client is not None:
            self._client.transport.close()


@contextmanager
def _xero(org, run, sink, pacing):
    """A Xero client for one org, its calls counted against this run."""
    def opener():
        app = load_app(current_app.config["BASE_URL"])
        redis = get_redis()
        client = open_client(app, org, sink=sink,
                             tokens=TokenKeeper(app, redis=redis, sink=sink),
                             governor=Governor(redis, sleep=_waiting(run, pacing.sleep),
                                               clock=pacing.clock),
                             sleep=pacing.sleep)
        client.transport.tag(run_id=run.id)
        return client
    lazy = LazyXero(opener)
    try:
        yield lazy
    finally:
        lazy.close()


def _waiting(run, sleep):
    """The governor's sleep, telling the dashboard the run waits for Xero's minute."""
    def wait(seconds: float) -> None:
        if seconds >= 1:
            until = utcnow() + timedelta(seconds=seconds)
            SyncRun.update(waiting_until=until).where(SyncRun.id == run.id).execute()
            sleep(seconds)
            SyncRun.update(waiting_until=None).where(SyncRun.id == run.id).execute()
        else:
            sleep(seconds)
    return wait


def _sync_org(run, record_type, org, candidates, records, counts, forced, sink, pacing,
              lock, final: bool = True, contact_lists: dict | None = None) -> list:
    """Write one org's queued candidates. Unless `final`, those that would make the
    last batch of new contacts or of new documents part-filled are returned unwritten
    (still pending) for the org's next write: Xero's batches stay full."""
    held = []
    if not final:
        candidates, held = _hold_partial_contacts(org, candidates)
    with _xero(org, run, sink, pacing) as client:
        # Tax rates, base and enabled currencies come from the per-org cache: a cycle
        # with nothing to write opens no connection to Xero (the client is lazy).
        rates = reference_cache.tax_rates(client, org.id)
        base = reference_cache.base_currency(client, org.id)
        # Only an org with foreign-currency documents to write needs its currencies.
        foreign = any(c.currency and c.currency != base for c in candidates)
        enabled = reference_cache.enabled_currencies(client, org.id) if foreign else None
        mappings = org_mappings(org, rates, base, enabled)
        companies = {c.company.record["id"]: c.company for c in candidates}
        contacts = ensure_contacts(client, org, companies, contact_lists)
        writer = OrgWriter(run, client, org, mappings, counts, forced, lock.extend,
                           clock=pacing.clock)
        held += writer.sync(candidates, contacts, records, hold_partial=not final)
        # An exception resting on cached reference data (a currency not enabled, a tax
        # rate unknown) may be fixed in Xero alone: read that list at the next start.
        for kind in writer.stale_reference:
            reference_cache.mark_stale(org.id, kind)
    return held


def _hold_partial_contacts(org, candidates) -> tuple[list, list]:
    """The candidates whose company has no Xero contact in this org yet, beyond the
    last full batch of 50 new contacts, set apart (with every candidate of theirs)."""
    companies = list(dict.fromkeys(c.company.record["id"] for c in candidates))
    linked = {link.cw_company_id for link in ContactLink.select(ContactLink.cw_company_id)
              .where((ContactLink.org == org) & ContactLink.cw_company_id.in_(companies))}
    new = [cid for cid in companies if cid not in linked]
    spare = len(new) % MAX_ELEMENTS
    if not spare:
        return candidates, []
    later = set(new[-spare:])
    return ([c for c in candidates if c.company.record["id"] not in later],
            [c for c in candidates if c.company.record["id"] in later])


def _check_changed_contacts(cw, run, cycle_since, sink, pacing) -> None:
    """Once a day (two CW calls; an hourly idle cycle stays at one call), the invoice
    cycle reads the companies and contacts changed since the last check. A company's
    next document carries its edits to Xero sooner (ensure_contacts compares)."""
    last = Setting.get_value(CONTACTS_CHECK) or {}
    try:
        at = datetime.fromisoformat(last["at"]) if last.get("at") else None
        since = datetime.fromisoformat(last["since"]) if last.get("since") else cycle_since
    except (TypeError, ValueError):
        at, since = None, cycle_since
    if at is not None and utcnow() - at < CONTACTS_CHECK_EVERY:
        return
    _refresh_changed_contacts(cw, run, min(since, cycle_since), sink, pacing)
    # The next check reads from this cycle's start: a CW time, as the watermark is.
    Setting.set_value(CONTACTS_CHECK, {"at": utcnow().isoformat(),
                                       "since": cycle_since.isoformat()})


def _refresh_changed_contacts(cw, run, since, sink, pacing) -> None:
    """A company edited in CW (name, address, phone, billing contact) reaches the Xero
    contacts Ferry made for it even when no new document comes with the edit: the
    companies and contacts changed since `since` are read and the linked Xero contacts
    whose details differ are updated (ensure_contacts compares)."""
    changed = {c["id"] for c in cw.companies(cond.gt("_info/lastUpdated", since))}
    changed |= {(c.get("company") or {}).get("id")
                for c in cw.contacts(cond.gt("_info/lastUpdated", since))}
    changed.discard(None)
    if not changed:
        return
    by_org: dict[int, set[int]] = {}
    for link in ContactLink.select().where(ContactLink.cw_company_id.in_(sorted(changed))):
        by_org.setdefault(link.org_id, set()).add(link.cw_company_id)
    if not by_org:
        return
    companies = cycle_sales.read_companies(cw, set().union(*by_org.values()))
    for org_id, ids in by_org.items():
        org = Connection.get_by_id(org_id)
        if org.status != "active":
            continue
        with _xero(org, run, sink, pacing) as client:
            ensure_contacts(client, org, {i: companies[i] for i in ids if i in companies})


def _postable(candidates, records) -> set[int]:
    """The setting "post synced records as a batch in ConnectWise": what this page
    settled in Xero, by GL entry ids."""
    synced = [c for c in candidates if records[c.cw_id].state == "synced"]
    # A credit note still to be allocated stays unposted: the next cycle reads it there.
    waiting = {r.id for r in cycle_allocations.unsettled(
        [records[c.cw_id] for c in synced if c.record_type == "credit_note"])}
    synced = [c for c in synced if records[c.cw_id].id not in waiting]
    return {e for c in synced for e in c.gl_entry_ids}


def _post_batch(cw, run, record_type, entries: list[int]) -> None:
    """What this cycle settled in Xero leaves CW's unposted lists, in one batch."""
    if entries:
        # "Batch must export Invoices, Expenses or Products" (CreateAccountingBatchRequest).
        flag = "exportProductsFlag" if record_type == "bill" else "exportInvoicesFlag"
        cw.create_accounting_batch({"batchIdentifier": f"FERRY-{record_type[:4].upper()}"
                                                       f"-{run.id}",
                                    flag: True, "processedRecordIds": entries})


def _watermark(record_type: str) -> datetime | None:
    raw = Setting.get_value(WATERMARK.format(record_type))
    return datetime.fromisoformat(raw) if raw else None


def _move_watermark(record_type, tally: WatermarkTally, watermark) -> None:
    """Past the newest record read, but never past one left unsettled."""
    if tally.newest is None:
        return
    target = (tally.oldest_unsettled - timedelta(seconds=1)
              if tally.oldest_unsettled else tally.newest)
    if watermark is None or target > watermark:
        Setting.set_value(WATERMARK.format(record_type), target.isoformat())


def mark_interrupted(now: datetime | None = None) -> int:
    """Runs still "running" whose worker is gone (killed, or its server went down) become
    "interrupted", with the time of their last sign of life. A run lives only while it
    holds its type's lock and its heartbeat beats (jobs/cycle_lock.py), so it is gone
    when its heartbeat (or its start, if it never beat) is older than STALE_AFTER, when a
    later run of its type has started (that one got the lock), or when the lock is free
    for LOCK_GRACE or was held by a process of this host that no longer exists.
    Called at the start of every cycle, and by the dashboard and the runs pages when
    they read, so a dead run is never shown as running."""
    from peewee import fn

    from jobs.cycle_lock import lock_state
    now = now or utcnow()
    running = list(SyncRun.select().where(SyncRun.status == "running"))
    if not running:
        return 0
    kinds = {r.record_type for r in running}
    newest = dict(SyncRun.select(SyncRun.record_type, fn.MAX(SyncRun.id))
                  .where(SyncRun.record_type.in_(kinds))
                  .group_by(SyncRun.record_type).tuples())
    locks: dict[str, str | None] = {}

    def lock_of(kind: str) -> str | None:
        if kind not in locks:
            try:
                locks[kind] = lock_state(get_redis(), kind)
            except Exception:       # Redis down: the heartbeat alone decides
                locks[kind] = None
        return locks[kind]

    marked = 0
    for run in running:
        last = run.heartbeat_at or run.started_at
        quiet = now - last
        if not (quiet > STALE_AFTER or newest[run.record_type] > run.id
                or lock_of(run.record_type) == "dead"
                or (quiet > LOCK_GRACE and lock_of(run.record_type) == "free")):
            continue
        then = ("reads ConnectWise's payments on whatever this one was applying, so "
                "nothing is applied twice," if run.record_type == "payment" else
                "looks up in Xero whatever this one was writing")
        updated = SyncRun.update(
            status="interrupted", finished_at=last,
            message=(f"The worker running this cycle stopped responding at "
                     f"{last:%Y-%m-%d %H:%M} UTC (it was killed or its server restarted). "
                     f"Nothing is lost: the next cycle {then} and carries on.")
        ).where((SyncRun.id == run.id) & (SyncRun.status == "running")).execute()
        marked += updated
    return marked


# -- the RQ jobs -----------------------------------------------------------------------
@in_job_context
def invoice_cycle():
    return _job("invoice")


@in_job_context
def credit_note_cycle():
    return _job("credit_note")


@in_job_context
def bill_cycle():
    return _job("bill")


def _job(record_type: str) -> int | None:
    from jobs.cycle_lock import CycleBusy
    try:
        return run_cycle(record_type).id
    except CycleBusy:
        log.info("%s cycle already running; this run is skipped", record_type)
        return None


def describe(run: SyncRun) -> str:
    """The counts a person reads after `flask sync TYPE`."""
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0
    text = (f"{run.record_type} cycle {run.id} {run.status}: read {run.read}, written "
            f"{run.written}, skipped {run.skipped}, exceptions {run.exceptions}; "
            f"API calls: ConnectWise {run.cw_calls}, Xero {run.xero_calls}; "
            f"{seconds:.1f} s")
    return text + (f"\n{run.message}" if run.message else "")
