"""Real time: ConnectWise callbacks and Xero webhooks turned into one-record cycles.

The web endpoints (blueprints/webhooks.py) check what arrives and hand each record it
names to `note_records`, which answers at once: the ids go into a Redis set per kind of
cycle, and a job is queued only when none is waiting already (SET NX on a flag). The
job clears the flag first, then takes every id gathered so far and runs one cycle for
them: ten events for one invoice before the job starts make one cycle; an event that
arrives while the cycle runs queues the next one. The schedule stays as the safety net:
an event lost on the way, or one that arrives while Redis is down, is picked up by the
next scheduled cycle.

Kinds of cycle:
- "sales": CW invoices and credit memos named by a callback (ConnectWise's `Invoice`
  callback names both); each is read once to know which it is and whether it is closed
  (in CW's unposted list) or already Ferry's, then a forced cycle of exactly those ids.
- "bill": a purchase order changed; bills are keyed by purchase order and packing slip,
  not by a CW id, so this runs the bill cycle from its watermark (it reads only the
  receipts changed since the last cycle).
- "payment": Xero invoices named by a webhook, as the CW invoices Ferry wrote them for:
  a forced payment cycle of those invoices (jobs.cycle_payments).
"""
from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import datetime

from jobs.context import in_job_context
from jobs.queue import get_queue, get_redis
from models import Connection, Setting, SyncRecord, PaymentLedger, utcnow

log = logging.getLogger("ferry.realtime")

KINDS = ("sales", "bill", "payment")
PENDING = "ferry:realtime:pending:{}"      # a set of ids (or "*") waiting for a cycle
QUEUED = "ferry:realtime:queued:{}"        # set while a job for the kind is queued
QUEUED_TTL = 300                           # a lost job stops coalescing after this
BUSY_WAIT_SECONDS = 300                    # waiting for a running cycle of the same type

# Settings keys
ON = "realtime.on.{}"                      # per connection id: bool
CW_SECRET = "realtime.cw_secret"           # the secret in the callback URL (encrypted)
XERO_KEY = "realtime.xero_webhook_key"     # the Xero app's webhook key (encrypted)
CW_CALLBACKS = "realtime.cw_callbacks"     # [{"id", "type", "url"}] registered in CW
LAST_EVENT = "realtime.last_event.{}"      # per source: ISO time of the last event

# What Ferry registers in ConnectWise: the record types it syncs.
CALLBACK_TYPES = ("Invoice", "PurchaseOrder")
CALLBACK_DESCRIPTION = "Ferry real time"


# -- settings ------------------------------------------------------------------------------
def is_on(connection: Connection | None) -> bool:
    return bool(connection is not None and Setting.get_value(ON.format(connection.id), False))


def set_on(connection: Connection, on: bool) -> None:
    Setting.set_value(ON.format(connection.id), bool(on))


def cw_connection() -> Connection | None:
    return Connection.get_or_none((Connection.kind == "connectwise") &
                                  (Connection.status == "active"))


def cw_secret(create: bool = False) -> str | None:
    value = Setting.get_value(CW_SECRET)
    if value is None and create:
        value = secrets.token_urlsafe(32)
        Setting.set_value(CW_SECRET, value, secret=True)
    return value


def secret_matches(given: str) -> bool:
    """Constant time, whatever the lengths."""
    stored = cw_secret()
    if not stored or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), stored.encode("utf-8"))


def callback_url(base_url: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}/hooks/connectwise/{secret}"


def xero_hook_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/hooks/xero"


def note_event(source: str) -> None:
    Setting.set_value(LAST_EVENT.format(source), utcnow().isoformat(timespec="seconds"))


def last_event(source: str) -> datetime | None:
    value = Setting.get_value(LAST_EVENT.format(source))
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


# -- queueing -------------------------------------------------------------------------------
def note_records(kind: str, ids) -> bool:
    """Remember `ids` for the next cycle of `kind` and queue that cycle unless one is
    queued already. Returns True when a job was queued now (False: coalesced)."""
    if kind not in KINDS:
        raise ValueError(kind)
    redis = get_redis()
    values = [str(i) for i in ids] or ["*"]
    redis.sadd(PENDING.format(kind), *values)
    if not redis.set(QUEUED.format(kind), "1", nx=True, ex=QUEUED_TTL):
        return False
    from jobs.cycle import JOB_TIMEOUT
    get_queue().enqueue(realtime_cycle, kind, job_timeout=JOB_TIMEOUT,
                        description=f"real time: {kind}")
    return True


