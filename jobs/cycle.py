"""The sync cycle: one RQ job per record type (invoice, credit_note, bill).

read what changed in CW since the watermark (less an overlap window), plus the records
an earlier cycle left pending, in flight or in exception -> route each to a Xero org ->
make sure its contact exists -> map -> write in batches of 50 -> record each outcome ->
move the watermark past what is settled. Scheduled runs, force-syncs and the command
line all come through `run_cycle`; two cycles of one type never overlap (CycleLock).
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
from connectors.xero_governor import DayLimitReached, Governor
from connectors.xero_oauth import TokenKeeper, XeroAuthError, load_app
from jobs import (
    cycle_allocations, cycle_bills, cycle_sales, cycle_waiting, problem_keys, record_facts,
)
from jobs.audit import DatabaseAuditSink
from jobs.context import in_job_context
from jobs.cycle_contacts import ensure_contacts
from jobs.cycle_lock import CycleLock
from jobs.cycle_mappings import default_org, org_mappings, routing_rules, xero_reference
from jobs.cycle_write import Counts, OrgWriter
from jobs.queue import get_redis
from models import Connection, ContactLink, Setting, SyncRecord, SyncRun, utcnow
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
    lock = CycleLock(get_redis(), record_type)
    lock.acquire()
    run = SyncRun.create(record_type=record_type, trigger=trigger, started_at=utcnow())
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
            run.finished_at = utcnow()
            run.save()
    finally:
        lock.release()
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
    candidates, records = [], {}
    watermark = _watermark(record_type)
    try:
        names = cycle_sales.reference_names(cw)
        overlap = int(Setting.get_value(OVERLAP_MINUTES, DEFAULT_OVERLAP_MINUTES))
        # A forced cycle of a whole type reads everything, whatever the watermark says.
        since = (None if only_ids is not None or forced
                 else cycle_sales.overlap_start(watermark, overlap))
        candidates = _read(cw, record_type, since, only_ids, names)
        run.read = len(candidates)
        run.save()
        by_org, records = _route(run, record_type, candidates, counts)
        for org_id, group in by_org.items():
            _sync_org(run, record_type, Connection.get_by_id(org_id), group, records,
                      counts, forced, sink, pacing, lock)
        if record_type == "invoice" and since is not None:
            _refresh_changed_contacts(cw, run, since, sink, pacing)
        if Setting.get_value(POST_BATCHES, False):
            _post_batch(cw, run, record_type, candidates, records)
    finally:
        cw.close()
        run.written, run.skipped = counts.written, counts.skipped
        run.exceptions = counts.exceptions
    if only_ids is None:
        _move_watermark(record_type, candidates, records, watermark)


def _connectwise(connection: Connection, sink, run) -> ConnectWise:
    s = connection.settings
    settings = CWSettings(s["site"], s["company_id"], s["public_key"],
                          (connection.secrets or {}).get("private_key", ""), s["client_id"])
    return ConnectWise(settings, sink=sink,
                       context={"connection_id": connection.id, "run_id": run.id})


def _read(cw, record_type, since, only_ids, names):
    """What this cycle works on: changed since `since` plus what an earlier cycle left
    pending, in flight or in exception; or exactly `only_ids`."""
    unsettled = SyncRecord.select(SyncRecord.cw_id, SyncRecord.cw_number).where(
        (SyncRecord.record_type == record_type) &
        (SyncRecord.state.in_(UNSETTLED + ("exception",))))
    if record_type == "bill":
        retry = cycle_bills.retry_markers(unsettled) if only_ids is None else set()
        return cycle_bills.read_bills(cw, since, retry, only_ids, names)
    ids = list(only_ids) if only_ids is not None else (
        cycle_sales.changed_ids(cw, record_type, since) + [r.cw_id for r in unsettled])
    if record_type == "credit_note" and only_ids is None:
        ids += cycle_allocations.awaiting_ids()
    return cycle_sales.read_sales(cw, record_type, ids, names)


def _route(run, record_type, candidates, counts):
    """Group the candidates by org; unroutable ones become exceptions here."""
    existing = {r.cw_id: r for r in SyncRecord.select().where(
        (SyncRecord.record_type == record_type) &
        SyncRecord.cw_id.in_([c.cw_id for c in candidates]))} if candidates else {}
    rules, fallback = routing_rules(record_type), default_org()
    by_org: dict[int, list] = {}
    writer = OrgWriter(run, None, None, None, counts, False)
    for cand in candidates:
        record = existing.get(cand.cw_id)
        if record is None:
            record = SyncRecord.create(record_type=record_type, cw_id=cand.cw_id,
                                       cw_number=cand.number, state="pending",
                                       cw_updated_at=cand.updated_at, last_run=run)
            existing[cand.cw_id] = record
        elif record.cw_updated_at != cand.updated_at:
            record.cw_updated_at = cand.updated_at
            record.save()
        if record_facts.note_candidate(record, cand):    # what the records page shows
            record.save()
        if cand.waiting:                  # its date has not come; read again next cycle
            cycle_waiting.mark_waiting(run, record, cand.waiting)
            continue
        if cand.problem:
            writer.exception(record, [cand.problem])
            continue
        routed = route(cand.facts, rules, fallback)
        if isinstance(routed, Unroutable):
            loc = cand.facts.location
            writer.exception(record, [routed.sentence], keys=[problem_keys.Key(
                "routing", str(loc.id) if loc and loc.id is not None else "",
                loc.name if loc else None)])
            continue
        org_id = int(routed.org)
        if record.xero_id and record.org_id not in (None, org_id):
            org_id = record.org_id        # a document stays in the org it was written to
        if record.org_id != org_id:
            record.org = org_id
            record.save()
        by_org.setdefault(org_id, []).append(cand)
    return by_org, existing


@contextmanager
def _xero(org, run, sink, pacing):
    """A Xero client for one org, its calls counted against this run."""
    app = load_app(current_app.config["BASE_URL"])
    redis = get_redis()
    client = open_client(app, org, sink=sink, tokens=TokenKeeper(app, redis=redis, sink=sink),
                         governor=Governor(redis, sleep=pacing.sleep, clock=pacing.clock),
                         sleep=pacing.sleep)
    try:
        with client.transport.bind(run_id=run.id):
            yield client
    finally:
        client.transport.close()


def _sync_org(run, record_type, org, candidates, records, counts, forced, sink, pacing,
              lock) -> None:
    with _xero(org, run, sink, pacing) as client:
        rates, base = xero_reference(client)
        # Only an org with foreign-currency documents to write needs its currencies.
        foreign = any(c.currency and c.currency != base for c in candidates)
        enabled = frozenset(c["Code"] for c in client.currencies()) if foreign else None
        mappings = org_mappings(org, rates, base, enabled)
        companies = {c.company.record["id"]: c.company for c in candidates}
        contacts = ensure_contacts(client, org, companies)
        OrgWriter(run, client, org, mappings, counts, forced, lock.extend).sync(
            candidates, contacts, records)


def _refresh_changed_contacts(cw, run, since, sink, pacing) -> None:
    """A company edited in CW (name, address, phone, billing contact) reaches the Xero
    contacts Ferry made for it even when no new document comes with the edit: the
    invoice cycle reads the companies and contacts changed since its watermark and
    updates the linked Xero contacts whose details differ (ensure_contacts compares)."""
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


def _post_batch(cw, run, record_type, candidates, records) -> None:
    """The setting "post synced records as a batch in ConnectWise": what this cycle
    settled in Xero leaves CW's unposted lists."""
    synced = [c for c in candidates if records[c.cw_id].state == "synced"]
    # A credit note still to be allocated stays unposted: the next cycle reads it there.
    waiting = {r.id for r in cycle_allocations.unsettled(
        [records[c.cw_id] for c in synced if c.record_type == "credit_note"])}
    synced = [c for c in synced if records[c.cw_id].id not in waiting]
    entries = sorted({e for c in synced for e in c.gl_entry_ids})
    if entries:
        # "Batch must export Invoices, Expenses or Products" (CreateAccountingBatchRequest).
        flag = "exportProductsFlag" if record_type == "bill" else "exportInvoicesFlag"
        cw.create_accounting_batch({"batchIdentifier": f"FERRY-{record_type[:4].upper()}"
                                                       f"-{run.id}",
                                    flag: True, "processedRecordIds": entries})


def _watermark(record_type: str) -> datetime | None:
    raw = Setting.get_value(WATERMARK.format(record_type))
    return datetime.fromisoformat(raw) if raw else None


def _move_watermark(record_type, candidates, records, watermark) -> None:
    """Past the newest record read, but never past one left unsettled."""
    times = [c.updated_at for c in candidates if c.updated_at]
    if not times:
        return
    unsettled = [c.updated_at for c in candidates if c.updated_at
                 and records[c.cw_id].state in UNSETTLED]
    target = min(unsettled) - timedelta(seconds=1) if unsettled else max(times)
    if watermark is None or target > watermark:
        Setting.set_value(WATERMARK.format(record_type), target.isoformat())


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