def take_pending(kind: str) -> list[str]:
    """Clear the queued flag, then take every id gathered so far (both at once)."""
    redis = get_redis()
    with redis.pipeline() as pipe:          # MULTI: nothing slips between the two
        pipe.delete(QUEUED.format(kind))
        pipe.smembers(PENDING.format(kind))
        pipe.delete(PENDING.format(kind))
        _, members, _ = pipe.execute()
    return sorted(m.decode() if isinstance(m, bytes) else m for m in members)


def _put_back(kind: str, ids: list[str]) -> None:
    if ids:
        get_redis().sadd(PENDING.format(kind), *ids)


@in_job_context
def realtime_cycle(kind: str) -> list[int]:
    """The RQ job: one cycle of what the events named. Returns the run ids."""
    ids = take_pending(kind)
    if not ids:
        return []
    from jobs.cycle_lock import CycleBusy
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        try:
            return _run(kind, ids)
        except CycleBusy:
            # A cycle of this type is running in another worker: wait for it (what it
            # reads may already include these), then run ours.
            if time.monotonic() > deadline:
                log.warning("Real time %s cycle skipped: another cycle kept the lock; the "
                            "next scheduled cycle picks these up.", kind)
                _put_back(kind, ids)
                return []
            time.sleep(2)


def _run(kind: str, ids: list[str]) -> list[int]:
    if kind == "bill":
        from jobs.cycle import run_cycle
        return [run_cycle("bill", trigger="realtime").id]
    numbers = sorted({int(i) for i in ids if i.isdigit()})
    if kind == "payment":
        from jobs.cycle_payments import run_payment_cycle
        if not numbers:
            return []
        return [run_payment_cycle(trigger="realtime", only_ids=numbers, forced=True).id]
    return _run_sales(numbers)


def _run_sales(cw_ids: list[int]) -> list[int]:
    """Forced cycles of the invoices and credit memos among `cw_ids` that are closed in
    CW (in its unposted list) or already Ferry's; the rest (still open, deleted) are
    left alone: the schedule sees them when they close."""
    from jobs.cycle import run_cycle
    from jobs.cycle_sales import UNPOSTED_INVOICES
    connection = cw_connection()
    if connection is None or not cw_ids:
        return []
    from jobs.audit import DatabaseAuditSink
    with DatabaseAuditSink() as sink:
        cw = _cw_client(connection, sink)
        try:
            with cw.bind(record_ref=f"invoice:{','.join(map(str, cw_ids))}"
                         if len(cw_ids) > 1 else f"invoice:{cw_ids[0]}"):
                invoices = list(cw.invoices_by_ids(cw_ids))
                numbers = [str(i["invoiceNumber"]) for i in invoices]
                unposted = {str(r["invoiceNumber"]) for r in cw.by_ids(
                    UNPOSTED_INVOICES, numbers, id_field="invoiceNumber")} if numbers else set()
        finally:
            cw.close()
    runs = []
    for record_type, credit in (("invoice", False), ("credit_note", True)):
        mine = [i for i in invoices if (i.get("type") == "CreditMemo") == credit]
        known = {r.cw_id for r in SyncRecord.select(SyncRecord.cw_id).where(
            (SyncRecord.record_type == record_type) &
            SyncRecord.cw_id.in_([i["id"] for i in mine]))} if mine else set()
        wanted = sorted(i["id"] for i in mine
                        if str(i["invoiceNumber"]) in unposted or i["id"] in known)
        if wanted:
            runs.append(run_cycle(record_type, trigger="realtime", only_ids=wanted,
                                  forced=True).id)
    return runs


def _cw_client(connection: Connection, sink):
    from connectors.connectwise import ConnectWise, CWSettings
    from jobs.cycle import _known_codebase
    s = connection.settings
    settings = CWSettings(s["site"], s["company_id"], s["public_key"],
                          (connection.secrets or {}).get("private_key", ""), s["client_id"])
    return ConnectWise(settings, sink=sink, codebase=_known_codebase(connection),
                       context={"connection_id": connection.id})


# -- what an event names ------------------------------------------------------------------
def cw_invoice_ids_for_xero(tenant_id: str, xero_invoice_ids: list[str]) -> dict[str, int]:
    """Xero InvoiceID -> the CW invoice id Ferry wrote it for (or matched it to)."""
    if not xero_invoice_ids:
        return {}
    wanted = [x.lower() for x in xero_invoice_ids]
    found = {}
    for record in SyncRecord.select(SyncRecord.xero_id, SyncRecord.cw_id).where(
            (SyncRecord.record_type == "invoice") & SyncRecord.xero_id.in_(
                wanted + [x.upper() for x in wanted])):
        found[record.xero_id.lower()] = record.cw_id
    for ledger in PaymentLedger.select(PaymentLedger.xero_invoice_id,
                                       PaymentLedger.cw_invoice_id).where(
            PaymentLedger.xero_invoice_id.in_(wanted + [x.upper() for x in wanted])):
        found.setdefault(ledger.xero_invoice_id.lower(), ledger.cw_invoice_id)
    return found


def org_for_tenant(tenant_id: str) -> Connection | None:
    return Connection.get_or_none((Connection.kind == "xero") &
                                  (Connection.tenant_id == str(tenant_id)))


# -- ConnectWise callbacks Ferry registers itself -----------------------------------------
def registered_callbacks() -> list[dict]:
    return Setting.get_value(CW_CALLBACKS) or []


def wanted_callbacks(base_url: str) -> list[dict]:
    connection = cw_connection()
    if not is_on(connection):
        return []
    url = callback_url(base_url, cw_secret(create=True))
    return [{"type": kind, "url": url} for kind in CALLBACK_TYPES]


def callbacks_current(base_url: str) -> bool:
    """Whether what Ferry registered is what it wants now (no CW call)."""
    have = {(c["type"], c["url"]) for c in registered_callbacks()}
    return have == {(c["type"], c["url"]) for c in wanted_callbacks(base_url)}


def sync_callbacks(base_url: str) -> list[dict]:
    """Make ConnectWise's callbacks what Ferry wants: with real time on for ConnectWise,
    one per record type at this address (its secret included); Ferry's others (an old
    address, real time turned off) deleted. Returns what is registered now. Raises the
    connector's ApiError with its sentence when ConnectWise refuses."""
    from connectors.errors import NotFound
    from jobs.audit import DatabaseAuditSink
    connection = cw_connection()
    if connection is None:
        Setting.set_value(CW_CALLBACKS, [])
        return []
    wanted = {(c["type"], c["url"]) for c in wanted_callbacks(base_url)}
    mine_ids = {c.get("id") for c in registered_callbacks()}
    with DatabaseAuditSink() as sink:
        cw = _cw_client(connection, sink)
        try:
            with cw.bind(record_ref="realtime:callbacks"):
                existing = list(cw.iter_list("system/callbacks"))
                kept = []
                for hook in existing:
                    ours = (hook.get("id") in mine_ids or hook.get("description") ==
                            CALLBACK_DESCRIPTION or "/hooks/connectwise/" in str(
                                hook.get("url", "")))
                    if not ours:
                        continue
                    key = (hook.get("type"), hook.get("url"))
                    if key in wanted and key not in {(k["type"], k["url"]) for k in kept}:
                        kept.append({"id": hook["id"], "type": key[0], "url": key[1]})
                        continue
                    try:
                        cw.call("DELETE", f"system/callbacks/{int(hook['id'])}")
                    except NotFound:
                        pass
                for kind, url in sorted(wanted - {(k["type"], k["url"]) for k in kept}):
                    made = cw.post("system/callbacks", {
                        "url": url, "objectId": 1, "type": kind, "level": "Owner",
                        "description": CALLBACK_DESCRIPTION, "inactiveFlag": False})
                    kept.append({"id": made["id"], "type": kind, "url": url})
        finally:
            cw.close()
    Setting.set_value(CW_CALLBACKS, kept)
    return kept


def keep_callbacks(base_url: str) -> None:
    """The scheduler's check: register again when Ferry's address (FERRY_BASE_URL) or
    real time changed since; nothing when all is as wanted."""
    try:
        if not callbacks_current(base_url):
            sync_callbacks(base_url)
            log.info("ConnectWise callbacks registered again for %s.", base_url)
    except Exception as exc:
        log.warning("ConnectWise callbacks could not be brought up to date: %s", exc)
